import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InvalidArgumentError } from '../../lib/core/errors';
import { CAPABILITIES } from '../../lib/core/linux';
import {
  DEFAULT_DEVICE_RULES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, HostFacts, OciSpec, buildSpec, capabilitiesFor,
  capabilitiesFromMask, hostDevices, hostFacts,
} from '../../runtime/containers/spec';
import { DOCKER_DEFAULT_SECCOMP_PROFILE, seccompFor } from '../../runtime/containers/seccomp';
import { ResolvedUser, SpecInput } from '../../runtime/containers/types';
import { DEFAULT_PATH_ENV, defaultEnv, resolveUser } from '../../runtime/containers/user';
import { requireCommand } from '../helpers/prereq';

jest.setTimeout(60_000);

const DOCKER_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];
/** CapEff of a process with exactly Docker's 14 capabilities. */
const DOCKER_CAP_MASK = '00000000a80425fb';
const ALL_CAPS = CAPABILITIES.map((c) => `CAP_${c}`);

/** Host facts of an imaginary x86-64 host, so the unit tests do not depend on this one. */
const FACTS: HostFacts = {
  capabilities: ALL_CAPS,
  cgroup2: false,
  swapLimit: true,
  thermalThrottlePaths: [],
  nofile: 1048576,
  netSysctls: { 'net.ipv4.ping_group_range': '0 2147483647', 'net.ipv4.ip_unprivileged_port_start': '0' },
  arch: 'x64',
  kernel: '6.1.0-18-amd64',
};

const ROOT_USER: ResolvedUser = { uid: 0, gid: 0, additionalGids: [0], home: '/root' };

function input(over: Partial<SpecInput> = {}): SpecInput {
  return {
    id: 'c0ffee',
    rootfs: '/var/lib/cdk-docker/overlay/c0ffee/merged',
    readonlyRootfs: false,
    args: ['sh', '-c', 'true'],
    env: [`PATH=${DEFAULT_PATH_ENV}`],
    cwd: '/',
    user: ROOT_USER,
    hostname: 'c0ffee',
    tty: false,
    capAdd: [],
    capDrop: [],
    privileged: false,
    noNewPrivileges: false,
    seccomp: true,
    memory: 0,
    nanoCpus: 0,
    pidsLimit: 0,
    cgroupsPath: '/cdk-docker/c0ffee',
    shmSize: 64 * 1024 * 1024,
    mounts: [],
    ...over,
  };
}

function spec(over: Partial<SpecInput> = {}, facts: HostFacts = FACTS): OciSpec {
  return buildSpec(input(over), facts);
}

function allowed(s: OciSpec): Set<string> {
  const names = new Set<string>();
  for (const rule of s.linux.seccomp?.syscalls ?? []) {
    if (rule.action === 'SCMP_ACT_ALLOW' && !rule.args) rule.names.forEach((n) => names.add(n));
  }
  return names;
}

