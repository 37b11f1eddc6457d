import { Construct } from 'constructs';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import {
  Config,
  Container,
  ContainerProps,
  DependencyCondition,
  Duration,
  IImage,
  Image,
  Network,
  NetworkMode,
  Restart,
  Secret,
  Size,
  Stack,
  Testing,
  Volume,
  WatchAction,
} from '../../lib';
import type { DevelopOptions } from '../../lib';
import { hashFileContent } from '../../lib/plan';
import type { ContainerSpec } from '../../lib/plan/types';
import { specHash } from '../../lib/reconcile/hash';
import { FIXTURES, FILE_SECRET, FIXTURE_ENV, containerSpec, invalidArgument, portable, resourceAt, shop, synthProblems } from '../fixtures';

describe('Container', () => {
  test('defaults: an image reference is all a container needs', () => {
    const stack = shop();
    const web = new Container(stack, 'web', { image: 'nginx' });

    expect(web.containerName).toBe('shop-web');
    expect(web.image.imageName).toBe('docker.io/library/nginx:latest');
    expect(Image.isImage(web.image)).toBe(true);
    expect(web.ports).toEqual([]);
    expect(web.replicas).toBe(1);
    expect(web.hasHealthcheck).toBe(false);
    expect(web.dependencies).toEqual([]);

    const plan = Testing.synth(stack);
    const imageId = stack.getLogicalId(web.image);
    expect(resourceAt(plan, 'web')).toEqual({
      logicalId: stack.getLogicalId(web),
      type: 'container',
      path: 'web',
      name: 'shop-web',
      dependsOn: [imageId],
      spec: {
        image: imageId,
        env: {},
        secretEnv: {},
        envFiles: [],
        ports: [],
        publishAllPorts: false,
        mounts: [],
        volumesFrom: [],
        networkMode: 'bridge',
        networks: [],
        restart: { policy: 'no', maxRetries: 0 },
        dependsOn: [],
        labels: {},
        init: false,
        readOnlyRootfs: false,
        capAdd: [],
        capDrop: [],
        privileged: false,
        replicas: 1,
      },
    });
    expect(resourceAt(plan, 'image-nginx-latest', 'image').spec).toEqual({ source: 'registry', ref: 'docker.io/library/nginx:latest', pullPolicy: 'missing' });
    expect(Object.keys(plan.resources)).toHaveLength(2);
    expect(portable(plan)).toMatchSnapshot();
  });

  test('custom: every prop is rendered in its canonical form', () => {
    const stack = shop();
    const backend = new Network(stack, 'backend');
    const frontend = new Network(stack, 'frontend', { subnet: '172.30.0.0/24' });
    const cache = new Volume(stack, 'cache');
    const db = new Container(stack, 'db', { image: 'postgres:16', healthcheck: { test: 'pg_isready' } });
    const migrate = new Container(stack, 'migrate', { image: 'busybox', command: ['true'] });
    const logs = new Container(stack, 'logs', { image: 'busybox' });
    const image = new Image(stack, 'web-image', { build: { context: 'web' } });

    const web = new Container(stack, 'web', {
      image,
      name: 'storefront',
      command: ['nginx', '-g', 'daemon off;'],
      entrypoint: ['/docker-entrypoint.sh'],
      env: { LOG_LEVEL: 'debug', DB_PASSWORD: Secret.fromEnv('DB_PASSWORD'), API_TOKEN: Secret.fromFile('db-password.txt') },
      envFiles: ['app.env'],
      workingDir: '/usr/share/nginx/html',
      user: '101:101',
      hostname: 'web.internal',
      ports: ['127.0.0.1:8080:80/tcp', '443', { containerPort: 53, hostPort: 5353, protocol: 'UDP', hostIp: '::1' }, '9000-9001:9000-9001', 8125, '[::1]:8443:8443'],
      publishAllPorts: true,
      mounts: [
        { type: 'volume', source: cache, target: '/var/cache/nginx', readOnly: false },
        { type: 'bind', source: 'nginx.conf', target: '/etc/nginx/conf.d/default.conf', readOnly: true },
        { type: 'bind', source: 'site', target: '/usr/share/nginx/html' },
        { type: 'tmpfs', target: '/tmp', size: '64m', mode: 0o1777 },
      ],
      volumesFrom: [logs, { container: migrate, readOnly: true }],
      networks: [frontend, { network: backend, aliases: ['www', 'shop', 'www'], ipv4Address: '172.31.0.10' }],
      networkMode: NetworkMode.BRIDGE,
      restart: Restart.onFailure(5),
      healthcheck: { test: ['curl', '-f', 'http://localhost/'], interval: '10s', timeout: Duration.seconds(3), retries: 5, startPeriod: '1m' },
      dependsOn: [{ container: db, condition: 'healthy' }, { container: migrate, condition: DependencyCondition.COMPLETED }, logs],
      labels: { 'com.example.team': 'web' },
      stopSignal: 'quit',
      stopTimeout: '30s',
      init: true,
      readOnlyRootfs: true,
      capAdd: ['cap_net_admin', 'SYS_TIME'],
      capDrop: ['all'],
      privileged: false,
      memory: '512m',
      cpus: 1.5,
      pidsLimit: 200,
      replicas: 1,
    });

    expect(web.containerName).toBe('storefront');
    expect(web.image).toBe(image);
    expect(web.hasHealthcheck).toBe(true);
    expect(web.volumesFromContainers).toEqual([logs, migrate]);

    const plan = Testing.synth(stack);
    const id = (c: Parameters<Stack['getLogicalId']>[0]) => stack.getLogicalId(c);
    const r = resourceAt(plan, 'web', 'container');
    expect(r.name).toBe('storefront');
    expect(r.dependsOn).toEqual([id(image), id(db), id(migrate), id(logs), id(backend), id(frontend), id(cache)].sort());
    expect(r.spec).toEqual({
      image: id(image),
      command: ['nginx', '-g', 'daemon off;'],
      entrypoint: ['/docker-entrypoint.sh'],
      env: { LOG_LEVEL: 'debug' },
      secretEnv: {
        DB_PASSWORD: { source: 'env', from: 'DB_PASSWORD', hmac: expect.stringMatching(/^hmac-sha256:[a-f0-9]{64}$/) },
        API_TOKEN: { source: 'file', from: path.join(FIXTURES, 'db-password.txt'), hmac: expect.stringMatching(/^hmac-sha256:[a-f0-9]{64}$/) },
      },
      envFiles: [{ path: path.join(FIXTURES, 'app.env'), sha256: hashFileContent(path.join(FIXTURES, 'app.env')) }],
      workingDir: '/usr/share/nginx/html',
      user: '101:101',
      hostname: 'web.internal',
      ports: [
        { containerPort: 53, protocol: 'udp', hostIp: '::1', hostPort: 5353 },
        { containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 8080 },
        { containerPort: 443, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 0 },
        { containerPort: 8125, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 0 },
        { containerPort: 8443, protocol: 'tcp', hostIp: '::1', hostPort: 8443 },
        { containerPort: 9000, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 9000 },
        { containerPort: 9001, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 9001 },
      ],
      publishAllPorts: true,
      mounts: [
        { type: 'volume', source: 'shop-cache', target: '/var/cache/nginx', readOnly: false },
        { type: 'bind', source: path.join(FIXTURES, 'nginx.conf'), target: '/etc/nginx/conf.d/default.conf', readOnly: true, sha256: hashFileContent(path.join(FIXTURES, 'nginx.conf')) },
        { type: 'bind', source: path.join(FIXTURES, 'site'), target: '/usr/share/nginx/html', readOnly: false },
        { type: 'tmpfs', target: '/tmp', sizeBytes: 64 * 1024 * 1024, mode: 0o1777 },
      ],
      volumesFrom: [
        { container: 'shop-logs', readOnly: false },
        { container: 'shop-migrate', readOnly: true },
      ],
      networkMode: 'bridge',
      networks: [
        { network: 'shop-backend', aliases: ['shop', 'web', 'www'], ipv4Address: '172.31.0.10' },
        { network: 'shop-frontend', aliases: ['web'] },
      ],
      restart: { policy: 'on-failure', maxRetries: 5 },
      healthcheck: { test: ['CMD', 'curl', '-f', 'http://localhost/'], intervalMs: 10_000, timeoutMs: 3_000, retries: 5, startPeriodMs: 60_000 },
      dependsOn: [
        { container: id(db), condition: 'healthy' },
        { container: id(logs), condition: 'started' },
        { container: id(migrate), condition: 'completed' },
      ].sort((a, b) => (a.container < b.container ? -1 : 1)),
      labels: { 'com.example.team': 'web' },
      stopSignal: 'SIGQUIT',
      stopTimeoutSeconds: 30,
      init: true,
      readOnlyRootfs: true,
      capAdd: ['NET_ADMIN', 'SYS_TIME'],
      capDrop: ['ALL'],
      privileged: false,
      memoryBytes: 512 * 1024 * 1024,
      nanoCpus: 1_500_000_000,
      pidsLimit: 200,
      replicas: 1,
    });
    // The secrets' values are nowhere in the plan.
    const text = JSON.stringify(plan);
    expect(text).not.toContain(FIXTURE_ENV.DB_PASSWORD);
    expect(text).not.toContain(FILE_SECRET.trim());
    expect(portable(plan)).toMatchSnapshot();
  });

  test('replicas are named <name>-N and need no fixed name', () => {
    const stack = shop();
    const worker = new Container(stack, 'worker', { image: 'busybox', replicas: 3, ports: ['80'] });
    expect(worker.replicas).toBe(3);
    expect(containerSpec(Testing.synth(stack), 'worker').replicas).toBe(3);

    // worker-2 is taken by the second replica.
    new Container(stack, 'other', { image: 'busybox', name: 'shop-worker-2' });
    expect(synthProblems(stack)).toEqual(['[shop/other] container name "shop-worker-2" is already used by shop/worker; give one of them another name']);
  });

  test('a container in a nested construct is named after its whole path', () => {
    const stack = shop();
    const group = new Construct(stack, 'db');
    const primary = new Container(group, 'primary', { image: 'postgres:16' });
    expect(primary.containerName).toBe('shop-db-primary');
    const r = resourceAt(Testing.synth(stack), 'db/primary', 'container');
    expect(r.name).toBe('shop-db-primary');
    expect(r.logicalId).toBe(stack.getLogicalId(primary));
    expect(r.logicalId).toMatch(/^DbPrimary[0-9A-F]{8}$/);
  });

  test('an exec-form healthcheck array starting with CMD or CMD-SHELL is kept as written', () => {
    const stack = shop();
    new Container(stack, 'a', { image: 'busybox', healthcheck: { test: ['CMD-SHELL', 'wget -q -O- localhost || exit 1'] } });
    new Container(stack, 'b', { image: 'busybox', healthcheck: { test: ['CMD', 'true'] } });
    new Container(stack, 'c', { image: 'busybox', healthcheck: { test: 'true' } });
    const plan = Testing.synth(stack);
    expect(containerSpec(plan, 'a').healthcheck?.test).toEqual(['CMD-SHELL', 'wget -q -O- localhost || exit 1']);
    expect(containerSpec(plan, 'b').healthcheck?.test).toEqual(['CMD', 'true']);
    expect(containerSpec(plan, 'c').healthcheck).toEqual({ test: ['CMD-SHELL', 'true'], intervalMs: 30_000, timeoutMs: 30_000, retries: 3, startPeriodMs: 0 });
  });

  test('props are read once, in the constructor: changing them afterwards changes nothing', () => {
    const stack = shop();
    const command = ['sleep', '60'];
    const healthcheck = { test: ['CMD', 'true'], interval: '5s' };
    const mounts: Array<{ type: 'tmpfs'; target: string; size: string }> = [{ type: 'tmpfs', target: '/tmp', size: '64m' }];
    new Container(stack, 'web', { image: 'busybox', command, healthcheck, mounts, capAdd: ['net_admin'] });
    command.push('extra');
    healthcheck.test.push('extra');
    healthcheck.interval = 'not a duration';
    mounts[0].size = 'not a size';
    const spec = containerSpec(Testing.synth(stack), 'web');
    expect(spec.command).toEqual(['sleep', '60']);
    expect(spec.healthcheck).toMatchObject({ test: ['CMD', 'true'], intervalMs: 5000 });
    expect(spec.mounts).toEqual([{ type: 'tmpfs', target: '/tmp', sizeBytes: 67_108_864 }]);
    expect(spec.capAdd).toEqual(['NET_ADMIN']);
  });

  test('restart policies render with their retry limit', () => {
    const stack = shop();
    new Container(stack, 'a', { image: 'busybox', restart: Restart.ALWAYS });
    new Container(stack, 'b', { image: 'busybox', restart: 'unless-stopped' });
    new Container(stack, 'c', { image: 'busybox', restart: Restart.onFailure() });
    const plan = Testing.synth(stack);
    expect(containerSpec(plan, 'a').restart).toEqual({ policy: 'always', maxRetries: 0 });
    expect(containerSpec(plan, 'b').restart).toEqual({ policy: 'unless-stopped', maxRetries: 0 });
    expect(containerSpec(plan, 'c').restart).toEqual({ policy: 'on-failure', maxRetries: 0 });
    expect(invalidArgument(() => Restart.onFailure(-1))).toBe('Restart.onFailure(-1): maxRetries must be a whole number of 0 or more');
  });

  test('networkMode host and none render without networks', () => {
    const stack = shop();
    new Container(stack, 'a', { image: 'busybox', networkMode: NetworkMode.HOST });
    new Container(stack, 'b', { image: 'busybox', networkMode: 'none' });
    const plan = Testing.synth(stack);
    expect(containerSpec(plan, 'a').networkMode).toBe('host');
    expect(containerSpec(plan, 'b').networkMode).toBe('none');
  });

  test('an image that is not an Image construct is reported at synth', () => {
    const stack = shop();
    class Elsewhere extends Construct implements IImage {
      public readonly imageName = 'docker.io/library/nginx:latest';
    }
    new Container(stack, 'web', { image: new Elsewhere(stack, 'img') });
    expect(synthProblems(stack)).toEqual(['[shop/web] image must be an Image construct of this stack or a reference string']);
  });

  test('resources not managed by the stack are referred to by name and are not dependencies', () => {
    const stack = shop();
    const net = Network.fromName(stack, 'shared-net', 'shared');
    const vol = Volume.fromName(stack, 'shared-vol', 'shared-data');
    const old = Container.fromName(stack, 'legacy', 'legacy-app');
    const c = new Container(stack, 'web', {
      image: 'busybox',
      networks: [net],
      mounts: [{ type: 'volume', source: vol, target: '/data' }],
      volumesFrom: [old],
    });
    const r = resourceAt(Testing.synth(stack), 'web', 'container');
    expect(r.dependsOn).toEqual([stack.getLogicalId(c.image)]);
    // The construct id is an alias on every network, as a Compose service's name.
    expect(r.spec.networks).toEqual([{ network: 'shared', aliases: ['web'] }]);
    expect(r.spec.mounts).toEqual([{ type: 'volume', source: 'shared-data', target: '/data', readOnly: false }]);
    expect(r.spec.volumesFrom).toEqual([{ container: 'legacy-app', readOnly: false }]);
  });
});

