import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliResult, ROOT, cdkDocker, removeTempDirs, tempDir, writeJsApp } from '../helpers/cli';
import { TestDockerd, dockerEnv, startDockerd } from '../helpers/dockerd';
import { requireCommand } from '../helpers/prereq';
import { BASE_ARCHIVE, StackWorld, stackWorld, tearDownWorld } from '../helpers/stack';

jest.setTimeout(300_000);

/**
 * `import containers` then `apply` adopts, on real engines: the built-in one (relabelled in
 * place: same id, same StartedAt), a private dockerd (bridge cdkad0 10.193.0.1/24, user networks
 * from 10.193.128.0/17; replaced one at a time, the volume's data kept), a docker-compose 1.29
 * project adopted in one command; and `export compose` of the imported stack accepted by
 * `docker-compose config`. Host ports 19700-19799; state roots under temp dirs (labels adopt-*).
 */
const TSX = `${process.execPath} ${path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs')} main.ts`;

/** An output directory whose `cdk-docker` dependency is this checkout. */
function projectDir(parent: string): string {
  const dir = path.join(parent, 'app');
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'cdk-docker'));
  return dir;
}

function must(r: CliResult): string {
  if (r.code !== 0) throw new Error(`exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

describe('on the built-in engine', () => {
  let world: StackWorld;

  beforeAll(() => {
    world = stackWorld('cdk-docker-adopt-builtin-', 191);
    must(world.rt(['load', '-i', BASE_ARCHIVE]));
  });

  afterAll(async () => {
    expect(await tearDownWorld(world)).toEqual([]);
  });

  test('import containers writes the code of a container run by hand, and apply adopts it and its network and volume in place: same id, no restart, labels ours', () => {
    must(world.rt(['network', 'create', 'adopt-net']));
    must(world.rt(['volume', 'create', 'adopt-data']));
    must(world.rt(['run', '-d', '--name', 'adopt-web', '--network', 'adopt-net', '--network-alias', 'www', '-v', 'adopt-data:/data', '-e', 'MODE=prod', '-l', 'team=blue', '-p', '19701:80', '--restart', 'unless-stopped', 'busybox:examples', 'sleep', '3600']));
    const before = must(world.rt(['inspect', '-f', '{{.Id}} {{.State.StartedAt}}', 'adopt-web'])).trim();
    const dir = projectDir(world.work);

    const imported = cdkDocker(['import', 'containers', 'adopt-web', '-o', dir, '--stack', 'adopt-b'], world.work, world.env);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    const main = fs.readFileSync(path.join(dir, 'main.ts'), 'utf8');
    expect(main).toContain(`const adoptNet = new Network(this, 'adopt-net', { name: 'adopt-net', subnet: '10.192.0.0/24', gateway: '10.192.0.1' });`);
    expect(main).toContain(`const adoptData = new Volume(this, 'adopt-data', { name: 'adopt-data' });`);
    expect(main).toContain(`new Container(this, 'adopt-web', {
      image: 'busybox:examples',
      name: 'adopt-web',
      command: ['sleep', '3600'],
      env: { MODE: 'prod' },
      ports: [{ containerPort: 80, hostPort: 19701 }],
      networks: [{ network: adoptNet, aliases: ['www'] }],
      mounts: [{ type: 'volume', source: adoptData, target: '/data' }],
      restart: 'unless-stopped',
      labels: { team: 'blue' },
    });`);

    const diff = must(cdkDocker(['diff', '-a', TSX], dir, world.env));
    expect(diff).toBe(
      [
        ' <= network adopt-net (adopt-net) adopt',
        ' <= volume adopt-data (adopt-data) adopt',
        ' <= container adopt-web (adopt-web) adopt',
        '',
        'Plan: 3 to adopt, 0 to add, 0 to change, 0 to replace, 0 to destroy.',
        '',
      ].join('\n'),
    );
    const applied = must(cdkDocker(['apply', '--auto-approve', '-a', TSX], dir, world.env));
    expect(applied).toContain('adopted (relabelled in place)');
    expect(applied).toContain('Apply complete! Resources: 3 adopted, 0 added, 0 changed, 0 replaced, 0 destroyed.');
    expect(must(world.rt(['inspect', '-f', '{{.Id}} {{.State.StartedAt}}', 'adopt-web'])).trim()).toBe(before);
    const labels = JSON.parse(must(world.rt(['inspect', '-f', '{{json .Config.Labels}}', 'adopt-web']))) as Record<string, string>;
    expect(labels['io.cdk-docker.stack']).toBe('adopt-b');
    expect(labels['io.cdk-docker.path']).toBe('adopt-web');
    expect(labels.team).toBe('blue');
    // The network and the volume are relabelled in place too: no record volume.
    expect(JSON.parse(must(world.rt(['network', 'inspect', '-f', '{{json .Labels}}', 'adopt-net'])))).toMatchObject({ 'io.cdk-docker.stack': 'adopt-b', 'io.cdk-docker.path': 'adopt-net' });
    expect(JSON.parse(must(world.rt(['volume', 'inspect', '-f', '{{json .Labels}}', 'adopt-data'])))).toMatchObject({ 'io.cdk-docker.stack': 'adopt-b', 'io.cdk-docker.path': 'adopt-data' });
    expect(must(world.rt(['volume', 'ls', '-q'])).trim()).toBe('adopt-data');
    expect(must(cdkDocker(['diff', '-a', TSX], dir, world.env))).toBe('No changes. The stack matches the plan.\n');

    // The adopted network and volume are the stack's: destroy --volumes removes them and their records.
    must(cdkDocker(['destroy', '--auto-approve', '--volumes', '-a', TSX], dir, world.env));
    expect(must(world.rt(['volume', 'ls', '-q'])).trim()).toBe('');
    expect(must(world.rt(['network', 'ls', '--format', '{{.Name}}'])).split('\n').filter(Boolean).sort()).toEqual(['bridge', 'host', 'none']);
  });

  test('a container of the plan\'s name but other settings is not adopted: apply refuses it and leaves it running', () => {
    must(world.rt(['run', '-d', '--name', 'adopt-clash', 'busybox:examples', 'sleep', '3600']));
    const id = must(world.rt(['inspect', '-f', '{{.Id}}', 'adopt-clash'])).trim();
    const dir = path.join(world.work, 'clash');
    fs.mkdirSync(dir);
    writeJsApp(
      dir,
      `const app = new cdk.App();
const stack = new cdk.Stack(app, 'adopt-clash');
new cdk.Container(stack, 'clash', { image: 'busybox:examples', name: 'adopt-clash', command: ['sleep', '7200'] });
app.synth();`,
    );
    const refused = " <= container clash (adopt-clash) adopt refused: exists without cdk-docker's labels and its command differs from the plan; make the code match it (cdk-docker import containers) or rename it\n";
    expect(must(cdkDocker(['diff'], dir, world.env))).toContain(refused);
    const applied = cdkDocker(['apply', '--auto-approve'], dir, world.env);
    expect(applied.code).toBe(1);
    expect(applied.stderr).toContain(
      "clash: container adopt-clash exists without cdk-docker's labels and its command differs from the plan (command); apply does not replace what it did not make: make the code match it (cdk-docker import containers), or rename or remove it",
    );
    expect(must(world.rt(['inspect', '-f', '{{.Id}} {{.State.Status}} {{index .Config.Labels "io.cdk-docker.stack"}}', 'adopt-clash'])).trim()).toBe(`${id} running`);
    must(world.rt(['rm', '-f', 'adopt-clash']));
  });

  test('a main.ts that no import wrote is never overwritten', () => {
    const dir = path.join(world.work, 'mine');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'main.ts'), '// my own\n');
    const r = cdkDocker(['import', 'containers', '-o', dir], world.work, world.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`Error: ${path.join(dir, 'main.ts')} exists and was not written by \`cdk-docker import\`; import into another directory (-o) or move it away\n`);
    expect(fs.readFileSync(path.join(dir, 'main.ts'), 'utf8')).toBe('// my own\n');
  });

  test('a name that no unmanaged container has is refused in one line, and nothing is written', () => {
    const dir = path.join(world.work, 'none');
    const r = cdkDocker(['import', 'containers', 'adopt-nope', '-o', dir], world.work, world.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("Error: no container adopt-nope without cdk-docker's labels on the built-in engine; check the names (a stack's own containers are in its code already)\n");
    expect(fs.existsSync(dir)).toBe(false);
    const filter = cdkDocker(['import', 'containers', '--filter', 'name=adopt-web', '-o', dir], world.work, world.env);
    expect([filter.code, filter.stderr]).toEqual([1, 'Error: --filter name=adopt-web: only label filters are supported (label=KEY or label=KEY=VALUE)\n']);
    const none = cdkDocker(['import', 'containers', '--filter', 'label=team=red', '-o', dir], world.work, world.env);
    expect([none.code, none.stderr]).toEqual([1, 'Error: no container on the built-in engine matches label=team=red; nothing written\n']);
    expect(fs.existsSync(dir)).toBe(false);
  });
});