describe('buildSpec: defaults', () => {
  test('a default container gets Docker\'s process settings', () => {
    const s = spec();
    expect(s.ociVersion).toBe('1.0.2');
    expect(s.process.args).toEqual(['sh', '-c', 'true']);
    expect(s.process.cwd).toBe('/');
    expect(s.process.terminal).toBe(false);
    expect(s.process.user).toEqual({ uid: 0, gid: 0, additionalGids: [0] });
    expect(s.process.capabilities).toEqual({ bounding: DOCKER_CAPS, effective: DOCKER_CAPS, permitted: DOCKER_CAPS, inheritable: [], ambient: [] });
    expect(s.process.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', hard: 1048576, soft: 1048576 }]);
    expect(s.process.noNewPrivileges).toBe(false);
    expect(s.process.oomScoreAdj).toBe(0);
    expect(s.process).not.toHaveProperty('apparmorProfile');
    expect(s.root).toEqual({ path: '/var/lib/cdk-docker/overlay/c0ffee/merged', readonly: false });
    expect(s.hostname).toBe('c0ffee');
    expect(s.linux.cgroupsPath).toBe('/cdk-docker/c0ffee');
  });

  test('an empty working directory becomes /', () => {
    expect(spec({ cwd: '' }).process.cwd).toBe('/');
    expect(spec({ cwd: '/srv' }).process.cwd).toBe('/srv');
  });

  test('a container without a command is refused like Docker', () => {
    expect(() => spec({ args: [] })).toThrow(new InvalidArgumentError('No command specified'));
  });

  test('the default mounts are Docker\'s, with /dev/shm sized by shmSize', () => {
    expect(spec({ shmSize: 128 * 1024 * 1024 }).mounts).toEqual([
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=134217728'] },
    ]);
    expect(spec({ shmSize: 0 }).mounts.find((m) => m.destination === '/dev/shm')?.options).toContain('size=67108864');
  });

  test('masked and read-only paths are Docker\'s, with the host\'s thermal_throttle files', () => {
    const s = spec({}, { ...FACTS, thermalThrottlePaths: ['/sys/devices/system/cpu/cpu0/thermal_throttle'] });
    expect(s.linux.maskedPaths).toEqual([
      '/proc/acpi', '/proc/asound', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/sched_debug',
      '/proc/scsi', '/proc/timer_list', '/proc/timer_stats', '/sys/devices/virtual/powercap', '/sys/firmware',
      '/sys/devices/system/cpu/cpu0/thermal_throttle',
    ]);
    expect(s.linux.readonlyPaths).toEqual(['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
  });

  test('the device rules deny all but the standard devices, and create none', () => {
    const s = spec();
    expect(s.linux.devices).toEqual([]);
    const rules = s.linux.resources.devices;
    expect(rules[0]).toEqual({ allow: false, access: 'rwm' });
    const allowedDevs = rules.filter((r) => r.allow && r.access === 'rwm').map((r) => `${r.type} ${r.major ?? '*'}:${r.minor ?? '*'}`);
    // null, zero, full, random, urandom, tty, console, ptmx, /dev/pts/*, tun
    expect(allowedDevs.sort()).toEqual(['c 1:3', 'c 1:5', 'c 1:7', 'c 1:8', 'c 1:9', 'c 10:200', 'c 136:*', 'c 5:0', 'c 5:1', 'c 5:2'].sort());
    expect(rules).toContainEqual({ allow: true, type: 'c', access: 'm' });
    expect(rules).toContainEqual({ allow: true, type: 'b', access: 'm' });
    expect(rules).toContainEqual({ allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' });
  });

  test('the exported defaults are what the spec carries', () => {
    expect(spec().linux.resources.devices).toEqual(DEFAULT_DEVICE_RULES);
    expect(spec().linux.readonlyPaths).toEqual(DEFAULT_READONLY_PATHS);
    expect(spec().linux.maskedPaths).toEqual(DEFAULT_MASKED_PATHS);
  });

  test('namespaces: a new network namespace, the host\'s, or a given one', () => {
    expect(spec().linux.namespaces).toEqual([{ type: 'mount' }, { type: 'network' }, { type: 'uts' }, { type: 'pid' }, { type: 'ipc' }]);
    expect(spec({ netns: 'host' }).linux.namespaces.map((n) => n.type)).toEqual(['mount', 'uts', 'pid', 'ipc']);
    expect(spec({ netns: '/run/netns/cdk-1' }).linux.namespaces[1]).toEqual({ type: 'network', path: '/run/netns/cdk-1' });
    expect(spec({}, { ...FACTS, cgroup2: true }).linux.namespaces.map((n) => n.type)).toContain('cgroup');
  });

  test('Docker\'s network sysctls are set only in a container\'s own network namespace', () => {
    expect(spec().linux.sysctl).toEqual({ 'net.ipv4.ping_group_range': '0 2147483647', 'net.ipv4.ip_unprivileged_port_start': '0' });
    expect(spec({ netns: '/run/netns/cdk-1' }).linux.sysctl).toHaveProperty(['net.ipv4.ip_unprivileged_port_start'], '0');
    expect(spec({ netns: 'host' }).linux.sysctl).toEqual({});
  });

  test('no-new-privileges, oomScoreAdj and tty are passed through', () => {
    const s = spec({ noNewPrivileges: true, oomScoreAdj: 500, tty: true });
    expect(s.process.noNewPrivileges).toBe(true);
    expect(s.process.oomScoreAdj).toBe(500);
    expect(s.process.terminal).toBe(true);
  });
});

describe('buildSpec: mounts', () => {
  const bind = (destination: string, source = '/srv/data'): SpecInput['mounts'][number] => ({ destination, type: 'bind', source, options: ['rbind'] });

  test('the caller\'s mounts follow the defaults, parents before children', () => {
    const m = spec({ mounts: [bind('/data/sub'), bind('/etc/hosts', '/run/h'), bind('/data')] }).mounts.map((x) => x.destination);
    expect(m.slice(7)).toEqual(['/data', '/data/sub', '/etc/hosts']);
  });

  test('a caller\'s mount replaces the default with the same destination', () => {
    const shm = { destination: '/dev/shm', type: 'bind', source: '/srv/shm', options: ['rbind'] };
    const m = spec({ mounts: [shm] }).mounts;
    expect(m.filter((x) => x.destination === '/dev/shm')).toEqual([shm]);
  });

  test('of two caller\'s mounts with one destination, the later wins', () => {
    const m = spec({ mounts: [bind('/data', '/a'), bind('/data/', '/b')] }).mounts.filter((x) => x.destination === '/data');
    expect(m).toEqual([bind('/data', '/b')]);
  });

  test('a caller\'s /dev replaces every default mount under /dev', () => {
    const m = spec({ mounts: [bind('/dev', '/dev')] }).mounts.map((x) => x.destination);
    expect(m).toEqual(['/proc', '/sys', '/sys/fs/cgroup', '/dev']);
  });

  test('a read-only root makes /sys and /sys/fs/cgroup read-only, not /proc, /dev or the caller\'s mounts', () => {
    const s = spec({ readonlyRootfs: true, mounts: [bind('/data')] });
    expect(s.root.readonly).toBe(true);
    const opts = (d: string): string[] => s.mounts.find((x) => x.destination === d)?.options ?? [];
    expect(opts('/sys')).toContain('ro');
    expect(opts('/sys/fs/cgroup')).toContain('ro');
    for (const d of ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/data']) expect(opts(d)).not.toContain('ro');
  });
});

describe('buildSpec: capabilities', () => {
  const caps = (over: Partial<SpecInput>): string[] => spec(over).process.capabilities.effective;

  test('--cap-add accepts NET_ADMIN, CAP_NET_ADMIN and lowercase', () => {
    for (const c of ['NET_ADMIN', 'CAP_NET_ADMIN', 'net_admin', 'cap_net_admin']) expect(caps({ capAdd: [c] })).toEqual([...DOCKER_CAPS, 'CAP_NET_ADMIN']);
  });

  test('--cap-drop removes from the defaults', () => {
    expect(caps({ capDrop: ['chown', 'CAP_NET_RAW'] })).toEqual(DOCKER_CAPS.filter((c) => c !== 'CAP_CHOWN' && c !== 'CAP_NET_RAW'));
  });

  test('--cap-drop ALL keeps only the added ones', () => {
    expect(caps({ capDrop: ['ALL'], capAdd: ['NET_BIND_SERVICE'] })).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(caps({ capDrop: ['all'] })).toEqual([]);
  });

  test('--cap-add ALL grants every available capability but the dropped ones', () => {
    expect(caps({ capAdd: ['ALL'], capDrop: ['SYS_ADMIN'] })).toEqual(ALL_CAPS.filter((c) => c !== 'CAP_SYS_ADMIN'));
  });

  test('the bounding, effective and permitted sets are the same; inheritable and ambient stay empty', () => {
    const c = spec({ capAdd: ['SYS_PTRACE'] }).process.capabilities;
    expect(c.bounding).toEqual(c.effective);
    expect(c.permitted).toEqual(c.effective);
    expect(c.inheritable).toEqual([]);
    expect(c.ambient).toEqual([]);
  });

  test('an unknown capability is refused with Docker\'s message', () => {
    expect(() => spec({ capAdd: ['NET_ADMINN'] })).toThrow(new InvalidArgumentError('unknown capability: "CAP_NET_ADMINN"'));
    expect(() => spec({ capDrop: ['foo'] })).toThrow(new InvalidArgumentError('unknown capability: "CAP_FOO"'));
  });

  test('a capability this host cannot grant is refused with Docker\'s message', () => {
    const facts = { ...FACTS, capabilities: ALL_CAPS.filter((c) => c !== 'CAP_SYS_RESOURCE') };
    expect(() => spec({ capAdd: ['sys_resource'] }, facts)).toThrow(
      new InvalidArgumentError('capability not supported by your kernel or not available in the current environment: "CAP_SYS_RESOURCE"'),
    );
    expect(capabilitiesFor(['ALL'], [], false, facts.capabilities)).not.toContain('CAP_SYS_RESOURCE');
  });

  test('capabilitiesFromMask reads /proc/<pid>/status masks', () => {
    expect(capabilitiesFromMask(DOCKER_CAP_MASK).sort()).toEqual([...DOCKER_CAPS].sort());
    expect(capabilitiesFromMask('000001ffffffffff')).toEqual(ALL_CAPS);
  });
});

describe('buildSpec: privileged', () => {
  test('a privileged container lifts every restriction', () => {
    const facts = { ...FACTS, thermalThrottlePaths: ['/sys/devices/system/cpu/cpu0/thermal_throttle'] };
    const s = spec({ privileged: true, capDrop: ['CHOWN'] }, facts);
    expect(s.process.capabilities.effective).toEqual(ALL_CAPS);
    expect(s.process.capabilities.bounding).toEqual(ALL_CAPS);
    expect(s.linux.maskedPaths).toEqual([]);
    expect(s.linux.readonlyPaths).toEqual([]);
    expect(s.linux.seccomp).toBeUndefined();
    expect(s.linux.resources.devices).toEqual([{ allow: true, access: 'rwm' }]);
    expect(s.mounts.find((m) => m.destination === '/sys')?.options).toEqual(['nosuid', 'noexec', 'nodev']);
    expect(s.mounts.find((m) => m.destination === '/sys/fs/cgroup')?.options).toEqual(['nosuid', 'noexec', 'nodev']);
    expect(s.linux.devices).toContainEqual(expect.objectContaining({ path: '/dev/null', type: 'c', major: 1, minor: 3 }));
    expect(s.linux.devices.map((d) => d.path)).not.toContain('/dev/console');
  });

  test('host devices are read from /dev without following symlinks', () => {
    const devs = hostDevices();
    expect(devs.find((d) => d.path === '/dev/zero')).toEqual(expect.objectContaining({ type: 'c', major: 1, minor: 5, fileMode: 0o666 }));
    expect(devs.some((d) => d.path.startsWith('/dev/pts/') || d.path === '/dev/stdin')).toBe(false);
  });
});

describe('buildSpec: resources', () => {
  test('a memory limit comes with twice as much memory+swap, as Docker', () => {
    expect(spec({ memory: 64 * 1024 * 1024 }).linux.resources.memory).toEqual({ limit: 67108864, swap: 134217728 });
  });

  test('without swap accounting on the host only the memory limit is set', () => {
    expect(spec({ memory: 64 * 1024 * 1024 }, { ...FACTS, swapLimit: false }).linux.resources.memory).toEqual({ limit: 67108864 });
  });

  test('--cpus becomes a CFS quota over a 100 ms period', () => {
    expect(spec({ nanoCpus: 1.5e9 }).linux.resources.cpu).toEqual({ quota: 150000, period: 100000 });
    expect(spec({ nanoCpus: 0.01e9 }).linux.resources.cpu).toEqual({ quota: 1000, period: 100000 });
    expect(spec({ nanoCpus: 123456789 }).linux.resources.cpu).toEqual({ quota: 12345, period: 100000 });
  });

  test('a pids limit is set as given', () => {
    expect(spec({ pidsLimit: 100 }).linux.resources.pids).toEqual({ limit: 100 });
  });

  test('unset limits leave the resources without memory, cpu or pids', () => {
    const r = spec().linux.resources;
    expect(Object.keys(r)).toEqual(['devices']);
  });
});

describe('seccomp', () => {
  test('the default profile fails unlisted syscalls with EPERM on x86-64, x86 and x32', () => {
    const s = spec().linux.seccomp;
    expect(s?.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(s?.defaultErrnoRet).toBe(1);
    expect(s?.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  });

  test('on arm64 the architectures are aarch64 and arm', () => {
    const s = seccompFor(DOCKER_CAPS, 'arm64', '6.1.0');
    expect(s.architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    const names = new Set(s.syscalls.flatMap((r) => r.names));
    expect(names.has('arm_fadvise64_64')).toBe(true);
    expect(names.has('arch_prctl')).toBe(false);
  });

  test('with the default capabilities mount, unshare and setns are not allowed; clone only without namespace flags', () => {
    const s = spec();
    const a = allowed(s);
    for (const n of ['read', 'write', 'execve', 'clone', 'arch_prctl', 'modify_ldt', 'chroot', 'ptrace', 'socket', 'personality']) {
      expect(s.linux.seccomp?.syscalls.some((r) => r.names.includes(n))).toBe(true);
    }
    expect(a.has('read')).toBe(true);
    expect(a.has('chroot')).toBe(true); // CAP_SYS_CHROOT is a default
    for (const n of ['mount', 'umount2', 'unshare', 'setns', 'bpf', 'reboot', 'init_module', 'settimeofday', 'syslog']) expect(a.has(n)).toBe(false);
    expect(s.linux.seccomp?.syscalls).toContainEqual({ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }] });
    expect(s.linux.seccomp?.syscalls).toContainEqual({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
  });

  test('capability-conditional rules follow the effective capabilities', () => {
    const s = spec({ capAdd: ['SYS_ADMIN', 'SYS_TIME'], capDrop: ['SYS_CHROOT'] });
    const a = allowed(s);
    for (const n of ['mount', 'unshare', 'setns', 'clone', 'clone3', 'settimeofday']) expect(a.has(n)).toBe(true);
    expect(a.has('chroot')).toBe(false);
    expect(s.linux.seccomp?.syscalls.some((r) => r.names.includes('clone3') && r.action === 'SCMP_ACT_ERRNO')).toBe(false);
    expect(s.linux.seccomp?.syscalls.some((r) => r.names.includes('clone') && r.args)).toBe(false);
  });

  test('kernel-conditional rules follow the kernel release', () => {
    expect(new Set(seccompFor(DOCKER_CAPS, 'x64', '4.4.0').syscalls.flatMap((r) => r.names)).has('ptrace')).toBe(false);
    expect(new Set(seccompFor(DOCKER_CAPS, 'x64', '4.8.0').syscalls.flatMap((r) => r.names)).has('ptrace')).toBe(true);
  });

  test('every rule of Docker\'s profile is kept when all its conditions hold', () => {
    const everything = seccompFor(ALL_CAPS, 'x64', '6.1.0');
    expect(everything.syscalls.length).toBeGreaterThan(20);
    expect(DOCKER_DEFAULT_SECCOMP_PROFILE.syscalls[0].names.length).toBeGreaterThan(300);
  });

  test('--security-opt seccomp=unconfined and --privileged leave seccomp out', () => {
    expect(spec({ seccomp: false }).linux.seccomp).toBeUndefined();
    expect(spec({ privileged: true }).linux.seccomp).toBeUndefined();
    expect(spec({ seccomp: false })).not.toHaveProperty('linux.seccomp');
  });
});

describe('resolveUser', () => {
  let dir: string;
  let rootfs: string;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-docker-user-'));
    rootfs = path.join(dir, 'rootfs');
    fs.mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(rootfs, 'etc', 'passwd'), [
      'root:x:0:0:root:/root:/bin/sh',
      'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
      'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
      '',
      'app:x:1000:1000::/home/app:/bin/sh',
    ].join('\n'));
    fs.writeFileSync(path.join(rootfs, 'etc', 'group'), [
      'root:x:0:',
      '# a comment',
      'wheel:x:10:root,app',
      'staff:x:50:nobody,app',
      'app:x:1000:',
      'nogroup:x:65534:',
    ].join('\n'));
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('no user is root with root\'s groups', () => {
    expect(resolveUser(rootfs, undefined)).toEqual({ uid: 0, gid: 0, additionalGids: [0, 10], home: '/root' });
    expect(resolveUser(rootfs, '')).toEqual({ uid: 0, gid: 0, additionalGids: [0, 10], home: '/root' });
  });

  test('a name is looked up in passwd, its supplementary groups in group', () => {
    expect(resolveUser(rootfs, 'nobody')).toEqual({ uid: 65534, gid: 65534, additionalGids: [65534, 50], home: '/nonexistent' });
    expect(resolveUser(rootfs, 'app')).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 10, 50], home: '/home/app' });
  });

  test('a uid is looked up in passwd too', () => {
    expect(resolveUser(rootfs, '1000')).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 10, 50], home: '/home/app' });
  });

  test('a uid that passwd does not list runs with gid 0 and no home', () => {
    expect(resolveUser(rootfs, '4242')).toEqual({ uid: 4242, gid: 0, additionalGids: [0] });
  });

  test('an explicit group replaces the primary group and drops the supplementary ones', () => {
    expect(resolveUser(rootfs, 'app:staff')).toEqual({ uid: 1000, gid: 50, additionalGids: [50], home: '/home/app' });
    expect(resolveUser(rootfs, 'nobody:4343')).toEqual({ uid: 65534, gid: 4343, additionalGids: [4343], home: '/nonexistent' });
    expect(resolveUser(rootfs, '4242:4343')).toEqual({ uid: 4242, gid: 4343, additionalGids: [4343] });
    expect(resolveUser(rootfs, '4242:nogroup')).toEqual({ uid: 4242, gid: 65534, additionalGids: [65534] });
    expect(resolveUser(rootfs, '0:0')).toEqual({ uid: 0, gid: 0, additionalGids: [0], home: '/root' });
  });

  test('an unknown name is refused with Docker\'s message', () => {
    expect(() => resolveUser(rootfs, 'nobody2')).toThrow(new InvalidArgumentError('unable to find user nobody2: no matching entries in passwd file'));
    expect(() => resolveUser(rootfs, 'nobody:staff2')).toThrow(new InvalidArgumentError('unable to find group staff2: no matching entries in group file'));
    expect(() => resolveUser(rootfs, 'nobody2')).toThrow(InvalidArgumentError);
  });

  test('ids out of range are refused with Docker\'s message', () => {
    expect(() => resolveUser(rootfs, '2147483648')).toThrow(new InvalidArgumentError('uids and gids must be in range 0-2147483647'));
    expect(() => resolveUser(rootfs, '0:-1')).toThrow(new InvalidArgumentError('uids and gids must be in range 0-2147483647'));
  });

  test('an image without passwd accepts numeric ids and refuses names', () => {
    const bare = path.join(dir, 'bare');
    fs.mkdirSync(bare);
    expect(resolveUser(bare, '')).toEqual({ uid: 0, gid: 0, additionalGids: [0] });
    expect(resolveUser(bare, '1000:1000')).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000] });
    expect(() => resolveUser(bare, 'app')).toThrow(new InvalidArgumentError('unable to find user app: no matching entries in passwd file'));
  });

  test('symlinks inside the image are followed inside the image', () => {
    const r = path.join(dir, 'linked');
    fs.mkdirSync(path.join(r, 'etc'), { recursive: true });
    fs.mkdirSync(path.join(r, 'usr', 'lib'), { recursive: true });
    fs.writeFileSync(path.join(r, 'usr', 'lib', 'passwd'), 'inimage:x:777:777::/in:/bin/sh\n');
    fs.symlinkSync('/usr/lib/passwd', path.join(r, 'etc', 'passwd'));
    fs.writeFileSync(path.join(r, 'usr', 'lib', 'group'), 'g:x:888:inimage\n');
    fs.symlinkSync('../usr/lib/group', path.join(r, 'etc', 'group'));
    expect(resolveUser(r, 'inimage')).toEqual({ uid: 777, gid: 777, additionalGids: [777, 888], home: '/in' });
  });

  test('a symlink in the image never makes the runtime read a host file', () => {
    const hostPasswd = path.join(dir, 'host-passwd');
    fs.writeFileSync(hostPasswd, 'evil:x:4444:4444::/evil:/bin/sh\n');
    const variants: Array<[string, (etc: string, r: string) => void]> = [
      ['absolute', (etc) => fs.symlinkSync(hostPasswd, path.join(etc, 'passwd'))],
      ['relative with ..', (etc) => fs.symlinkSync(`../../../../../../../../..${hostPasswd}`, path.join(etc, 'passwd'))],
      ['through a linked directory', (etc, r) => {
        fs.rmdirSync(etc);
        fs.symlinkSync(dir, path.join(r, 'etc'));
        fs.renameSync(hostPasswd, path.join(dir, 'passwd'));
      }],
    ];
    for (const [name, make] of variants) {
      const r = path.join(dir, `escape-${name.replace(/\W+/g, '-')}`);
      const etc = path.join(r, 'etc');
      fs.mkdirSync(etc, { recursive: true });
      make(etc, r);
      expect(() => resolveUser(r, 'evil')).toThrow(new InvalidArgumentError('unable to find user evil: no matching entries in passwd file'));
    }
    // Sanity: the host file itself does resolve the user, so the refusals above are the scoping.
    const plain = path.join(dir, 'plain');
    fs.mkdirSync(path.join(plain, 'etc'), { recursive: true });
    fs.copyFileSync(path.join(dir, 'passwd'), path.join(plain, 'etc', 'passwd'));
    expect(resolveUser(plain, 'evil').uid).toBe(4444);
  });

  test('a FIFO in place of passwd is not opened', () => {
    const r = path.join(dir, 'fifo');
    fs.mkdirSync(path.join(r, 'etc'), { recursive: true });
    execFileSync('mkfifo', [path.join(r, 'etc', 'passwd')]);
    expect(resolveUser(r, '5:5')).toEqual({ uid: 5, gid: 5, additionalGids: [5] });
  });
});

