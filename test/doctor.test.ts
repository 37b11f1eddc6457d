import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkHost, fixCommands, HostCheck } from '../runtime/host';
import { cdkDocker, tempDir } from './helpers/cli';

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
