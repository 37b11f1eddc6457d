import { Config, Container, Image, Network, Restart, Secret, Stack, Testing, ValidationError, Volume } from '../../lib';
import { DOCKER_CAPABILITIES } from '../../lib/drivers/docker/driver';
import type { DriverCapabilities, ObservedContainer, ObservedStack } from '../../lib/drivers/types';
import { LABELS } from '../../lib/drivers/types';
import type { Plan } from '../../lib/plan/types';
import { Change, diffStack, diffToJson, KNOWN_AFTER_APPLY, MASKED, renderDiff, StackDiff } from '../../lib/reconcile';
import { FIXTURE_ENV, fixtureApp, resourceAt, thrown } from '../fixtures';
import { BUSYBOX_DEFAULTS, ENGINE, faithful, Faithful } from './faithful';

type ContainerProps = ConstructorParameters<typeof Container>[2];

/** A stack with one container `web` (props given) on busybox, plus optional extras. */
function webStack(props: Partial<ContainerProps> = {}, env: { [k: string]: string } = FIXTURE_ENV): Plan {
  const stack = new Stack(fixtureApp({ env }), 'shop');
  new Container(stack, 'web', { image: 'busybox:1.36', ...props });
  return Testing.synth(stack);
}

/** The full stack: network, volume, two containers, a secret, ports, mounts, a healthcheck. */
function fullStack(o: { replicas?: number; password?: string; extra?: boolean; subnet?: string; volumeOpts?: { [k: string]: string } } = {}): Plan {
  const stack = new Stack(fixtureApp({ env: { ...FIXTURE_ENV, ...(o.password ? { DB_PASSWORD: o.password } : {}) } }), 'shop');
  const net = new Network(stack, 'backend', { subnet: o.subnet });
  const data = new Volume(stack, 'data', { driverOpts: o.volumeOpts });
  const db = new Container(stack, 'db', {
    image: 'busybox:1.36',
    command: ['sleep', '1000'],
    env: { DB_PASSWORD: Secret.fromEnv('DB_PASSWORD'), MODE: 'primary' },
    networks: [{ network: net, aliases: ['database'] }],
    mounts: [{ type: 'volume', source: data, target: '/data' }],
    healthcheck: { test: 'true' },
    restart: Restart.UNLESS_STOPPED,
  });
  new Container(stack, 'web', {
    image: 'busybox:1.36',
    ports: ['127.0.0.1::8080', '443'],
    networks: [net],
    dependsOn: [{ container: db, condition: 'healthy' }],
    mounts: [{ type: 'bind', source: 'nginx.conf', target: '/etc/nginx.conf', readOnly: true }],
    replicas: o.replicas ?? 1,
  });
  if (o.extra) new Container(stack, 'extra', { image: 'busybox:1.36' });
  return Testing.synth(stack);
}

const id = (plan: Plan, path: string): string => resourceAt(plan, path).logicalId;
const actions = (d: StackDiff): string[] => d.changes.map((c) => `${c.action} ${c.type} ${c.name}`);
const changed = (d: StackDiff): Change[] => d.changes.filter((c) => c.action !== 'no-op');
const only = (d: StackDiff): Change => {
  const c = changed(d);
  if (c.length !== 1) throw new Error(`expected one change, got ${JSON.stringify(c, undefined, 2)}`);
  return c[0];
};

/** A faithful observation of `plan` with the container at `path` changed by `f`. */
function withContainer(f0: Faithful, path: string, f: (c: ObservedContainer) => ObservedContainer): Faithful {
  return {
    ...f0,
    observed: { ...f0.observed, containers: f0.observed.containers.map((c) => (c.labels[LABELS.path] === path ? f(c) : c)) },
  };
}

/** Diffs `plan` against what applying `applied` left behind (labels from `applied`). */
function diffAfter(applied: Plan, plan: Plan, opts: Parameters<typeof faithful>[1] = {}): StackDiff {
  const f = faithful(applied, opts);
  return diffStack(plan, f.observed, f.images, ENGINE);
}

describe('an unchanged stack plans no changes', () => {
  const cases: Array<[string, Parameters<typeof faithful>[1]]> = [
    ['with the labels apply wrote', {}],
    ['without spec-hash labels (every field compared)', { labels: false }],
    ['as docker inspect reports it (image defaults and runtime values filled in)', { effective: true }],
    ['as docker inspect reports it, without labels', { effective: true, labels: false }],
  ];
  test.each(cases)('%s', (_name, opts) => {
    const plan = fullStack({ replicas: 2 });
    const d = diffAfter(plan, plan, opts);
    expect(d.changes).toHaveLength(6);
    expect(d.changes.every((c) => c.action === 'no-op')).toBe(true);
    expect(renderDiff(d, { color: false })).toBe('No changes. The stack matches the plan.\n');
  });

  test('image-supplied values left unset in the plan are not differences', () => {
    const plan = webStack({ entrypoint: ['/bin/sh', '-c'] });
    const defaults = { ...BUSYBOX_DEFAULTS, cmd: ['httpd', '-f'], workingDir: '/srv', user: 'www', stopSignal: 'SIGQUIT', env: { PATH: '/bin', LANG: 'C' }, labels: { 'org.image': 'x' } };
    const imageId = id(plan, 'image-busybox-1.36');
    for (const labels of [true, false]) {
      const f = faithful(plan, { effective: true, labels, imageDefaults: { [imageId]: defaults } });
      // An entrypoint in the plan drops the image's Cmd, as Docker does.
      expect(f.observed.containers[0].spec.command).toBeUndefined();
      expect(changed(diffStack(plan, f.observed, f.images, ENGINE))).toEqual([]);
    }
  });

  test('a stopped one-shot container that exited 0 with restart "no" is left alone', () => {
    const plan = webStack({ command: ['true'] });
    const f = withContainer(faithful(plan), 'web', (c) => ({ ...c, status: 'exited', exitCode: 0 }));
    expect(changed(diffStack(plan, f.observed, f.images, ENGINE))).toEqual([]);
  });
});

