import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BuiltinDriver, driverFor } from '../../lib/drivers';
import { CdkDockerError } from '../../lib/core/errors';
import { runtimeConfig } from '../../runtime/config';
import { ContainerService } from '../../runtime/containers';
import { NetworkStore } from '../../runtime/networks';
import { VolumeStore } from '../../runtime/volumes';
import { imageService } from '../../runtime';
import { tempDir, until } from '../helpers/cli';
import { busyboxRootfsTar } from '../helpers/images';
import { privateNetworkConfig } from '../helpers/network';
import { requireCommand } from '../helpers/prereq';
import { driverConformance } from './conformance';

jest.setTimeout(60_000);

/**
 * The built-in driver on real runc + conmon + netavark containers, with a private state root
 * (and subnets of its own: octet 150), from a busybox image imported offline.
 */
// CDK_DOCKER_TEST_OCTET moves them, for engineers who share a host (each has octets of their own).
const OCTET = Number(process.env.CDK_DOCKER_TEST_OCTET ?? 150);
let work: string;

function env(): NodeJS.ProcessEnv {
  return { CDK_DOCKER_ROOT: path.join(work, 'root'), CDK_DOCKER_RUNROOT: path.join(work, 'run') };
}

async function prepare(): Promise<void> {
  for (const [cmd, pkg] of [['runc', 'runc'], ['conmon', 'conmon'], ['iptables-save', 'iptables'], ['ip', 'iproute2'], ['unshare', 'util-linux']]) requireCommand(cmd, pkg);
  requireCommand('netavark', 'netavark', ['/usr/lib/podman', '/usr/libexec/podman']);
  requireCommand('aardvark-dns', 'aardvark-dns', ['/usr/lib/podman', '/usr/libexec/podman']);
  work = tempDir('cdk-docker-driver-');
  privateNetworkConfig(path.join(work, 'root'), OCTET);
  const rootfs = busyboxRootfsTar(work, ['sh', 'cat', 'echo', 'sleep', 'true', 'false', 'test', 'id', 'pwd', 'stat', 'tr', 'sort']);
  await imageService(runtimeConfig(env())).import(fs.createReadStream(rootfs), 'busybox:driver', { changes: ['ENV PATH=/bin', 'CMD ["sh"]'] });
}

/** Everything under the private root goes; nothing may stay mounted under the temp dir. */
async function cleanup(): Promise<void> {
  if (!work) return;
  const config = runtimeConfig(env());
  const svc = new ContainerService(config);
  const networks = new NetworkStore(config.root, undefined, config.network);
  const volumes = new VolumeStore(config.root);
  for (const r of svc.records()) await svc.remove(r.Id, { force: true, volumes: true }).catch(() => undefined);
  for (const n of await networks.records()) if (n.Name !== 'bridge') await networks.remove(n.Id, { force: true }).catch(() => undefined);
  for (const v of volumes.list()) await volumes.remove(v.Name, { force: true }).catch(() => undefined);
  // conmon, its exit command and the health loops outlive `rm -f` by a moment.
  await until('the monitors of this suite to exit', () => processesUsing(work).length === 0, 15_000, () => processesUsing(work).join('\n')).catch(() => undefined);
  const left = [...mountsUnder(work), ...processesUsing(work).map((p) => `process ${p}`), ...networkFootprint(config.root)];
  fs.rmSync(work, { recursive: true, force: true });
  if (left.length) throw new Error(`the built-in driver left behind:\n${left.join('\n')}`);
}

/** Links, iptables lines and namespaces of this root's networks (octet 150 and 151). */
function networkFootprint(root: string): string[] {
  const bridge = `cdk0-${createHash('sha256').update(root).digest('hex').slice(0, 8)}`;
  const links = (JSON.parse(execFileSync('ip', ['-j', 'link'], { encoding: 'utf8' })) as Array<{ ifname: string; master?: string }>)
    .filter((l) => l.ifname === bridge || l.master === bridge)
    .map((l) => `link ${l.ifname}`);
  const rules = execFileSync('iptables-save', { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(`10.${OCTET}.`) || l.includes(`10.${OCTET + 1}.`))
    .map((l) => `iptables ${l}`);
  const netnsDir = path.join(work, 'run', 'netns');
  const netns = fs.existsSync(netnsDir) ? fs.readdirSync(netnsDir).map((n) => `netns ${n}`) : [];
  return [...links, ...rules, ...netns];
}

function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m && m.startsWith(dir))
    .map((m) => `mount ${m}`);
}

function processesUsing(dir: string): string[] {
  const out: string[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const environ = fs.readFileSync(`/proc/${p}/environ`, 'utf8');
      if (cmd.includes(dir) || environ.includes(dir)) out.push(`${p} ${cmd.slice(0, 200)}`);
    } catch {
      // gone
    }
  }
  return out;
}

