import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Container, DependencyCondition, Image, Network, NetworkMode, RemovalPolicy, Restart, Secret, Stack, Testing, Volume } from '../../lib/constructs';
import { DockerDriver, dockerDriver, driverFor, lastOutput } from '../../lib/drivers';
import { diffStack } from '../../lib/reconcile/diff';
import { applyDiff, destroyStack } from '../../lib/reconcile/apply';
import { hasChanges, renderDiff } from '../../lib/reconcile/render';
import { observePlan } from '../../lib/toolkit/observe';
import type { ContainerResource, ImageResource } from '../../lib/plan/types';
import { managedLabels } from '../../lib/reconcile/hash';
import { CdkDockerError } from '../../lib/core/errors';
import { processIdentity } from '../../lib/core/process';
import { createBody, createQuery, filesArchive, normalizedInspect, updateBody, UNLIMITED_MEMORY } from '../../lib/drivers/docker/mapping';
import type { DockerContainerInspect } from '../../lib/drivers/docker/mapping';
import { ROOT, tempDir, until } from '../helpers/cli';
import { TestDockerd, startDockerd } from '../helpers/dockerd';
import { busyboxRootfsTar } from '../helpers/images';
import { startRegistry } from '../helpers/registry';
import { defaultContainerSpec, recordProgress } from '../fixtures';
import { requireCommand } from '../helpers/prereq';
import { driverConformance } from './conformance';

jest.setTimeout(60_000);

/**
 * The Docker driver against a real, private dockerd (Debian's 20.10), one for the whole file: its
 * own data-root, exec-root, socket, pidfile and containerd namespace, a default bridge of its own
 * (10.152.0.1/24, user networks from 10.153.0.0/16) and no iptables rules (`--iptables=false`;
 * published ports go through docker-proxy). What it leaves is checked at the end: no bridge, no
 * iptables line of its subnets, nothing mounted under its directory.
 */
// CDK_DOCKER_TEST_OCTET and CDK_DOCKER_TEST_BRIDGE move them, for engineers who share a host.
const OCTET = Number(process.env.CDK_DOCKER_TEST_OCTET ?? 152);
const BRIDGE = { name: process.env.CDK_DOCKER_TEST_BRIDGE ?? 'cdkdrv0', address: `10.${OCTET}.0.1/24`, pool: `10.${OCTET + 1}.0.0/16` };
let dockerd: TestDockerd;
let work: string;
let iptablesBefore: string[];