describe('containers: each field gets the right action and reason', () => {
  const cases: Array<[string, Partial<ContainerProps>, Partial<ContainerProps>, Change['action'], string, string | undefined, string | undefined]> = [
    ['env', { env: { DB_URL: 'a' } }, { env: { DB_URL: 'b' } }, 'replace', 'env.DB_URL', '"a"', '"b"'],
    ['a new env var', {}, { env: { NEW: 'x' } }, 'replace', 'env.NEW', undefined, '"x"'],
    ['restart', {}, { restart: Restart.ALWAYS }, 'update', 'restart', 'no', 'always'],
    ['memory', {}, { memory: '512m' }, 'update', 'memoryBytes', undefined, '536870912'],
    ['cpus', { cpus: 1 }, { cpus: 2 }, 'update', 'nanoCpus', '1000000000', '2000000000'],
    ['pids', { pidsLimit: 10 }, { pidsLimit: 20 }, 'update', 'pidsLimit', '10', '20'],
    ['name', { name: 'old-web' }, { name: 'new-web' }, 'update', 'name', '"old-web"', '"new-web"'],
    ['command', { command: ['a'] }, { command: ['b'] }, 'replace', 'command', '["a"]', '["b"]'],
    ['command back to the image\'s', { command: ['a'] }, {}, 'replace', 'command', '["a"]', '["sh"]'],
    ['entrypoint', {}, { entrypoint: ['/init'] }, 'replace', 'entrypoint', '[]', '["/init"]'],
    ['user', {}, { user: '1000' }, 'replace', 'user', '""', '"1000"'],
    ['workingDir', {}, { workingDir: '/app' }, 'replace', 'workingDir', '"/"', '"/app"'],
    ['hostname', {}, { hostname: 'h' }, 'replace', 'hostname', undefined, '"h"'],
    ['stopSignal', {}, { stopSignal: 'SIGINT' }, 'replace', 'stopSignal', '"SIGTERM"', '"SIGINT"'],
    ['stopTimeout', {}, { stopTimeout: '30s' }, 'replace', 'stopTimeoutSeconds', '10', '30'],
    ['init', {}, { init: true }, 'replace', 'init', 'false', 'true'],
    ['readOnlyRootfs', {}, { readOnlyRootfs: true }, 'replace', 'readOnlyRootfs', 'false', 'true'],
    ['privileged', {}, { privileged: true }, 'replace', 'privileged', 'false', 'true'],
    ['capAdd', {}, { capAdd: ['NET_ADMIN'] }, 'replace', 'capAdd', '[]', '["NET_ADMIN"]'],
    ['labels', { labels: { team: 'a' } }, { labels: { team: 'b' } }, 'replace', 'labels.team', '"a"', '"b"'],
    ['a host port', { ports: ['8080:80'] }, { ports: ['9090:80'] }, 'replace', 'ports[0].hostPort', '8080', '9090'],
    ['a new port', {}, { ports: ['127.0.0.1:8080:80'] }, 'replace', 'ports[0]', undefined, '"127.0.0.1:8080:80/tcp"'],
    ['a mount\'s readOnly', { mounts: [{ type: 'bind', source: 'site', target: '/www' }] }, { mounts: [{ type: 'bind', source: 'site', target: '/www', readOnly: true }] }, 'replace', 'mounts[0].readOnly', 'false', 'true'],
    ['a tmpfs size', { mounts: [{ type: 'tmpfs', target: '/tmp' }] }, { mounts: [{ type: 'tmpfs', target: '/tmp', size: '1m' }] }, 'replace', 'mounts[0].sizeBytes', undefined, '1048576'],
    ['a healthcheck', {}, { healthcheck: { test: 'true', interval: '5s', timeout: '2s', retries: 2, startPeriod: '1s' } }, 'replace', 'healthcheck', undefined, '["CMD-SHELL","true"] every 5000ms, timeout 2000ms, 2 retries, start period 1000ms'],
    ['networkMode', {}, { networkMode: 'host' as never }, 'replace', 'networkMode', '"bridge"', '"host"'],
    ['expose', {}, { expose: [8080] }, 'replace', 'expose', '[]', '["8080/tcp"]'],
    ['an extra host', { extraHosts: { db: '10.0.0.4' } }, { extraHosts: { db: '10.0.0.5' } }, 'replace', 'extraHosts.db', '"10.0.0.4"', '"10.0.0.5"'],
    ['dns', {}, { dns: ['1.1.1.1'] }, 'replace', 'dns', '[]', '["1.1.1.1"]'],
    ['dnsSearch', { dnsSearch: ['a.test'] }, { dnsSearch: ['b.test'] }, 'replace', 'dnsSearch', '["a.test"]', '["b.test"]'],
    ['dnsOptions', {}, { dnsOptions: ['ndots:2'] }, 'replace', 'dnsOptions', '[]', '["ndots:2"]'],
    ['a sysctl', {}, { sysctls: { 'net.core.somaxconn': '1024' } }, 'replace', 'sysctls.net.core.somaxconn', undefined, '"1024"'],
    ['a ulimit', { ulimits: { nofile: 1024 } }, { ulimits: { nofile: { soft: 1024, hard: 2048 } } }, 'replace', 'ulimits.nofile', '"1024:1024"', '"1024:2048"'],
    ['shmSize', {}, { shmSize: '128m' }, 'replace', 'shmSizeBytes', '67108864', '134217728'],
    ['devices', {}, { devices: ['/dev/fuse'] }, 'replace', 'devices', '[]', '["/dev/fuse:/dev/fuse:rwm"]'],
    ['pid', {}, { pid: 'host' }, 'replace', 'pid', undefined, '"host"'],
    ['ipc', {}, { ipc: 'host' }, 'replace', 'ipc', '"private"', '"host"'],
    ['tty', {}, { tty: true }, 'replace', 'tty', 'false', 'true'],
    ['stdinOpen', { stdinOpen: true }, {}, 'replace', 'stdinOpen', 'true', 'false'],
    ['a log driver', {}, { logging: { driver: 'json-file' } }, 'replace', 'logging.driver', '"k8s-file"', '"json-file"'],
    ['a command string', { command: ['echo', 'a b'] }, { command: "echo 'a c'" }, 'replace', 'command', '["echo","a b"]', '["echo","a c"]'],
  ];
  test.each(cases)('%s', (_name, before, after, action, field, b, a) => {
    for (const labels of [true, false]) {
      const applied = webStack(before);
      const plan = webStack(after);
      const d = diffAfter(applied, plan, { labels });
      const c = only(d);
      expect(c.action).toBe(action);
      // Without the inputs label nothing proves an old variable was not a secret: masked.
      const shownBefore = !labels && field.startsWith('env.') && b !== undefined ? MASKED : b;
      expect(c.reasons).toContainEqual({ field, before: shownBefore, after: a, needs: action === 'replace' ? 'replace' : 'update' });
    }
  });

  test('a host port of 0 matches whatever port the runtime chose', () => {
    const plan = webStack({ ports: ['80', '127.0.0.1::81'] });
    expect(changed(diffAfter(plan, plan, { effective: true, labels: false }))).toEqual([]);
  });

  test('a matching spec-hash label is not trusted: settings changed under it (a container re-made by hand with the labels copied) are changes', () => {
    const plan = webStack({ env: { MODE: 'prod' }, memory: '64m' });
    const f = withContainer(faithful(plan), 'web', (c) => {
      expect(c.labels[LABELS.specHash]).toMatch(/^sha256:/);
      return { ...c, spec: { ...c.spec, fullEnv: { ...c.spec.fullEnv, MODE: 'dev' }, memoryBytes: undefined } };
    });
    const c = only(diffStack(plan, f.observed, f.images, ENGINE));
    expect(c).toMatchObject({ action: 'replace' });
    expect(c.reasons.map((r) => `${r.field} ${r.before} → ${r.after} (${r.needs})`).sort()).toEqual(['env.MODE "dev" → "prod" (replace)', 'memoryBytes undefined → 67108864 (update)']);
  });

  test('a stopped container that should run is started in place', () => {
    const plan = webStack({ restart: Restart.ALWAYS });
    const f = withContainer(faithful(plan), 'web', (c) => ({ ...c, status: 'exited', exitCode: 137 }));
    const c = only(diffStack(plan, f.observed, f.images, ENGINE));
    expect(c).toMatchObject({ action: 'update', reasons: [{ field: 'status', before: '"exited"', after: '"running"', needs: 'update' }] });
  });

  test('an image whose id moved replaces its containers', () => {
    const plan = webStack();
    const f = faithful(plan);
    const imageId = id(plan, 'image-busybox-1.36');
    const images = { ...f.images, [imageId]: { id: `sha256:${'b'.repeat(64)}`, config: BUSYBOX_DEFAULTS } };
    const c = only(diffStack(plan, f.observed, images, ENGINE));
    expect(c.action).toBe('replace');
    expect(c.reasons).toEqual([{ field: 'image', before: f.observed.containers[0].imageId.slice(0, 19), after: `sha256:${'b'.repeat(12)}`, needs: 'replace' }]);
  });

  test('a missing image is created and its containers get an image known after apply', () => {
    const plan = webStack();
    const f = faithful(plan);
    const imageId = id(plan, 'image-busybox-1.36');
    const d = diffStack(plan, f.observed, { [imageId]: undefined }, ENGINE);
    expect(actions(d)).toEqual(['create image docker.io/library/busybox:1.36', 'replace container shop-web']);
    expect(d.changes[1].reasons).toContainEqual({ field: 'image', before: f.observed.containers[0].imageId.slice(0, 19), after: KNOWN_AFTER_APPLY, needs: 'replace' });
  });

  test('pullPolicy always updates the image and leaves its containers alone', () => {
    const stack = new Stack(fixtureApp(), 'shop');
    new Container(stack, 'web', { image: new Image(stack, 'img', { ref: 'busybox:1.36', pullPolicy: 'always' }) });
    const plan = Testing.synth(stack);
    const d = diffAfter(plan, plan);
    expect(only(d)).toMatchObject({ type: 'image', action: 'update', reasons: [{ field: 'pullPolicy', after: 'always', needs: 'update' }] });
  });

  test('a build image is current by its spec-hash label, rebuilt otherwise, and its containers replaced', () => {
    const stack = new Stack(fixtureApp(), 'shop');
    const img = new Image(stack, 'img', { build: { context: 'web' } });
    new Container(stack, 'web', { image: img });
    const plan = Testing.synth(stack);
    expect(changed(diffAfter(plan, plan))).toEqual([]);
    const f = faithful(plan);
    const imgId = id(plan, 'img');
    const stale = { ...f.images, [imgId]: { id: 'sha256:' + 'c'.repeat(64), config: { ...BUSYBOX_DEFAULTS, labels: { 'io.cdk-docker.context-hash': 'sha256:old' } } } };
    const d = diffStack(plan, f.observed, stale, ENGINE);
    const image = resourceAt(plan, 'img', 'image');
    expect(actions(d)).toEqual(['update image ' + image.name, 'replace container shop-web']);
    expect(d.changes[0].reasons).toEqual([{ field: 'contextHash', before: 'sha256:old', after: image.spec.source === 'build' ? image.spec.contextHash : '', needs: 'update' }]);
    expect(d.changes[1].reasons).toContainEqual(expect.objectContaining({ field: 'image', after: KNOWN_AFTER_APPLY }));
  });

  test('network attachments change in place: connect, disconnect, aliases', () => {
    const stack = () => new Stack(fixtureApp(), 'shop');
    const a = stack();
    const n1 = new Network(a, 'n1');
    new Network(a, 'n2');
    new Container(a, 'web', { image: 'busybox:1.36', networks: [n1] });
    const b = stack();
    new Network(b, 'n1');
    const n2 = new Network(b, 'n2');
    new Container(b, 'web', { image: 'busybox:1.36', networks: [{ network: n2, aliases: ['www'] }] });
    for (const labels of [true, false]) {
      const c = only(diffAfter(Testing.synth(a), Testing.synth(b), { labels, effective: !labels }));
      expect(c.action).toBe('update');
      expect(c.reasons).toEqual([
        { field: 'networks.shop-n2', before: undefined, after: 'aliases web,www', needs: 'update' },
        { field: 'networks.shop-n1', before: 'attached', after: undefined, needs: 'update' },
      ]);
    }
  });

  test('a bind-mounted file whose content changed replaces the container (by its hash in the inputs label)', () => {
    const plan = webStack({ mounts: [{ type: 'bind', source: 'nginx.conf', target: '/etc/nginx.conf' }] });
    const f = faithful(plan);
    const web = resourceAt(plan, 'web', 'container');
    // The engine cannot report the hash; the label remembers the old one.
    const oldInputs = JSON.stringify({ image: 'docker.io/library/busybox:1.36', secrets: {}, envFiles: [], files: { '/etc/nginx.conf': 'sha256:old' } });
    const g = withContainer(f, 'web', (c) => ({
      ...c,
      labels: { ...c.labels, 'io.cdk-docker.inputs': oldInputs, [LABELS.specHash]: 'sha256:old' },
      spec: { ...c.spec, mounts: c.spec.mounts.map((m) => (m.type === 'bind' ? { ...m, sha256: undefined } : m)) },
    }));
    const c = only(diffStack(plan, g.observed, g.images, ENGINE));
    const want = web.spec.mounts[0].type === 'bind' ? web.spec.mounts[0].sha256 : undefined;
    expect(c.reasons).toEqual([{ field: 'mounts[0].sha256', before: 'sha256:old', after: want, needs: 'replace' }]);
  });

  test('an env file whose content changed replaces the container', () => {
    const plan = webStack({ envFiles: ['app.env'] });
    const g = withContainer(faithful(plan), 'web', (c) => ({
      ...c,
      labels: { ...c.labels, 'io.cdk-docker.inputs': JSON.stringify({ image: 'docker.io/library/busybox:1.36', secrets: {}, envFiles: ['sha256:old'], files: {} }), [LABELS.specHash]: 'sha256:old' },
    }));
    const c = only(diffStack(plan, g.observed, { ...g.images }, ENGINE));
    expect(c.reasons).toEqual([{ field: 'envFiles[0]', before: 'sha256:old', after: resourceAt(plan, 'web', 'container').spec.envFiles[0].sha256, needs: 'replace' }]);
    // Env-file variables in the environment are not differences.
    const h = faithful(plan, { labels: false, envFileVars: { FROM_FILE: 'yes' } });
    expect(changed(diffStack(plan, h.observed, h.images, ENGINE))).toEqual([]);
  });
});