describe('defaultEnv', () => {
  const user: ResolvedUser = { uid: 1000, gid: 1000, additionalGids: [1000], home: '/home/app' };

  test('PATH and HOSTNAME come first and HOME last', () => {
    expect(defaultEnv([], ROOT_USER, 'web1', false)).toEqual([`PATH=${DEFAULT_PATH_ENV}`, 'HOSTNAME=web1', 'HOME=/root']);
  });

  test('a TTY adds TERM=xterm before the image\'s variables', () => {
    expect(defaultEnv(['A=1'], user, 'web1', true)).toEqual([`PATH=${DEFAULT_PATH_ENV}`, 'HOSTNAME=web1', 'TERM=xterm', 'A=1', 'HOME=/home/app']);
  });

  test('the image\'s PATH and TERM replace the defaults in place', () => {
    expect(defaultEnv(['TERM=vt100', 'PATH=/bin', 'B=2'], user, 'h', true)).toEqual(['PATH=/bin', 'HOSTNAME=h', 'TERM=vt100', 'B=2', 'HOME=/home/app']);
  });

  test('a HOME of the image or the user is kept and not added again', () => {
    expect(defaultEnv(['HOME=/data'], user, 'h', false)).toEqual([`PATH=${DEFAULT_PATH_ENV}`, 'HOSTNAME=h', 'HOME=/data']);
  });

  test('a user without a passwd entry gets HOME=/', () => {
    expect(defaultEnv([], { uid: 4242, gid: 0, additionalGids: [0] }, 'h', false)).toContain('HOME=/');
  });

  test('a name without = unsets a default', () => {
    expect(defaultEnv(['HOSTNAME'], user, 'h', false)).toEqual([`PATH=${DEFAULT_PATH_ENV}`, 'HOME=/home/app']);
  });
});

