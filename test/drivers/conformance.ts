import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Driver, ManagedLabels, ObservedContainer } from '../../lib/drivers';
import { LABELS } from '../../lib/drivers';
import type { ContainerSpec, ImageResource, NetworkSpec, VolumeSpec } from '../../lib/plan/types';
import { CdkDockerError } from '../../lib/core/errors';
import { writeDockerArchive } from '../helpers/archive';
import { until } from '../helpers/cli';
import { requireCommand } from '../helpers/prereq';

/** What a driver's test file gives the suite. */
export interface ConformanceSetup {
  readonly driver: Driver;
  /** Removes whatever the suite may have left and the engine's private state; checks nothing leaked. */
  cleanup(): Promise<void>;
  /**
   * An image the engine has, with busybox's `sh`, `echo`, `cat`, `sleep`, `true` and `false` on
   * its PATH (made offline: tests never pull from the internet).
   */
  readonly baseImageRef: string;
}

/**
 * The driver conformance suite: the scenarios every driver (built-in, Docker) must pass, on real
 * containers. Register it from a driver's test file:
 *
 *   driverConformance('built-in', async () => ({ driver, baseImageRef, cleanup }));
 *
 * Every object the suite makes is named with a random prefix and labelled with a stack of its
 * own, so the suite can share an engine with others; it removes them all in afterAll.
 */