describe('the engine decides: its defaults are equal to nothing, its in-place fields are updates', () => {
  const engine = (over: { inPlace?: DriverCapabilities['inPlace']; defaults?: Partial<DriverCapabilities['defaults']> }): DriverCapabilities => ({
    ...ENGINE,
    inPlace: over.inPlace ?? ENGINE.inPlace,
    defaults: { ...ENGINE.defaults, ...over.defaults },
  });
  const without = (f: DriverCapabilities['inPlace'][number]) => engine({ inPlace: ENGINE.inPlace.filter((x) => x !== f) });

  test.each([
    ['restart', {}, { restart: Restart.ALWAYS }, 'restart'],
    ['memoryBytes', {}, { memory: '512m' }, 'memoryBytes'],
    ['nanoCpus', { cpus: 1 }, { cpus: 2 }, 'nanoCpus'],
    ['pidsLimit', { pidsLimit: 10 }, { pidsLimit: 20 }, 'pidsLimit'],
    ['name', { name: 'old-web' }, { name: 'new-web' }, 'name'],
  ] as Array<[DriverCapabilities['inPlace'][number], Partial<ContainerProps>, Partial<ContainerProps>, string]>)('%s is an update where the engine changes it in place, a replace where it cannot', (field, before, after, reason) => {
    const f = faithful(webStack(before));
    const plan = webStack(after);
    expect(only(diffStack(plan, f.observed, f.images, ENGINE))).toMatchObject({ action: 'update', reasons: [expect.objectContaining({ field: reason, needs: 'update' })] });
    expect(only(diffStack(plan, f.observed, f.images, without(field)))).toMatchObject({ action: 'replace', reasons: [expect.objectContaining({ field: reason, needs: 'replace' })] });
  });

  test('network attachments are updates only where the engine connects and disconnects', () => {
    const stack = new Stack(fixtureApp({ env: FIXTURE_ENV }), 'shop');
    const front = new Network(stack, 'front');
    new Container(stack, 'web', { image: 'busybox:1.36', networks: [front] });
    const applied = webStack();
    const plan = Testing.synth(stack);
    const f = faithful(applied);
    const web = (d: StackDiff) => d.changes.find((c) => c.type === 'container')!;
    expect(web(diffStack(plan, f.observed, f.images, ENGINE)).action).toBe('update');
    expect(web(diffStack(plan, f.observed, f.images, without('networks')))).toMatchObject({ action: 'replace', reasons: expect.arrayContaining([expect.objectContaining({ field: 'networks.shop-front', needs: 'replace' })]) });
  });

  test('what the engine applies by default counts as equal, and only what this engine applies', () => {
    const plan = webStack({ mounts: [{ type: 'tmpfs', target: '/scratch' }] });
    // As the engine reports it: its default network, stop timeout, working directory, tmpfs mode and variables filled in.
    const f = withContainer(faithful(plan, { effective: true }), 'web', (c) => ({
      ...c,
      spec: { ...c.spec, workingDir: '/', mounts: [{ type: 'tmpfs', target: '/scratch', mode: 0o1777 }], fullEnv: { ...c.spec.fullEnv, HOSTNAME: 'abc', HOME: '/root' } },
    }));
    expect(changed(diffStack(plan, f.observed, f.images, ENGINE))).toEqual([]);
    const other = engine({ defaults: { network: 'nat', stopTimeoutSeconds: 30, workingDir: '/home', tmpfsMode: 0o755, env: ['PATH'] } });
    const fields = only(diffStack(plan, f.observed, f.images, other)).reasons.map((r) => `${r.field} ${r.before} → ${r.after} (${r.needs})`).sort();
    expect(fields).toEqual([
      'env.HOME "/root" → undefined (replace)',
      'env.HOSTNAME "abc" → undefined (replace)',
      'mounts[0].mode 1777 → 755 (replace)',
      'networks.bridge attached → undefined (update)',
      'networks.nat undefined → attached (update)',
      'stopTimeoutSeconds 10 → 30 (replace)',
      'workingDir "/" → "/home" (replace)',
    ]);
  });

  test('healthcheck timings left out are the engine\'s', () => {
    const plan = webStack({ healthcheck: { test: 'true' } });
    const f = faithful(plan);
    const h = f.observed.containers[0].spec.healthcheck!;
    const zeros = withContainer(f, 'web', (c) => ({ ...c, spec: { ...c.spec, healthcheck: { test: h.test, intervalMs: 0, timeoutMs: 0, retries: 0, startPeriodMs: 0 } } }));
    expect(changed(diffStack(plan, zeros.observed, zeros.images, ENGINE))).toEqual([]);
    const slower = engine({ defaults: { healthcheck: { ...ENGINE.defaults.healthcheck, intervalMs: 60_000 } } });
    expect(only(diffStack(plan, zeros.observed, zeros.images, slower)).reasons).toEqual([{ field: 'healthcheck.intervalMs', before: '60000', after: '30000', needs: 'replace' }]);
  });
});