describe('Container ports', () => {
  test.each<[string | number | object, object[]]>([
    ['80', [{ containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 0 }]],
    [80, [{ containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 0 }]],
    ['8080:80', [{ containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8080 }]],
    ['127.0.0.1:8080:80/tcp', [{ containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 8080 }]],
    ['127.0.0.1::80', [{ containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 0 }]],
    ['53:53/UDP', [{ containerPort: 53, protocol: 'udp', hostIp: '0.0.0.0', hostPort: 53 }]],
    ['[::1]:8080:80/sctp', [{ containerPort: 80, protocol: 'sctp', hostIp: '::1', hostPort: 8080 }]],
    ['8000-8001:80-81', [
      { containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8000 },
      { containerPort: 81, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8001 },
    ]],
    [{ containerPort: 80 }, [{ containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 0 }]],
    [{ containerPort: 80, hostPort: 8080, hostIp: '10.0.0.1', protocol: 'udp' }, [{ containerPort: 80, protocol: 'udp', hostIp: '10.0.0.1', hostPort: 8080 }]],
  ])('%j is published as %j', (input, expected) => {
    const stack = shop();
    const c = new Container(stack, 'web', { image: 'busybox', ports: [input as string] });
    expect(c.ports).toEqual(expected);
    expect(containerSpec(Testing.synth(stack), 'web').ports).toEqual(expected);
  });

  test.each<[string | object, string]>([
    ['70000:80', '"70000:80": hostPort 70000 is out of range 1-65535'],
    ['8080:0', '"8080:0": containerPort 0 is out of range 1-65535'],
    ['65536', '"65536": containerPort 65536 is out of range 1-65535'],
    [{ containerPort: 80, hostPort: 70000 }, '{"containerPort":80,"hostPort":70000}: hostPort 70000 is out of range 1-65535'],
    [{ containerPort: 80.5 }, '{"containerPort":80.5}: containerPort 80.5 must be a whole number from 1 to 65535'],
    ['8080:80/tpc', '"8080:80/tpc": unknown protocol "tpc" — did you mean "tcp"?'],
    ['8080:80/upd', '"8080:80/upd": unknown protocol "upd" — did you mean "udp"?'],
    ['8080:80/TPC', '"8080:80/TPC": unknown protocol "TPC" — did you mean "tcp"?'],
    ['8080:80/scpt', '"8080:80/scpt": unknown protocol "scpt" — did you mean "sctp"?'],
    ['8080:80/websocket', '"8080:80/websocket": unknown protocol "websocket" — use "tcp", "udp" or "sctp"'],
    [{ containerPort: 80, protocol: 'icmp' }, '{"containerPort":80,"protocol":"icmp"}: unknown protocol "icmp" — use "tcp", "udp" or "sctp"'],
    ['http', '"http": containerPort "http" is not a number or a range like 8000-8010'],
    ['8000-8002:80-81', '"8000-8002:80-81": the host range has 3 ports but the container range has 2; give ranges of the same length'],
    ['8010-8000:80-90', '"8010-8000:80-90": the range 8010-8000 ends before it starts; write it as 8000-8010'],
    ['1.2.3.4:1:2:3', '"1.2.3.4:1:2:3" is not a port mapping: use "[hostIp:][hostPort:]containerPort[/protocol]", for example "127.0.0.1:8080:80/tcp"'],
    ['localhost:8080:80', '"localhost:8080:80": hostIp "localhost" is not an IPv4 or IPv6 address'],
    ['[::1:8080:80', '"[::1:8080:80": an IPv6 host address must be written as "[::1]:8080:80"'],
  ])('%j is rejected: %s', (input, message) => {
    const stack = shop();
    expect(invalidArgument(() => new Container(stack, 'web', { image: 'busybox', ports: [input as string] }))).toBe(`[shop/web] ${message}`);
    const c = new Container(stack, 'other', { image: 'busybox' });
    expect(invalidArgument(() => c.addPort(input as string))).toBe(`[shop/other] ${message}`);
  });

  test('a container port may be published on several host ports, but a host port only once', () => {
    const stack = shop();
    const ok = new Container(stack, 'ok', { image: 'busybox', ports: ['8080:80', '8081:80', '127.0.0.1:8082:80', '80', '80'] });
    expect(ok.ports.map((p) => p.hostPort)).toEqual([8080, 8081, 8082, 0, 0]);
    expect(containerSpec(Testing.synth(stack), 'ok').ports).toHaveLength(5);

    new Container(stack, 'twice', { image: 'busybox', ports: ['9090:90', '9090:91', '127.0.0.1:9091:92', '9091:93/udp', '9091:94'] });
    expect(synthProblems(stack)).toEqual([
      '[shop/twice] host port 0.0.0.0:9090/tcp is published twice by this container; remove one mapping or choose another hostPort',
      '[shop/twice] host port 0.0.0.0:9091/tcp is published twice by this container; remove one mapping or choose another hostPort',
    ]);
  });
});