export function driverConformance(name: string, setup: () => Promise<ConformanceSetup>): void {
  describe(`driver conformance: ${name}`, () => {
    const prefix = `cdkconf${randomBytes(3).toString('hex')}`;
    const stack = `${prefix}-stack`;
    /** The one-shot containers' stack (so that `stack` holds just the web container). */
    const jobs = `${prefix}-jobs`;
    const otherStack = `${prefix}-other`;
    const made = { containers: new Set<string>(), networks: new Set<string>(), volumes: new Set<string>() };
    let ctx: ConformanceSetup;
    let driver: Driver;
    let imageId: string;
    let work: string;

    const n = (s: string) => `${prefix}-${s}`;
    const managed = (p: string, hash = 'sha256:1', st = stack): ManagedLabels => ({ [LABELS.stack]: st, [LABELS.path]: p, [LABELS.specHash]: hash });
    const spec = (over: Partial<ContainerSpec> = {}): ContainerSpec => ({
      image: 'base',
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
      ...over,
    });
    const network = (over: Partial<NetworkSpec> = {}): NetworkSpec => ({ driver: 'bridge', internal: false, attachable: false, labels: {}, ...over });
    const volume = (over: Partial<VolumeSpec> = {}): VolumeSpec => ({ driver: 'local', driverOpts: {}, labels: {}, removalPolicy: 'retain', ...over });
    /** Creates a container of the suite (removed in afterAll). */
    const create = (name: string, s: ContainerSpec, opts: { env?: { [k: string]: string }; labels?: ManagedLabels } = {}): Promise<ObservedContainer> => {
      made.containers.add(name);
      return driver.createContainer({ name, spec: s, imageId, env: { ...s.env, ...(opts.env ?? {}) }, labels: opts.labels ?? managed(name) });
    };
    /** A one-shot container running `script`; returns its name once started. */
    const oneShot = async (id: string, script: string, over: Partial<ContainerSpec> = {}): Promise<string> => {
      const name = n(id);
      await create(name, spec({ command: ['sh', '-c', script], ...over }), { labels: managed(id, 'sha256:1', jobs) });
      await driver.startContainer(name);
      return name;
    };
    const rejection = async (p: Promise<unknown>): Promise<CdkDockerError> => {
      try {
        await p;
      } catch (e) {
        if (e instanceof CdkDockerError) return e;
        throw e;
      }
      throw new Error('expected a rejection, but it resolved');
    };
    const inSubnet = (ip: string, cidr: string): boolean => {
      const [base, bits] = cidr.split('/');
      const num = (a: string) => a.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
      const mask = Number(bits) === 0 ? 0 : 2 ** 32 - 2 ** (32 - Number(bits));
      return Math.floor(num(ip) / 2 ** (32 - Number(bits))) * 2 ** (32 - Number(bits)) === (num(base) & mask) >>> 0;
    };

    // The stack's objects, created in the "observe" scenario and used by the later ones.
    const net = n('net');
    const net2 = n('net2');
    const vol = n('vol');
    const web = n('web');
    const webRenamed = n('web-renamed');
    const webSpec = () =>
      spec({
        command: ['sh', '-c', 'trap "exit 0" TERM; echo web up; while true; do sleep 0.2; done'],
        env: { GREETING: 'hello' },
        ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 0 }],
        mounts: [
          { type: 'volume', source: vol, target: '/data', readOnly: false },
          { type: 'bind', source: path.join(work, 'config'), target: '/config', readOnly: true },
          { type: 'tmpfs', target: '/scratch', sizeBytes: 1024 * 1024, mode: 0o1777 },
        ],
        networks: [{ network: net, aliases: ['www'] }],
        restart: { policy: 'on-failure', maxRetries: 2 },
        healthcheck: { test: ['CMD', 'true'], intervalMs: 300, timeoutMs: 5000, retries: 2, startPeriodMs: 0 },
        labels: { app: 'web' },
        stopSignal: 'SIGTERM',
        stopTimeoutSeconds: 3,
        memoryBytes: 64 * 1024 * 1024,
      });

    beforeAll(async () => {
      ctx = await setup();
      driver = ctx.driver;
      work = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-docker-conformance-'));
      fs.mkdirSync(path.join(work, 'config'));
      fs.writeFileSync(path.join(work, 'config', 'app.conf'), 'setting=1\n');
      imageId = (await driver.ensureImage(registryImage(ctx.baseImageRef, 'never'), managed('base'))).id;
    }, 120_000);

    afterAll(async () => {
      if (!driver) return;
      const problems: string[] = [];
      for (const c of made.containers) await driver.removeContainer(c, { force: true }).catch((e) => problems.push(`${c}: ${e}`));
      for (const x of made.networks) await driver.removeNetwork(x).catch((e) => problems.push(`${x}: ${e}`));
      for (const x of made.volumes) await driver.removeVolume(x).catch((e) => problems.push(`${x}: ${e}`));
      if (work) fs.rmSync(work, { recursive: true, force: true });
      await ctx.cleanup();
      expect(problems).toEqual([]);
    }, 120_000);

    test('ensureImage with pullPolicy never returns a present image and refuses a missing one, naming it and the fix', async () => {
      const present = await driver.ensureImage(registryImage(ctx.baseImageRef, 'never'), managed('base'));
      expect(present.id).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(await driver.image(ctx.baseImageRef)).toEqual(present);
      const missing = `registry.invalid/${prefix}/missing:none`;
      expect(await driver.image(missing)).toBeUndefined();
      const e = await rejection(driver.ensureImage(registryImage(missing, 'never'), managed('missing')));
      expect(e.code).toBe('NOT_FOUND');
      expect(e.message).toContain(missing);
      expect(e.message).toMatch(/pullPolicy is "never"/);
      expect(e.message).toMatch(/pull|load/);
    });

    test('a build image is built from its context, carries its spec and context hashes but not the stack, and runs', async () => {
      const context = path.join(work, 'build-context');
      fs.mkdirSync(context, { recursive: true });
      fs.writeFileSync(path.join(context, 'Dockerfile'), `FROM ${ctx.baseImageRef}\nARG GREETING=hello\nCOPY message.txt /message.txt\nENV GREETING=$GREETING\nCMD ["sh", "-c", "echo $GREETING; cat /message.txt"]\n`);
      fs.writeFileSync(path.join(context, 'message.txt'), 'built by the driver\n');
      const name = `docker.io/library/${prefix}-built:latest`;
      const contextHash = `sha256:${'c'.repeat(64)}`;
      const resource: ImageResource = { type: 'image', path: 'built', name, dependsOn: [], spec: { source: 'build', context, contextHash, dockerfile: 'Dockerfile', buildArgs: { GREETING: 'hi' }, noCache: false } };
      const labels = { ...managed('built', 'sha256:b1'), 'io.cdk-docker.context-hash': contextHash } as ManagedLabels;
      const image = await driver.ensureImage(resource, labels);
      expect(image.id).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(image.config.labels).toEqual({ [LABELS.specHash]: 'sha256:b1', 'io.cdk-docker.context-hash': contextHash });
      expect(image.config.env).toMatchObject({ GREETING: 'hi' });
      expect((await driver.image(name))?.id).toBe(image.id);
      made.containers.add(n('from-build'));
      await driver.createContainer({ name: n('from-build'), spec: spec({ image: 'built' }), imageId: image.id, env: {}, labels: managed('from-build', 'sha256:1', jobs) });
      await driver.startContainer(n('from-build'));
      await driver.wait(n('from-build'), 'completed', 20_000);
      expect(await driver.logs(n('from-build'), 5)).toBe('hi\nbuilt by the driver\n');
      // A container run from the image does not join the stack through the image's labels.
      expect((await driver.observe(stack)).containers.map((c) => c.name)).not.toContain(n('from-build'));
      // A Dockerfile error names the image and the file.
      fs.writeFileSync(path.join(context, 'Dockerfile'), `FROM ${ctx.baseImageRef}\nRUN exit 3\n`);
      const e = await rejection(driver.ensureImage(resource, labels));
      expect(e.message).toContain(`build ${name} (built) from ${context}: `);
      expect(e.message).toMatch(/non-zero code: 3/);
    });

    test('an archive image is loaded, named as the plan says, and runs', async () => {
      const busybox = requireCommand('busybox', 'busybox-static', ['/bin']);
      const file = path.join(work, 'image.tar');
      const id = await writeDockerArchive(
        file,
        [[{ name: 'bin/', type: 'directory' }, { name: 'bin/busybox', content: fs.readFileSync(busybox), mode: 0o755 }, { name: 'bin/sh', type: 'symlink', linkname: 'busybox' }, { name: 'bin/echo', type: 'symlink', linkname: 'busybox' }]],
        [`${prefix}-saved:v1`],
        { Cmd: ['echo', 'from the archive'], Env: ['PATH=/bin', 'FROM_ARCHIVE=1'], WorkingDir: '/bin', Labels: { origin: 'archive' } },
      );
      const name = `docker.io/library/${prefix}-archive:latest`;
      const sha256 = `sha256:${createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;
      const resource: ImageResource = { type: 'image', path: 'archived', name, dependsOn: [], spec: { source: 'archive', path: file, sha256 } };
      const image = await driver.ensureImage(resource, managed('archived'));
      expect(image.id).toBe(id);
      expect(image.config).toEqual({ cmd: ['echo', 'from the archive'], entrypoint: [], env: { PATH: '/bin', FROM_ARCHIVE: '1' }, workingDir: '/bin', user: '', exposedPorts: [], labels: { origin: 'archive' } });
      expect((await driver.image(name))?.id).toBe(id);
      // Again: idempotent.
      expect((await driver.ensureImage(resource, managed('archived'))).id).toBe(id);
      made.containers.add(n('from-archive'));
      await driver.createContainer({ name: n('from-archive'), spec: spec({ image: 'archived' }), imageId: id, env: {}, labels: managed('from-archive', 'sha256:1', jobs) });
      await driver.startContainer(n('from-archive'));
      await driver.wait(n('from-archive'), 'completed', 20_000);
      expect(await driver.logs(n('from-archive'), 5)).toBe('from the archive\n');
    });

    test('observe reports exactly the stack\'s network, volume and container with their settings, and nothing else', async () => {
      made.networks.add(net);
      made.volumes.add(vol);
      const observedNet = await driver.createNetwork(net, network({ labels: { tier: 'front' } }), managed('net'));
      expect(observedNet).toMatchObject({ name: net, driver: 'bridge', internal: false, labels: { tier: 'front', ...managed('net') } });
      expect(observedNet.subnet).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+$/);
      expect(inSubnet(observedNet.gateway, observedNet.subnet)).toBe(true);
      const observedVol = await driver.createVolume(vol, volume({ labels: { keep: 'yes' } }), managed('vol'));
      expect(observedVol).toMatchObject({ name: vol, driver: 'local', driverOpts: {}, labels: { keep: 'yes', ...managed('vol') } });
      const created = await create(web, webSpec(), { env: { SECRET_TOKEN: 's3cr3t' }, labels: managed('web', 'sha256:web1') });
      expect(created).toMatchObject({ name: web, status: 'created', imageId });

      // Not the stack's: an unmanaged volume (no identity labels), another stack's objects.
      made.volumes.add(n('unmanaged'));
      await driver.createVolume(n('unmanaged'), volume({ labels: { app: 'web' } }), {} as unknown as ManagedLabels);
      made.networks.add(n('other-net'));
      await driver.createNetwork(n('other-net'), network(), managed('net', 'sha256:1', otherStack));
      await create(n('other'), spec({ command: ['true'] }), { labels: managed('other', 'sha256:1', otherStack) });

      const observed = await driver.observe(stack);
      expect(observed.networks.map((x) => x.name)).toEqual([net]);
      expect(observed.networks[0]).toEqual(observedNet);
      expect(observed.volumes).toEqual([observedVol]);
      expect(observed.containers.map((c) => c.name)).toEqual([web]);
      const c = observed.containers[0];
      expect(c).toMatchObject({ id: created.id, imageId, status: 'created', restartCount: 0, labels: { app: 'web', ...managed('web', 'sha256:web1') }, networks: {}, ports: [] });
      const s = c.spec;
      expect(s.command).toEqual(['sh', '-c', 'trap "exit 0" TERM; echo web up; while true; do sleep 0.2; done']);
      expect(s.fullEnv).toMatchObject({ GREETING: 'hello', SECRET_TOKEN: 's3cr3t' });
      expect(s.env).toMatchObject({ GREETING: 'hello', SECRET_TOKEN: 's3cr3t' });
      expect(s.ports).toEqual([{ containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 0 }]);
      expect(s.publishAllPorts).toBe(false);
      expect(s.mounts).toEqual(webSpec().mounts);
      expect(s.volumesFrom).toEqual([]);
      expect(s.networkMode).toBe('bridge');
      expect(s.networks).toEqual([{ network: net, aliases: ['www'] }]);
      expect(s.restart).toEqual({ policy: 'on-failure', maxRetries: 2 });
      expect(s.healthcheck).toEqual({ test: ['CMD', 'true'], intervalMs: 300, timeoutMs: 5000, retries: 2, startPeriodMs: 0 });
      expect(s.labels).toEqual({ app: 'web' });
      expect(s.stopSignal).toBe('SIGTERM');
      expect(s.stopTimeoutSeconds).toBe(3);
      expect(s.memoryBytes).toBe(64 * 1024 * 1024);
      expect(s.nanoCpus).toBeUndefined();
      expect(s.pidsLimit).toBeUndefined();
      expect(s.hostname).toBeUndefined();
      expect(s).toMatchObject({ init: false, readOnlyRootfs: false, privileged: false, capAdd: [], capDrop: [] });

      const other = await driver.observe(otherStack);
      expect(other.containers.map((x) => x.name)).toEqual([n('other')]);
      expect(other.networks.map((x) => x.name)).toEqual([n('other-net')]);
      expect(other.volumes).toEqual([]);
      expect(await driver.observe(`${prefix}-nothing`)).toEqual({ networks: [], volumes: [], containers: [] });
    });

    test('creating what exists with the same labels returns it; with other labels it is a conflict naming it', async () => {
      const again = await driver.createContainer({ name: web, spec: webSpec(), imageId, env: { ...webSpec().env, SECRET_TOKEN: 's3cr3t' }, labels: managed('web', 'sha256:web1') });
      expect(again.name).toBe(web);
      expect((await driver.observe(stack)).containers).toHaveLength(1);
      expect((await driver.createNetwork(net, network({ labels: { tier: 'front' } }), managed('net'))).name).toBe(net);
      expect((await driver.createVolume(vol, volume({ labels: { keep: 'yes' } }), managed('vol'))).name).toBe(vol);
      const e = await rejection(driver.createContainer({ name: web, spec: webSpec(), imageId, env: {}, labels: managed('web', 'sha256:other') }));
      expect(e.code).toBe('CONFLICT');
      expect(e.message).toContain(web);
    });

    test('a started container is running on its network with its port published', async () => {
      await driver.startContainer(web);
      await driver.wait(web, 'started', 20_000);
      // Started means the process runs, not that its first line is written yet: wait for the line.
      await until('web to print its first line', async () => (await driver.logs(web, 5)) !== '', 10_000);
      const [c] = (await driver.observe(stack)).containers;
      expect(`${c.status} ${c.exitCode} ${await driver.logs(web, 5)}`).toBe('running 0 web up\n');
      const subnet = (await driver.observe(stack)).networks[0].subnet;
      expect(Object.keys(c.networks)).toEqual([net]);
      expect(inSubnet(c.networks[net].ipv4Address, subnet)).toBe(true);
      expect(c.networks[net].aliases).toContain('www');
      expect(c.ports).toHaveLength(1);
      expect(c.ports[0]).toMatchObject({ containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1' });
      expect(c.ports[0].hostPort).toBeGreaterThan(0);
      // Starting a running container is nothing.
      await driver.startContainer(web);
    });

    test('wait healthy resolves once the healthcheck passes', async () => {
      await driver.wait(web, 'healthy', 30_000);
      const [c] = (await driver.observe(stack)).containers;
      expect(c.health).toBe('healthy');
    });

    test('wait healthy rejects when the container turns unhealthy, naming it', async () => {
      const name = await oneShot('sick', 'echo sick up; trap "exit 0" TERM; while true; do sleep 0.2; done', {
        healthcheck: { test: ['CMD', 'false'], intervalMs: 300, timeoutMs: 5000, retries: 1, startPeriodMs: 0 },
      });
      const e = await rejection(driver.wait(name, 'healthy', 30_000));
      expect(e.message).toContain(name);
      expect(e.message).toMatch(/unhealthy/);
      expect(e.message).toContain('sick up');
    });

    test('wait completed resolves when the container exits 0', async () => {
      const name = await oneShot('job-ok', 'echo working; exit 0');
      await driver.wait(name, 'completed', 20_000);
      expect(await driver.logs(name, 10)).toBe('working\n');
    });

    test('wait completed rejects when the container exits 3, naming it and showing its last output line', async () => {
      const name = await oneShot('job-fail', 'echo starting; echo boom-line >&2; exit 3');
      const e = await rejection(driver.wait(name, 'completed', 20_000));
      expect(e.message).toContain(name);
      expect(e.message).toMatch(/exited with code 3/);
      expect(e.message).toContain('boom-line');
      const c = (await driver.observe(jobs)).containers.find((x) => x.name === name)!;
      expect(c).toMatchObject({ status: 'exited', exitCode: 3 });
    });

    test('wait healthy rejects at once for a container that exited; a wait on one never started times out', async () => {
      const crashed = await oneShot('crash', 'sleep 0.5; exit 7', { healthcheck: { test: ['CMD', 'false'], intervalMs: 60_000, timeoutMs: 5000, retries: 3, startPeriodMs: 0 } });
      const e = await rejection(driver.wait(crashed, 'healthy', 20_000));
      expect(e.message).toContain(crashed);
      expect(e.message).toMatch(/exited with code 7/);
      made.containers.add(n('idle'));
      await create(n('idle'), spec({ command: ['true'] }), { labels: managed('idle', 'sha256:1', jobs) });
      const started = Date.now();
      const t = await rejection(driver.wait(n('idle'), 'completed', 500));
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(t.message).toContain(n('idle'));
      expect(t.message).toMatch(/within 0\.5 s/);
    });

    test('a container with restart on-failure:2 is restarted twice, then stays exited', async () => {
      const name = await oneShot('flaky', 'echo try; exit 1', { restart: { policy: 'on-failure', maxRetries: 2 } });
      const deadline = Date.now() + 20_000;
      let c: ObservedContainer | undefined;
      for (;;) {
        c = (await driver.observe(jobs)).containers.find((x) => x.name === name);
        if ((c?.status === 'exited' && c.restartCount === 2) || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(c).toMatchObject({ status: 'exited', exitCode: 1, restartCount: 2 });
      expect(await driver.logs(name, 10)).toBe('try\ntry\ntry\n');
    });

    test('updateContainer changes the restart policy, limits, name and labels in place', async () => {
      const before = (await driver.observe(stack)).containers.find((c) => c.name === web)!;
      await driver.updateContainer(web, {
        restart: { policy: 'unless-stopped', maxRetries: 0 },
        memoryBytes: 128 * 1024 * 1024,
        pidsLimit: 100,
        name: webRenamed,
        labels: managed('web', 'sha256:web2'),
      });
      made.containers.add(webRenamed);
      const after = (await driver.observe(stack)).containers.find((c) => c.id === before.id)!;
      expect(after.name).toBe(webRenamed);
      expect(after.status).toBe('running');
      expect(after.spec.restart).toEqual({ policy: 'unless-stopped', maxRetries: 0 });
      expect(after.spec.memoryBytes).toBe(128 * 1024 * 1024);
      expect(after.spec.pidsLimit).toBe(100);
      expect(after.labels).toEqual({ app: 'web', ...managed('web', 'sha256:web2') });
      expect(after.spec.labels).toEqual({ app: 'web' });
      // null lifts a limit.
      await driver.updateContainer(webRenamed, { memoryBytes: null, pidsLimit: null });
      const lifted = (await driver.observe(stack)).containers.find((c) => c.id === before.id)!;
      expect(lifted.spec.memoryBytes).toBeUndefined();
      expect(lifted.spec.pidsLimit).toBeUndefined();
    });

    test('connectNetwork and disconnectNetwork change a running container\'s networks; both are idempotent', async () => {
      made.networks.add(net2);
      await driver.createNetwork(net2, network(), managed('net2'));
      await driver.connectNetwork(webRenamed, net2, { aliases: ['alt'] });
      await driver.connectNetwork(webRenamed, net2, { aliases: ['alt'] });
      let c = (await driver.observe(stack)).containers.find((x) => x.name === webRenamed)!;
      expect(c.spec.networks).toEqual([{ network: net, aliases: ['www'] }, { network: net2, aliases: ['alt'] }]);
      expect(Object.keys(c.networks).sort()).toEqual([net, net2].sort());
      expect(c.networks[net2].ipv4Address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      await driver.disconnectNetwork(webRenamed, net2);
      await driver.disconnectNetwork(webRenamed, net2);
      c = (await driver.observe(stack)).containers.find((x) => x.name === webRenamed)!;
      expect(c.spec.networks).toEqual([{ network: net, aliases: ['www'] }]);
      expect(Object.keys(c.networks)).toEqual([net]);
    });

    test('removeVolume refuses a volume in use and keeps its data', async () => {
      const writer = await oneShot('writer', 'echo kept > /data/f', { mounts: [{ type: 'volume', source: vol, target: '/data', readOnly: false }] });
      await driver.wait(writer, 'completed', 20_000);
      const e = await rejection(driver.removeVolume(vol));
      expect(e.code).toBe('CONFLICT');
      expect(e.message).toContain(vol);
      await driver.removeContainer(writer);
      const reader = await oneShot('reader', 'cat /data/f', { mounts: [{ type: 'volume', source: vol, target: '/data', readOnly: true }] });
      await driver.wait(reader, 'completed', 20_000);
      expect(await driver.logs(reader, 5)).toBe('kept\n');
      expect((await driver.observe(stack)).volumes.map((v) => v.name)).toEqual([vol]);
    });

    test('stop and remove are idempotent; removing a container keeps its named volume; then the network and volume go', async () => {
      await driver.stopContainer(webRenamed);
      await driver.stopContainer(webRenamed);
      const c = (await driver.observe(stack)).containers.find((x) => x.name === webRenamed)!;
      expect(c.status).toBe('exited');
      expect(c.networks).toEqual({});
      // Started again at once, it stays up (the previous run's exit is not taken for this one's).
      await driver.startContainer(webRenamed);
      await driver.wait(webRenamed, 'started', 20_000);
      await new Promise((r) => setTimeout(r, 1_000));
      const again = (await driver.observe(stack)).containers.find((x) => x.name === webRenamed)!;
      expect(again).toMatchObject({ status: 'running', restartCount: 0 });
      expect(Object.keys(again.networks)).toEqual([net]);
      await driver.stopContainer(webRenamed);
      await driver.removeContainer(webRenamed);
      await driver.removeContainer(webRenamed);
      await driver.stopContainer(webRenamed);
      for (const name of [...made.containers]) await driver.removeContainer(name, { force: true });
      const left = await driver.observe(stack);
      expect(left.containers).toEqual([]);
      expect(left.volumes.map((v) => v.name)).toEqual([vol]);
      await driver.removeNetwork(net);
      await driver.removeNetwork(net);
      await driver.removeNetwork(net2);
      await driver.removeVolume(vol);
      await driver.removeVolume(vol);
      expect(await driver.observe(stack)).toEqual({ networks: [], volumes: [], containers: [] });
    });
  });
}

function registryImage(ref: string, pullPolicy: 'missing' | 'always' | 'never'): ImageResource {
  return { type: 'image', path: 'base', name: ref, dependsOn: [], spec: { source: 'registry', ref, pullPolicy } };
}