describe('secrets', () => {
  const VALUE = 'the-secret-value-0xDEADBEEF';

  test('a secret whose HMAC changed is a masked replace; its value appears nowhere', () => {
    const applied = webStack({ env: { TOKEN: Secret.fromEnv('TOKEN') } }, { TOKEN: 'first' });
    const plan = webStack({ env: { TOKEN: Secret.fromEnv('TOKEN') } }, { TOKEN: VALUE });
    const d = diffAfter(applied, plan, { secrets: { TOKEN: 'first' } });
    expect(only(d)).toMatchObject({ action: 'replace', reasons: [{ field: 'env.TOKEN', before: MASKED, after: MASKED, needs: 'replace' }] });
    const out = renderDiff(d, { color: false }) + JSON.stringify(diffToJson(d));
    expect(out).not.toContain(VALUE);
    expect(out).not.toContain('first');
    // Without the label (no HMAC to compare), a present secret is not a difference.
    expect(changed(diffAfter(applied, plan, { labels: false, secrets: { TOKEN: 'first' } }))).toEqual([]);
  });

  test('the environment never leaks a secret into a reason, whether it is, was or might have been one', () => {
    const applied = webStack({ env: { TOKEN: Secret.fromEnv('TOKEN'), PLAIN: 'p' } }, { TOKEN: VALUE });
    const plain = webStack({ env: { TOKEN: 'now-plain', PLAIN: 'q' } }, {});
    for (const labels of [true, false]) {
      const d = diffAfter(applied, plain, { labels, secrets: { TOKEN: VALUE } });
      const text = renderDiff(d, { color: false }) + JSON.stringify(diffToJson(d));
      expect(text).not.toContain(VALUE);
      expect(only(d).reasons).toContainEqual({ field: 'env.TOKEN', before: MASKED, after: '"now-plain"', needs: 'replace' });
    }
    // Removed from the plan: the old value is masked unless the label proves it was plain.
    const removed = webStack({}, {});
    for (const labels of [true, false]) {
      const d = diffAfter(applied, removed, { labels, secrets: { TOKEN: VALUE } });
      expect(JSON.stringify(d)).not.toContain(VALUE);
      expect(only(d).reasons).toContainEqual({ field: 'env.TOKEN', before: MASKED, after: undefined, needs: 'replace' });
      expect(only(d).reasons).toContainEqual({ field: 'env.PLAIN', before: labels ? '"p"' : MASKED, after: undefined, needs: 'replace' });
    }
  });

  test('a secret missing from the environment is added', () => {
    const plan = webStack({ env: { TOKEN: Secret.fromEnv('TOKEN') } }, { TOKEN: VALUE });
    const g = withContainer(faithful(plan), 'web', (c) => ({ ...c, labels: { ...c.labels, [LABELS.specHash]: 'x' }, spec: { ...c.spec, fullEnv: BUSYBOX_DEFAULTS.env } }));
    expect(only(diffStack(plan, g.observed, g.images, ENGINE)).reasons).toEqual([{ field: 'env.TOKEN', before: undefined, after: MASKED, needs: 'replace' }]);
  });
});