describe('Container mutators', () => {
  test('addPort publishes more ports', () => {
    const stack = shop();
    const c = new Container(stack, 'web', { image: 'nginx', ports: ['8080:80'] });
    c.addPort('127.0.0.1:8443:443');
    c.addPort(9000);
    c.addPort({ containerPort: 53, protocol: 'udp' });
    expect(containerSpec(Testing.synth(stack), 'web').ports).toEqual([
      { containerPort: 53, protocol: 'udp', hostIp: '0.0.0.0', hostPort: 0 },
      { containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8080 },
      { containerPort: 443, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 8443 },
      { containerPort: 9000, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 0 },
    ]);
  });

  test('addEnv sets plain and secret variables, the later value winning', () => {
    const stack = shop();
    const c = new Container(stack, 'web', { image: 'nginx', env: { A: '1', B: '2' } });
    c.addEnv('B', 'two');
    c.addEnv('C', '3');
    c.addEnv('DB_PASSWORD', Secret.fromEnv('DB_PASSWORD'));
    const spec = containerSpec(Testing.synth(stack), 'web');
    expect(spec.env).toEqual({ A: '1', B: 'two', C: '3' });
    expect(Object.keys(spec.secretEnv)).toEqual(['DB_PASSWORD']);
    expect(invalidArgument(() => c.addEnv('A=B', 'x'))).toBe('[shop/web] environment variable name "A=B" must be non-empty without "=" or whitespace');
    expect(invalidArgument(() => c.addEnv('PORT', 80 as unknown as string))).toBe('[shop/web] environment variable PORT must be a string or a Secret, got number; convert numbers with String()');
  });

  test('addMount adds volume, bind and tmpfs mounts in order', () => {
    const stack = shop();
    const data = new Volume(stack, 'data');
    const c = new Container(stack, 'web', { image: 'nginx' });
    c.addMount({ type: 'volume', source: data, target: '/data', readOnly: true });
    c.addMount({ type: 'bind', source: 'site', target: '/www' });
    c.addMount({ type: 'tmpfs', target: '/run', size: Size.mebibytes(8) });
    const r = resourceAt(Testing.synth(stack), 'web', 'container');
    expect(r.spec.mounts).toEqual([
      { type: 'volume', source: 'shop-data', target: '/data', readOnly: true },
      { type: 'bind', source: path.join(FIXTURES, 'site'), target: '/www', readOnly: false },
      { type: 'tmpfs', target: '/run', sizeBytes: 8 * 1024 * 1024 },
    ]);
    expect(r.dependsOn).toContain(stack.getLogicalId(data));
    expect(invalidArgument(() => c.addMount({ type: 'tmpfs', target: '/run' }))).toBe('[shop/web] two mounts have the same target /run; give each its own path');
    expect(invalidArgument(() => c.addMount({ type: 'bind', source: 'site', target: 'www' }))).toBe('[shop/web] mount target "www" must be an absolute path in the container, such as "/data"');
    expect(invalidArgument(() => c.addMount({ type: 'tmpfs', target: '/big', size: 'lots' }))).toBe(
      '[shop/web] tmpfs size for /big: invalid size "lots": use a number with an optional unit b, k, m, g or t, such as "512m" or "1.5g"',
    );
  });

  test('a missing bind mount source is reported at synth with the fix', () => {
    const stack = shop();
    new Container(stack, 'web', { image: 'nginx', mounts: [{ type: 'bind', source: 'no-such-dir', target: '/www' }] });
    const missing = path.join(FIXTURES, 'no-such-dir');
    expect(synthProblems(stack)).toEqual([`[shop/web] bind mount source for /www: ${missing} does not exist; create it (mkdir -p ${missing}) or fix the path`]);
  });

  test('connect joins networks with aliases and a static address', () => {
    const stack = shop();
    const a = new Network(stack, 'a');
    const b = new Network(stack, 'b', { subnet: '10.10.0.0/16' });
    const c = new Container(stack, 'web', { image: 'nginx' });
    c.connect(b, { aliases: ['api'], ipv4Address: '10.10.0.5' });
    c.connect({ network: a, aliases: ['web', 'www'] });
    const r = resourceAt(Testing.synth(stack), 'web', 'container');
    expect(r.spec.networks).toEqual([
      { network: 'shop-a', aliases: ['web', 'www'] },
      { network: 'shop-b', aliases: ['api', 'web'], ipv4Address: '10.10.0.5' },
    ]);
    expect(r.dependsOn).toEqual(expect.arrayContaining([stack.getLogicalId(a), stack.getLogicalId(b)]));
    expect(invalidArgument(() => c.connect(a))).toBe('[shop/web] already connected to network shop-a');
    const d = new Container(stack, 'd', { image: 'nginx' });
    expect(invalidArgument(() => d.connect(a, { ipv4Address: '10.10.0.300' }))).toBe('[shop/d] ipv4Address "10.10.0.300" is not an IPv4 address');
    expect(invalidArgument(() => d.connect(a, { aliases: ['-web'] }))).toBe('[shop/d] network alias "-web" must be a DNS name: letters, digits, "_", "." or "-"');
  });

  test('addVolumesFrom mounts the volumes of other containers', () => {
    const stack = shop();
    const data = new Container(stack, 'data', { image: 'busybox' });
    const c = new Container(stack, 'app', { image: 'busybox' });
    c.addVolumesFrom(data);
    c.addVolumesFrom({ container: Container.fromName(stack, 'legacy', 'legacy-data'), readOnly: true });
    const r = resourceAt(Testing.synth(stack), 'app', 'container');
    expect(r.spec.volumesFrom).toEqual([
      { container: 'shop-data', readOnly: false },
      { container: 'legacy-data', readOnly: true },
    ]);
    expect(r.dependsOn).toContain(stack.getLogicalId(data));
    expect(invalidArgument(() => c.addVolumesFrom(c))).toBe('[shop/app] volumesFrom refers to the container itself');
  });

  test('addDependency waits for other containers', () => {
    const stack = shop();
    const db = new Container(stack, 'db', { image: 'postgres:16', healthcheck: { test: 'pg_isready' } });
    const init = new Container(stack, 'init', { image: 'busybox' });
    const c = new Container(stack, 'app', { image: 'busybox' });
    c.addDependency({ container: db, condition: DependencyCondition.HEALTHY });
    c.addDependency({ container: init, condition: 'completed' });
    expect(c.dependencies).toEqual([
      { container: db, condition: 'healthy' },
      { container: init, condition: 'completed' },
    ]);
    const r = resourceAt(Testing.synth(stack), 'app', 'container');
    expect(r.spec.dependsOn).toEqual(
      [
        { container: stack.getLogicalId(db), condition: 'healthy' },
        { container: stack.getLogicalId(init), condition: 'completed' },
      ].sort((x, y) => (x.container < y.container ? -1 : 1)),
    );
    expect(r.dependsOn).toEqual(expect.arrayContaining([stack.getLogicalId(db), stack.getLogicalId(init)]));
    expect(invalidArgument(() => c.addDependency(c))).toBe('[shop/app] a container cannot depend on itself');
    expect(invalidArgument(() => c.addDependency({ container: db, condition: 'ready' as 'started' }))).toBe(
      '[shop/app] dependsOn condition "ready" is not one of "started", "healthy", "completed"',
    );
  });

  test('waiting for a container that no stack manages is reported at synth', () => {
    const stack = shop();
    const c = new Container(stack, 'app', { image: 'busybox' });
    c.addDependency(Container.fromName(stack, 'legacy', 'legacy-app'));
    expect(synthProblems(stack)).toEqual(['[shop/app] dependsOn shop/legacy is not managed by a stack; only containers of this stack can be waited for']);
  });

  test('addLabel sets labels, never with the reserved prefix', () => {
    const stack = shop();
    const c = new Container(stack, 'web', { image: 'nginx', labels: { team: 'web' } });
    c.addLabel('tier', 'frontend');
    c.addLabel('team', 'platform');
    expect(containerSpec(Testing.synth(stack), 'web').labels).toEqual({ team: 'platform', tier: 'frontend' });
    expect(invalidArgument(() => c.addLabel('io.cdk-docker.stack', 'x'))).toBe(
      '[shop/web] label "io.cdk-docker.stack" uses the prefix "io.cdk-docker.", which cdk-docker reserves for its own labels; choose another key',
    );
    expect(invalidArgument(() => c.addLabel('a b', 'x'))).toBe('[shop/web] label key "a b" must be non-empty without "=" or whitespace');
  });
});

