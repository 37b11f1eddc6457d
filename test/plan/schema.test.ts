import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { Container, Image, NotFoundError, PlanValidationError, Secret, Stack, Testing, Volume, Network } from '../../lib';
import { Plan, planSchema, readPlan, renderPlan, validatePlan, writeAssembly } from '../../lib/plan';
import { writePrecompiledValidator } from '../../lib/plan/precompile';
import { PRECOMPILED_FILE, planAjv, planSchemaHash } from '../../lib/plan/validate';
import { fixtureApp, resourceAt, thrown } from '../fixtures';
import { removeTempDirs, tempDir } from '../helpers/cli';

afterAll(removeTempDirs);

/** A valid plan with one resource of every kind, to break in the tests below. */
function validPlan(): Plan {
  const stack = new Stack(fixtureApp(), 'shop');
  const net = new Network(stack, 'net', { subnet: '10.1.0.0/16' });
  const data = new Volume(stack, 'data');
  const db = new Container(stack, 'db', { image: 'postgres:16', healthcheck: { test: 'pg_isready' }, mounts: [{ type: 'volume', source: data, target: '/var/lib/postgresql/data' }] });
  new Image(stack, 'site', { build: { context: 'web' } });
  new Container(stack, 'web', {
    image: 'nginx',
    networks: [net],
    ports: ['8080:80'],
    env: { TOKEN: Secret.fromEnv('DB_PASSWORD') },
    restart: 'always',
    dependsOn: [{ container: db, condition: 'healthy' }],
    mounts: [{ type: 'tmpfs', target: '/tmp' }],
  });
  return Testing.synth(stack);
}

/** A deep copy of a valid plan after `edit`, and the logical ids by path. */
function broken(edit: (p: any, id: (path: string) => string) => void): unknown {
  const p = JSON.parse(JSON.stringify(validPlan()));
  const id = (resourcePath: string) => resourceAt(p, resourcePath).logicalId;
  edit(p, id);
  return p;
}

/** The problems validatePlan reports for `data`. */
function problems(data: unknown): string[] {
  const e = thrown(() => validatePlan(data, 'test.plan.json'));
  if (!(e instanceof PlanValidationError)) throw e;
  expect(e.source).toBe('test.plan.json');
  return e.problems;
}