describe('what compose files set', () => {
  test('the engine\'s defaults are no change: 64 MiB of /dev/shm, ipc private, the image\'s and published ports exposed', () => {
    const plan = webStack({ ports: ['8080:80'], shmSize: '64m', ipc: 'private', expose: ['80', '9000'] });
    const f = faithful(plan, { imageDefaults: {} });
    const web = f.observed.containers[0];
    // As an engine reports them: the defaults left out, every exposed port listed.
    const { shmSizeBytes: _shm, ipc: _ipc, ...spec } = web.spec;
    const observed = { ...f.observed, containers: [{ ...web, spec: { ...spec, expose: ['80/tcp', '9000/tcp'] } }] };
    const imageId = id(plan, 'image-busybox-1.36');
    const image = f.images[imageId]!;
    const images = { [imageId]: { ...image, config: { ...image.config, exposedPorts: ['9000/tcp'] } } };
    expect(changed(diffStack(plan, observed, images, ENGINE))).toEqual([]);
    // IPC left out is the engine's own namespace, whichever mode its daemon gives by default.
    const bare = webStack();
    const shareable = withContainer(faithful(bare), 'web', (c) => ({ ...c, spec: { ...c.spec, ipc: 'shareable' } }));
    expect(changed(diffStack(bare, shareable.observed, shareable.images, ENGINE))).toEqual([]);
    const host = withContainer(faithful(bare), 'web', (c) => ({ ...c, spec: { ...c.spec, ipc: 'host' } }));
    expect(only(diffStack(bare, host.observed, host.images, ENGINE)).reasons).toEqual([{ field: 'ipc', before: '"host"', after: '"private"', needs: 'replace' }]);
  });

  test('a secret or config file whose content, mode or owner changed replaces the container; a secret\'s shows masked', () => {
    const secret = (s: Partial<ContainerProps> = {}) => ({ secrets: [{ secret: Secret.fromEnv('DB_PASSWORD'), target: 'pw' }], configs: [{ config: Config.fromString('a=1\n'), target: '/etc/app.conf' }], ...s });
    const applied = webStack(secret());
    expect(changed(diffAfter(applied, webStack(secret())))).toEqual([]);
    const rotated = only(diffAfter(applied, webStack(secret(), { ...FIXTURE_ENV, DB_PASSWORD: 'rotated' })));
    expect(rotated.action).toBe('replace');
    expect(rotated.reasons).toEqual([{ field: 'secrets./run/secrets/pw', before: MASKED, after: MASKED, needs: 'replace' }]);
    const edited = only(diffAfter(applied, webStack(secret({ configs: [{ config: Config.fromString('a=2\n'), target: '/etc/app.conf', mode: 0o400 }] }))));
    expect(edited.reasons).toEqual([
      { field: 'configs./etc/app.conf', before: expect.stringMatching(/^sha256:[0-9a-f]{64} 0444 0:0$/), after: expect.stringMatching(/^sha256:[0-9a-f]{64} 0400 0:0$/), needs: 'replace' },
    ]);
    const dropped = only(diffAfter(applied, webStack({ configs: [{ config: Config.fromString('a=1\n'), target: '/etc/app.conf' }] })));
    expect(dropped.reasons).toEqual([{ field: 'secrets./run/secrets/pw', before: MASKED, after: undefined, needs: 'replace' }]);
  });

  test('another container\'s network: the same container, by name or id, is no change; recreating it replaces this one too', () => {
    const shared = (vpnProps: Partial<ContainerProps> = {}) => {
      const stack = new Stack(fixtureApp(), 'shop');
      const vpn = new Container(stack, 'vpn', { image: 'busybox:1.36', ...vpnProps });
      new Container(stack, 'app', { image: 'busybox:1.36', networkMode: vpn });
      return Testing.synth(stack);
    };
    const plan = shared();
    for (const effective of [false, true]) expect(changed(diffAfter(plan, plan, { effective }))).toEqual([]);
    const d = diffAfter(plan, shared({ env: { A: '1' } }));
    expect(changed(d).map((c) => [c.path, c.action, c.reasons.map((r) => `${r.field} ${r.before} → ${r.after}`)])).toEqual([
      ['vpn', 'replace', ['env.A undefined → "1"']],
      ['app', 'replace', ['networkMode.container "shop-vpn" → "shop-vpn" (recreated)']],
    ]);
    // Made by hand in another container's network: a change of mode.
    const f = withContainer(faithful(plan), 'app', (c) => ({ ...c, spec: { ...c.spec, networkMode: { containerName: 'someone-else' } } }));
    expect(only(diffStack(plan, f.observed, f.images, ENGINE)).reasons).toEqual([{ field: 'networkMode', before: '"container:someone-else"', after: '"container:shop-vpn"', needs: 'replace' }]);
    // A container no stack manages, by name: the same one is no change, another one a replace.
    const external = (name: string) => {
      const stack = new Stack(fixtureApp(), 'shop');
      new Container(stack, 'app', { image: 'busybox:1.36', networkMode: Container.fromName(stack, 'vpn', name) });
      return Testing.synth(stack);
    };
    expect(changed(diffAfter(external('vpn-a'), external('vpn-a')))).toEqual([]);
    expect(only(diffAfter(external('vpn-a'), external('vpn-b'))).reasons).toEqual([{ field: 'networkMode', before: '"container:vpn-a"', after: '"container:vpn-b"', needs: 'replace' }]);
  });

  test('tty, stdin, logging and runtime: the engine\'s defaults are no change, options and runtimes are compared', () => {
    const docker = (applied: Plan, plan: Plan, f = faithful(applied)) => diffStack(plan, f.observed, f.images, DOCKER_CAPABILITIES);
    const bare = webStack();
    // Docker's defaults (json-file, runc) and the built-in engine's (k8s-file) named are no change.
    expect(changed(docker(bare, webStack({ logging: { driver: 'json-file' }, runtime: 'runc', tty: false, stdinOpen: false })))).toEqual([]);
    expect(changed(diffAfter(bare, webStack({ logging: { driver: 'k8s-file' }, runtime: 'runc' })))).toEqual([]);
    // A string command is the same as its words.
    expect(changed(diffAfter(webStack({ command: ['sh', '-c', 'echo "hi there"'] }), webStack({ command: `sh -c 'echo "hi there"'` })))).toEqual([]);
    const logged = webStack({ logging: { driver: 'local', options: { 'max-size': '10m' } } });
    expect(changed(docker(logged, logged))).toEqual([]);
    expect(only(docker(logged, webStack({ logging: { driver: 'local', options: { 'max-size': '20m', 'max-file': '3' } } }))).reasons).toEqual([
      { field: 'logging.options.max-file', before: undefined, after: '"3"', needs: 'replace' },
      { field: 'logging.options.max-size', before: '"10m"', after: '"20m"', needs: 'replace' },
    ]);
    expect(only(docker(logged, bare)).reasons).toEqual([
      { field: 'logging.driver', before: '"local"', after: '"json-file"', needs: 'replace' },
      { field: 'logging.options.max-size', before: '"10m"', after: undefined, needs: 'replace' },
    ]);
    expect(only(docker(bare, webStack({ runtime: 'runsc' }))).reasons).toEqual([{ field: 'runtime', before: '"runc"', after: '"runsc"', needs: 'replace' }]);
    // The platform is the image's: checked at create, not compared (another one is another image).
    expect(changed(docker(bare, webStack({ platform: 'linux/amd64' })))).toEqual([]);
  });

  test('dependsOn restart: a dependent left alone otherwise is an update that restarts it after its replaced or changed dependency', () => {
    const pair = (dbEnv: string, restart: boolean, webProps: Partial<ContainerProps> = {}) => {
      const stack = new Stack(fixtureApp(), 'shop');
      const db = new Container(stack, 'db', { image: 'busybox:1.36', env: { V: dbEnv }, memory: dbEnv === 'mem' ? '64m' : undefined });
      new Container(stack, 'web', { image: 'busybox:1.36', dependsOn: [{ container: db, restart }], ...webProps });
      return Testing.synth(stack);
    };
    const summary = (d: StackDiff) => changed(d).map((c) => `${c.path} ${c.action} ${c.reasons.map((r) => `${r.field}→${r.after}`).join(', ')}`);
    expect(summary(diffAfter(pair('1', true), pair('2', true)))).toEqual(['db replace env.V→"2"', 'web update dependsOn.restart→restarted after db']);
    // Without restart, or with nothing changed, the dependent is left alone.
    expect(summary(diffAfter(pair('1', false), pair('2', false)))).toEqual(['db replace env.V→"2"']);
    expect(summary(diffAfter(pair('1', true), pair('1', true)))).toEqual([]);
    // A dependent replaced anyway starts after its dependency: no restart of its own.
    expect(summary(diffAfter(pair('1', true), pair('2', true, { env: { X: '1' } })))).toEqual(['db replace env.V→"2"', 'web replace env.X→"1"']);
  });

  test('a log driver, log option or runtime the engine has not is refused at diff, naming the engine and what it has', () => {
    const plan = webStack({ logging: { driver: 'syslog', options: { tag: 'web' } }, runtime: 'runsc' });
    const f = faithful(plan);
    expect((thrown(() => diffStack(plan, f.observed, f.images, ENGINE)) as ValidationError).problems).toEqual([
      '[shop/web] the built-in engine has no "syslog" log driver (it has "k8s-file", "json-file", "none"); use one of those, or apply it to an engine that has it (--engine docker)',
      '[shop/web] the built-in engine takes no log option "tag" (it takes none); leave it out of logging.options, or apply it to an engine that has it (--engine docker)',
      '[shop/web] the built-in engine has no "runsc" runtime (it runs containers with "runc"); leave runtime out, or apply it to an engine that has it (--engine docker with the runtime configured in its daemon.json)',
    ]);
    expect(changed(diffStack(plan, f.observed, f.images, DOCKER_CAPABILITIES))).toEqual([]);
  });

  test('a plan using what the engine cannot do is refused before anything, with the engine\'s own sentence', () => {
    const plan = webStack({ pid: 'host', secrets: [Secret.fromEnv('DB_PASSWORD')], readOnlyRootfs: true });
    const f = faithful(plan);
    const engine: DriverCapabilities = { ...ENGINE, unsupported: { 'pid.host': 'the test engine cannot share the host\'s PID namespace; leave pid out' } };
    const e = thrown(() => diffStack(plan, f.observed, f.images, engine));
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).problems).toEqual(["[shop/web] the test engine cannot share the host's PID namespace; leave pid out"]);
    // Docker cannot put files into a read-only container; the built-in engine can.
    expect((thrown(() => diffStack(plan, f.observed, f.images, DOCKER_CAPABILITIES)) as ValidationError).problems).toEqual([
      '[shop/web] secrets and configs are written into the container before it starts, which the docker engine refuses for a read-only root filesystem; remove readOnlyRootfs, or mount the files yourself',
    ]);
    expect(changed(diffStack(plan, f.observed, f.images, ENGINE))).toEqual([]);
  });
});