describe('Container local validation', () => {
  test.each<[object, string]>([
    [{ workingDir: 'app' }, 'workingDir "app" must be an absolute path, such as "/app"'],
    [{ user: 'root user' }, 'user "root user" must be "user", "user:group", "uid" or "uid:gid"'],
    [{ hostname: '-web' }, 'hostname "-web" is not a valid host name (letters, digits and "-", dot-separated)'],
    [{ restart: 'sometimes' }, 'restart "sometimes" is not one of "no", "always", "unless-stopped", "on-failure"; for a retry limit use Restart.onFailure(3)'],
    [{ networkMode: 'overlay' }, 'networkMode "overlay" is not one of "bridge", "host", "none"'],
    [{ stopSignal: 'SIGNOPE' }, 'stopSignal "SIGNOPE" is not a signal name such as "SIGTERM" or "SIGQUIT"'],
    [{ stopTimeout: 'soon' }, 'stopTimeout: invalid duration "soon": use a number with a unit, such as "30s", "1m30s" or "500ms"'],
    [{ capAdd: ['NET_ADMINN'] }, 'capAdd: "NET_ADMINN" is not a Linux capability (see capabilities(7)), such as "NET_ADMIN"'],
    [{ capDrop: ['chown', 'bogus'] }, 'capDrop: "bogus" is not a Linux capability (see capabilities(7)), such as "NET_ADMIN"'],
    [{ memory: 'lots' }, 'memory: invalid size "lots": use a number with an optional unit b, k, m, g or t, such as "512m" or "1.5g"'],
    [{ cpus: 0 }, 'cpus 0 must be a positive number, such as 0.5 or 2'],
    [{ pidsLimit: 0 }, 'pidsLimit 0 must be a whole number of at least 1'],
    [{ replicas: 1.5 }, 'replicas 1.5 must be a whole number of 0 or more'],
    [{ healthcheck: { test: '' } }, 'healthcheck test is empty; give a command such as "wget -q -O- http://localhost/ || exit 1"'],
    [{ healthcheck: { test: ['CMD'] } }, 'healthcheck test ["CMD"] has no command after "CMD"'],
    [{ healthcheck: { test: 'true', retries: 0 } }, 'healthcheck retries 0 must be a whole number of at least 1'],
    [{ healthcheck: { test: 'true', interval: '0s' } }, 'healthcheck interval 0s is too short; use at least 1ms'],
    [{ healthcheck: { test: 'true', timeout: 'later' } }, 'healthcheck timeout: invalid duration "later": use a number with a unit, such as "30s", "1m30s" or "500ms"'],
    [{ image: '' }, 'image is required: give an Image construct or a reference such as "nginx:1.25"'],
    [{ image: 'NGINX' }, 'invalid image reference "NGINX": repository name must be lowercase'],
    [{ env: { 'MY VAR': 'x' } }, 'environment variable name "MY VAR" must be non-empty without "=" or whitespace'],
    [{ labels: { 'io.cdk-docker.path': 'x' } }, 'label "io.cdk-docker.path" uses the prefix "io.cdk-docker.", which cdk-docker reserves for its own labels; choose another key'],
  ])('%j is rejected at once: %s', (props, message) => {
    const stack = shop();
    expect(invalidArgument(() => new Container(stack, 'web', { image: 'busybox', ...props }))).toBe(`[shop/web] ${message}`);
  });

  test('whole-object problems are reported together at synth', () => {
    const stack = shop();
    const net = new Network(stack, 'net');
    new Container(stack, 'host', { image: 'busybox', networkMode: 'host', networks: [net], ports: ['80:80'] });
    new Container(stack, 'many', { image: 'busybox', name: 'fixed', replicas: 2, ports: ['8080:80'] });
    expect(synthProblems(stack)).toEqual([
      '[shop/host] networkMode host cannot be combined with networks; remove networks or use networkMode bridge',
      '[shop/host] networkMode host cannot publish ports; remove ports or use networkMode bridge',
      '[shop/many] a fixed name ("fixed") cannot be used with replicas 2; remove name so each replica gets <name>-N',
      '[shop/many] host port 0.0.0.0:8080/tcp cannot be published by 2 replicas; omit hostPort to get a free port per replica',
    ]);
  });
});