// --- real runc ----------------------------------------------------------------------------------

/** What a run printed and how it ended. */
interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

describe('runc runs the generated spec', () => {
  const CGROUP_PARENT = 'cdk-docker-spec-test';
  let runc: string;
  let work: string;
  let rootfs: string;
  let runcRoot: string;
  let counter = 0;
  const ids: string[] = [];

  beforeAll(() => {
    runc = requireCommand('runc', 'runc');
    const busybox = requireCommand('busybox', 'busybox-static', ['/bin']);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-docker-spec-'));
    runcRoot = path.join(work, 'runc-root');
    rootfs = path.join(work, 'rootfs');
    for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
    fs.copyFileSync(busybox, path.join(rootfs, 'bin', 'busybox'));
    fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
    for (const a of ['sh', 'cat', 'grep', 'id', 'wc', 'ls', 'echo', 'unshare', 'hostname', 'touch']) fs.symlinkSync('busybox', path.join(rootfs, 'bin', a));
    fs.writeFileSync(path.join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
    fs.writeFileSync(path.join(rootfs, 'etc', 'group'), 'root:x:0:\nstaff:x:50:nobody\nnogroup:x:65534:\n');
  });

  afterEach(() => {
    for (const id of ids) spawnSync(runc, ['--root', runcRoot, 'delete', '--force', id], { stdio: 'ignore' });
  });

  afterAll(() => {
    for (const ctrl of fs.existsSync('/sys/fs/cgroup') ? fs.readdirSync('/sys/fs/cgroup') : []) {
      const parent = path.join('/sys/fs/cgroup', ctrl, CGROUP_PARENT);
      if (!fs.existsSync(parent)) continue;
      for (const id of ids) {
        const d = path.join(parent, id);
        if (fs.existsSync(d)) fs.rmdirSync(d);
      }
      try {
        fs.rmdirSync(parent);
      } catch (e) {
        // another run of this file may still use the parent
        if ((e as NodeJS.ErrnoException).code !== 'EBUSY' && (e as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw e;
      }
    }
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  /** Runs `args` in a fresh container built from `over`, stdio piped, and waits for it. */
  function run(args: string[], over: Partial<SpecInput> = {}): RunResult {
    const id = `cdkspec-${process.pid}-${++counter}`;
    ids.push(id);
    const bundle = path.join(work, id);
    fs.mkdirSync(bundle);
    const user = over.user ?? resolveUser(rootfs, '');
    const s = buildSpec(input({
      id,
      rootfs,
      args,
      user,
      env: defaultEnv([], user, 'spec-test', false),
      hostname: 'spec-test',
      cgroupsPath: `/${CGROUP_PARENT}/${id}`,
      ...over,
    }));
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(s, null, 2));
    const r = spawnSync(runc, ['--root', runcRoot, 'run', '--bundle', bundle, id], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    if (r.error) throw r.error;
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  function statusField(out: string, field: string): string | undefined {
    return new RegExp(`^${field}:\\s*(\\S+)`, 'm').exec(out)?.[1];
  }

  test('a default container has Docker\'s capabilities, seccomp, masked and read-only paths and limits', () => {
    const facts = hostFacts();
    const maskedHere = DEFAULT_MASKED_PATHS.filter((p) => fs.existsSync(p));
    const maskedFiles = maskedHere.filter((p) => !fs.statSync(p).isDirectory());
    const maskedDirs = maskedHere.filter((p) => fs.statSync(p).isDirectory());
    // At least one masked file must exist here, or the check below proves nothing.
    expect(maskedFiles.length).toBeGreaterThan(0);
    const memFile = facts.cgroup2 ? '/sys/fs/cgroup/memory.max' : '/sys/fs/cgroup/memory/memory.limit_in_bytes';
    const pidsFile = facts.cgroup2 ? '/sys/fs/cgroup/pids.max' : '/sys/fs/cgroup/pids/pids.max';
    const script = [
      'cat /proc/self/status',
      'echo "kcore-bytes=$(cat /proc/kcore 2>/dev/null | wc -c)"',
      ...maskedFiles.map((p) => `[ -c ${p} ] && echo "masked-file ${p} $(cat ${p} | wc -c)"`),
      ...maskedDirs.map((p) => `echo "masked-dir ${p} [$(ls -A ${p})]"`),
      '(echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start) 2>&1',
      'unshare -U true 2>/dev/null || echo unshare-denied',
      `echo "memory=$(cat ${memFile})"`,
      `echo "pids=$(cat ${pidsFile})"`,
      'echo "nofile=$(ulimit -n)"',
      'echo "hostname=$(hostname)"',
      'id',
    ].join('\n');
    const r = run(['sh', '-c', script], { memory: 64 * 1024 * 1024, pidsLimit: 100, nanoCpus: 0.5e9 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(statusField(r.stdout, 'CapEff')).toBe(DOCKER_CAP_MASK);
    expect(statusField(r.stdout, 'CapPrm')).toBe(DOCKER_CAP_MASK);
    expect(statusField(r.stdout, 'CapBnd')).toBe(DOCKER_CAP_MASK);
    expect(statusField(r.stdout, 'CapInh')).toBe('0000000000000000');
    expect(statusField(r.stdout, 'CapAmb')).toBe('0000000000000000');
    expect(statusField(r.stdout, 'Seccomp')).toBe('2');
    expect(statusField(r.stdout, 'NoNewPrivs')).toBe('0');
    expect(r.stdout).toContain('kcore-bytes=0');
    for (const p of maskedFiles) expect(r.stdout).toContain(`masked-file ${p} 0`);
    for (const p of maskedDirs) expect(r.stdout).toContain(`masked-dir ${p} []`);
    expect(r.stdout).toContain("can't create /proc/sys/net/ipv4/ip_unprivileged_port_start: Read-only file system");
    expect(r.stdout).toContain('unshare-denied');
    expect(r.stdout).toContain('memory=67108864');
    expect(r.stdout).toContain('pids=100');
    expect(r.stdout).toContain(`nofile=${facts.nofile}`);
    expect(r.stdout).toContain('hostname=spec-test');
    expect(r.stdout).toContain('uid=0(root) gid=0(root) groups=0(root)');
  });

  test('the container\'s cgroup holds Docker\'s memory+swap and CPU quota', () => {
    const facts = hostFacts();
    const files = facts.cgroup2
      ? ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory.swap.max', '/sys/fs/cgroup/cpu.max']
      : ['/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us'];
    const r = run(['sh', '-c', files.map((f) => `cat ${f} 2>/dev/null || echo none`).join('\n')], { memory: 32 * 1024 * 1024, nanoCpus: 1.5e9 });
    expect(r.status).toBe(0);
    const [mem, swap, cpu] = r.stdout.trim().split('\n');
    expect(mem).toBe(String(32 * 1024 * 1024));
    if (facts.swapLimit) expect(swap).toBe(String(facts.cgroup2 ? 32 * 1024 * 1024 : 64 * 1024 * 1024));
    expect(cpu).toBe(facts.cgroup2 ? '150000 100000' : '150000');
  });

  test('the resolved user runs with its groups, no capabilities and no-new-privileges', () => {
    const r = run(['sh', '-c', 'id; cat /proc/self/status'], { user: resolveUser(rootfs, 'nobody'), noNewPrivileges: true });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('uid=65534(nobody) gid=65534(nogroup) groups=50(staff),65534(nogroup)');
    expect(statusField(r.stdout, 'NoNewPrivs')).toBe('1');
    expect(statusField(r.stdout, 'CapEff')).toBe('0000000000000000');
    expect(statusField(r.stdout, 'Seccomp')).toBe('2');
  });

  test('the process gets Docker\'s environment, in Docker\'s order', () => {
    const user = resolveUser(rootfs, 'nobody');
    const r = run(['cat', '/proc/self/environ'], { user, env: defaultEnv(['FOO=bar'], user, 'spec-test', false) });
    expect(r.status).toBe(0);
    expect(r.stdout.split('\0').filter(Boolean)).toEqual([`PATH=${DEFAULT_PATH_ENV}`, 'HOSTNAME=spec-test', 'FOO=bar', 'HOME=/nonexistent']);
  });

  test('seccomp=unconfined runs without a filter', () => {
    const r = run(['sh', '-c', 'cat /proc/self/status; unshare -U true && echo unshare-allowed'], { seccomp: false });
    expect(r.status).toBe(0);
    expect(statusField(r.stdout, 'Seccomp')).toBe('0');
    expect(r.stdout).toContain('unshare-allowed');
  });

  test('a read-only root cannot be written', () => {
    const r = run(['sh', '-c', 'touch /root/x 2>&1; echo rc=$?'], { readonlyRootfs: true });
    expect(r.stdout).toContain('Read-only file system');
    expect(r.stdout).toContain('rc=1');
  });

  test('a privileged container has every capability of the runtime, no seccomp, no masks and the host\'s devices', () => {
    const status = fs.readFileSync('/proc/self/status', 'utf8');
    const hostCapEff = statusField(status, 'CapEff') as string;
    const devNames = hostDevices().filter((d) => path.dirname(d.path) === '/dev').map((d) => path.basename(d.path));
    const r = run(['sh', '-c', [
      'cat /proc/self/status',
      'echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start && echo proc-sys-writable',
      '[ -c /proc/keys ] || echo keys-unmasked',
      'ls -1 /dev',
    ].join('\n')], { privileged: true });
    expect(r.status).toBe(0);
    expect(statusField(r.stdout, 'CapEff')).toBe(hostCapEff);
    expect(capabilitiesFromMask(statusField(r.stdout, 'CapEff') as string)).toEqual(hostFacts().capabilities);
    expect(statusField(r.stdout, 'Seccomp')).toBe('0');
    expect(r.stdout).toContain('proc-sys-writable');
    if (fs.existsSync('/proc/keys')) expect(r.stdout).toContain('keys-unmasked');
    const inside = new Set(r.stdout.split('\n'));
    for (const n of devNames) expect(inside.has(n)).toBe(true);
  });

  test('default device rules are enforced: /dev/null works, the host\'s disks are not there', () => {
    const r = run(['sh', '-c', 'echo hi > /dev/null && echo null-ok; ls /dev']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('null-ok');
    expect(r.stdout.split('\n')).not.toContain('loop0');
    expect(r.stdout.split('\n')).not.toContain('kmsg');
  });
});