describe('networks and volumes', () => {
  test('a network whose subnet changed is replaced, and its containers reconnected', () => {
    const d = diffAfter(fullStack({ subnet: '10.1.0.0/24' }), fullStack({ subnet: '10.2.0.0/24' }));
    const c = changed(d);
    expect(c.map((x) => `${x.action} ${x.name}`)).toEqual(['replace shop-backend', 'update shop-db', 'update shop-web']);
    expect(c[0].reasons).toEqual([{ field: 'subnet', before: '"10.1.0.0/24"', after: '"10.2.0.0/24"', needs: 'replace' }]);
    expect(c[1].reasons).toEqual([{ field: 'networks.shop-backend', before: expect.any(String), after: KNOWN_AFTER_APPLY, needs: 'update' }]);
  });

  test('a volume whose driver options changed is replaced with a data-loss note, its containers too', () => {
    const d = diffAfter(fullStack(), fullStack({ volumeOpts: { type: 'tmpfs' } }));
    const c = changed(d);
    expect(c.map((x) => `${x.action} ${x.name}`)).toEqual(['replace shop-data', 'replace shop-db']);
    expect(c[0].reasons).toEqual([{ field: 'driverOpts.type', before: undefined, after: '"tmpfs"', needs: 'replace' }]);
    expect(c[1].reasons).toEqual([{ field: 'mounts[0].source', before: '"shop-data"', after: '"shop-data" (recreated)', needs: 'replace' }]);
    expect(renderDiff(d, { color: false })).toContain('driverOpts.type: (none) → "tmpfs" (forces replacement: the volume and its data are deleted; apply needs --allow-data-loss)');
  });
});