describe('Container: what compose files set on the host side', () => {
  test('defaults: none of expose, extraHosts, dns, sysctls, ulimits, shmSize, devices, pid, ipc, secrets or configs appears in the plan', () => {
    const stack = shop();
    new Container(stack, 'web', { image: 'busybox' });
    const spec = containerSpec(Testing.synth(stack), 'web');
    for (const f of ['expose', 'extraHosts', 'dns', 'dnsSearch', 'dnsOptions', 'sysctls', 'ulimits', 'shmSizeBytes', 'devices', 'pid', 'ipc', 'secrets', 'configs']) {
      expect(spec).not.toHaveProperty(f);
    }
    // Empty props are the defaults: the same plan.
    const other = shop();
    new Container(other, 'web', { image: 'busybox', expose: [], extraHosts: {}, dns: [], sysctls: {}, ulimits: {}, devices: [], secrets: [], configs: [] });
    expect(containerSpec(Testing.synth(other), 'web')).toEqual(spec);
  });

  test('custom: every prop in its canonical form', () => {
    const stack = shop();
    const db = new Container(stack, 'db', { image: 'busybox' });
    new Container(stack, 'web', {
      image: 'busybox',
      expose: ['8080/udp', 9000, '8000-8001', '9000/tcp'],
      extraHosts: { 'db.local': '10.176.0.5', gateway: 'host-gateway', v6: '::1' },
      dns: ['10.176.0.53', '1.1.1.1'],
      dnsSearch: ['example.com'],
      dnsOptions: ['ndots:2', 'rotate'],
      sysctls: { 'net.core.somaxconn': '1024', 'kernel.shmmax': '68719476736' },
      ulimits: { nofile: { soft: 1024, hard: 4096 }, nproc: 512, core: -1 },
      shmSize: '256m',
      devices: ['/dev/fuse', '/dev/null:/dev/mynull:rw', { hostPath: '/dev/zero', permissions: 'mr' }],
      pid: 'host',
      ipc: 'shareable',
      secrets: [Secret.fromFile('db-password.txt'), { secret: Secret.fromEnv('DB_PASSWORD'), target: 'pw', mode: 0o400, uid: '1000', gid: '1000' }],
      configs: [{ config: Config.fromFile('nginx.conf'), target: '/etc/nginx/nginx.conf' }, { config: Config.fromString('a=1\n'), target: '/etc/app.ini', mode: 0o440 }],
      dependsOn: [db],
    });
    const plan = Testing.synth(stack);
    const spec = containerSpec(plan, 'web');
    expect(spec.expose).toEqual(['8000/tcp', '8001/tcp', '8080/udp', '9000/tcp']);
    expect(spec.extraHosts).toEqual({ 'db.local': '10.176.0.5', gateway: 'host-gateway', v6: '::1' });
    expect([spec.dns, spec.dnsSearch, spec.dnsOptions]).toEqual([['10.176.0.53', '1.1.1.1'], ['example.com'], ['ndots:2', 'rotate']]);
    expect(spec.sysctls).toEqual({ 'kernel.shmmax': '68719476736', 'net.core.somaxconn': '1024' });
    expect(spec.ulimits).toEqual({ core: { soft: -1, hard: -1 }, nofile: { soft: 1024, hard: 4096 }, nproc: { soft: 512, hard: 512 } });
    expect(spec.shmSizeBytes).toBe(256 * 1024 * 1024);
    expect(spec.devices).toEqual([
      { hostPath: '/dev/fuse', containerPath: '/dev/fuse', permissions: 'rwm' },
      { hostPath: '/dev/null', containerPath: '/dev/mynull', permissions: 'rw' },
      { hostPath: '/dev/zero', containerPath: '/dev/zero', permissions: 'rm' },
    ]);
    expect([spec.pid, spec.ipc]).toEqual(['host', 'shareable']);
    // Secrets: where to read them and an HMAC, never the value; sorted by target.
    expect(JSON.stringify(plan)).not.toContain(FILE_SECRET.trim());
    expect(JSON.stringify(plan)).not.toContain(FIXTURE_ENV.DB_PASSWORD);
    expect(portable(spec.secrets)).toEqual([
      { secret: { source: 'file', from: '<fixtures>/db-password.txt', hmac: expect.stringMatching(/^hmac-sha256:[a-f0-9]{64}$/) }, target: '/run/secrets/db-password.txt', mode: 0o444, uid: 0, gid: 0 },
      { secret: { source: 'env', from: 'DB_PASSWORD', hmac: expect.stringMatching(/^hmac-sha256:[a-f0-9]{64}$/) }, target: '/run/secrets/pw', mode: 0o400, uid: 1000, gid: 1000 },
    ]);
    expect(portable(spec.configs)).toEqual([
      { source: 'string', content: 'a=1\n', sha256: 'sha256:' + createHash('sha256').update('a=1\n').digest('hex'), target: '/etc/app.ini', mode: 0o440, uid: 0, gid: 0 },
      { source: 'file', file: '<fixtures>/nginx.conf', sha256: hashFileContent(path.join(FIXTURES, 'nginx.conf')), target: '/etc/nginx/nginx.conf', mode: 0o444, uid: 0, gid: 0 },
    ]);
    expect(portable(plan)).toMatchSnapshot();
  });

  test('networkMode: another container shares its network, and starts first', () => {
    const stack = shop();
    const vpn = new Container(stack, 'vpn', { image: 'busybox' });
    new Container(stack, 'app', { image: 'busybox', networkMode: vpn });
    const plan = Testing.synth(stack);
    const app = resourceAt(plan, 'app', 'container');
    const vpnId = stack.getLogicalId(vpn);
    expect(app.spec.networkMode).toEqual({ container: vpnId });
    expect(app.dependsOn).toContain(vpnId);
  });

  test.each<[string, Partial<ContainerProps>, string]>([
    ['expose', { expose: ['8080/tpc'] }, 'expose "8080/tpc": unknown protocol "tpc" — did you mean "tcp"?'],
    ['expose mapping', { expose: ['80:80'] }, 'expose "80:80" is a port mapping; expose takes a container port such as "8080" or "8080/udp" (publish with ports)'],
    ['expose range', { expose: [70000] }, 'expose "70000": containerPort 70000 is out of range 1-65535'],
    ['extraHosts', { extraHosts: { db: 'db.example' } }, 'extraHosts.db: "db.example" is not an IPv4 or IPv6 address; give an address such as "10.0.0.5", or "host-gateway" for the host'],
    ['extraHosts name', { extraHosts: { 'a b': '10.0.0.1' } }, 'extraHosts: "a b" is not a host name (letters, digits, ".", "-" and "_")'],
    ['dns', { dns: ['dns.google'] }, 'dns: "dns.google" is not an IPv4 or IPv6 address; give a name server\'s address such as "1.1.1.1"'],
    ['dnsSearch', { dnsSearch: ['a b'] }, 'dnsSearch: "a b" is not a domain name, such as "example.com"'],
    ['dnsOptions', { dnsOptions: ['ndots 2'] }, 'dnsOptions: "ndots 2" is not a resolv.conf option, such as "ndots:2" or "rotate"'],
    ['sysctls', { sysctls: { 'vm.swappiness': '10' } }, 'sysctls: "vm.swappiness" is not namespaced: a container can set only net.*, fs.mqueue.*, kernel.msg*, kernel.sem and kernel.shm* (Docker\'s rule); set it on the host instead'],
    ['sysctl value', { sysctls: { 'net.core.somaxconn': 1024 as unknown as string } }, 'sysctls.net.core.somaxconn must be a string on one line, such as "1024"; convert numbers with String()'],
    ['ulimits name', { ulimits: { files: 10 } }, 'ulimits: "files" is not a resource limit; use one of as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack'],
    ['ulimits order', { ulimits: { nofile: { soft: 10, hard: 5 } } }, 'ulimits.nofile: the soft limit 10 is above the hard limit 5; make soft at most hard'],
    ['ulimits value', { ulimits: { nofile: 1.5 } }, 'ulimits.nofile 1.5 must be a whole number of 0 or more, or -1 for unlimited'],
    ['shmSize', { shmSize: '0' }, 'shmSize "0" is less than one byte; give a size such as "256m", or leave shmSize out for 64 MiB'],
    ['shmSize text', { shmSize: 'big' }, 'shmSize: invalid size "big": use a number with an optional unit b, k, m, g or t, such as "512m" or "1.5g"'],
    ['devices', { devices: ['dev/fuse'] }, 'devices: "dev/fuse": the host path "dev/fuse" must be an absolute path, such as "/dev/fuse"'],
    ['device permissions', { devices: ['/dev/fuse:/dev/fuse:rwx'] }, 'devices: "/dev/fuse:/dev/fuse:rwx": permissions "rwx" must be made of "r", "w" and "m", each at most once, such as "rwm" or "r"'],
    ['device twice', { devices: ['/dev/fuse', '/dev/null:/dev/fuse'] }, 'devices: /dev/fuse is given twice; give each container path once'],
    ['pid', { pid: 'container' as 'host' }, 'pid "container" is not "host"; leave pid out for the container\'s own PID namespace'],
    ['ipc', { ipc: 'none' as 'host' }, 'ipc "none" is not one of "host", "private", "shareable"'],
    ['secret target', { secrets: [{ secret: Secret.fromEnv('DB_PASSWORD'), target: '/run/../etc/shadow' }] }, 'secrets: target "/run/../etc/shadow" is not a file path: give an absolute path such as "/run/secrets/db_password" or a file name'],
    ['secret mode', { secrets: [{ secret: Secret.fromEnv('DB_PASSWORD'), mode: 0o10000 }] }, 'secret /run/secrets/DB_PASSWORD: mode 4096 must be an octal file mode such as 0o440'],
    ['secret uid', { secrets: [{ secret: Secret.fromEnv('DB_PASSWORD'), uid: 'www-data' }] }, 'secret /run/secrets/DB_PASSWORD: uid "www-data" must be a numeric id from 0 to 2147483647, such as "1000"'],
    ['secret type', { secrets: ['pw' as unknown as Secret] }, 'secrets: give a Secret (Secret.fromFile, Secret.fromEnv) or { secret, target }'],
    ['config target', { configs: [{ config: Config.fromString('x'), target: 'app.ini' }] }, 'configs: target "app.ini" must be an absolute file path in the container, such as "/etc/nginx/nginx.conf"'],
    ['config type', { configs: [{ config: 'x' as unknown as Config, target: '/a' }] }, 'configs: give { config: Config.fromFile(path) or Config.fromString(text), target }'],
  ])('a bad %s is refused at once, naming the prop and the fix', (_what, props, message) => {
    const stack = shop();
    expect(invalidArgument(() => new Container(stack, 'web', { image: 'busybox', ...props }))).toBe(`[shop/web] ${message}`);
  });

  test('whole-object checks are reported together at synth', () => {
    const stack = shop();
    const vpn = new Container(stack, 'vpn', { image: 'busybox' });
    new Container(stack, 'app', { image: 'busybox', networkMode: vpn, hostname: 'app', dns: ['1.1.1.1'], extraHosts: { a: '10.0.0.1' }, expose: [80], ports: [8080] });
    new Container(stack, 'host', { image: 'busybox', networkMode: NetworkMode.HOST, sysctls: { 'net.core.somaxconn': '1024' } });
    new Container(stack, 'ipc', { image: 'busybox', ipc: 'host', sysctls: { 'kernel.shmmax': '1' } });
    new Container(stack, 'twice', {
      image: 'busybox',
      mounts: [{ type: 'tmpfs', target: '/run/secrets/pw' }],
      secrets: [{ secret: Secret.fromEnv('DB_PASSWORD'), target: 'pw' }],
      configs: [{ config: Config.fromString('x'), target: '/run/secrets/pw' }],
    });
    expect(synthProblems(stack)).toEqual([
      '[shop/app] networkMode container shop/vpn shares that container\'s network: hostname cannot be set here; set it on shop/vpn',
      '[shop/app] networkMode container shop/vpn shares that container\'s network: dns, dnsSearch and dnsOptions cannot be set here; set it on shop/vpn',
      '[shop/app] networkMode container shop/vpn shares that container\'s network: extraHosts cannot be set here; set it on shop/vpn',
      '[shop/app] networkMode container shop/vpn shares that container\'s network: expose cannot be set here; set it on shop/vpn',
      '[shop/app] networkMode container shop/vpn cannot publish ports; remove ports or use networkMode bridge',
      "[shop/host] sysctls net.* cannot be set with networkMode host (they would change the host's network); remove them or use networkMode bridge",
      "[shop/ipc] sysctls kernel.msgmax, kernel.msgmnb…, fs.mqueue.* cannot be set with ipc host (they would change the host's); remove them or leave ipc out",
      '[shop/twice] secret Secret.fromEnv(DB_PASSWORD) and the tmpfs mount both go to /run/secrets/pw; give each its own target',
      '[shop/twice] config Config.fromString(1 bytes) and the tmpfs mount both go to /run/secrets/pw; give each its own target',
    ]);
  });

  test('networkMode: a container no stack manages lends its network by name (compose container:X), with no dependency; anything else is refused', () => {
    const stack = shop();
    const outside = Container.fromName(stack, 'outside', 'someone-elses');
    new Container(stack, 'app', { image: 'busybox', networkMode: outside });
    const app = resourceAt(Testing.synth(stack), 'app', 'container');
    expect(app.spec.networkMode).toEqual({ containerName: 'someone-elses' });
    expect(app.dependsOn).toEqual([app.spec.image]);
    expect(invalidArgument(() => new Container(shop(), 'web', { image: 'busybox', networkMode: {} as never }))).toBe(
      '[shop/web] networkMode must be "bridge", "host", "none" or a Container whose network to share',
    );
  });

  test('a missing config file is reported at synth, naming it', () => {
    const stack = shop();
    new Container(stack, 'web', { image: 'busybox', configs: [{ config: Config.fromFile('missing.conf'), target: '/etc/app.conf' }] });
    expect(portable(synthProblems(stack))).toEqual(['[shop/web] config file for /etc/app.conf, <fixtures>/missing.conf cannot be read (ENOENT); create it or fix the path']);
  });
});