/** The iptables lines that concern this dockerd's bridge and subnets. */
function ourIptables(): string[] {
  return execFileSync('iptables-save', { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(BRIDGE.name) || l.includes(`10.${OCTET}.`) || l.includes(`10.${OCTET + 1}.`))
    .map((l) => l.replace(/\[\d+:\d+\]/g, ''));
}

const env = (): NodeJS.ProcessEnv => ({ DOCKER_HOST: dockerd.host });

beforeAll(async () => {
  requireCommand('iptables-save', 'iptables');
  iptablesBefore = ourIptables();
  work = tempDir('cdk-docker-docker-driver-');
  dockerd = await startDockerd({ label: 'driver', bridge: BRIDGE });
  const rootfs = busyboxRootfsTar(work, ['sh', 'cat', 'echo', 'sleep', 'true', 'false', 'test', 'id', 'pwd', 'stat', 'tr', 'sort']);
  dockerd.docker(['import', '-c', 'ENV PATH=/bin', '-c', 'CMD ["sh"]', rootfs, 'busybox:driver']);
  // No Env at all: Docker gives its containers its default PATH.
  dockerd.docker(['import', rootfs, 'busybox:nopath']);
}, 60_000);

/** Stops the dockerd; nothing of it may stay (bridges, iptables lines, mounts). */
afterAll(async () => {
  if (!dockerd) return;
  // dockerd keeps a user network's bridge when it stops: the networks go first.
  removeEverything();
  // This dockerd's directory (its socket is in it): another run of this file may be up at the same time.
  const dockerdDir = path.dirname(dockerd.host.replace(/^unix:\/\//, ''));
  await dockerd.stop();
  const ours = (ip: string) => ip.startsWith(`10.${OCTET}.`) || ip.startsWith(`10.${OCTET + 1}.`);
  const links = (JSON.parse(execFileSync('ip', ['-j', 'addr'], { encoding: 'utf8' })) as Array<{ ifname: string; master?: string; addr_info?: Array<{ local: string }> }>)
    .filter((l) => l.ifname === BRIDGE.name || l.master === BRIDGE.name || (l.addr_info ?? []).some((a) => ours(a.local)))
    .map((l) => `link ${l.ifname}`);
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m && m.startsWith(`${dockerdDir}/`)).map((m) => `mount ${m}`);
  const rules = ourIptables().filter((l) => !iptablesBefore.includes(l)).map((l) => `iptables ${l}`);
  fs.rmSync(work, { recursive: true, force: true });
  expect([...links, ...mounts, ...rules]).toEqual([]);
}, 60_000);

/** Every container and user network of the dockerd (they are all this file's). */
function removeEverything(): void {
  const ids = dockerd.docker(['ps', '-aq']).split('\n').filter(Boolean);
  if (ids.length) dockerd.docker(['rm', '-f', ...ids]);
  dockerd.docker(['network', 'prune', '-f']);
}

driverConformance('docker', async () => ({
  driver: driverFor('docker', env()),
  baseImageRef: 'busybox:driver',
  cleanup: async () => {
    // The suite removed what it made; a container of its prefix left behind is a leak.
    const left = dockerd.docker(['ps', '-a', '--format', '{{.Names}}', '--filter', 'name=cdkconf']).split('\n').filter(Boolean);
    removeEverything();
    expect(left).toEqual([]);
  },
}));

describe('docker driver: a stack applied through the reconciler', () => {
  test('apply then diff plans no changes for every kind of setting; destroy leaves nothing', async () => {
    const driver = dockerDriver(env());
    const dir = path.join(work, 'app');
    fs.mkdirSync(path.join(dir, 'ctx'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'app.conf'), 'setting=1\n');
    fs.writeFileSync(path.join(dir, 'ctx', 'Dockerfile'), 'FROM busybox:driver\nCOPY msg /msg\nCMD ["cat", "/msg"]\n');
    fs.writeFileSync(path.join(dir, 'ctx', 'msg'), 'job done\n');
    fs.writeFileSync(path.join(dir, 'ctx', 'ignored.log'), 'not sent\n');
    fs.writeFileSync(path.join(dir, 'ctx', '.dockerignore'), '*.log\n');
    const appEnv = { TOKEN: 's3cr3t' };
    const app = Testing.app({ baseDir: dir, env: appEnv });
    const stack = new Stack(app, 'dockerstack');
    const base = Image.fromRegistry(stack, 'base', 'busybox:driver', { pullPolicy: 'never' });
    const built = Image.fromBuild(stack, 'built', 'ctx', { tag: 'dockerstack-job:latest' });
    const front = new Network(stack, 'front', { subnet: `10.${OCTET + 1}.200.0/24` });
    const back = new Network(stack, 'back');
    const data = new Volume(stack, 'data', { removalPolicy: RemovalPolicy.DESTROY });
    const loop = (signal: string) => ['sh', '-c', `trap "exit 0" ${signal}; while true; do sleep 0.2; done`];
    const web = new Container(stack, 'web', {
      image: base,
      command: loop('INT'),
      env: { GREETING: 'hi', TOKEN: Secret.fromEnv('TOKEN') },
      user: '65534:65534',
      workingDir: '/tmp',
      hostname: 'web-host',
      ports: ['127.0.0.1::80', '127.0.0.1:18300-18301:8000-8001', '127.0.0.1:18353:53/udp'],
      mounts: [
        { type: 'volume', source: data, target: '/data' },
        { type: 'bind', source: 'app.conf', target: '/etc/app.conf', readOnly: true },
        { type: 'tmpfs', target: '/scratch', size: '1m' },
      ],
      networks: [{ network: front, aliases: ['www'], ipv4Address: `10.${OCTET + 1}.200.10` }, back],
      restart: Restart.onFailure(2),
      healthcheck: { test: 'true', interval: '1s' },
      labels: { app: 'web' },
      stopSignal: 'SIGINT',
      stopTimeout: '3s',
      init: true,
      readOnlyRootfs: true,
      capAdd: ['NET_ADMIN'],
      capDrop: ['MKNOD'],
      memory: '64m',
      cpus: 0.5,
      pidsLimit: 100,
    });
    new Container(stack, 'job', { image: built, networks: [back], dependsOn: [{ container: web, condition: DependencyCondition.HEALTHY }] });
    new Container(stack, 'reader', { image: base, command: loop('TERM'), volumesFrom: [{ container: web, readOnly: true }], networkMode: NetworkMode.NONE });
    // Its own hostname as an alias: Docker adds the hostname too, but only where it was not asked for.
    new Container(stack, 'named', { image: base, command: loop('TERM'), hostname: 'named-host', networks: [{ network: back, aliases: ['named-host', 'other'] }, front] });
    new Container(stack, 'onhost', { image: base, command: loop('TERM'), networkMode: NetworkMode.HOST });
    // The image's own command (sh, which ends at once), the default network, two replicas.
    new Container(stack, 'plain', { image: base, replicas: 2 });
    // An image without PATH: the container runs with Docker's default one.
    const bare = Image.fromRegistry(stack, 'bare', 'busybox:nopath', { pullPolicy: 'never' });
    new Container(stack, 'nopath', { image: bare, command: ['/bin/sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done'] });
    const plan = Testing.synth(stack);

    const diffNow = async () => {
      const { observed, images } = await observePlan(plan, driver);
      return { diff: diffStack(plan, observed, images, driver.capabilities), observed, images };
    };
    try {
      const first = await diffNow();
      await applyDiff(plan, first.diff, first.observed, driver, { images: first.images, env: appEnv, waitTimeoutMs: 30_000 });
      const again = await diffNow();
      expect(renderDiff(again.diff, { color: false })).toContain('No changes');
      expect(hasChanges(again.diff)).toBe(false);
      // It runs as planned: the job's output, the web container's address, the secret inside, the file not sent.
      expect(await lastOutput(driver, 'dockerstack-job', 5)).toBe('job done\n');
      const webNow = again.observed.containers.find((c) => c.name === web.containerName)!;
      expect(webNow).toMatchObject({ status: 'running', health: 'healthy' });
      expect(webNow.networks[`dockerstack-front`].ipv4Address).toBe(`10.${OCTET + 1}.200.10`);
      expect(webNow.spec.fullEnv.TOKEN).toBe('s3cr3t');
      // (Docker 20.10 adds its PATH when it starts the process, not to the container's config.)
      expect(again.observed.containers.find((c) => c.name === 'dockerstack-nopath')).toMatchObject({ status: 'running' });
      expect(dockerd.docker(['run', '--rm', '--entrypoint', 'sh', 'dockerstack-job:latest', '-c', 'ls /'])).not.toContain('ignored.log');
      // Applying again changes nothing.
      await applyDiff(plan, again.diff, again.observed, driver, { images: again.images, env: appEnv });
      expect(hasChanges((await diffNow()).diff)).toBe(false);
    } finally {
      await destroyStack('dockerstack', plan, driver, { volumes: true });
    }
    expect(await driver.observe('dockerstack')).toEqual({ networks: [], volumes: [], containers: [] });
    await driver.close();
  });
});

describe('docker driver: secret files and a killed apply', () => {
  test('a container created by an apply killed before its files went in is replaced, not started without them', async () => {
    const driver = dockerDriver(env());
    const appEnv = { GAPS_TOKEN: 'gaps-t0ken' };
    const stack = new Stack(Testing.app({ env: appEnv }), 'gapskilled');
    const base = Image.fromRegistry(stack, 'base', 'busybox:driver', { pullPolicy: 'never' });
    new Container(stack, 'app', { image: base, command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done'], secrets: [{ secret: Secret.fromEnv('GAPS_TOKEN'), target: 'token' }] });
    const plan = Testing.synth(stack);
    const id = Object.keys(plan.resources).find((k) => plan.resources[k].type === 'container')!;
    const app = plan.resources[id] as ContainerResource;
    try {
      // What a killed apply leaves: the container, with its labels, and no file yet.
      const imageId = (await driver.image('busybox:driver'))!.id;
      await driver.createContainer({ name: app.name, spec: app.spec, imageId, env: {}, labels: managedLabels(plan, id) });
      const { observed, images } = await observePlan(plan, driver);
      const d = diffStack(plan, observed, images, driver.capabilities);
      const change = d.changes.find((c) => c.logicalId === id)!;
      expect([change.action, change.reasons]).toEqual(['replace', [{ field: 'secrets./run/secrets/token', before: undefined, after: '(sensitive)', needs: 'replace' }]]);
      await applyDiff(plan, d, observed, driver, { images, env: appEnv });
      expect(dockerd.docker(['exec', app.name, 'cat', '/run/secrets/token'])).toBe('gaps-t0ken');
      const again = await observePlan(plan, driver);
      expect(hasChanges(diffStack(plan, again.observed, again.images, driver.capabilities))).toBe(false);
    } finally {
      await destroyStack('gapskilled', plan, driver, { volumes: true });
      await driver.close();
    }
  });
});

/** A minimal container spec for the unit tests below. */
const spec = defaultContainerSpec;
const labels = { 'io.cdk-docker.stack': 's', 'io.cdk-docker.path': 'web', 'io.cdk-docker.spec-hash': 'sha256:1' };

describe('docker driver: images from a registry', () => {
  test('pullPolicy missing pulls an absent image with the Docker config\'s credentials, always pulls again, and a refused pull names the image', async () => {
    const registry = await startRegistry({ basicAuth: { alice: 'wonderland' } });
    const withAuth = dockerDriver({ DOCKER_HOST: dockerd.host, DOCKER_CONFIG: path.join(work, 'docker-config') });
    const anonymous = dockerDriver({ DOCKER_HOST: dockerd.host, DOCKER_CONFIG: path.join(work, 'no-docker-config') });
    try {
      const config = path.join(work, 'docker-config');
      fs.mkdirSync(config, { recursive: true });
      fs.writeFileSync(path.join(config, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from('alice:wonderland').toString('base64') } } }));
      const ref = `${registry.host}/team/busybox:1`;
      const push = (local: string) => {
        dockerd.docker(['tag', local, ref]);
        dockerd.docker(['--config', config, 'push', ref]);
      };
      push('busybox:driver');
      dockerd.docker(['rmi', ref]);
      const resource = (pullPolicy: 'missing' | 'always'): ImageResource => ({ type: 'image', path: 'pulled', name: ref, dependsOn: [], spec: { source: 'registry', ref, pullPolicy } });
      const refused = await anonymous.ensureImage(resource('missing'), labels).catch((e: CdkDockerError) => e);
      expect(refused).toBeInstanceOf(CdkDockerError);
      expect((refused as Error).message).toContain(`pull ${ref} (pulled): `);
      expect((refused as Error).message).toMatch(/no basic auth credentials|unauthorized|authentication required/);
      const base = (await withAuth.image('busybox:driver'))!.id;
      expect((await withAuth.ensureImage(resource('missing'), labels)).id).toBe(base);
      // The tag moves in the registry: "missing" keeps what is here, "always" gets the new one.
      push('busybox:nopath');
      dockerd.docker(['tag', 'busybox:driver', ref]);
      const moved = (await withAuth.image('busybox:nopath'))!.id;
      expect((await withAuth.ensureImage(resource('missing'), labels)).id).toBe(base);
      expect((await withAuth.ensureImage(resource('always'), labels)).id).toBe(moved);
    } finally {
      await Promise.all([withAuth.close(), anonymous.close()]);
      await registry.stop();
    }
  });
});


describe('docker driver: pull and build progress', () => {
  test('a pull reports each of its layers, from "Pulling fs layer" to "Pull complete" (or "Already exists"), and the lines of the image', async () => {
    const registry = await startRegistry();
    const driver = dockerDriver(env());
    try {
      const context = path.join(work, 'progress-layers');
      fs.mkdirSync(context, { recursive: true });
      // Two layers of its own (a few hundred kB each, so that their download is counted), over the base's.
      fs.writeFileSync(path.join(context, 'Dockerfile'), 'FROM busybox:driver\nRUN sort /bin/sh > /one\nRUN sort /one > /two\n');
      const ref = `${registry.host}/team/layers:1`;
      dockerd.docker(['build', '-q', '-t', ref, context]);
      dockerd.docker(['push', ref]);
      dockerd.docker(['rmi', ref]);
      const res = await fetch(`http://${registry.host}/v2/team/layers/manifests/1`, { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
      const manifest = (await res.json()) as { layers: Array<{ digest: string; size: number }> };
      const digest = res.headers.get('docker-content-digest');
      const [base, ...own] = manifest.layers.map((l) => l.digest.slice(7, 19));
      expect(own).toHaveLength(2);

      const seen = recordProgress();
      const image = await driver.ensureImage({ type: 'image', path: 'pulled', name: ref, dependsOn: [], spec: { source: 'registry', ref, pullPolicy: 'missing' } }, labels, { progress: seen.progress });
      expect(image.id).toBe((await driver.image(ref))!.id);
      expect(seen.lines).toEqual([`1: Pulling from team/layers`, `Digest: ${digest}`, `Status: Downloaded newer image for ${ref}`]);
      expect([...seen.statuses.keys()].sort()).toEqual([base, ...own].sort());
      expect(seen.statuses.get(base)).toEqual(['Already exists']);
      for (const id of own) {
        const statuses = seen.statuses.get(id)!;
        expect(statuses[0]).toBe('Pulling fs layer');
        expect(statuses).toEqual(expect.arrayContaining(['Download complete', 'Extracting']));
        expect(statuses[statuses.length - 1]).toBe('Pull complete');
        // Once per change: never the same status twice in a row.
        expect(statuses.filter((s, i) => s === statuses[i - 1])).toEqual([]);
        // Its bytes, counted up to its size.
        const counted = seen.bytes.get(id) ?? [];
        expect(counted.length).toBeGreaterThan(0);
        const size = manifest.layers.find((l) => l.digest.slice(7, 19) === id)!.size;
        for (const [done, total] of counted) {
          expect(total).toBe(size);
          expect(done).toBeLessThanOrEqual(total);
        }
      }

      // Pulled again with pullPolicy always: nothing to download, the image is up to date.
      const again = recordProgress();
      await driver.ensureImage({ type: 'image', path: 'pulled', name: ref, dependsOn: [], spec: { source: 'registry', ref, pullPolicy: 'always' } }, labels, { progress: again.progress });
      expect(again.lines).toEqual([`1: Pulling from team/layers`, `Digest: ${digest}`, `Status: Image is up to date for ${ref}`]);
      expect(again.bytes.size).toBe(0);
    } finally {
      await driver.close();
      await registry.stop();
    }
  });

  test('a build reports its steps, in order', async () => {
    const driver = dockerDriver(env());
    const context = path.join(work, 'progress-build');
    fs.mkdirSync(context, { recursive: true });
    fs.writeFileSync(path.join(context, 'Dockerfile'), 'FROM busybox:driver\nARG WHO\nRUN echo "Step 9/9 : not a step" && echo hi > /hi\nENV WHO=$WHO\n');
    const seen = recordProgress();
    try {
      await driver.ensureImage(
        { type: 'image', path: 'app', name: 'docker.io/library/cdkdrv-steps:latest', dependsOn: [], spec: { source: 'build', context, contextHash: `sha256:${'d'.repeat(64)}`, dockerfile: 'Dockerfile', buildArgs: { WHO: 'me' }, noCache: true } },
        labels,
        { progress: seen.progress },
      );
      // Docker's classic builder adds the labels as a last step of its own.
      expect(seen.lines).toEqual([
        'Step 1/5 : FROM busybox:driver',
        'Step 2/5 : ARG WHO',
        'Step 3/5 : RUN echo "Step 9/9 : not a step" && echo hi > /hi',
        'Step 4/5 : ENV WHO=$WHO',
        `Step 5/5 : LABEL io.cdk-docker.spec-hash=${labels['io.cdk-docker.spec-hash']}`,
      ]);
    } finally {
      await driver.close();
    }
  });
});

describe('docker driver: builds', () => {
  test('a build stops at its target; one that fails at a RUN step shows the step\'s output and leaves no container behind', async () => {
    const driver = dockerDriver(env());
    const context = path.join(work, 'build-target');
    fs.mkdirSync(context, { recursive: true });
    fs.writeFileSync(path.join(context, 'Dockerfile'), 'FROM busybox:driver AS first\nARG WHO=nobody\nENV STAGE=first WHO=$WHO\nFROM first AS second\nENV STAGE=second\n');
    const build = (dockerfile: string, target?: string): ImageResource => ({
      type: 'image',
      path: 'app',
      name: 'docker.io/library/cdkdrv-target:latest',
      dependsOn: [],
      spec: { source: 'build', context, contextHash: `sha256:${'c'.repeat(64)}`, dockerfile, buildArgs: { WHO: 'me' }, noCache: false, ...(target ? { target } : {}) },
    });
    try {
      expect((await driver.ensureImage(build('Dockerfile', 'first'), labels)).config.env).toMatchObject({ STAGE: 'first', WHO: 'me' });
      expect((await driver.ensureImage(build('Dockerfile'), labels)).config.env).toMatchObject({ STAGE: 'second', WHO: 'me' });
      // A Dockerfile outside the context travels with it.
      fs.writeFileSync(path.join(work, 'Fails.Dockerfile'), 'FROM busybox:driver\nENV A=1\nRUN echo about to fail && false\n');
      const before = dockerd.docker(['ps', '-aq']);
      const e = await driver.ensureImage(build('../Fails.Dockerfile'), labels).catch((x: CdkDockerError) => x);
      expect((e as Error).message).toContain(`build docker.io/library/cdkdrv-target:latest (app) from ${context}: The command '/bin/sh -c echo about to fail && false' returned a non-zero code: 1`);
      expect((e as Error).message).toContain('  | about to fail');
      expect(dockerd.docker(['ps', '-aq'])).toBe(before);
    } finally {
      await driver.close();
    }
  });
});

describe('docker driver: the Engine API bodies', () => {
  test('a container spec becomes one create body: ports incl. UDP and random ones, mounts, networks, limits, healthcheck', () => {
    const body = createBody({
      name: 'web',
      imageId: 'sha256:abc',
      env: { A: '1', SECRET: 'x' },
      labels,
      spec: spec({
        command: ['serve'],
        entrypoint: [],
        user: '1000:1000',
        workingDir: '/srv',
        ports: [
          { containerPort: 53, protocol: 'udp', hostIp: '0.0.0.0', hostPort: 5353 },
          { containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 0 },
          { containerPort: 8000, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 9000 },
          { containerPort: 8001, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 9001 },
        ],
        mounts: [
          { type: 'volume', source: 'data', target: '/data', readOnly: false },
          { type: 'bind', source: '/etc/app', target: '/config', readOnly: true },
          { type: 'tmpfs', target: '/tmp', sizeBytes: 1048576, mode: 0o700 },
          { type: 'tmpfs', target: '/run' },
        ],
        volumesFrom: [{ container: 'db', readOnly: true }],
        networks: [
          { network: 'front', aliases: ['www'], ipv4Address: '10.9.0.5' },
          { network: 'back', aliases: [] },
        ],
        restart: { policy: 'on-failure', maxRetries: 3 },
        healthcheck: { test: ['CMD', 'true'], intervalMs: 500, timeoutMs: 2000, retries: 2, startPeriodMs: 100 },
        labels: { app: 'web' },
        stopSignal: 'SIGQUIT',
        stopTimeoutSeconds: 3,
        init: true,
        readOnlyRootfs: true,
        capAdd: ['NET_ADMIN'],
        capDrop: ['MKNOD'],
        memoryBytes: 64 * 1024 * 1024,
        nanoCpus: 500_000_000,
        pidsLimit: 50,
      }),
    });
    expect(body).toEqual({
      Image: 'sha256:abc',
      Cmd: ['serve'],
      Entrypoint: [],
      Env: ['A=1', 'SECRET=x'],
      WorkingDir: '/srv',
      User: '1000:1000',
      Labels: { app: 'web', ...labels },
      StopSignal: 'SIGQUIT',
      StopTimeout: 3,
      Healthcheck: { Test: ['CMD', 'true'], Interval: 500e6, Timeout: 2000e6, StartPeriod: 100e6, Retries: 2 },
      ExposedPorts: { '53/udp': {}, '80/tcp': {}, '8000/tcp': {}, '8001/tcp': {} },
      HostConfig: {
        NetworkMode: 'front',
        PortBindings: {
          '53/udp': [{ HostIp: '', HostPort: '5353' }],
          '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
          '8000/tcp': [{ HostIp: '', HostPort: '9000' }],
          '8001/tcp': [{ HostIp: '', HostPort: '9001' }],
        },
        PublishAllPorts: false,
        Mounts: [
          { Type: 'volume', Source: 'data', Target: '/data', ReadOnly: false },
          { Type: 'bind', Source: '/etc/app', Target: '/config', ReadOnly: true },
        ],
        Tmpfs: { '/tmp': 'size=1048576,mode=700', '/run': '' },
        VolumesFrom: ['db:ro'],
        RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
        Init: true,
        ReadonlyRootfs: true,
        CapAdd: ['NET_ADMIN'],
        CapDrop: ['MKNOD'],
        Privileged: false,
        Memory: 64 * 1024 * 1024,
        NanoCpus: 500_000_000,
        PidsLimit: 50,
      },
      NetworkingConfig: { EndpointsConfig: { front: { Aliases: ['www'], IPAMConfig: { IPv4Address: '10.9.0.5' } } } },
    });
    // What the plan leaves out is left out (the image's and the engine's defaults apply).
    const plain = createBody({ name: 'p', imageId: 'sha256:abc', env: {}, labels, spec: spec({ networkMode: 'host', healthcheck: { test: ['NONE'], intervalMs: 0, timeoutMs: 0, retries: 0, startPeriodMs: 0 } }) });
    expect(plain).toEqual({
      Image: 'sha256:abc',
      Env: [],
      Labels: labels,
      Healthcheck: { Test: ['NONE'] },
      HostConfig: { NetworkMode: 'host', PublishAllPorts: false, Mounts: [], RestartPolicy: { Name: 'no', MaximumRetryCount: 0 }, Init: false, ReadonlyRootfs: false, Privileged: false },
    });
  });

  test('a terminal, open stdin, a log driver and a runtime become Tty, OpenStdin, LogConfig and Runtime; the platform goes in the query; none of them when unset', () => {
    const request = { name: 'web', imageId: 'sha256:abc', env: {}, labels };
    const set = spec({ tty: true, stdinOpen: true, logging: { driver: 'local', options: { 'max-size': '10m' } }, platform: 'linux/arm64/v8', runtime: 'runsc' });
    const body = createBody({ ...request, spec: set });
    expect([body.Tty, body.OpenStdin, body.HostConfig.LogConfig, body.HostConfig.Runtime]).toEqual([true, true, { Type: 'local', Config: { 'max-size': '10m' } }, 'runsc']);
    expect(createQuery({ ...request, spec: set })).toEqual({ name: 'web', platform: 'linux/arm64/v8' });
    const bare = createBody({ ...request, spec: spec() });
    for (const k of ['Tty', 'OpenStdin']) expect(bare).not.toHaveProperty(k);
    for (const k of ['LogConfig', 'Runtime']) expect(bare.HostConfig).not.toHaveProperty(k);
    expect(createQuery({ ...request, spec: spec() })).toEqual({ name: 'web' });
  });

  test('what compose files set becomes HostConfig and ExposedPorts; another container\'s network is container:<name>; files are a tar of their own', async () => {
    const body = createBody({
      name: 'web',
      imageId: 'sha256:abc',
      env: {},
      labels,
      networkContainer: 'vpn',
      spec: spec({
        networkMode: { container: 'vpn' },
        expose: ['9000/udp'],
        extraHosts: { db: '10.0.0.5', gw: 'host-gateway' },
        dns: ['1.1.1.1'],
        dnsSearch: ['a.test'],
        dnsOptions: ['ndots:2'],
        sysctls: { 'net.core.somaxconn': '1024' },
        ulimits: { nofile: { soft: 1024, hard: 2048 }, core: { soft: -1, hard: -1 } },
        shmSizeBytes: 134217728,
        devices: [{ hostPath: '/dev/fuse', containerPath: '/dev/fuse', permissions: 'rw' }],
        pid: 'host',
        ipc: 'shareable',
      }),
    });
    expect(body.ExposedPorts).toEqual({ '9000/udp': {} });
    expect(body.HostConfig).toMatchObject({
      NetworkMode: 'container:vpn',
      ExtraHosts: ['db:10.0.0.5', 'gw:host-gateway'],
      Dns: ['1.1.1.1'],
      DnsSearch: ['a.test'],
      DnsOptions: ['ndots:2'],
      Sysctls: { 'net.core.somaxconn': '1024' },
      Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }, { Name: 'core', Soft: -1, Hard: -1 }],
      ShmSize: 134217728,
      Devices: [{ PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rw' }],
      PidMode: 'host',
      IpcMode: 'shareable',
    });
    expect(body.NetworkingConfig).toBeUndefined();
    // Without the name apply resolves, the request is refused rather than sent half-made.
    expect(() => createBody({ name: 'web', imageId: 'sha256:abc', env: {}, labels, spec: spec({ networkMode: { container: 'vpn' } }) })).toThrow(CdkDockerError);
    // The files: one regular file each, with its mode and owner, under its path without the leading /.
    const tar = await filesArchive([{ target: '/run/secrets/pw', content: Buffer.from('s3cret'), mode: 0o440, uid: 0, gid: 65534, secret: true }]);
    const extract = (require('tar-stream') as typeof import('tar-stream')).extract();
    const entries: string[] = [];
    await new Promise<void>((resolve, reject) => {
      extract.on('entry', (h, stream, next) => {
        let data = '';
        stream.on('data', (c: unknown) => (data += (c as Buffer).toString()));
        stream.on('end', () => {
          entries.push(`${h.type} ${h.name} ${h.mode?.toString(8)} ${h.uid}:${h.gid} ${data}`);
          next();
        });
      });
      extract.on('finish', resolve);
      extract.on('error', reject);
      extract.end(tar);
    });
    expect(entries).toEqual(['file run/secrets/pw 440 0:65534 s3cret']);
  });

  test('an update sets limits with swap to match and lifts them with values no container reaches, read back as none', () => {
    expect(updateBody({}, 2)).toBeUndefined();
    expect(updateBody({ restart: { policy: 'always', maxRetries: 0 }, memoryBytes: 100, nanoCpus: 1e9, pidsLimit: 7 }, 2)).toEqual({
      RestartPolicy: { Name: 'always', MaximumRetryCount: 0 },
      Memory: 100,
      MemorySwap: 200,
      NanoCpus: 1e9,
      PidsLimit: 7,
    });
    const lifted = updateBody({ memoryBytes: null, nanoCpus: null, pidsLimit: null }, 2)!;
    expect(lifted).toEqual({ Memory: UNLIMITED_MEMORY, MemorySwap: UNLIMITED_MEMORY, NanoCpus: 1_999_999_999, PidsLimit: 0 });
    const inspect = {
      Id: 'f'.repeat(64),
      Name: '/web',
      Image: 'sha256:abc',
      State: { Status: 'running', ExitCode: 0 },
      Config: {},
      HostConfig: { Memory: lifted.Memory, NanoCpus: lifted.NanoCpus, Mounts: [{ Type: 'volume', Source: 'b', Target: '/b' }, { Type: 'bind', Source: '/a', Target: '/a' }] },
      Mounts: [
        { Type: 'bind', Source: '/a', Destination: '/a', RW: true },
        { Type: 'volume', Name: 'b', Destination: '/b', RW: true },
      ],
      NetworkSettings: { Networks: { front: { Aliases: ['www', 'ffffffffffff'] } } },
    } as unknown as DockerContainerInspect;
    const n = normalizedInspect(inspect);
    expect(n.HostConfig).toMatchObject({ Memory: 0, NanoCpus: 0 });
    // Mounts in the order the container asked for them (Docker lists them from a map); its short id is no alias.
    expect(n.Mounts!.map((m) => m.Destination)).toEqual(['/b', '/a']);
    expect(n.NetworkSettings!.Networks!.front.Aliases).toEqual(['www']);
  });
});

describe('docker driver: the stack lock on the engine', () => {
  let d: TestDockerd;
  let driver: DockerDriver;

  beforeAll(() => {
    d = dockerd;
    driver = dockerDriver({ DOCKER_HOST: d.host }, {}, { lockLeaseSeconds: 3 });
  });

  afterAll(async () => {
    await driver?.close();
  });

  const rejection = (p: Promise<unknown>) => p.then(() => Promise.reject(new Error('expected a rejection')), (e: CdkDockerError) => e);

  test('a second holder is refused naming the first; a holder on another machine keeps its lease by renewing it, and a lapsed lease is taken over', async () => {
    let release!: () => void;
    const holding = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const first = driver.lockStack('shop', async () => {
      entered();
      await holding;
    });
    await inside;
    const refused = await rejection(driver.lockStack('shop', async () => 'second'));
    expect(refused.code).toBe('CONFLICT');
    expect(refused.message).toContain(`stack shop is being applied by cdk-docker (pid ${process.pid}) on `);
    expect(refused.message).toContain('cdk-docker-lock-shop');
    // From another machine only the lease tells: past a lease, the holder has renewed it, so still refused.
    const elsewhere = dockerDriver({ DOCKER_HOST: d.host }, {}, { lockLeaseSeconds: 3, machine: 'another-machine' });
    await new Promise((r) => setTimeout(r, 4_500));
    const late = await rejection(elsewhere.lockStack('shop', async () => 'late'));
    expect(late.message).toContain(`stack shop is being applied by cdk-docker (pid ${process.pid}) on `);
    await elsewhere.close();
    release();
    await first;
    expect(d.docker(['ps', '-aq', '--filter', 'name=cdk-docker-lock-shop'])).toBe('');

    // Another machine's lock (another boot id) whose lease lapsed: taken over. One that is fresh: refused.
    const foreign = (lease: number) =>
      d.docker([
        'create', '--name', 'cdk-docker-lock-shop', '--network', 'none', '--restart', `on-failure:${lease}`,
        '--label', 'io.cdk-docker.lock=shop', '--label', 'io.cdk-docker.lock.holder=cdk-docker (pid 4242) on build-7',
        '--label', 'io.cdk-docker.lock.boot=another-machine', '--label', 'io.cdk-docker.lock.process=4242 99',
        'cdk-docker-lock:1',
      ]);
    const engineNow = () => Math.floor(Date.parse(JSON.parse(d.docker(['info', '--format', '{{json .SystemTime}}'])) as string) / 1000);
    foreign(engineNow());
    const busy = await rejection(driver.lockStack('shop', async () => 'never'));
    expect(busy.message).toContain('stack shop is being applied by cdk-docker (pid 4242) on build-7');
    d.docker(['rm', '-f', 'cdk-docker-lock-shop']);
    foreign(engineNow() - 60);
    expect(await driver.lockStack('shop', async () => 'taken over')).toBe('taken over');
  });

  test('the lock of a killed apply on this machine is taken over at once', async () => {
    // A real holder in another process, killed while it holds the lock.
    const script = `
      const { dockerDriver } = require(${JSON.stringify(path.join(ROOT, 'lib', 'drivers', 'docker', 'driver'))});
      setInterval(() => undefined, 1000);
      dockerDriver({ DOCKER_HOST: ${JSON.stringify(d.host)} }).lockStack('crashy', () => { process.stdout.write('holding\\n'); return new Promise(() => undefined); });
    `;
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    await until('the other process to hold the lock', async () => out.includes('holding'), 30_000);
    // A contender with the default 30 s lease: only the process check can free the lock this soon.
    const contender = dockerDriver({ DOCKER_HOST: d.host });
    const held = await rejection(contender.lockStack('crashy', async () => 'no'));
    expect(held.code).toBe('CONFLICT');
    expect(held.message).toContain(`by cdk-docker (pid ${child.pid}) on `);
    expect(processIdentity(child.pid!)).toBeDefined();
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    expect(await contender.lockStack('crashy', async () => 'recovered')).toBe('recovered');
    await contender.close();
  });
});

describe('docker driver: choosing it', () => {
  test('driverFor makes the Docker driver for the endpoint the environment names, without asking the engine', () => {
    const driver = driverFor('docker', { DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
    expect(driver).toBeInstanceOf(DockerDriver);
    expect(driver.name).toBe('docker');
    expect((driver as DockerDriver).host).toBe('unix:///nonexistent/docker.sock');
    expect(driver.capabilities).toMatchObject({ relabel: false, ownsReplicas: false, defaults: { network: 'bridge', stopTimeoutSeconds: 10, stopSignal: 'SIGTERM' } });
  });

  test('an unreachable engine is one line naming the endpoint', async () => {
    const e = await driverFor('docker', { DOCKER_HOST: 'unix:///nonexistent/docker.sock' }).listStacks().catch((x: CdkDockerError) => x);
    expect(e).toBeInstanceOf(CdkDockerError);
    expect((e as Error).message).toContain('unix:///nonexistent/docker.sock');
    expect((e as Error).message.split('\n')).toHaveLength(1);
  });
});