describe('orphans, replicas and order', () => {
  test('objects no longer in the plan are deleted last, containers before volumes and networks', () => {
    const stack = new Stack(fixtureApp(), 'shop');
    new Container(stack, 'web', { image: 'busybox:1.36' });
    const plan = Testing.synth(stack);
    const old = faithful(fullStack({ extra: true }));
    const d = diffStack(plan, old.observed, old.images, ENGINE);
    expect(actions(d)).toEqual([
      'no-op image docker.io/library/busybox:1.36',
      'replace container shop-web',
      'delete container shop-db',
      'delete container shop-extra',
      'delete volume shop-data',
      'delete network shop-backend',
    ]);
  });

  test('scaling up creates only the new replicas, scaling down deletes only the extra ones', () => {
    const up = diffAfter(fullStack({ replicas: 1 }), fullStack({ replicas: 3 }));
    expect(changed(up).map((c) => `${c.action} ${c.name} ${c.replica}`)).toEqual(['create shop-web-2 2', 'create shop-web-3 3']);
    const down = diffAfter(fullStack({ replicas: 3 }), fullStack({ replicas: 1 }));
    expect(changed(down).map((c) => `${c.action} ${c.name} ${c.replica}`)).toEqual(['delete shop-web-3 3', 'delete shop-web-2 2']);
  });

  test('creates come in dependency order', () => {
    const plan = fullStack();
    const d = diffStack(plan, { networks: [], volumes: [], containers: [] }, {}, ENGINE);
    expect(actions(d)).toEqual([
      'create image docker.io/library/busybox:1.36',
      'create network shop-backend',
      'create volume shop-data',
      'create container shop-db',
      'create container shop-web',
    ]);
  });

  test('a second container claiming the same replica is deleted; the one with the right name is kept', () => {
    const plan = webStack();
    const f = faithful(plan);
    const c = f.observed.containers[0];
    const dup: ObservedContainer = { ...c, id: 'f'.repeat(64), name: 'shop-web-old' };
    const observed: ObservedStack = { ...f.observed, containers: [dup, c] };
    expect(actions(diffStack(plan, observed, f.images, ENGINE))).toEqual(['no-op image docker.io/library/busybox:1.36', 'no-op container shop-web', 'delete container shop-web-old']);
  });
});

