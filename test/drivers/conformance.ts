import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import type { Driver, LogLine, LogsOptions, ManagedLabels, ObservedContainer } from '../../lib/drivers';
import { CONTAINER_FEATURES, IN_PLACE_FIELDS, LABELS, lastOutput } from '../../lib/drivers';
import type { ContainerResource, ContainerSpec, ImageResource, NetworkSpec, Plan, VolumeSpec } from '../../lib/plan/types';
import { secretHmac } from '../../lib/constructs/app';
import { applyDiff } from '../../lib/reconcile/apply';
import { diffStack } from '../../lib/reconcile/diff';
import { CdkDockerError } from '../../lib/core/errors';
import { formatPlatform, hostPlatform } from '../../lib/core/platform';
import { writeDockerArchive } from '../helpers/archive';
import { until } from '../helpers/cli';
import { defaultContainerSpec } from '../fixtures';
import { requireCommand } from '../helpers/prereq';

/** What a driver's test file gives the suite. */
export interface ConformanceSetup {
  readonly driver: Driver;
  /** Removes whatever the suite may have left and the engine's private state; checks nothing leaked. */
  cleanup(): Promise<void>;
  /**
   * An image the engine has, with busybox's `sh`, `echo`, `cat`, `sleep`, `true`, `false`, `id`,
   * `pwd`, `stat`, `tr` and `sort` on its PATH, `/tmp`, and `nobody` (65534) in /etc/passwd; no
   * WorkingDir, StopSignal or Healthcheck of its own (made offline: tests never pull from the
   * internet).
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
export function driverConformance(name: string, setup: () => Promise<ConformanceSetup>, kind: 'containers' | 'services' = 'containers'): void {
  describe(`driver conformance: ${name}`, () => {
    /**
     * A scenario of single containers (createContainer, startContainer, stopContainer,
     * updateContainer…). A driver of services (`kind` services: a Swarm, which owns its replicas
     * and is handed whole container resources) has none of these calls: for it the scenario is
     * not registered, and `why` says why and where its service equivalent is tested.
     */
    const containers = (title: string, why: string, fn: () => Promise<void>, timeout?: number): void => {
      if (kind === 'services' && why !== '') return;
      test(title, fn, timeout);
    };
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
    const spec = defaultContainerSpec;
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
    /** The last `lines` lines of a container's output, as text. */
    const output = (name: string, lines: number): Promise<string> => lastOutput(driver, name, lines);
    /** Every line `logs` gives. */
    const logLines = async (name: string, opts: LogsOptions = {}): Promise<LogLine[]> => {
      const lines: LogLine[] = [];
      await driver.logs(name, opts, (l) => lines.push(l));
      return lines;
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

    containers('a build image is built from its context, carries its spec and context hashes but not the stack, and runs', 'it runs the built image as a single container; a Swarm builds as the Docker driver does (ensureImage is inherited) and swarm.test.ts runs services from an image the manager has', async () => {
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
      expect(await output(n('from-build'), 5)).toBe('hi\nbuilt by the driver\n');
      // A container run from the image does not join the stack through the image's labels.
      expect((await driver.observe(stack)).containers.map((c) => c.name)).not.toContain(n('from-build'));
      // A Dockerfile error names the image and the file.
      fs.writeFileSync(path.join(context, 'Dockerfile'), `FROM ${ctx.baseImageRef}\nRUN exit 3\n`);
      const e = await rejection(driver.ensureImage(resource, labels));
      expect(e.message).toContain(`build ${name} (built) from ${context}: `);
      expect(e.message).toMatch(/non-zero code: 3/);
    });

    containers('an archive image is loaded, named as the plan says, and runs', 'it runs the loaded image as a single container; loading is the Docker driver\'s (inherited), and swarm.test.ts runs its services from an image loaded on the node', async () => {
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
      expect(await output(n('from-archive'), 5)).toBe('from the archive\n');
    });

    containers('observe reports exactly the stack\'s network, volume and container with their settings, and nothing else', 'its stack holds a single container (createContainer); swarm.test.ts observes a stack\'s overlay network, volume and service, task by task', async () => {
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

    containers('unmanaged reports objects without our labels by name; an adopted network and volume, and a relabelled container, are then the stack\'s', 'import containers and adoption read and take over containers: the Swarm driver has neither unmanaged nor adoptObject yet', async () => {
      const adoptStack = `${prefix}-adopt`;
      const [an, av, ac] = [n('adopt-net'), n('adopt-vol'), n('adopt-web')];
      const none = {} as unknown as ManagedLabels;
      made.networks.add(an);
      made.volumes.add(av);
      await driver.createNetwork(an, network({ labels: { 'com.docker.compose.network': 'front', tier: 'front' } }), none);
      await driver.createVolume(av, volume(), none);
      const made1 = await create(
        ac,
        spec({
          command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done'],
          networks: [{ network: an, aliases: ['www'] }],
          mounts: [{ type: 'volume', source: av, target: '/data', readOnly: false }],
          labels: { 'com.docker.compose.project': 'p', team: 'blue' },
        }),
        { labels: none },
      );
      await driver.startContainer(ac);
      expect(typeof driver.unmanaged).toBe('function');
      expect(typeof driver.adoptObject).toBe('function');

      const free = await driver.unmanaged!({ containers: [ac, n('missing')], networks: [an], volumes: [av] });
      expect(free.containers.map((x) => x.name)).toEqual([ac]);
      expect(free.containers[0]).toMatchObject({ id: made1.id, status: 'running', labels: { 'com.docker.compose.project': 'p', team: 'blue' } });
      expect(free.containers[0].spec.networks).toEqual([{ network: an, aliases: ['www'] }]);
      expect(free.networks.map((x) => x.name)).toEqual([an]);
      expect(free.volumes.map((x) => x.name)).toEqual([av]);
      // All of them: never a stack's own object.
      const all = await driver.unmanaged!();
      expect(all.containers.map((x) => x.name)).toContain(ac);
      expect(all.containers.map((x) => x.name)).not.toContain(web);
      expect(all.networks.map((x) => x.name)).not.toContain(net);
      expect(await driver.observe(adoptStack)).toEqual({ networks: [], volumes: [], containers: [] });

      await driver.adoptObject!('network', an, managed('net', 'sha256:n', adoptStack));
      await driver.adoptObject!('volume', av, managed('vol', 'sha256:v', adoptStack));
      if (driver.capabilities.relabel) await driver.updateContainer(ac, { labels: managed('web', 'sha256:w', adoptStack), dropLabels: ['com.docker.compose.project'] });
      const adopted = await driver.observe(adoptStack);
      expect(adopted.networks.map((x) => [x.name, x.labels])).toEqual([[an, { tier: 'front', ...managed('net', 'sha256:n', adoptStack) }]]);
      expect(adopted.volumes.map((x) => [x.name, x.labels])).toEqual([[av, managed('vol', 'sha256:v', adoptStack)]]);
      if (driver.capabilities.relabel) {
        expect(adopted.containers.map((x) => [x.name, x.id, x.status, x.labels])).toEqual([[ac, made1.id, 'running', { team: 'blue', ...managed('web', 'sha256:w', adoptStack) }]]);
      } else {
        expect(adopted.containers).toEqual([]);
      }
      expect((await driver.unmanaged!({ containers: [], networks: [an], volumes: [av] })).networks).toEqual([]);
      expect(await driver.listStacks()).toContain(adoptStack);

      // Removing an adopted object removes its record.
      await driver.removeContainer(ac, { force: true });
      await driver.removeNetwork(an);
      await driver.removeVolume(av);
      expect(await driver.observe(adoptStack)).toEqual({ networks: [], volumes: [], containers: [] });
      expect(await driver.listStacks()).not.toContain(adoptStack);
    });

    containers('creating what exists with the same labels returns it; with other labels it is a conflict naming it', 'createContainer of an existing container: services are created by applyContainer, whose idempotence swarm.test.ts checks (an apply killed halfway carries on with its service)', async () => {
      const again = await driver.createContainer({ name: web, spec: webSpec(), imageId, env: { ...webSpec().env, SECRET_TOKEN: 's3cr3t' }, labels: managed('web', 'sha256:web1') });
      expect(again.name).toBe(web);
      expect((await driver.observe(stack)).containers).toHaveLength(1);
      expect((await driver.createNetwork(net, network({ labels: { tier: 'front' } }), managed('net'))).name).toBe(net);
      expect((await driver.createVolume(vol, volume({ labels: { keep: 'yes' } }), managed('vol'))).name).toBe(vol);
      const e = await rejection(driver.createContainer({ name: web, spec: webSpec(), imageId, env: {}, labels: managed('web', 'sha256:other') }));
      expect(e.code).toBe('CONFLICT');
      expect(e.message).toContain(web);
    });

    containers('listStacks names every stack that has a managed container, network or volume, sorted, once each', 'its stacks are made by the container scenarios above; swarm.test.ts lists a stack that has only services and one that has only a volume', async () => {
      const volumeOnly = `${prefix}-volonly`;
      made.volumes.add(n('lone-vol'));
      await driver.createVolume(n('lone-vol'), volume(), managed('lone-vol', 'sha256:1', volumeOnly));
      const stacks = await driver.listStacks();
      expect(stacks).toEqual([...new Set(stacks)].sort());
      expect(stacks).toEqual(expect.arrayContaining([stack, otherStack, jobs, volumeOnly]));
      expect(stacks.filter((x) => x.startsWith(prefix)).sort()).toEqual([stack, jobs, otherStack, volumeOnly].sort());
      await driver.removeVolume(n('lone-vol'));
      expect(await driver.listStacks()).not.toContain(volumeOnly);
    });

    containers('a started container is running on its network with its port published', 'startContainer: a Swarm starts tasks itself; swarm.test.ts waits for a service\'s tasks to run on its overlay with its port published', async () => {
      await driver.startContainer(web);
      await driver.wait(web, 'started', 20_000);
      // Started means the process runs, not that its first line is written yet: wait for the line.
      await until('web to print its first line', async () => (await output(web, 5)) !== '', 10_000);
      const [c] = (await driver.observe(stack)).containers;
      expect(`${c.status} ${c.exitCode} ${await output(web, 5)}`).toBe('running 0 web up\n');
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

    containers('wait healthy resolves once the healthcheck passes', 'wait on a container; swarm.test.ts waits for a service to be healthy (a Swarm reports a task running once it is healthy)', async () => {
      await driver.wait(web, 'healthy', 30_000);
      const [c] = (await driver.observe(stack)).containers;
      expect(c.health).toBe('healthy');
    });

    containers('wait healthy rejects when the container turns unhealthy, naming it', 'wait on a container; swarm.test.ts has an update whose healthcheck fails rolled back by the swarm', async () => {
      const name = await oneShot('sick', 'echo sick up; trap "exit 0" TERM; while true; do sleep 0.2; done', {
        healthcheck: { test: ['CMD', 'false'], intervalMs: 300, timeoutMs: 5000, retries: 1, startPeriodMs: 0 },
      });
      const e = await rejection(driver.wait(name, 'healthy', 30_000));
      expect(e.message).toContain(name);
      expect(e.message).toMatch(/unhealthy/);
      expect(e.message).toContain('sick up');
    });

    containers('wait completed resolves when the container exits 0', 'wait on a container; swarm.test.ts waits for a one-shot service (restart no) to complete', async () => {
      const name = await oneShot('job-ok', 'echo working; exit 0');
      await driver.wait(name, 'completed', 20_000);
      expect(await output(name, 10)).toBe('working\n');
    });

    containers('wait completed rejects when the container exits 3, naming it and showing its last output line', 'wait on a container; swarm.test.ts has a one-shot service that exits 3 and the wait naming it with its last output', async () => {
      const name = await oneShot('job-fail', 'echo starting; echo boom-line >&2; exit 3');
      const e = await rejection(driver.wait(name, 'completed', 20_000));
      expect(e.message).toContain(name);
      expect(e.message).toMatch(/exited with code 3/);
      expect(e.message).toContain('boom-line');
      const c = (await driver.observe(jobs)).containers.find((x) => x.name === name)!;
      expect(c).toMatchObject({ status: 'exited', exitCode: 3 });
    });

    containers('wait healthy rejects at once for a container that exited; a wait on one never started times out', 'startContainer/wait on a container that never started: a Swarm schedules every task it is given', async () => {
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

    containers('a container with restart on-failure:2 is restarted twice, then stays exited', 'restarts of one container; a service\'s restart policy is the swarm\'s (swarm.test.ts checks the mapped RestartPolicy)', async () => {
      const name = await oneShot('flaky', 'echo try; exit 1', { restart: { policy: 'on-failure', maxRetries: 2 } });
      const deadline = Date.now() + 20_000;
      let c: ObservedContainer | undefined;
      for (;;) {
        c = (await driver.observe(jobs)).containers.find((x) => x.name === name);
        if ((c?.status === 'exited' && c.restartCount === 2) || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(c).toMatchObject({ status: 'exited', exitCode: 1, restartCount: 2 });
      expect(await output(name, 10)).toBe('try\ntry\ntry\n');
    });

    containers('updateContainer changes the restart policy, limits, name and labels in place', 'updateContainer: a service is updated whole by applyContainer; swarm.test.ts checks which fields roll tasks, scale or touch only the service', async () => {
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
      // An engine that cannot relabel keeps the labels the container was created with.
      expect(after.labels).toEqual({ app: 'web', ...managed('web', driver.capabilities.relabel ? 'sha256:web2' : 'sha256:web1') });
      expect(after.spec.labels).toEqual({ app: 'web' });
      // null lifts a limit.
      await driver.updateContainer(webRenamed, { memoryBytes: null, pidsLimit: null });
      const lifted = (await driver.observe(stack)).containers.find((c) => c.id === before.id)!;
      expect(lifted.spec.memoryBytes).toBeUndefined();
      expect(lifted.spec.pidsLimit).toBeUndefined();
    });

    containers('connectNetwork and disconnectNetwork change a running container\'s networks; both are idempotent', 'connectNetwork on a container: a service\'s networks are part of its spec (an update)', async () => {
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

    containers('removeVolume refuses a volume in use and keeps its data', 'a volume used by a container made here; on a Swarm, volumes are per node and a service\'s task uses the node\'s own', async () => {
      const writer = await oneShot('writer', 'echo kept > /data/f', { mounts: [{ type: 'volume', source: vol, target: '/data', readOnly: false }] });
      await driver.wait(writer, 'completed', 20_000);
      const e = await rejection(driver.removeVolume(vol));
      expect(e.code).toBe('CONFLICT');
      expect(e.message).toContain(vol);
      await driver.removeContainer(writer);
      const reader = await oneShot('reader', 'cat /data/f', { mounts: [{ type: 'volume', source: vol, target: '/data', readOnly: true }] });
      await driver.wait(reader, 'completed', 20_000);
      expect(await output(reader, 5)).toBe('kept\n');
      expect((await driver.observe(stack)).volumes.map((v) => v.name)).toEqual([vol]);
    });

    test('the capabilities are consistent: in-place fields known, replicas owned only with applyContainer', () => {
      const caps = driver.capabilities;
      expect(caps.inPlace.every((f) => IN_PLACE_FIELDS.includes(f))).toBe(true);
      expect(new Set(caps.inPlace).size).toBe(caps.inPlace.length);
      expect(typeof driver.applyContainer === 'function').toBe(caps.ownsReplicas);
      const d = caps.defaults;
      expect(d.network).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/);
      expect(d.stopTimeoutSeconds).toBeGreaterThan(0);
      expect(d.stopSignal).toMatch(/^SIG[A-Z0-9]+$/);
      expect(d.workingDir).toMatch(/^\//);
      expect(d.healthcheck.intervalMs).toBeGreaterThan(0);
      expect(d.healthcheck.timeoutMs).toBeGreaterThan(0);
      expect(d.healthcheck.retries).toBeGreaterThan(0);
      // What it cannot honour: known settings, each with a sentence naming the engine.
      for (const [feature, why] of Object.entries(caps.unsupported ?? {})) {
        expect(CONTAINER_FEATURES).toContain(feature);
        expect(why).toContain(driver.name);
      }
    });

    containers('the declared defaults are what the engine does with a container that leaves them out', 'the defaults are checked on a container made by createContainer; swarm.test.ts checks that an applied service diffs as no changes (the Docker defaults it declares are what the swarm applies)', async () => {
      const d = driver.capabilities.defaults;
      const image = (await driver.image(ctx.baseImageRef))!;
      const signal = d.stopSignal.replace(/^SIG/, '');
      const name = await oneShot(
        'defaults',
        `trap "echo got-${signal}; exit 0" ${signal}; pwd; stat -c %a /scratch; tr '\\0' '\\n' < /proc/1/environ | sort; echo ready; while true; do sleep 0.1; done`,
        {
          mounts: [{ type: 'tmpfs', target: '/scratch' }],
          healthcheck: { test: ['CMD', 'true'], intervalMs: 0, timeoutMs: 0, retries: 0, startPeriodMs: 0 },
        },
      );
      const stubborn = await oneShot('stubborn', 'trap "" TERM INT QUIT; echo ready; while true; do sleep 0.1; done');
      await until('both to be ready', async () => (await output(name, 100)).includes('ready\n') && (await output(stubborn, 5)) === 'ready\n', 15_000);
      const c = (await driver.observe(jobs)).containers.find((x) => x.name === name)!;
      expect(Object.keys(c.networks)).toEqual([d.network]);
      expect(c.spec.networks).toEqual([]);
      expect(c.spec.stopSignal).toBe(d.stopSignal);
      expect(c.spec.stopTimeoutSeconds).toBeUndefined();
      expect(c.spec.workingDir).toBeUndefined();
      expect(c.spec.healthcheck).toEqual({ test: ['CMD', 'true'], ...d.healthcheck });
      const [pwd, mode, ...rest] = (await output(name, 100)).split('\n');
      expect(pwd).toBe(d.workingDir);
      expect(Number.parseInt(mode, 8)).toBe(d.tmpfsMode);
      // Every variable neither the image nor the plan sets is one the engine says it sets.
      const engineSet = rest.slice(0, rest.indexOf('ready')).map((l) => l.slice(0, l.indexOf('='))).filter((k) => !(k in image.config.env));
      expect(engineSet.filter((k) => !d.env.includes(k))).toEqual([]);
      // The stop signal and the stop timeout: one container stops on the signal, the other is killed after the timeout.
      const started = Date.now();
      await Promise.all([driver.stopContainer(name), driver.stopContainer(stubborn)]);
      const took = (Date.now() - started) / 1000;
      expect(took).toBeGreaterThanOrEqual(d.stopTimeoutSeconds - 0.5);
      expect(took).toBeLessThan(d.stopTimeoutSeconds + 3);
      expect(await output(name, 1)).toBe(`got-${signal}\n`);
      const after = (await driver.observe(jobs)).containers.filter((x) => x.name === name || x.name === stubborn);
      expect(after.map((x) => `${x.name} ${x.status} ${x.exitCode}`).sort()).toEqual([`${name} exited 0`, `${stubborn} exited 137`].sort());
    }, 60_000);

    containers('every field the driver declares in place changes on the same container', 'updateContainer in place: swarm.test.ts updates a service in place for every class of field', async () => {
      const caps = driver.capabilities;
      const name = await oneShot('in-place', 'trap "exit 0" TERM; while true; do sleep 0.2; done');
      await driver.wait(name, 'started', 20_000);
      const before = (await driver.observe(jobs)).containers.find((x) => x.name === name)!;
      const find = async () => (await driver.observe(jobs)).containers.find((x) => x.id === before.id)!;
      let current = name;
      for (const field of caps.inPlace) {
        switch (field) {
          case 'name':
            await driver.updateContainer(current, { name: n('in-place-renamed') });
            made.containers.add(n('in-place-renamed'));
            current = n('in-place-renamed');
            expect((await find()).name).toBe(current);
            break;
          case 'restart':
            await driver.updateContainer(current, { restart: { policy: 'always', maxRetries: 0 } });
            expect((await find()).spec.restart).toEqual({ policy: 'always', maxRetries: 0 });
            break;
          case 'memoryBytes':
            await driver.updateContainer(current, { memoryBytes: 96 * 1024 * 1024 });
            expect((await find()).spec.memoryBytes).toBe(96 * 1024 * 1024);
            break;
          case 'nanoCpus':
            await driver.updateContainer(current, { nanoCpus: 500_000_000 });
            expect((await find()).spec.nanoCpus).toBe(500_000_000);
            break;
          case 'pidsLimit':
            await driver.updateContainer(current, { pidsLimit: 50 });
            expect((await find()).spec.pidsLimit).toBe(50);
            break;
          case 'networks': {
            made.networks.add(n('in-place-net'));
            await driver.createNetwork(n('in-place-net'), network(), managed('in-place-net', 'sha256:1', jobs));
            await driver.connectNetwork(current, n('in-place-net'), { aliases: ['joined'] });
            expect((await find()).spec.networks.map((x) => x.network)).toContain(n('in-place-net'));
            await driver.disconnectNetwork(current, n('in-place-net'));
            expect((await find()).spec.networks.map((x) => x.network)).not.toContain(n('in-place-net'));
            break;
          }
        }
      }
      if (caps.relabel) {
        await driver.updateContainer(current, { labels: managed('in-place', 'sha256:relabelled', jobs) });
        expect((await find()).labels[LABELS.specHash]).toBe('sha256:relabelled');
      }
      const after = await find();
      expect(after).toMatchObject({ id: before.id, status: 'running' });
      await driver.removeContainer(current, { force: true });
      if (caps.inPlace.includes('networks')) await driver.removeNetwork(n('in-place-net'));
    });

    containers('what compose files set (expose, extra hosts, DNS, sysctls, ulimits, /dev/shm, a device, pid, ipc, another container\'s network, a secret and a config file) is what the containers see, and a diff right after apply changes nothing', 'it applies its stack container by container; on a Swarm these settings are a service\'s (secrets and configs as Swarm secrets and configs are not mapped yet: see the Swarm driver)', async () => {
      const gaps = `${prefix}-gaps`;
      const secretFile = path.join(work, 'db_password');
      fs.writeFileSync(secretFile, 's3cret-gaps\n');
      const configText = 'port=8080\n';
      const sha = (t: string) => `sha256:${createHash('sha256').update(t).digest('hex')}`;
      const marker = 'gaps-main-up';
      const main = n('gaps-main');
      const side = n('gaps-side');
      const guest = n('gaps-guest');
      made.containers.add(main);
      made.containers.add(side);
      made.containers.add(guest);
      // A container no stack of the plan manages, whose network a plan container shares by name.
      const ext = await oneShot('gaps-ext', 'trap "exit 0" TERM; while true; do sleep 0.2; done');
      await driver.wait(ext, 'started', 20_000);
      const mainSpec = (secret: string): ContainerSpec =>
        spec({
          command: ['sh', '-c', `trap "exit 0" TERM; ulimit -n > /tmp/ulimits; ulimit -Hn >> /tmp/ulimits; echo ${marker}; while true; do sleep 0.2; done`],
          expose: ['8080/tcp', '9090/udp'],
          extraHosts: { 'db.gaps.test': '10.176.0.5' },
          dns: ['10.176.0.53'],
          dnsSearch: ['gaps.test'],
          dnsOptions: ['ndots:2'],
          sysctls: { 'net.core.somaxconn': '1024' },
          ulimits: { nofile: { soft: 1024, hard: 2048 } },
          shmSizeBytes: 128 * 1024 * 1024,
          devices: [{ hostPath: '/dev/null', containerPath: '/dev/gaps-null', permissions: 'rwm' }],
          pid: 'host',
          ipc: 'shareable',
          secrets: [{ secret: { source: 'file', from: secretFile, hmac: secretHmac(gaps, secret) }, target: '/run/secrets/db_password', mode: 0o440, uid: 0, gid: 65534 }],
          configs: [{ source: 'string', content: configText, sha256: sha(configText), target: '/etc/gaps/app.conf', mode: 0o444, uid: 0, gid: 0 }],
        });
      const gapsPlan = (secret: string): Plan => ({
        version: 1,
        stack: gaps,
        resources: {
          base: registryImage(ctx.baseImageRef, 'never'),
          main: { type: 'container', path: 'main', name: main, dependsOn: ['base'], spec: mainSpec(secret) },
          side: {
            type: 'container',
            path: 'side',
            name: side,
            dependsOn: ['base', 'main'],
            spec: spec({ command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done'], networkMode: { container: 'main' } }),
          },
          guest: {
            type: 'container',
            path: 'guest',
            name: guest,
            dependsOn: ['base'],
            spec: spec({ command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done'], networkMode: { containerName: ext } }),
          },
        },
      });
      const diffNow = async (p: Plan) => {
        const observed = await driver.observe(gaps);
        return { observed, diff: diffStack(p, observed, { base: await driver.image(ctx.baseImageRef) }, driver.capabilities) };
      };
      const plan = gapsPlan('s3cret-gaps\n');
      const first = await diffNow(plan);
      expect(first.diff.changes.filter((c) => c.type === 'container').map((c) => `${c.path} ${c.action}`).sort()).toEqual(['guest create', 'main create', 'side create']);
      await applyDiff(plan, first.diff, first.observed, driver, { images: { base: await driver.image(ctx.baseImageRef) } });

      const sh = async (name: string, script: string, user?: string): Promise<{ exitCode: number; stdout: string }> => {
        const out = new PassThrough();
        let stdout = '';
        out.on('data', (d: Buffer) => (stdout += d.toString()));
        const r = await driver.exec(name, ['sh', '-c', script], { stdout: out, stderr: new PassThrough(), ...(user ? { user } : {}) });
        await new Promise((res) => setImmediate(res));
        return { exitCode: r.exitCode, stdout };
      };
      const text = async (name: string, script: string, user?: string): Promise<string> => (await sh(name, script, user)).stdout;
      expect(await text(main, 'cat /etc/hosts')).toMatch(/^10\.176\.0\.5\s+db\.gaps\.test$/m);
      const resolv = await text(main, 'cat /etc/resolv.conf');
      // Docker writes the servers itself on its default bridge, and behind its embedded DNS on user networks.
      expect(resolv).toMatch(/^nameserver 10\.176\.0\.53$|^# ExtServers: \[.*10\.176\.0\.53/m);
      expect(resolv).toMatch(/^search gaps\.test$/m);
      expect(resolv).toMatch(/^options ndots:2$/m);
      expect(await text(main, 'cat /proc/sys/net/core/somaxconn')).toBe('1024\n');
      // The container's own process: runc's exec sometimes starts a process with the soft limit
      // raised to the hard one (measured with Docker 20.10's: 4 execs in 24), so not an exec'd one.
      await until('the main process to write its limits', async () => (await text(main, 'cat /tmp/ulimits 2>/dev/null')).split('\n').length > 2, 10_000);
      expect(await text(main, 'cat /tmp/ulimits')).toBe('1024\n2048\n');
      expect(await text(main, 'cat /proc/mounts')).toMatch(/^\S+ \/dev\/shm tmpfs \S*size=131072k/m);
      expect(await text(main, 'test -c /dev/gaps-null && echo x > /dev/gaps-null && echo device-ok')).toBe('device-ok\n');
      // pid host: PID 1 is the host's, not the container's command.
      expect(await text(main, 'cat /proc/1/cmdline')).not.toContain(marker);
      // The secret: its bytes exactly, with its mode and owner; readable by its group, writable by no one else.
      expect(await text(main, 'cat /run/secrets/db_password')).toBe('s3cret-gaps\n');
      expect(await text(main, 'stat -c "%a %u %g" /run/secrets/db_password /etc/gaps/app.conf')).toBe('440 0 65534\n444 0 0\n');
      expect(await text(main, 'cat /run/secrets/db_password', '65534:65534')).toBe('s3cret-gaps\n');
      expect((await sh(main, 'echo changed >> /run/secrets/db_password', '65534:65534')).exitCode).not.toBe(0);
      expect(await text(main, 'cat /etc/gaps/app.conf')).toBe(configText);
      // The side container is in the main one's network namespace: the same interfaces, the same hosts file.
      const netOf = (name: string) => text(name, 'for i in /sys/class/net/*; do echo "$i $(cat $i/address)"; done');
      expect(await netOf(side)).toBe(await netOf(main));
      expect(await text(side, 'cat /etc/hosts')).toMatch(/^10\.176\.0\.5\s+db\.gaps\.test$/m);
      expect(await netOf(guest)).toBe(await netOf(ext));

      // Apply, then diff: nothing to do; what the engine reports holds no secret.
      const again = await diffNow(plan);
      expect(again.diff.changes.filter((c) => c.action !== 'no-op').map((c) => `${c.path} ${c.action} ${JSON.stringify(c.reasons)}`)).toEqual([]);
      const observedMain = again.observed.containers.find((c) => c.name === main)!;
      expect(observedMain.spec.expose).toEqual(expect.arrayContaining(['8080/tcp', '9090/udp']));
      expect(JSON.stringify(again.observed)).not.toContain('s3cret-gaps');
      // A new secret value replaces the container, shown masked; the shared-network container goes with it.
      const changed = diffStack(gapsPlan('rotated\n'), again.observed, { base: await driver.image(ctx.baseImageRef) }, driver.capabilities);
      expect(changed.changes.filter((c) => c.type === 'container' && c.action !== 'no-op').map((c) => [c.path, c.action, c.reasons.map((r) => `${r.field} ${r.before} → ${r.after}`)])).toEqual([
        ['main', 'replace', ['secrets./run/secrets/db_password (sensitive) → (sensitive)']],
        ['side', 'replace', [`networkMode.container "${main}" → "${main}" (recreated)`]],
      ]);
    }, 90_000);

    containers('a terminal, open stdin and a log driver are what the container has; a diff right after apply changes nothing; a dependency replaced restarts the dependents that ask for it', 'it applies its stack container by container; the Swarm refuses dependsOn restart (swarm.test.ts maps TTY, OpenStdin and LogDriver)', async () => {
      const st = `${prefix}-term`;
      const dep = n('term-dep');
      const app = n('term-app');
      const plain = n('term-plain');
      made.containers.add(dep);
      made.containers.add(app);
      made.containers.add(plain);
      const loop = 'trap "exit 0" TERM; echo start >> /tmp/starts; tty > /tmp/tty 2>&1; while true; do sleep 0.2; done';
      const termPlan = (version: string): Plan => ({
        version: 1,
        stack: st,
        resources: {
          base: registryImage(ctx.baseImageRef, 'never'),
          dep: { type: 'container', path: 'dep', name: dep, dependsOn: ['base'], spec: spec({ command: ['sh', '-c', loop], env: { VERSION: version } }) },
          app: {
            type: 'container',
            path: 'app',
            name: app,
            dependsOn: ['base', 'dep'],
            spec: spec({ command: ['sh', '-c', loop], tty: true, stdinOpen: true, logging: { driver: 'json-file', options: {} }, platform: formatPlatform(hostPlatform()), dependsOn: [{ container: 'dep', condition: 'started', restart: true }] }),
          },
          plain: { type: 'container', path: 'plain', name: plain, dependsOn: ['base', 'dep'], spec: spec({ command: ['sh', '-c', loop], dependsOn: [{ container: 'dep', condition: 'started' }] }) },
        },
      });
      const images = async () => ({ base: await driver.image(ctx.baseImageRef) });
      const diffNow = async (p: Plan) => {
        const observed = await driver.observe(st);
        return { observed, diff: diffStack(p, observed, await images(), driver.capabilities) };
      };
      const text = async (name: string, script: string): Promise<string> => {
        const out = new PassThrough();
        let stdout = '';
        out.on('data', (d: Buffer) => (stdout += d.toString()));
        await driver.exec(name, ['sh', '-c', script], { stdout: out, stderr: new PassThrough() });
        await new Promise((res) => setImmediate(res));
        return stdout;
      };
      const starts = async (name: string) => (await text(name, 'cat /tmp/starts 2>/dev/null')).split('\n').filter(Boolean).length;
      const plan = termPlan('1');
      const first = await diffNow(plan);
      await applyDiff(plan, first.diff, first.observed, driver, { images: await images() });
      await until('the containers to write their start', async () => (await starts(app)) === 1 && (await starts(plain)) === 1, 10_000);
      // The main process of app has a terminal as its stdin; plain has none.
      expect(await text(app, 'cat /tmp/tty')).toMatch(/^\/dev\/pts\/\d+\n$/);
      expect(await text(plain, 'cat /tmp/tty')).not.toMatch(/^\/dev\/pts/);
      const again = await diffNow(plan);
      expect(again.diff.changes.filter((c) => c.action !== 'no-op').map((c) => `${c.path} ${c.action} ${JSON.stringify(c.reasons)}`)).toEqual([]);
      const observedApp = again.observed.containers.find((c) => c.name === app)!;
      expect([observedApp.spec.tty, observedApp.spec.stdinOpen]).toEqual([true, true]);
      expect(observedApp.spec.logging?.driver ?? driver.capabilities.defaults.logDriver).toBe('json-file');
      expect(again.observed.containers.find((c) => c.name === plain)!.spec.tty).toBeUndefined();
      // Without a terminal: a replace, as Docker cannot change it in place.
      const noTty: Plan = { ...plan, resources: { ...plan.resources, app: { ...(plan.resources.app as ContainerResource), spec: { ...(plan.resources.app as ContainerResource).spec, tty: undefined } } } };
      expect(diffStack(noTty, again.observed, await images(), driver.capabilities).changes.find((c) => c.path === 'app')!.reasons).toEqual([{ field: 'tty', before: 'true', after: 'false', needs: 'replace' }]);

      // The dependency replaced: app (restart) is restarted in place, plain (no restart) is not.
      const appId = observedApp.id;
      const next = termPlan('2');
      const third = await diffNow(next);
      // The diff says so: the dependent with restart is an update, restarted after the dependency.
      expect(third.diff.changes.filter((c) => c.type === 'container' && c.action !== 'no-op').map((c) => `${c.path} ${c.action} ${c.reasons.map((r) => `${r.field} ${r.after}`).join(', ')}`)).toEqual([
        'dep replace env.VERSION "2"',
        'app update dependsOn.restart restarted after dep',
      ]);
      const events: string[] = [];
      await applyDiff(next, third.diff, third.observed, driver, { images: await images(), onEvent: (e) => e.phase === 'done' && events.push(`${e.change.path} ${e.message}`) });
      expect(events).toEqual(['dep replaced (env.VERSION)', 'app restarted (restarted after dep)']);
      await until('app to write its second start', async () => (await starts(app)) === 2, 10_000);
      const after = await driver.observe(st);
      const appAfter = after.containers.find((c) => c.name === app)!;
      expect([appAfter.id, appAfter.status]).toEqual([appId, 'running']);
      expect(await starts(plain)).toBe(1);
      const settled = diffStack(next, after, await images(), driver.capabilities);
      expect(settled.changes.filter((c) => c.action !== 'no-op')).toEqual([]);
    }, 90_000);

    containers('logs gives each line with its stream, the last N with tail, and times with timestamps', 'logs of a container; swarm.test.ts reads a service\'s logs (all its tasks\')', async () => {
      const since = Date.now() - 1_000;
      const name = await oneShot('talker', 'echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three; echo four; echo five');
      await driver.wait(name, 'completed', 20_000);
      const all = await logLines(name);
      expect(all.map((l) => `${l.stream} ${l.text}`)).toEqual(['stdout one\n', 'stderr two\n', 'stdout three\n', 'stdout four\n', 'stdout five\n']);
      expect(all.every((l) => l.time === undefined)).toBe(true);
      expect((await logLines(name, { tail: 2 })).map((l) => l.text)).toEqual(['four\n', 'five\n']);
      expect(await logLines(name, { tail: 0 })).toEqual([]);
      expect((await logLines(name, { tail: 100 })).map((l) => l.text)).toHaveLength(5);
      const timed = await logLines(name, { timestamps: true, tail: 3 });
      expect(timed.map((l) => l.text)).toEqual(['three\n', 'four\n', 'five\n']);
      for (const l of timed) {
        expect(l.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
        expect(Date.parse(l.time!)).toBeGreaterThanOrEqual(since);
        expect(Date.parse(l.time!)).toBeLessThanOrEqual(Date.now());
      }
      expect([...timed.map((l) => l.time!)].sort()).toEqual(timed.map((l) => l.time!));
      const e = await rejection(logLines(n('no-such-container')));
      expect(e.code).toBe('NOT_FOUND');
    });

    containers('logs with follow gives what is written until the container stops, then ends; an abort ends it sooner', 'logs --follow of a container; a service\'s follow is the engine\'s /services/{id}/logs, covered by its logs test in swarm.test.ts', async () => {
      const name = await oneShot('ticker', 'echo a; sleep 0.5; echo b; sleep 0.5; echo c');
      const got: string[] = [];
      await driver.logs(name, { follow: true }, (l) => got.push(l.text));
      expect(got).toEqual(['a\n', 'b\n', 'c\n']);
      expect((await driver.observe(jobs)).containers.find((x) => x.name === name)!.status).toBe('exited');
      // Following a running container with tail 0: only new lines, and the follow ends at its stop.
      const runner = await oneShot('runner', 'echo old; trap "echo bye; exit 0" TERM; while true; do sleep 0.1; done');
      await until('runner to print its first line', async () => (await output(runner, 1)) === 'old\n', 10_000);
      const later: string[] = [];
      let ended = false;
      const following = driver.logs(runner, { follow: true, tail: 0 }, (l) => later.push(l.text)).then(() => (ended = true));
      await new Promise((r) => setTimeout(r, 500));
      expect(ended).toBe(false);
      await driver.stopContainer(runner);
      await following;
      expect(later).toEqual(['bye\n']);
      // An abort ends a follow of a container that keeps running.
      const endless = await oneShot('endless', 'trap "exit 0" TERM; while true; do echo tick; sleep 0.2; done');
      const stop = new AbortController();
      const ticks: string[] = [];
      const started = Date.now();
      setTimeout(() => stop.abort(), 700);
      await driver.logs(endless, { follow: true, signal: stop.signal }, (l) => ticks.push(l.text));
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(ticks.length).toBeGreaterThanOrEqual(1);
      expect(ticks.every((t) => t === 'tick\n')).toBe(true);
      expect((await driver.observe(jobs)).containers.find((x) => x.name === endless)!.status).toBe('running');
      await driver.removeContainer(endless, { force: true });
    });

    containers('exec runs a command in a running container: its exit code, output, environment, directory and user', 'exec in a container made here; swarm.test.ts execs in a service\'s running task on the manager', async () => {
      const name = await oneShot('exec-target', 'trap "exit 0" TERM; while true; do sleep 0.2; done', { env: { GREETING: 'hi' } });
      await driver.wait(name, 'started', 20_000);
      const run = async (argv: string[], opts: Parameters<Driver['exec']>[2] = {}) => {
        const out = new PassThrough();
        const err = new PassThrough();
        let stdout = '';
        let stderr = '';
        out.on('data', (d: Buffer) => (stdout += d.toString()));
        err.on('data', (d: Buffer) => (stderr += d.toString()));
        const result = await driver.exec(name, argv, { ...opts, stdout: out, stderr: err });
        await new Promise((r) => setImmediate(r));
        return { ...result, stdout, stderr };
      };
      expect(await run(['sh', '-c', 'echo out; echo err >&2; exit 3'])).toEqual({ exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
      expect(await run(['sh', '-c', 'echo $GREETING $FOO; pwd; id -u; id -g'], { env: { FOO: 'bar' }, workdir: '/tmp', user: '1234:5678' })).toEqual({
        exitCode: 0,
        stdout: 'hi bar\n/tmp\n1234\n5678\n',
        stderr: '',
      });
      expect((await run(['id', '-u'], { user: 'nobody' })).stdout).toBe('65534\n');
      expect(await run(['cat'], { stdin: Readable.from(['typed ', 'in\n']) })).toEqual({ exitCode: 0, stdout: 'typed in\n', stderr: '' });
      expect((await run(['pwd'])).stdout).toBe(`${driver.capabilities.defaults.workingDir}\n`);
      const missing = await run(['no-such-command']);
      expect(missing.exitCode).toBe(126);
      expect(missing.error).toContain('no-such-command');
      const relative = await rejection(driver.exec(name, ['pwd'], { workdir: 'tmp' }));
      expect(relative.code).toBe('INVALID_ARGUMENT');
      expect(relative.message).toContain("'tmp'");
      await driver.stopContainer(name);
      const stopped = await rejection(driver.exec(name, ['true']));
      expect(stopped.code).toBe('CONFLICT');
      expect(stopped.message).toMatch(/not running/);
    });

    containers('copyToContainer writes a tar into a running container without restarting it, and into a stopped one; a missing container or path is not found', 'it copies into a container made here; a service\'s tasks are the swarm\'s, replaced on every update (the Swarm driver inherits the Docker driver\'s copy, for a task\'s container on the manager)', async () => {
      const name = await oneShot('copy-target', 'trap "exit 0" TERM; while true; do sleep 0.2; done');
      await driver.wait(name, 'started', 20_000);
      const tar = (files: Array<[string, string]>): Readable => {
        const pack = tarStream.pack();
        for (const [file, body] of files) pack.entry({ name: file, mode: 0o640, uid: 1234, gid: 5678 }, body);
        pack.finalize();
        return pack as unknown as Readable;
      };
      const sh = async (script: string): Promise<string> => {
        const out = new PassThrough();
        let text = '';
        out.on('data', (d: Buffer) => (text += d.toString()));
        const r = await driver.exec(name, ['sh', '-c', script], { stdout: out, stderr: out });
        await new Promise((resolve) => setImmediate(resolve));
        expect(r.exitCode).toBe(0);
        return text;
      };
      // The 22nd field of /proc/1/stat: when the container's process started.
      const started = () => sh('read -r a b c d e f g h i j k l m n o p q r s t u v rest < /proc/1/stat; echo $v');
      const startedBefore = await started();
      // Missing parents are made; what lands has the entry's mode and owner.
      await driver.copyToContainer(name, '/', tar([['srv/site/index.html', 'v1\n'], ['srv/site/sub/page.txt', 'page\n']]));
      expect(await sh('cat /srv/site/index.html /srv/site/sub/page.txt; stat -c "%u:%g %a" /srv/site/index.html')).toBe('v1\npage\n1234:5678 640\n');
      await driver.copyToContainer(name, '/srv/site', tar([['index.html', 'v2\n']]));
      expect(await sh('cat /srv/site/index.html /srv/site/sub/page.txt')).toBe('v2\npage\n');
      expect(await started()).toBe(startedBefore);
      const after = (await driver.observe(jobs)).containers.find((c) => c.name === name)!;
      expect(after).toMatchObject({ status: 'running', restartCount: 0 });
      // A stopped container takes files too; they are there when it starts again.
      await driver.stopContainer(name);
      await driver.copyToContainer(name, '/srv', tar([['stopped.txt', 'while stopped\n']]));
      await driver.startContainer(name);
      await driver.wait(name, 'started', 20_000);
      expect(await sh('cat /srv/stopped.txt')).toBe('while stopped\n');
      expect((await rejection(driver.copyToContainer(`${prefix}-no-such-container`, '/', tar([['x', 'x']])))).code).toBe('NOT_FOUND');
      expect((await rejection(driver.copyToContainer(name, '/no/such/dir', tar([['x', 'x']])))).code).toBe('NOT_FOUND');
      await driver.removeContainer(name, { force: true });
    });

    test('lockStack: a second holder is refused while the first holds the lock, and the lock is free once the first is done', async () => {
      const locked = `${prefix}-locked`;
      let release!: () => void;
      const holding = new Promise<void>((r) => (release = r));
      let entered!: () => void;
      const inside = new Promise<void>((r) => (entered = r));
      const first = driver.lockStack(locked, async () => {
        entered();
        await holding;
        return 'first';
      });
      await inside;
      const refused = await rejection(driver.lockStack(locked, async () => 'second'));
      expect(refused.code).toBe('CONFLICT');
      expect(refused.message).toContain(locked);
      // Another stack's lock is another lock.
      expect(await driver.lockStack(`${prefix}-unlocked`, async () => 'other')).toBe('other');
      release();
      expect(await first).toBe('first');
      expect(await driver.lockStack(locked, async () => 'third')).toBe('third');
      // A failing holder releases it too.
      await expect(driver.lockStack(locked, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      expect(await driver.lockStack(locked, async () => 'fourth')).toBe('fourth');
      const invalid = await rejection(driver.lockStack('../escape', async () => 'never'));
      expect(invalid.code).toBe('INVALID_ARGUMENT');
    });

    containers('stop and remove are idempotent; removing a container keeps its named volume; then the network and volume go', 'stop and remove of a container; swarm.test.ts removes a service twice, then its network and volume', async () => {
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
      expect(await driver.listStacks()).not.toContain(stack);
    });
  });
}

function registryImage(ref: string, pullPolicy: 'missing' | 'always' | 'never'): ImageResource {
  return { type: 'image', path: 'base', name: ref, dependsOn: [], spec: { source: 'registry', ref, pullPolicy } };
}