describe('Container: the terminal, stdin, logging, platform, runtime, string commands and dependsOn restart', () => {
  test('defaults: none of tty, stdinOpen, logging, platform or runtime appears in the plan, and dependsOn has no restart', () => {
    const stack = shop();
    const db = new Container(stack, 'db', { image: 'busybox' });
    new Container(stack, 'web', { image: 'busybox', dependsOn: [db] });
    const spec = containerSpec(Testing.synth(stack), 'web');
    for (const f of ['tty', 'stdinOpen', 'logging', 'platform', 'runtime']) expect(spec).not.toHaveProperty(f);
    expect(spec.dependsOn).toEqual([{ container: stack.getLogicalId(db), condition: 'started' }]);
    // false is the default: the same plan.
    const other = shop();
    const db2 = new Container(other, 'db', { image: 'busybox' });
    new Container(other, 'web', { image: 'busybox', tty: false, stdinOpen: false, dependsOn: [{ container: db2, restart: false }] });
    expect(containerSpec(Testing.synth(other), 'web')).toEqual(spec);
  });

  test('custom: every prop in its canonical form', () => {
    const stack = shop();
    const db = new Container(stack, 'db', { image: 'busybox' });
    new Container(stack, 'web', {
      image: 'busybox',
      tty: true,
      stdinOpen: true,
      logging: { driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } },
      platform: 'Linux/x86_64',
      runtime: 'runc',
      entrypoint: '/docker-entrypoint.sh',
      command: `sh -c 'echo "$HOME" && sleep 1' \\"quoted\\" "a\\\\b"`,
      dependsOn: [{ container: db, condition: DependencyCondition.STARTED, restart: true }, db],
    });
    const spec = containerSpec(Testing.synth(stack), 'web');
    expect(spec.tty).toBe(true);
    expect(spec.stdinOpen).toBe(true);
    expect(spec.logging).toEqual({ driver: 'json-file', options: { 'max-file': '3', 'max-size': '10m' } });
    expect(spec.platform).toBe('linux/amd64');
    expect(spec.runtime).toBe('runc');
    expect(spec.entrypoint).toEqual(['/docker-entrypoint.sh']);
    // Compose's split: quotes and backslashes, no shell ($HOME stays as written).
    expect(spec.command).toEqual(['sh', '-c', 'echo "$HOME" && sleep 1', '"quoted"', 'a\\b']);
    // One dependency, the restart kept though the other listing of it has none.
    expect(spec.dependsOn).toEqual([{ container: stack.getLogicalId(db), condition: 'started', restart: true }]);
    // A logging without options has `{}`; an entrypoint string may be empty (it removes the image's).
    const other = shop();
    new Container(other, 'web', { image: 'busybox', logging: { driver: 'none' }, entrypoint: '' });
    const o = containerSpec(Testing.synth(other), 'web');
    expect(o.logging).toEqual({ driver: 'none', options: {} });
    expect(o.entrypoint).toEqual([]);
  });

  test.each<[string, Partial<ContainerProps>, string]>([
    ['tty', { tty: 'yes' as unknown as boolean }, 'tty "yes" is not true or false'],
    ['stdinOpen', { stdinOpen: 1 as unknown as boolean }, 'stdinOpen 1 is not true or false'],
    ['log driver', { logging: { driver: 'JSON file' } }, 'logging driver "JSON file" is not a log driver name, such as "json-file", "local" or "syslog"'],
    ['log option name', { logging: { driver: 'local', options: { 'max size': '1m' } } }, 'logging option "max size" is not an option name, such as "max-size"'],
    ['log option value', { logging: { driver: 'local', options: { 'max-file': 3 as unknown as string } } }, 'logging option max-file: 3 is not a string; quote it, such as "3"'],
    ['platform without architecture', { platform: 'linux' }, 'platform "linux" names no architecture; give os/arch, such as "linux/amd64" or "linux/arm64"'],
    ['platform', { platform: 'linux/am d64' }, 'platform "linux/am d64": invalid platform component "am d64": use os/arch[/variant], for example linux/amd64'],
    ['runtime', { runtime: 'run c' }, 'runtime "run c" is not a runtime name, such as "runc" or "runsc"'],
    ['command quote', { command: "echo 'hi" }, 'command "echo \'hi" has an unclosed single quote; close it'],
    ['entrypoint quote', { entrypoint: 'sh -c "x' }, 'entrypoint "sh -c \\"x" has an unclosed double quote; close it'],
    ['empty command', { command: '  ' }, 'command "  " has no words; give the command to run, or leave command out for the image\'s CMD'],
  ])('a bad %s is refused at once, naming the prop and the fix', (_what, props, message) => {
    expect(invalidArgument(() => new Container(shop(), 'web', { image: 'busybox', ...props }))).toBe(`[shop/web] ${message}`);
  });

  test('dependsOn restart must be a boolean', () => {
    const stack = shop();
    const db = new Container(stack, 'db', { image: 'busybox' });
    expect(invalidArgument(() => new Container(stack, 'web', { image: 'busybox', dependsOn: [{ container: db, restart: 'yes' as unknown as boolean }] }))).toBe(
      '[shop/web] dependsOn restart "yes" is not true or false',
    );
  });
});