describe('renderDiff', () => {
  test('one line per changed resource, reasons indented, a summary', () => {
    const applied = webStack({ env: { DB_URL: 'a' } });
    const plan = webStack({ env: { DB_URL: 'b' }, restart: Restart.ALWAYS });
    const f = faithful(applied);
    const orphan = { ...f.observed.containers[0], id: 'e'.repeat(64), name: 'shop-old', labels: { ...f.observed.containers[0].labels, [LABELS.path]: 'old' } };
    const d = diffStack(plan, { ...f.observed, containers: [...f.observed.containers, orphan] }, f.images, ENGINE);
    expect(renderDiff(d, { color: false })).toBe(
      [
        '-/+ container web (shop-web)',
        '      restart: no → always',
        '      env.DB_URL: "a" → "b" (forces replacement)',
        '  - container old (shop-old)',
        '',
        'Plan: 0 to add, 0 to change, 1 to replace, 1 to destroy.',
        '',
      ].join('\n'),
    );
    expect(renderDiff(d, { color: true })).toContain('\u001b[');
    const created = diffStack(plan, { networks: [], volumes: [], containers: [] }, {}, ENGINE);
    expect(renderDiff(created, { color: false })).toBe(
      ['  + image image-busybox-1.36 (docker.io/library/busybox:1.36)', '  + container web (shop-web)', '', 'Plan: 2 to add, 0 to change, 0 to replace, 0 to destroy.', ''].join('\n'),
    );
  });

  test('diffToJson lists every change with its reasons and a summary', () => {
    const applied = webStack({ restart: Restart.NO });
    const plan = webStack({ restart: Restart.ALWAYS });
    const j = diffToJson(diffAfter(applied, plan));
    expect(j.summary).toEqual({ add: 0, change: 1, replace: 0, destroy: 0 });
    expect(j.changes.map((c) => c.action)).toEqual(['no-op', 'update']);
    expect(j.changes[1]).toEqual({
      logicalId: id(plan, 'web'),
      path: 'web',
      type: 'container',
      name: 'shop-web',
      action: 'update',
      replica: 1,
      reasons: [{ field: 'restart', before: 'no', after: 'always', needs: 'update' }],
    });
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
  });
});