driverConformance('built-in', async () => {
  await prepare();
  return { driver: driverFor('builtin', env()), baseImageRef: 'busybox:driver', cleanup };
});

describe('built-in driver', () => {
  test('driverFor makes the driver of a known engine and refuses another, naming the known ones', () => {
    const root = tempDir('cdk-docker-driver-for-');
    expect(driverFor('builtin', { CDK_DOCKER_ROOT: root }).capabilities.defaults.network).toBe('bridge');
    fs.rmSync(root, { recursive: true, force: true });
    expect(driverFor('swarm', { DOCKER_HOST: 'unix:///nonexistent/docker.sock' }).capabilities.ownsReplicas).toBe(true);
    expect(() => driverFor('kubernetes')).toThrow(new CdkDockerError('unknown engine "kubernetes"; the engines are: builtin, docker, swarm'));
  });

  test('a build that fails at a RUN step leaves no container behind (an apply keeps nothing it did not declare)', async () => {
    const dir = tempDir('cdk-docker-driver-build-');
    const config = runtimeConfig({ CDK_DOCKER_ROOT: path.join(dir, 'root'), CDK_DOCKER_RUNROOT: path.join(dir, 'run') });
    privateNetworkConfig(config.root, 164);
    const svc = new ContainerService(config);
    try {
      await imageService(config).import(fs.createReadStream(busyboxRootfsTar(dir, ['sh', 'echo', 'false'])), 'busybox:fails', { changes: ['ENV PATH=/bin'] });
      const context = path.join(dir, 'ctx');
      fs.mkdirSync(context);
      fs.writeFileSync(path.join(context, 'Dockerfile'), 'FROM busybox:fails\nENV A=1\nRUN echo about to fail && false\n');
      const driver = new BuiltinDriver(config);
      const labels = { 'io.cdk-docker.stack': 's', 'io.cdk-docker.path': 'app', 'io.cdk-docker.spec-hash': 'sha256:1' };
      const spec = { source: 'build' as const, context, contextHash: `sha256:${'c'.repeat(64)}`, dockerfile: 'Dockerfile', buildArgs: {}, noCache: false };
      const e = await driver.ensureImage({ type: 'image', path: 'app', name: 'fails:latest', dependsOn: [], spec }, labels).catch((x: Error) => x);
      expect((e as Error).message).toContain('about to fail');
      // Every container record of the root, build steps included (ps hides those).
      const records = () => (fs.existsSync(path.join(config.root, 'containers')) ? fs.readdirSync(path.join(config.root, 'containers')) : []);
      expect(records()).toEqual([]);
    } finally {
      for (const c of await svc.list(true)) await svc.remove(c.id, { force: true }).catch(() => undefined);
      await new (await import('../../runtime/networks')).NetworkStore(config.root, undefined, config.network).remove('bridge', { force: true }).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  // These use state roots of their own, without containers.
  test('an archive saved by the runtime loads into another state root under the name the plan gives it', async () => {
    const dir = tempDir('cdk-docker-driver-archive-');
    try {
      const from = imageService(runtimeConfig({ CDK_DOCKER_ROOT: path.join(dir, 'a') }));
      const rootfs = busyboxRootfsTar(dir, ['sh', 'echo']);
      const saved = await from.import(fs.createReadStream(rootfs), 'busybox:saved', { changes: ['ENV PATH=/bin', 'CMD ["echo", "hi"]', 'LABEL kind=saved'] });
      const file = path.join(dir, 'saved.tar');
      await from.save(['busybox:saved'], fs.createWriteStream(file));
      const sha256 = `sha256:${createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;
      const driver = new BuiltinDriver(runtimeConfig({ CDK_DOCKER_ROOT: path.join(dir, 'b') }));
      const name = 'docker.io/library/shop-base:latest';
      const labels = { 'io.cdk-docker.stack': 's', 'io.cdk-docker.path': 'base', 'io.cdk-docker.spec-hash': 'sha256:1' };
      const image = await driver.ensureImage({ type: 'image', path: 'base', name, dependsOn: [], spec: { source: 'archive', path: file, sha256 } }, labels);
      expect(image).toEqual({ id: saved.id, config: { cmd: ['echo', 'hi'], entrypoint: [], env: { PATH: '/bin' }, workingDir: '', user: '', exposedPorts: [], labels: { kind: 'saved' } } });
      expect((await driver.image(name))?.id).toBe(saved.id);
      expect((await driver.image('busybox:saved'))?.id).toBe(saved.id);
      // The archive changed since the plan was made: refused.
      const e = await driver.ensureImage({ type: 'image', path: 'base', name, dependsOn: [], spec: { source: 'archive', path: file, sha256: `sha256:${'2'.repeat(64)}` } }, labels).catch((x: Error) => x);
      expect((e as CdkDockerError).code).toBe('CONFLICT');
      expect((e as Error).message).toContain('changed since the plan was made');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