describe('Container develop (cdk-docker watch)', () => {
  test('defaults: without develop the plan has no develop field', () => {
    const stack = shop();
    new Container(stack, 'web', { image: 'nginx' });
    expect(resourceAt(Testing.synth(stack), 'web').spec).not.toHaveProperty('develop');
  });

  test('custom: rules render with absolute paths, their target and their ignore patterns in order', () => {
    const stack = shop();
    const site = Image.fromBuild(stack, 'site', 'web');
    new Container(stack, 'web', {
      image: site,
      develop: {
        watch: [
          { path: 'site', target: '/usr/share/nginx/html', action: 'sync', ignore: ['*.tmp', '!keep.tmp'] },
          { path: 'app.env', target: '/etc/app.env', action: WatchAction.SYNC_RESTART },
          { path: 'web/Dockerfile', action: 'rebuild' },
        ],
      },
    });
    expect((resourceAt(Testing.synth(stack), 'web').spec as ContainerSpec).develop).toEqual({
      watch: [
        { path: path.join(FIXTURES, 'site'), target: '/usr/share/nginx/html', action: 'sync', ignore: ['*.tmp', '!keep.tmp'] },
        { path: path.join(FIXTURES, 'app.env'), target: '/etc/app.env', action: 'sync+restart', ignore: [] },
        { path: path.join(FIXTURES, 'web', 'Dockerfile'), action: 'rebuild', ignore: [] },
      ],
    });
  });

  test('develop changes nothing that runs: the container keeps its spec hash', () => {
    const hashOf = (develop?: DevelopOptions): string => {
      const stack = shop();
      new Container(stack, 'web', { image: 'nginx', develop });
      const plan = Testing.synth(stack);
      return specHash(plan.resources[resourceAt(plan, 'web').logicalId], plan);
    };
    expect(hashOf({ watch: [{ path: 'site', target: '/www', action: 'sync' }] })).toBe(hashOf());
  });

  test.each<[object, string]>([
    [{ watch: [] }, 'develop.watch is empty; give at least one rule, or leave develop out'],
    [{}, 'develop must be { watch: [...] }, such as { watch: [{ path: "./src", target: "/app/src", action: "sync" }] }'],
    [{ watch: [{ path: '', target: '/www', action: 'sync' }] }, 'develop.watch[0].path is empty; give the host file or directory to watch, such as "./src"'],
    [{ watch: [{ path: 'site', target: '/www', action: 'copy' }] }, 'develop.watch[0].action "copy" is not one of "sync", "sync+restart", "rebuild"'],
    [{ watch: [{ path: 'site', action: 'sync' }] }, 'develop.watch[0].target is missing: action "sync" copies site to an absolute path in the container, such as "/app"'],
    [{ watch: [{ path: 'site', target: 'www', action: 'sync+restart' }] }, 'develop.watch[0].target "www" is not an absolute path: action "sync+restart" copies site to an absolute path in the container, such as "/app"'],
    [{ watch: [{ path: 'site', target: '/www', action: 'rebuild' }] }, 'develop.watch[0]: action "rebuild" takes no target (it rebuilds the image instead of copying files); remove target or use action "sync"'],
    [{ watch: [{ path: 'site', target: '/www', action: 'sync', ignore: [''] }] }, 'develop.watch[0].ignore must be a list of non-empty .dockerignore patterns, such as ["*.tmp", "node_modules/"]'],
  ])('develop %j is rejected at once: %s', (develop, message) => {
    const stack = shop();
    expect(invalidArgument(() => new Container(stack, 'web', { image: 'busybox', develop: develop as DevelopOptions }))).toBe(`[shop/web] ${message}`);
  });

  test('a missing path, a rebuild of an image not built here and a rebuild path outside the build context are reported at synth', () => {
    const stack = shop();
    new Container(stack, 'pulled', { image: 'nginx', develop: { watch: [{ path: 'no-such-dir', target: '/www', action: 'sync' }, { path: 'site', action: 'rebuild' }] } });
    const site = Image.fromBuild(stack, 'site', 'web');
    new Container(stack, 'built', { image: site, develop: { watch: [{ path: 'site', action: 'rebuild' }] } });
    const missing = path.join(FIXTURES, 'no-such-dir');
    expect(synthProblems(stack)).toEqual([
      `[shop/pulled] develop.watch[0].path: ${missing} does not exist; create it (mkdir -p ${missing}) or fix the path`,
      '[shop/pulled] develop.watch[1]: action "rebuild" needs an image built by this stack (Image.fromBuild), but its image docker.io/library/nginx:latest is not built here; use action "sync", or build the image',
      `[shop/built] develop.watch[0].path ${path.join(FIXTURES, 'site')} is outside the build context ${path.join(FIXTURES, 'web')} of shop/site, so a change there cannot rebuild it; watch a path inside the context`,
    ]);
  });
});