describe('plan schema', () => {
  test('is JSON Schema 2020-12 and closed: no additional properties anywhere an object is described', () => {
    const schema = planSchema() as { $schema: string; additionalProperties: boolean; $defs: Record<string, unknown> };
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.additionalProperties).toBe(false);
    const open: string[] = [];
    const walk = (node: unknown, where: string): void => {
      if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${where}/${i}`));
      if (node === null || typeof node !== 'object') return;
      const o = node as Record<string, unknown>;
      // An object schema with listed properties must say what happens to the others.
      if (o.properties && o.additionalProperties === undefined && !o.oneOf && !o.discriminator) open.push(where);
      for (const [k, v] of Object.entries(o)) walk(v, `${where}/${k}`);
    };
    walk(schema, '#');
    expect(open).toEqual([]);
  });

  test('accepts what synth writes', () => {
    const plan = validPlan();
    expect(validatePlan(JSON.parse(JSON.stringify(plan)), 'x')).toEqual(plan);
    expect(Object.values(plan.resources).map((r) => r.type).sort()).toEqual(['container', 'container', 'image', 'image', 'image', 'network', 'volume']);
  });

  test('rejects unknown properties, naming where they are', () => {
    const data = broken((p, id) => {
      p.extra = true;
      p.resources[id('net')].colour = 'blue';
      p.resources[id('web')].spec.ports[0].hostAddress = '127.0.0.1';
      p.resources[id('web')].spec.secretEnv.TOKEN.value = 'in clear';
    });
    expect(problems(data).sort()).toEqual([
      '(plan root): unknown property "extra" (not allowed here; check the spelling)',
      expect.stringMatching(/^resources\.Net[0-9A-F]{8}: unknown property "colour" \(not allowed here; check the spelling\)$/),
      expect.stringMatching(/^resources\.Web[0-9A-F]{8}\.spec\.ports\.0: unknown property "hostAddress" \(not allowed here; check the spelling\)$/),
      expect.stringMatching(/^resources\.Web[0-9A-F]{8}\.spec\.secretEnv\.TOKEN: unknown property "value" \(not allowed here; check the spelling\)$/),
    ]);
  });

  test('secret and config files carry no value, and their targets cannot leave the container path', () => {
    const data = broken((p, id) => {
      const spec = p.resources[id('web')].spec;
      spec.secrets = [{ secret: { source: 'env', from: 'PW', hmac: `hmac-sha256:${'a'.repeat(64)}`, value: 'in clear' }, target: '/run/secrets/../../etc/shadow', mode: 292, uid: 0, gid: 0 }];
      spec.configs = [{ source: 'file', file: '/a', content: 'x', sha256: `sha256:${'b'.repeat(64)}`, target: '/etc/a', mode: 292, uid: 0, gid: 0 }];
      spec.networkMode = { container: 'not an id' };
      p.resources[id('db')].spec.networkMode = { container: id('web'), containerName: 'both' };
    });
    expect(problems(data).sort()).toEqual([
      expect.stringMatching(/^resources\.Db[0-9A-F]{8}\.spec\.networkMode: must NOT have more than 1 properties/),
      expect.stringMatching(/^resources\.Web[0-9A-F]{8}\.spec\.configs\.0: unknown property "content" \(not allowed here; check the spelling\)$/),
      expect.stringMatching(/^resources\.Web[0-9A-F]{8}\.spec\.networkMode\.container: /),
      expect.stringMatching(/^resources\.Web[0-9A-F]{8}\.spec\.secrets\.0\.secret: unknown property "value" \(not allowed here; check the spelling\)$/),
      expect.stringMatching(/^resources\.Web[0-9A-F]{8}\.spec\.secrets\.0\.target: /),
    ]);
  });

  test('rejects values outside an enum, listing the allowed ones', () => {
    let ids: Record<string, string> = {};
    const data = broken((p, id) => {
      ids = { web: id('web'), db: id('db'), data: id('data'), net: id('net'), image: id('image-nginx-latest') };
      p.resources[ids.web].spec.restart.policy = 'sometimes';
      p.resources[ids.web].spec.ports[0].protocol = 'http';
      p.resources[ids.web].spec.networkMode = 'overlay';
      p.resources[ids.web].spec.dependsOn[0].condition = 'ready';
      p.resources[ids.data].spec.removalPolicy = 'delete';
      p.resources[ids.net].spec.driver = 'macvlan';
      p.resources[ids.image].spec.pullPolicy = 'sometimes';
    });
    expect(problems(data).sort()).toEqual(
      [
        `resources.${ids.web}.spec.restart.policy: must be one of "no", "always", "unless-stopped", "on-failure"`,
        `resources.${ids.web}.spec.ports.0.protocol: must be one of "tcp", "udp", "sctp"`,
        `resources.${ids.web}.spec.networkMode: must be one of "bridge", "host", "none"`,
        `resources.${ids.web}.spec.dependsOn.0.condition: must be one of "started", "healthy", "completed"`,
        `resources.${ids.data}.spec.removalPolicy: must be one of "retain", "destroy"`,
        `resources.${ids.net}.spec.driver: must be one of "bridge", "overlay"`,
        `resources.${ids.image}.spec.pullPolicy: must be one of "missing", "always", "never"`,
      ].sort(),
    );
  });

  test('rejects an unknown resource type or mount type with one line, not the oneOf noise', () => {
    let web = '';
    const data = broken((p, id) => {
      web = id('web');
      p.resources[id('net')].type = 'firewall';
      p.resources[web].spec.mounts[0].type = 'nfs';
    });
    expect(problems(data)).toEqual([
      expect.stringMatching(/^resources\.Net[0-9A-F]{8}\.type: must be one of "image", "container", "network", "volume"$/),
      `resources.${web}.spec.mounts.0.type: must be one of "volume", "bind", "tmpfs"`,
    ]);
  });

  test('a develop rule edited by hand is rejected: a sync without target, a rebuild with one, an unknown action, a relative path', () => {
    let web = '';
    const rule = (r: object) =>
      broken((p, id) => {
        web = id('web');
        p.resources[web].spec.develop = { watch: [r] };
      });
    const at = () => `resources.${web}.spec.develop.watch.0`;
    expect(() => validatePlan(rule({ path: '/src', target: '/app', action: 'sync', ignore: [] }), 'test.plan.json')).not.toThrow();
    expect(() => validatePlan(rule({ path: '/src', action: 'rebuild', ignore: ['*.tmp'] }), 'test.plan.json')).not.toThrow();
    // Each branch of the rule's oneOf (sync actions with a target; rebuild without) says what it misses.
    expect(problems(rule({ path: '/src', action: 'sync', ignore: [] }))).toEqual([`${at()}: missing required property "target"`, `${at()}.action: must be "rebuild"`]);
    expect(problems(rule({ path: '/src', target: '/app', action: 'rebuild', ignore: [] }))).toEqual([
      `${at()}.action: must be one of "sync", "sync+restart"`,
      `${at()}: unknown property "target" (not allowed here; check the spelling)`,
    ]);
    expect(problems(rule({ path: '/src', target: '/app', action: 'copy', ignore: [] }))).toContain(`${at()}.action: must be one of "sync", "sync+restart"`);
    expect(problems(rule({ path: 'src', target: '/app', action: 'sync', ignore: [] }))).toContain(`${at()}.path: must match ^/`);
    expect(problems(broken((p, id) => (p.resources[id('web')].spec.develop = { watch: [] })))).toEqual([`resources.${web}.spec.develop.watch: must NOT have fewer than 1 items`]);
  });

  test('rejects missing required fields', () => {
    let ids: Record<string, string> = {};
    const data = broken((p, id) => {
      ids = { web: id('web'), db: id('db'), site: id('site') };
      delete p.resources[ids.web].spec.image;
      delete p.resources[ids.web].name;
      delete p.resources[ids.db].type;
      delete p.resources[ids.site].spec.contextHash;
    });
    expect(problems(data).sort()).toEqual(
      [
        `resources.${ids.db}: missing required property "type"`,
        `resources.${ids.site}.spec: missing required property "contextHash"`,
        `resources.${ids.web}: missing required property "name"`,
        `resources.${ids.web}.spec: missing required property "image"`,
      ].sort(),
    );
  });

  test('rejects another version, a missing version and plans that are not objects', () => {
    expect(problems(broken((p) => { p.version = 2; }))).toEqual(['version: must be 1']);
    expect(problems(broken((p) => { p.version = '1'; }))).toEqual(['version: must be 1']);
    expect(problems(broken((p) => { delete p.version; }))).toEqual(['(plan root): missing required property "version"']);
    expect(problems([])).toEqual(['(plan root): must be of type object']);
    expect(problems(null)).toEqual(['(plan root): must be of type object']);
  });

  test('rejects malformed values: names, logical ids, paths, hashes, limits, reserved labels', () => {
    let ids: Record<string, string> = {};
    const data = broken((p, id) => {
      ids = { web: id('web'), site: id('site'), net: id('net') };
      p.stack = '-shop';
      p.resources['not-an-id'] = p.resources[ids.net];
      delete p.resources[ids.net];
      p.resources[ids.web].spec.ports[0].hostPort = 70000;
      p.resources[ids.web].spec.memoryBytes = 1024;
      p.resources[ids.web].spec.labels['io.cdk-docker.stack'] = 'other';
      p.resources[ids.web].spec.secretEnv.TOKEN.hmac = 'md5:abc';
      p.resources[ids.site].spec.context = 'relative/dir';
    });
    expect(problems(data).sort()).toEqual(
      [
        'stack: must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]+$',
        'resources: invalid property name "not-an-id" (must match ^[A-Za-z][A-Za-z0-9]*$)',
        `resources.${ids.site}.spec.context: must match ^/`,
        `resources.${ids.web}.spec.secretEnv.TOKEN.hmac: must match ^hmac-sha256:[a-f0-9]{64}$`,
        `resources.${ids.web}.spec.ports.0.hostPort: must be <= 65535`,
        `resources.${ids.web}.spec.labels: invalid property name "io.cdk-docker.stack" (must match ^(?!io\\.cdk-docker\\.)[^=\\s]+$)`,
        `resources.${ids.web}.spec.memoryBytes: must be >= 6291456`,
      ].sort(),
    );
  });
});

describe('the precompiled validator', () => {
  test('the build wrote it for the current schema, and it reaches the same verdicts and errors as compiling the schema', () => {
    // `npm test` builds first: dist holds the validator commands load instead of compiling.
    const built = path.join(__dirname, '..', '..', 'dist', 'lib', 'plan', PRECOMPILED_FILE);
    expect((require(built) as { schemaHash: string }).schemaHash).toBe(planSchemaHash());
    // Written where it resolves ajv's runtime helpers, as it does in dist.
    const dir = fs.mkdtempSync(path.join(__dirname, '..', '..', 'dist', '.precompile-test-'));
    let precompiled: ((d: unknown) => boolean) & { errors?: unknown[]; schemaHash: string };
    try {
      precompiled = require(writePrecompiledValidator(dir));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(precompiled.schemaHash).toBe(planSchemaHash());
    const compiled = planAjv().compile(planSchema());
    const cases: unknown[] = [
      validPlan(),
      broken((p, id) => { p.extra = true; p.resources[id('net')].colour = 'blue'; }),
      broken((p, id) => { p.resources[id('web')].spec.restart.policy = 'sometimes'; p.resources[id('web')].spec.ports[0].hostPort = 70000; }),
      broken((p) => { delete p.version; }),
      null,
    ];
    for (const c of cases) {
      expect(precompiled(c)).toBe(compiled(c));
      expect(precompiled.errors ?? null).toEqual(compiled.errors ?? null);
    }
    expect(compiled(cases[1])).toBe(false);
  });
});

describe('readPlan', () => {
  test('a plan edited by hand is rejected with "path: expectation" lines', () => {
    const dir = tempDir();
    writeAssembly(dir, [validPlan()]);
    const file = path.join(dir, 'shop.plan.json');
    const plan = JSON.parse(fs.readFileSync(file, 'utf8'));
    const web = resourceAt(plan, 'web').logicalId;
    plan.resources[web].spec.restart.policy = 'sometimes';
    plan.resources[web].spec.colour = 'blue';
    plan.resources[web].spec.replicas = -1;
    fs.writeFileSync(file, JSON.stringify(plan, undefined, 2));

    const e = thrown(() => readPlan(file));
    expect(e).toBeInstanceOf(PlanValidationError);
    expect((e as PlanValidationError).source).toBe(file);
    expect((e as PlanValidationError).problems).toEqual([
      `resources.${web}.spec: unknown property "colour" (not allowed here; check the spelling)`,
      `resources.${web}.spec.restart.policy: must be one of "no", "always", "unless-stopped", "on-failure"`,
      `resources.${web}.spec.replicas: must be >= 0`,
    ]);
    expect(e.message).toBe(
      `${file} is not a valid cdk-docker plan:\n` +
        `  - resources.${web}.spec: unknown property "colour" (not allowed here; check the spelling)\n` +
        `  - resources.${web}.spec.restart.policy: must be one of "no", "always", "unless-stopped", "on-failure"\n` +
        `  - resources.${web}.spec.replicas: must be >= 0`,
    );
  });

  test('a YAML plan edited by hand is rejected the same way', () => {
    const dir = tempDir();
    writeAssembly(dir, [validPlan()], ['json', 'yaml']);
    const file = path.join(dir, 'shop.plan.yaml');
    expect(readPlan(file)).toEqual(readPlan(path.join(dir, 'shop.plan.json')));
    const plan = YAML.parse(fs.readFileSync(file, 'utf8'));
    const data = resourceAt(plan, 'data').logicalId;
    plan.resources[data].spec.removalPolicy = 'keep';
    fs.writeFileSync(file, YAML.stringify(plan));
    expect((thrown(() => readPlan(file)) as PlanValidationError).problems).toEqual([`resources.${data}.spec.removalPolicy: must be one of "retain", "destroy"`]);
  });

  test('a file that is not JSON, or missing, says so', () => {
    const dir = tempDir();
    const file = path.join(dir, 'shop.plan.json');
    fs.writeFileSync(file, '{"version": 1,');
    const e = thrown(() => readPlan(file));
    expect(e).toBeInstanceOf(PlanValidationError);
    expect((e as PlanValidationError).problems).toEqual([expect.stringMatching(/^\(file\): not valid JSON: /)]);

    const missing = path.join(dir, 'gone.plan.json');
    const n = thrown(() => readPlan(missing));
    expect(n).toBeInstanceOf(NotFoundError);
    expect(n.message).toBe(`plan file ${missing} does not exist; run \`cdk-docker synth\` first`);
  });

  test('an invalid plan is never written', () => {
    const dir = path.join(tempDir(), 'out');
    const bad = broken((p) => { p.version = 2; }) as Plan;
    const e = thrown(() => writeAssembly(dir, [validPlan(), bad]));
    expect((e as PlanValidationError).problems).toEqual(['version: must be 1']);
    expect(fs.existsSync(dir)).toBe(false);
  });

  test('the YAML form holds the same plan as the JSON form', () => {
    const plan = validPlan();
    expect(YAML.parse(renderPlan(plan, 'yaml'))).toEqual(plan);
    expect(JSON.parse(renderPlan(plan, 'json'))).toEqual(plan);
  });
});
