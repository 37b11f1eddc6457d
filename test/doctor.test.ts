import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkHost, fixCommands, HostCheck } from '../runtime/host';
import { MAX_API_VERSION } from '../lib/drivers/docker/client';
import { cdkDocker, tempDir } from './helpers/cli';
import { startDockerd, TestDockerd } from './helpers/dockerd';

describe('cdk-docker doctor', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('on a host set up by .ci/setup every component is found, with its version and path', () => {
    const r = cdkDocker(['doctor'], dir, { CDK_DOCKER_ROOT: path.join(dir, 'root') });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const name of ['runc', 'conmon', 'netavark', 'aardvark-dns', 'ip', 'iptables', 'tar', 'setfattr', 'mknod', 'init', 'zstd', 'overlayfs', 'cgroups']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${name} +ok +\\S`, 'm'));
    }
    expect(r.stdout).toMatch(/^ {2}runc +ok +\d+\.\d+\.\d+\S* +\/\S+\/runc$/m);
    expect(r.stdout).toContain('Everything the built-in runtime needs is in place.');
  });

  test('a missing component is named with the package that provides it, and the exit code is 1', () => {
    // netavark and aardvark-dns live off PATH in podman's helper directory; point that elsewhere.
    const empty = path.join(dir, 'helpers');
    fs.mkdirSync(empty);
    const r = cdkDocker(['doctor'], dir, { CDK_DOCKER_HELPER_DIRS: empty, CDK_DOCKER_ROOT: path.join(dir, 'root') });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`  netavark      MISSING   netavark not found on PATH or in ${empty} (needed for: bridge networks, NAT, published ports)`);
    expect(r.stdout).toContain('2 required components are missing: netavark, aardvark-dns.');
    expect(r.stdout).toContain('  apt-get update && apt-get install -y aardvark-dns netavark\nor run `cdk-docker doctor --fix`.');
  });

  test('--json gives every check as data', () => {
    const r = cdkDocker(['doctor', '--json'], dir, { CDK_DOCKER_ROOT: path.join(dir, 'root') });
    expect(r.code).toBe(0);
    const checks = JSON.parse(r.stdout) as HostCheck[];
    expect(checks.map((c) => c.name)).toEqual(['root', 'overlayfs', 'cgroups', 'runc', 'conmon', 'netavark', 'aardvark-dns', 'ip', 'iptables', 'tar', 'setfattr', 'mknod', 'init', 'zstd', 'state root']);
    expect(checks.every((c) => c.status === 'ok')).toBe(true);
  });

  test('--fix with nothing to fix changes nothing', () => {
    const r = cdkDocker(['doctor', '--fix'], dir, { CDK_DOCKER_ROOT: path.join(dir, 'root') });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });

  test('kernel, cgroup and user problems say what to run', async () => {
    const filesystems = path.join(dir, 'filesystems');
    fs.writeFileSync(filesystems, 'nodev\tsysfs\nnodev\ttmpfs\n\text4\n');
    const cgroups = path.join(dir, 'cgroup');
    fs.mkdirSync(cgroups);
    const checks = await checkHost({ procFilesystems: filesystems, cgroupRoot: cgroups, uid: 1000, stateRoot: path.join(dir, 'state') });
    const byName = Object.fromEntries(checks.map((c) => [c.name, c]));
    expect(byName.overlayfs).toMatchObject({ status: 'missing', fix: 'modprobe overlay' });
    expect(byName.cgroups).toMatchObject({ status: 'missing', detail: `no cgroup hierarchy is mounted at ${cgroups}` });
    expect(byName.root).toMatchObject({ status: 'missing', detail: 'running as uid 1000' });
    expect(byName['state root']).toMatchObject({ status: 'ok', detail: path.join(dir, 'state') });
    expect(fixCommands(checks)).toEqual({ packages: [], other: ['run cdk-docker as root (sudo cdk-docker …)', 'modprobe overlay', `mount -t cgroup2 none ${cgroups}`] });
  });

  test('optional components are warnings and their packages are still offered', () => {
    const checks: HostCheck[] = [
      { name: 'zstd', role: 'zstd layers', status: 'warning', required: false, detail: 'zstd not found', packages: ['zstd'], fix: 'apt-get install -y zstd' },
      { name: 'runc', role: 'OCI runtime', status: 'missing', required: true, detail: 'runc not found', packages: ['runc'], fix: 'apt-get install -y runc' },
      { name: 'conmon', role: 'monitor', status: 'ok', required: true, detail: '2.1.6' },
    ];
    expect(fixCommands(checks)).toEqual({ packages: ['runc', 'zstd'], other: [] });
  });
});

describe('cdk-docker doctor --engine docker', () => {
  let dir: string;
  let dockerd: TestDockerd | undefined;
  beforeAll(async () => {
    dockerd = await startDockerd({ label: 'doctor' });
  }, 60_000);
  afterAll(async () => {
    await dockerd?.stop();
  });
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const dockerEnv = () => ({ DOCKER_HOST: dockerd!.host, DOCKER_CONTEXT: '', DOCKER_CONFIG: path.join(dir, 'docker-config'), DOCKER_TLS_VERIFY: '' });

  test('a private dockerd: reachable at its endpoint, its API and server versions, storage driver and swarm state', () => {
    const info = JSON.parse(dockerd!.docker(['info', '--format', '{{json .}}'])) as { Driver: string; ServerVersion: string };
    const api = dockerd!.docker(['version', '--format', '{{.Server.APIVersion}}']).trim();
    const r = cdkDocker(['doctor', '--engine', 'docker'], dir, dockerEnv());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        `Docker Engine at ${dockerd!.host}:`,
        '',
        `  endpoint        ok        ${dockerd!.host} (from DOCKER_HOST) answers`,
        `  API version     ok        ${api} (the engine's ${api}; cdk-docker speaks 1.41 to ${MAX_API_VERSION})`,
        `  server version  ok        Docker ${info.ServerVersion} (linux/${dockerd!.docker(['version', '--format', '{{.Server.Arch}}']).trim()})`,
        `  storage driver  ${info.Driver === 'vfs' ? 'warning' : 'ok     '}   ${info.Driver === 'vfs' ? 'vfs (copies every layer: slow builds and starts, much disk)' : info.Driver}`,
        '  swarm           ok        inactive (stacks run as containers)',
        '',
        `The Docker Engine is ready for cdk-docker${info.Driver === 'vfs' ? ', with warnings' : ''}.`,
        ...(info.Driver === 'vfs' ? ['To fix:', '  storage driver: run dockerd with --storage-driver overlay2 (or "storage-driver" in /etc/docker/daemon.json)'] : []),
        '',
      ].join('\n'),
    );
  });

  test('the engine comes from CDK_DOCKER_ENGINE or cdk-docker.json, its endpoint from the engine object; --json gives the checks', () => {
    const viaEnv = cdkDocker(['doctor', '--json'], dir, { ...dockerEnv(), CDK_DOCKER_ENGINE: 'docker' });
    expect(viaEnv.code).toBe(0);
    const result = JSON.parse(viaEnv.stdout) as { endpoint: string; ok: boolean; checks: Array<{ name: string; status: string }> };
    expect(result).toMatchObject({ endpoint: dockerd!.host, ok: true });
    expect(result.checks.map((c) => c.name)).toEqual(['endpoint', 'API version', 'server version', 'storage driver', 'swarm']);
    // The engine object's host wins over DOCKER_HOST, as a --host flag over the environment.
    fs.writeFileSync(path.join(dir, 'cdk-docker.json'), JSON.stringify({ engine: { docker: { host: dockerd!.host } } }));
    const viaConfig = cdkDocker(['doctor'], dir, { ...dockerEnv(), DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
    expect(viaConfig.code).toBe(0);
    expect(viaConfig.stdout).toContain(`  endpoint        ok        ${dockerd!.host} (from cdk-docker.json) answers\n`);
    // --engine builtin checks the host components instead.
    expect(cdkDocker(['doctor', '--engine', 'builtin'], dir, { CDK_DOCKER_ROOT: path.join(dir, 'root') }).stdout).toContain('Host components of the built-in runtime:');
  });

  test('an engine that cannot be reached is one line naming the endpoint and the fix, exit 1', () => {
    const sock = path.join(dir, 'gone', 'docker.sock');
    const r = cdkDocker(['doctor', '--engine', 'docker'], dir, { ...dockerEnv(), DOCKER_HOST: `unix://${sock}` });
    expect(r).toEqual({ code: 1, stdout: '', stderr: `Error: cannot reach the Docker Engine at unix://${sock}: no such socket; start dockerd (or point DOCKER_HOST at a running engine)\n` });
    const refused = cdkDocker(['doctor', '--engine', 'docker'], dir, { ...dockerEnv(), DOCKER_HOST: 'tcp://127.0.0.1:1' });
    expect(refused).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Error: cannot reach the Docker Engine at tcp://127.0.0.1:1: connection refused (is dockerd running and listening there?); start it, or point DOCKER_HOST at a running engine\n',
    });
  });

  test('--fix is for the built-in runtime only', () => {
    expect(cdkDocker(['doctor', '--engine', 'docker', '--fix'], dir, dockerEnv())).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Error: --fix installs what the built-in runtime needs; for --engine docker, do what the report says (without --fix)\n',
    });
  });
});