describe('on a private dockerd', () => {
  const BRIDGE = { name: 'cdkad0', address: '10.193.0.1/24', pool: '10.193.128.0/17' };
  let dockerd: TestDockerd;
  let work: string;
  const env = (): NodeJS.ProcessEnv => dockerEnv(dockerd, work);
  const compose = (args: string[], cwd: string) =>
    spawnSync('docker-compose', args, { cwd, env: { ...process.env, ...env() }, encoding: 'utf8' });

  beforeAll(async () => {
    requireCommand('docker-compose', 'docker-compose');
    work = tempDir('cdk-docker-adopt-docker-');
    stackWorld('cdk-docker-adopt-base-', 191); // makes the base archive
    dockerd = await startDockerd({ label: 'adopt-docker', bridge: BRIDGE });
    dockerd.docker(['load', '-i', BASE_ARCHIVE]);
  }, 120_000);

  afterAll(async () => {
    if (dockerd) {
      const ids = dockerd.docker(['ps', '-aq']).split('\n').filter(Boolean);
      if (ids.length) dockerd.docker(['rm', '-f', ...ids]);
      dockerd.docker(['network', 'prune', '-f']);
      dockerd.docker(['volume', 'prune', '-f']);
      await dockerd.stop();
    }
    removeTempDirs();
    const left = JSON.parse(execFileSync('ip', ['-j', 'link'], { encoding: 'utf8' })) as Array<{ ifname: string; master?: string }>;
    expect(left.filter((l) => l.ifname === BRIDGE.name || l.master === BRIDGE.name)).toEqual([]);
  }, 120_000);

  test('a docker-compose project is adopted in one command: replaced one at a time, its volume data kept; export compose gives a file docker-compose accepts', () => {
    const src = path.join(work, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(
      path.join(src, 'docker-compose.yml'),
      [
        'services:',
        '  web:',
        '    image: busybox:examples',
        '    command: ["sleep", "3600"]',
        '    environment: { MODE: prod }',
        '    labels: { team: blue }',
        '    ports: ["19711:80"]',
        '    networks: { front: { aliases: [www] } }',
        '    volumes: ["data:/data", "/cache"]',
        '    restart: unless-stopped',
        '  worker:',
        '    image: busybox:examples',
        '    command: ["sleep", "3600"]',
        '    networks: [front]',
        'networks: { front: {} }',
        'volumes: { data: {} }',
        '',
      ].join('\n'),
    );
    const up = compose(['-p', 'adoptproj', 'up', '-d'], src);
    expect(up.status).toBe(0);
    dockerd.docker(['exec', 'adoptproj_web_1', 'sh', '-c', 'echo precious > /data/f; echo cached > /cache/f']);
    const oldIds = ['adoptproj_web_1', 'adoptproj_worker_1'].map((n) => dockerd.docker(['inspect', '-f', '{{.Id}}', n]).trim());

    const dir = projectDir(work);
    const imported = cdkDocker(['import', 'containers', '--engine', 'docker', '--compose-project', 'adoptproj', '-o', dir], work, env());
    expect(imported.stderr).toBe('');
    expect(imported.stdout.split('\n')[0]).toBe(`Wrote main.ts, cdk-docker.json, package.json, tsconfig.json, jest.config.js, main.test.ts, .gitignore to ${dir} (stack "adoptproj": adoptproj_web_1, adoptproj_worker_1)`);
    const main = fs.readFileSync(path.join(dir, 'main.ts'), 'utf8');
    expect(main).toContain(`const front = new Network(this, 'front', {
      name: 'adoptproj_front',
      attachable: true,
      subnet: '10.193.128.0/24',
      gateway: '10.193.128.1',
    });`);
    expect(main).toContain(`networks: [{ network: front, aliases: ['www'] }],`);
    expect(main).toContain(`const data = new Volume(this, 'data', { name: 'adoptproj_data' });`);
    expect(main).toContain(`name: 'adoptproj_web_1'`);
    expect(main).not.toContain('com.docker.compose');

    const diff = must(cdkDocker(['diff', '--engine', 'docker', '-a', TSX], dir, env()));
    expect(diff).toContain(' <= container web (adoptproj_web_1) adopt (replace: Docker cannot relabel)\n');
    expect(diff).toContain(' <= container worker (adoptproj_worker_1) adopt (replace: Docker cannot relabel)\n');
    expect(diff).toContain(' <= network front (adoptproj_front) adopt (kept as it is, recorded)\n');
    expect(diff).toContain(' <= volume data (adoptproj_data) adopt (kept as it is, recorded)\n');
    expect(diff).toMatch(/^ <= volume web-cache \([0-9a-f]{64}\) adopt \(kept as it is, recorded\)$/m);
    expect(diff).toContain('Plan: 5 to adopt, 0 to add, 0 to change, 0 to replace, 0 to destroy.');

    // To the millisecond: a second of slack took in docker-compose's own creates once the steps above got fast.
    const since = (Date.now() / 1000).toFixed(3);
    must(cdkDocker(['apply', '--engine', 'docker', '--auto-approve', '-a', TSX], dir, env()));
    // One at a time: the first replacement's old container is gone before the second's new one is made.
    const events = dockerd
      .docker(['events', '--since', since, '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'type=container', '--format', '{{.Action}} {{.Actor.Attributes.name}}'])
      .split('\n')
      .filter((l) => /^(create|destroy) /.test(l));
    const creates = events.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith('create adoptproj_'));
    const destroys = events.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith('destroy adoptproj_'));
    expect(creates).toHaveLength(2);
    expect(destroys).toHaveLength(2);
    expect({ events, before: destroys[0][1] < creates[1][1] }).toEqual({ events, before: true });

    const newIds = ['adoptproj_web_1', 'adoptproj_worker_1'].map((n) => dockerd.docker(['inspect', '-f', '{{.Id}}', n]).trim());
    expect(newIds.filter((id) => oldIds.includes(id))).toEqual([]);
    expect(dockerd.docker(['exec', 'adoptproj_web_1', 'cat', '/data/f'])).toBe('precious\n');
    // Its anonymous volume too (named in the code, kept when the old container went first: fixed port).
    expect(dockerd.docker(['exec', 'adoptproj_web_1', 'cat', '/cache/f'])).toBe('cached\n');
    expect(JSON.parse(dockerd.docker(['inspect', '-f', '{{json .Config.Labels}}', 'adoptproj_web_1']))).toMatchObject({ 'io.cdk-docker.stack': 'adoptproj', team: 'blue' });
    expect(must(cdkDocker(['diff', '--engine', 'docker', '-a', TSX], dir, env()))).toBe('No changes. The stack matches the plan.\n');

    // The way back: the stack as a compose file docker-compose accepts.
    const exported = cdkDocker(['export', 'compose', 'adoptproj', '-o', 'exported.yml', '-a', TSX], dir, env());
    expect(exported.code).toBe(0);
    const config = compose(['-f', 'exported.yml', 'config'], dir);
    expect(config.stderr).toBe('');
    expect(config.status).toBe(0);
    expect(config.stdout).toContain('container_name: adoptproj_web_1');
  });
  test('export compose round trip: docker-compose up of the exported file makes what apply --engine docker makes (normalised inspect)', () => {
    const dir = path.join(work, 'rt');
    fs.mkdirSync(dir);
    writeJsApp(
      dir,
      `const app = new cdk.App();
const stack = new cdk.Stack(app, 'adoptrt');
const back = new cdk.Network(stack, 'back', { name: 'adoptrt-back' });
const store = new cdk.Volume(stack, 'store', { name: 'adoptrt-store' });
const db = new cdk.Container(stack, 'db', {
  image: 'busybox:examples',
  name: 'adoptrt-db',
  command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'],
  env: { MODE: 'prod', PRICE: 'a$b' },
  workingDir: '/tmp',
  networks: [{ network: back, aliases: ['database'] }],
  mounts: [{ type: 'volume', source: store, target: '/data' }, { type: 'tmpfs', target: '/scratch', size: '1m' }],
  healthcheck: { test: ['CMD', 'true'], interval: '1s', retries: 2 },
  restart: 'unless-stopped',
  labels: { tier: 'db' },
});
new cdk.Container(stack, 'web', {
  image: 'busybox:examples',
  name: 'adoptrt-web',
  entrypoint: ['sh', '-c'],
  command: ['sleep 3600'],
  ports: ['127.0.0.1:19721:80'],
  networks: [back],
  dependsOn: [{ container: db, condition: 'healthy' }],
  restart: cdk.Restart.onFailure(3),
  capDrop: ['NET_RAW'],
  stopTimeout: '3s',
});
app.synth();`,
    );
    const inspectAll = (): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const name of ['adoptrt-db', 'adoptrt-web']) out[name] = normalise(JSON.parse(dockerd.docker(['inspect', name]))[0]);
      return out;
    };
    must(cdkDocker(['apply', '--engine', 'docker', '--auto-approve'], dir, env()));
    const applied = inspectAll();
    const exported = cdkDocker(['export', 'compose', '-o', 'compose.yml'], dir, env());
    expect(exported.stderr).toBe('');
    expect(exported.stdout).toBe(`Wrote ${path.join(dir, 'compose.yml')}\n`);
    must(cdkDocker(['destroy', '--engine', 'docker', '--auto-approve', '--volumes'], dir, env()));

    const config = compose(['-f', 'compose.yml', 'config', '-q'], dir);
    expect(config.stderr).toBe('');
    expect(config.status).toBe(0);
    const up = compose(['-p', 'adoptrt', '-f', 'compose.yml', 'up', '-d'], dir);
    expect(up.status).toBe(0);
    try {
      expect(inspectAll()).toEqual(applied);
    } finally {
      expect(compose(['-p', 'adoptrt', '-f', 'compose.yml', 'down', '-v', '-t', '1'], dir).status).toBe(0);
    }
  });
});

/** What both tools make of a container, without their own labels and the ids the engine picks. */
function normalise(c: Record<string, any>): Record<string, unknown> {
  const config = c.Config;
  const host = c.HostConfig;
  const shortId = String(c.Id).slice(0, 12);
  return {
    image: c.Image,
    cmd: config.Cmd ?? null,
    entrypoint: config.Entrypoint ?? null,
    env: [...(config.Env ?? [])].sort(),
    workingDir: config.WorkingDir,
    user: config.User,
    labels: Object.fromEntries(Object.entries((config.Labels ?? {}) as Record<string, string>).filter(([k]) => !k.startsWith('com.docker.compose.') && !k.startsWith('io.cdk-docker.'))),
    healthcheck: config.Healthcheck ?? null,
    stopTimeout: config.StopTimeout ?? null,
    // No ports: one tool says {} and the other null.
    ports: Object.keys(host.PortBindings ?? {}).length > 0 ? host.PortBindings : null,
    restart: host.RestartPolicy,
    capDrop: host.CapDrop,
    tmpfs: host.Tmpfs ?? null,
    mounts: (c.Mounts as Array<Record<string, unknown>>).map((m) => ({ type: m.Type, name: m.Name, target: m.Destination, rw: m.RW })),
    networks: Object.fromEntries(
      Object.entries((c.NetworkSettings.Networks ?? {}) as Record<string, any>).map(([n, e]) => [n, ((e.Aliases ?? []) as string[]).filter((a) => a !== shortId).sort()]),
    ),
  };
}

