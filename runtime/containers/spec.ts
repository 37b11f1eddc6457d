import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InvalidArgumentError } from '../../lib/core/errors';
import { MAX_BYTES, MAX_CPUS, MAX_PIDS, MIN_CPUS, MIN_MEMORY_BYTES, OOM_SCORE_ADJ_RANGE, describeBytes, describeNumber, tmpfsOptionProblem } from '../../lib/core/limits';
import { CAPABILITIES, DEFAULT_CAPABILITIES, normalizeCapability } from '../../lib/core/linux';
import { OciSeccomp, seccompFor } from './seccomp';
import { OciMount, SpecInput } from './types';

/**
 * The OCI runtime spec (runc's `config.json`) of a container, with Docker's defaults: moby's
 * `oci.DefaultLinuxSpec` and `daemon.createSpec` (docker-v29.7.2) rendered for one container.
 *
 * Terms
 * - *Host facts* are what Docker reads from the host while it builds a spec: the daemon's own
 *   capabilities (`--privileged` and `--cap-add ALL` mean "all of those"), the cgroup version,
 *   swap accounting, which sysctls exist. `hostFacts()` probes them once; tests pass their own.
 * - *Default mounts* are /proc, /dev, /dev/pts, /sys, /sys/fs/cgroup, /dev/mqueue and /dev/shm;
 *   a caller's mount with the same destination replaces one, a caller's /dev replaces all that
 *   lie under /dev.
 */

export const OCI_VERSION = '1.0.2';

/** Docker's default /dev/shm size (64 MiB). */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** RLIMIT_NOFILE soft and hard limit of containers, as Docker's engine gives them. */
export const DEFAULT_NOFILE = 1048576;

/** cpu.cfs_period_us used with `--cpus`. */
export const CPU_PERIOD = 100000;

/** Docker's masked paths (moby `defaultLinuxMaskedPaths`), before the per-CPU thermal_throttle ones. */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/sys/devices/virtual/powercap',
  '/sys/firmware',
];

/** Docker's read-only paths. */
export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** A device cgroup rule (OCI `linux.resources.devices[]`). */
export interface OciDeviceRule {
  readonly allow: boolean;
  readonly type?: 'a' | 'c' | 'b';
  readonly major?: number;
  readonly minor?: number;
  readonly access: string;
}

/**
 * The device cgroup rules of a non-privileged container: Docker's list (deny all; null, zero,
 * urandom, random, tty, console; deny fuse), then the rules runc always appends after it
 * (`specconv.AllowedDevices`: mknod of any device, full, /dev/pts/*, ptmx, tun), written out so
 * the effective set does not depend on the runc version.
 */
export const DEFAULT_DEVICE_RULES: readonly OciDeviceRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
  // runc's implicit rules (a wildcard major/minor is omitted in OCI form)
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
];

/** Docker's network sysctls for containers with their own network namespace. */
export const DEFAULT_NET_SYSCTLS: { readonly [key: string]: string } = {
  'net.ipv4.ping_group_range': '0 2147483647',
  'net.ipv4.ip_unprivileged_port_start': '0',
  // Networks of the built-in runtime have no IPv6: as Docker (libnetwork disables IPv6 in
  // every sandbox it makes), no interface gets an address, not even fe80:: or lo's ::1.
  'net.ipv6.conf.all.disable_ipv6': '1',
};

/** The facts of the host a spec depends on. */
export interface HostFacts {
  /** The capabilities this process has (effective set, `CAP_` form): "all" for a container. */
  readonly capabilities: readonly string[];
  /** Only the unified hierarchy is mounted (Docker then gives containers a cgroup namespace). */
  readonly cgroup2: boolean;
  /** The memory controller accounts swap (`memory.memsw.*` / `memory.swap.max`). */
  readonly swapLimit: boolean;
  /** Extra masked paths: `/sys/devices/system/cpu/cpuN/thermal_throttle` that exist. */
  readonly thermalThrottlePaths: readonly string[];
  /** RLIMIT_NOFILE for containers: DEFAULT_NOFILE, lowered to what this process may set. */
  readonly nofile: number;
  /** The DEFAULT_NET_SYSCTLS this kernel has (Docker sets only existing ones). */
  readonly netSysctls: { readonly [key: string]: string };
  /** Node's `process.arch`. */
  readonly arch: string;
  /** `uname -r`. */
  readonly kernel: string;
}

let cachedFacts: HostFacts | undefined;

/** The host's facts, probed on first use. */
export function hostFacts(): HostFacts {
  cachedFacts ??= probeHost();
  return cachedFacts;
}

/** An OCI `process.rlimits[]` entry. */
export interface OciRlimit {
  readonly type: string;
  readonly hard: number;
  readonly soft: number;
}

/** An OCI `linux.devices[]` entry (privileged containers get the host's). */
export interface OciDevice {
  readonly path: string;
  readonly type: 'c' | 'b';
  readonly major: number;
  readonly minor: number;
  readonly fileMode: number;
  readonly uid: number;
  readonly gid: number;
}

/** The parts of the OCI runtime spec this generator writes. */
export interface OciSpec {
  readonly ociVersion: string;
  readonly process: {
    readonly terminal: boolean;
    readonly user: { readonly uid: number; readonly gid: number; readonly additionalGids: number[] };
    readonly args: string[];
    readonly env: string[];
    readonly cwd: string;
    readonly capabilities: {
      readonly bounding: string[];
      readonly effective: string[];
      readonly permitted: string[];
      readonly inheritable: string[];
      readonly ambient: string[];
    };
    readonly rlimits: OciRlimit[];
    readonly noNewPrivileges: boolean;
    readonly oomScoreAdj: number;
  };
  readonly root: { readonly path: string; readonly readonly: boolean };
  readonly hostname: string;
  readonly mounts: OciMount[];
  readonly linux: {
    readonly namespaces: Array<{ readonly type: string; readonly path?: string }>;
    readonly maskedPaths: string[];
    readonly readonlyPaths: string[];
    readonly devices: OciDevice[];
    readonly resources: {
      readonly devices: OciDeviceRule[];
      readonly memory?: { readonly limit: number; readonly swap?: number };
      readonly cpu?: { readonly quota: number; readonly period: number };
      readonly pids?: { readonly limit: number };
    };
    readonly cgroupsPath: string;
    readonly sysctl: { [key: string]: string };
    readonly seccomp?: OciSeccomp;
  };
}

/** Builds the OCI runtime spec of a container from `input`, with Docker's defaults. */
export function buildSpec(input: SpecInput, host: HostFacts = hostFacts()): OciSpec {
  if (input.args.length === 0) throw new InvalidArgumentError('No command specified');
  checkSpecInput(input);
  const caps = capabilitiesFor(input.capAdd, input.capDrop, input.privileged, host.capabilities);
  const netns = input.netns;
  const namespaces: Array<{ type: string; path?: string }> = [{ type: 'mount' }];
  if (netns === undefined) namespaces.push({ type: 'network' });
  else if (netns !== 'host') namespaces.push({ type: 'network', path: netns });
  namespaces.push({ type: 'uts' });
  // --pid host and --ipc host: the host's namespace (none of its own).
  if (!input.pidHost) namespaces.push({ type: 'pid' });
  if (!input.ipcHost) namespaces.push({ type: 'ipc' });
  checkSysctls(input.sysctls ?? {}, netns === 'host', input.ipcHost ?? false);
  const devices = (input.devices ?? []).map(deviceFor);
  if (host.cgroup2) namespaces.push({ type: 'cgroup' });

  const resources: OciSpec['linux']['resources'] = {
    devices: input.privileged
      ? [{ allow: true, access: 'rwm' }]
      : [...DEFAULT_DEVICE_RULES.map((r) => ({ ...r })), ...devices.map((d) => ({ allow: true, type: d.device.type, major: d.device.major, minor: d.device.minor, access: d.access }))],
    ...limitResources(input, host, false),
  };

  const useSeccomp = input.seccomp && !input.privileged;
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: input.tty,
      user: { uid: input.user.uid, gid: input.user.gid, additionalGids: [...input.user.additionalGids] },
      args: [...input.args],
      env: [...input.env],
      cwd: input.cwd || '/',
      capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps], inheritable: [], ambient: [] },
      rlimits: rlimitsFor(input.ulimits ?? [], host.nofile),
      noNewPrivileges: input.noNewPrivileges,
      oomScoreAdj: input.oomScoreAdj ?? 0,
    },
    root: { path: input.rootfs, readonly: input.readonlyRootfs },
    hostname: input.hostname,
    mounts: mountsFor(input),
    linux: {
      namespaces,
      maskedPaths: input.privileged ? [] : [...DEFAULT_MASKED_PATHS, ...host.thermalThrottlePaths],
      readonlyPaths: input.privileged ? [] : [...DEFAULT_READONLY_PATHS],
      devices: input.privileged ? hostDevices() : devices.map((d) => d.device),
      resources,
      cgroupsPath: input.cgroupsPath,
      sysctl: { ...(netns === 'host' ? {} : host.netSysctls), ...(input.sysctls ?? {}) },
      ...(useSeccomp ? { seccomp: seccompFor(caps, host.arch, host.kernel) } : {}),
    },
  };
}

/** An rlimit of -1 (unlimited) in `process.rlimits`: written as RLIM_INFINITY by `ociSpecJson`. */
export const RLIM_INFINITY = -1;

/** The OCI spec as runc reads it: JSON, with RLIM_INFINITY written as the uint64 it is. */
export function ociSpecJson(spec: OciSpec | object): string {
  return JSON.stringify(spec).replace(/"(hard|soft)":-1(?=[,}])/g, '"$1":18446744073709551615');
}

/** A `--ulimit` of the record (Docker's form). */
export interface UlimitInput {
  readonly Name: string;
  readonly Soft: number;
  readonly Hard: number;
}

/** The resource limits Docker's --ulimit knows, by name. */
export const ULIMIT_NAMES: readonly string[] = ['as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'];

/** RLIMIT_NOFILE at the engine's default, then each `--ulimit` (replacing a default of the same name). */
export function rlimitsFor(ulimits: readonly UlimitInput[], nofile: number): OciRlimit[] {
  const out = new Map<string, OciRlimit>([['RLIMIT_NOFILE', { type: 'RLIMIT_NOFILE', hard: nofile, soft: nofile }]]);
  for (const u of ulimits) {
    if (!ULIMIT_NAMES.includes(u.Name)) throw new InvalidArgumentError(`invalid ulimit type: ${u.Name}`);
    const ok = (n: number): boolean => Number.isSafeInteger(n) && n >= -1;
    if (!ok(u.Soft) || !ok(u.Hard)) throw new InvalidArgumentError(`invalid ulimit ${u.Name}=${u.Soft}:${u.Hard}: limits are whole numbers of 0 or more, or -1 for unlimited`);
    if (u.Hard !== -1 && (u.Soft === -1 || u.Soft > u.Hard)) throw new InvalidArgumentError(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
    const type = `RLIMIT_${u.Name.toUpperCase()}`;
    out.set(type, { type, hard: u.Hard === -1 ? RLIM_INFINITY : u.Hard, soft: u.Soft === -1 ? RLIM_INFINITY : u.Soft });
  }
  return [...out.values()];
}

/** The sysctls a container may set in its own IPC namespace (Docker's `ValidateSysctl`). */
const IPC_SYSCTLS: readonly string[] = ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'];

/**
 * `--sysctl`: only those of the container's own namespaces, as Docker's ValidateSysctl and runc
 * decide: net.* with a network namespace of its own, the IPC ones (kernel.msg*, kernel.sem,
 * kernel.shm*, fs.mqueue.*) with an IPC namespace of its own.
 */
export function checkSysctls(sysctls: { readonly [key: string]: string }, hostNetwork: boolean, hostIpc: boolean): void {
  for (const [key, value] of Object.entries(sysctls)) {
    const ipc = IPC_SYSCTLS.includes(key) || key.startsWith('fs.mqueue.');
    if (!/^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$/.test(key) || !(key.startsWith('net.') || ipc)) throw new InvalidArgumentError(`sysctl '${key}' is not allowed: only net.*, fs.mqueue.*, kernel.msg*, kernel.sem and kernel.shm* are namespaced`);
    if (key.startsWith('net.') && hostNetwork) throw new InvalidArgumentError(`sysctl '${key}' is not allowed in the host network namespace`);
    if (ipc && hostIpc) throw new InvalidArgumentError(`sysctl '${key}' is not allowed with the host IPC namespace`);
    if (/[\n\r\0]/.test(value)) throw new InvalidArgumentError(`sysctl '${key}': the value must be on one line`);
  }
}

/** A `--device` of the record (Docker's form). */
export interface DeviceInput {
  readonly PathOnHost: string;
  readonly PathInContainer: string;
  readonly CgroupPermissions: string;
}

/** A `--device`: the host node's type and numbers at the container's path, and its cgroup access. */
function deviceFor(d: DeviceInput): { device: OciDevice; access: string } {
  if (!/^[rwm]{1,3}$/.test(d.CgroupPermissions)) throw new InvalidArgumentError(`invalid device mode: ${d.CgroupPermissions}`);
  if (!d.PathInContainer.startsWith('/') || d.PathInContainer.split('/').includes('..')) throw new InvalidArgumentError(`invalid device path in container: ${d.PathInContainer}`);
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(d.PathOnHost, { bigint: true });
  } catch (e) {
    throw new InvalidArgumentError(`error gathering device information while adding custom device "${d.PathOnHost}": ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) throw new InvalidArgumentError(`error gathering device information while adding custom device "${d.PathOnHost}": not a device node`);
  const rdev = st.rdev;
  return {
    device: {
      path: d.PathInContainer,
      type: st.isBlockDevice() ? 'b' : 'c',
      major: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
      minor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
      fileMode: Number(st.mode & 0o7777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
    },
    access: d.CgroupPermissions,
  };
}

/**
 * The container's capability set, `CAP_` form, as moby's `TweakCapabilities`: privileged → all
 * of `available`; `--cap-add ALL` → all but the dropped ones; `--cap-drop ALL` → only the added
 * ones; otherwise the 14 defaults minus drops plus adds. Names are accepted in any case, with or
 * without `CAP_`; unknown ones and ones this host cannot grant are refused with Docker's message.
 */
export function capabilitiesFor(
  capAdd: readonly string[],
  capDrop: readonly string[],
  privileged: boolean,
  available: readonly string[] = hostFacts().capabilities,
): string[] {
  const defaults = DEFAULT_CAPABILITIES.map((c) => `CAP_${c}`);
  if (privileged) return [...available];
  if (capAdd.length === 0 && capDrop.length === 0) return defaults;
  const add = normalizeCaps(capAdd, available);
  const drop = normalizeCaps(capDrop, available);
  let caps: string[];
  if (add.includes('ALL')) caps = available.filter((c) => !drop.includes(c));
  else if (drop.includes('ALL')) caps = add;
  else caps = [...defaults.filter((c) => !drop.includes(c)), ...add];
  return [...new Set(caps)];
}

/** moby's `NormalizeLegacyCapabilities`: `CAP_X` form or `ALL`. */
function normalizeCaps(caps: readonly string[], available: readonly string[]): string[] {
  return caps.map((raw) => {
    const n = normalizeCapability(raw);
    const shown = `CAP_${raw.trim().toUpperCase().replace(/^CAP_/, '')}`;
    if (n === undefined) throw new InvalidArgumentError(`unknown capability: "${shown}"`);
    if (n === 'ALL') return n;
    if (!available.includes(`CAP_${n}`)) {
      throw new InvalidArgumentError(`capability not supported by your kernel or not available in the current environment: "${shown}"`);
    }
    return `CAP_${n}`;
  });
}

/**
 * Refuses, before runc is asked, every number and option of `input` that runc or the kernel
 * would refuse with a raw error (or take as something else): limits out of the cgroup files'
 * ranges, a /dev/shm or tmpfs size that is not a size, an OOM score outside -1000..1000, an
 * environment variable without a name. The CLI and synth refuse the same with the flag's or the
 * prop's name; this is the last gate, for records written by anything else.
 */
export function checkSpecInput(input: Pick<SpecInput, 'cwd' | 'memory' | 'nanoCpus' | 'pidsLimit' | 'shmSize' | 'oomScoreAdj' | 'env' | 'mounts'>): void {
  checkLimits(input);
  if (input.cwd && !input.cwd.startsWith('/')) throw new InvalidArgumentError(`the working directory '${input.cwd}' is invalid, it needs to be an absolute path`);
  if (!(Number.isSafeInteger(input.shmSize) && input.shmSize >= 0 && input.shmSize <= MAX_BYTES)) {
    throw new InvalidArgumentError(`invalid /dev/shm size ${describeNumber(input.shmSize)} bytes: it must be a whole number of bytes up to ${describeBytes(MAX_BYTES)}, such as 64m`);
  }
  const [lo, hi] = OOM_SCORE_ADJ_RANGE;
  if (input.oomScoreAdj !== undefined && !(Number.isInteger(input.oomScoreAdj) && input.oomScoreAdj >= lo && input.oomScoreAdj <= hi)) {
    throw new InvalidArgumentError(`invalid value ${input.oomScoreAdj}, range for oom score adj is [${lo}, ${hi}]`);
  }
  for (const e of input.env) {
    if (e.startsWith('=') || e === '') throw new InvalidArgumentError(`invalid environment variable: ${e}`);
  }
  for (const m of input.mounts) {
    if (m.type !== 'tmpfs') continue;
    for (const o of m.options) {
      const problem = tmpfsOptionProblem(o);
      if (problem) throw new InvalidArgumentError(`invalid tmpfs mount at ${m.destination}: ${problem}`);
    }
  }
}

/** The memory, CPU and pids limits (0 = none) against the cgroup files' ranges. */
function checkLimits(limits: { memory: number; nanoCpus: number; pidsLimit: number }): void {
  const { memory, nanoCpus, pidsLimit } = limits;
  if (memory !== 0 && !(Number.isSafeInteger(memory) && memory >= MIN_MEMORY_BYTES && memory <= MAX_BYTES)) {
    throw new InvalidArgumentError(`invalid memory limit ${describeNumber(memory)} bytes: it must be from 6 MiB (Docker's minimum) to ${describeBytes(MAX_BYTES)}, or 0 for none`);
  }
  if (nanoCpus !== 0 && !(Number.isSafeInteger(nanoCpus) && nanoCpus >= MIN_CPUS * 1e9 && nanoCpus <= MAX_CPUS * 1e9)) {
    throw new InvalidArgumentError(`invalid CPU limit ${describeNumber(nanoCpus / 1e9)} CPUs: range of CPUs is from ${MIN_CPUS} to ${MAX_CPUS}, or 0 for none`);
  }
  if (pidsLimit > MAX_PIDS || !Number.isInteger(pidsLimit)) {
    throw new InvalidArgumentError(`invalid pids limit ${describeNumber(pidsLimit)}: the kernel takes at most ${MAX_PIDS}; use a smaller limit, or 0 for none`);
  }
}

/** The memory, CPU and PID limits (0 = none), as OCI resources. */
export type LimitResources = Pick<NonNullable<OciSpec['linux']['resources']>, 'memory' | 'cpu' | 'pids'>;

/**
 * The OCI resources of a container's limits: Docker's (swap twice the memory where the host
 * accounts swap, CFS quota over a 100 ms period). At create an unset limit is left out; for
 * `runc update` of a running container (`forUpdate`) it is given as -1, unlimited.
 */
export function limitResources(limits: { memory: number; nanoCpus: number; pidsLimit: number }, host: Pick<HostFacts, 'swapLimit'>, forUpdate: boolean): LimitResources {
  checkLimits(limits);
  const out: { -readonly [K in keyof LimitResources]: LimitResources[K] } = {};
  const memory = limits.memory > 0 ? limits.memory : forUpdate ? -1 : 0;
  if (memory !== 0) out.memory = { limit: memory, ...(host.swapLimit ? { swap: memory > 0 ? memory * 2 : -1 } : {}) };
  if (limits.nanoCpus > 0) out.cpu = { quota: cpuQuota(limits.nanoCpus), period: CPU_PERIOD };
  else if (forUpdate) out.cpu = { quota: -1, period: CPU_PERIOD };
  if (limits.pidsLimit > 0) out.pids = { limit: limits.pidsLimit };
  else if (forUpdate) out.pids = { limit: -1 };
  return out;
}

/** quota = nanoCpus × period / 1e9, truncated as Go's integer division. */
function cpuQuota(nanoCpus: number): number {
  return Number((BigInt(Math.trunc(nanoCpus)) * BigInt(CPU_PERIOD)) / 1_000_000_000n);
}

/**
 * Gives a container root that lacks one Docker's `/etc/mtab` → `/proc/mounts` symlink (moby's
 * initLayer), in the container's own layer, before the container starts. `/etc` and
 * `/etc/mtab` are looked at with lstat: nothing is followed, so a hostile image whose `/etc` is
 * a symlink (even to a host path) gets no mtab rather than a write outside its root.
 */
export function ensureMtab(rootfs: string): void {
  const etc = path.join(rootfs, 'etc');
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(etc);
  } catch {
    fs.mkdirSync(etc, { mode: 0o755 });
    st = fs.lstatSync(etc);
  }
  if (!st.isDirectory()) return;
  try {
    fs.symlinkSync('/proc/mounts', path.join(etc, 'mtab'));
  } catch (e) {
    // The image has its own /etc/mtab (any kind of file): it stays.
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

/** Docker's default mounts for `input`, then the caller's (see the module comment). */
function mountsFor(input: SpecInput): OciMount[] {
  const defaults: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    input.ipcHost
      ? { destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate', 'nosuid', 'noexec', 'nodev'] }
      : { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${input.shmSize > 0 ? input.shmSize : DEFAULT_SHM_SIZE}`] },
  ];

  // The caller's mounts: the last one for a destination wins; parents before children (moby's
  // sortMounts, stable here so equal depths keep the caller's order).
  const byDest = new Map<string, OciMount>();
  for (const m of input.mounts) {
    const dest = path.posix.resolve('/', m.destination);
    byDest.delete(dest);
    byDest.set(dest, { destination: dest, type: m.type, source: m.source, options: [...m.options] });
  }
  const user = [...byDest.values()].map((m, i) => ({ m, i })).sort((a, b) => depth(a.m.destination) - depth(b.m.destination) || a.i - b.i).map((x) => x.m);

  const userDev = byDest.has('/dev');
  const kept = defaults
    .filter((m) => !byDest.has(m.destination) && !(userDev && m.destination.startsWith('/dev/')))
    .map((m) => {
      let options = m.options;
      if (input.readonlyRootfs && !['/proc', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev'].includes(m.destination) && !options.includes('ro')) {
        options = [...options, 'ro'];
      }
      // Privileged containers get a writable /sys and writable cgroups.
      if (input.privileged && (m.destination === '/sys' || m.type === 'cgroup')) options = options.filter((o) => o !== 'ro');
      return { ...m, options };
    });
  return [...kept, ...user];
}

function depth(p: string): number {
  return p === '/' ? 0 : p.split('/').length - 1;
}

/**
 * The host's device nodes for a privileged container (containerd's `HostDevices`): every char
 * and block device under /dev except /dev/console and the pts, shm, fd, mqueue, .lxc,
 * .lxd-mounts and .udev directories; symlinks are not followed.
 */
export function hostDevices(dir = '/dev'): OciDevice[] {
  const out: OciDevice[] = [];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (!['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev'].includes(e.name)) out.push(...hostDevices(p));
      continue;
    }
    if (e.name === 'console' || !(e.isCharacterDevice() || e.isBlockDevice())) continue;
    let st: fs.BigIntStats;
    try {
      st = fs.lstatSync(p, { bigint: true });
    } catch {
      continue;
    }
    const rdev = st.rdev;
    const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
    const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
    out.push({
      path: p,
      type: st.isBlockDevice() ? 'b' : 'c',
      major,
      minor,
      fileMode: Number(st.mode & 0o7777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
    });
  }
  return out;
}

/** Capability names (`CAP_` form) of the bits set in a `/proc/<pid>/status` hex mask. */
export function capabilitiesFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex.trim()}`);
  return CAPABILITIES.filter((_, bit) => ((mask >> BigInt(bit)) & 1n) === 1n).map((c) => `CAP_${c}`);
}

function readOr(p: string, fallback: string): string {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return fallback;
  }
}

function probeHost(): HostFacts {
  const status = readOr('/proc/self/status', '');
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  const capabilities = capEff ? capabilitiesFromMask(capEff) : CAPABILITIES.map((c) => `CAP_${c}`);

  const cgroup2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
  let swapLimit: boolean;
  if (cgroup2) {
    const own = /^0::(.*)$/m.exec(readOr('/proc/self/cgroup', ''))?.[1] ?? '/';
    swapLimit = [path.join('/sys/fs/cgroup', own), '/sys/fs/cgroup/init.scope', '/sys/fs/cgroup/system.slice']
      .some((d) => fs.existsSync(path.join(d, 'memory.swap.max')));
  } else {
    swapLimit = fs.existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes');
  }

  const thermalThrottlePaths = possibleCpus(readOr('/sys/devices/system/cpu/possible', ''))
    .map((n) => `/sys/devices/system/cpu/cpu${n}/thermal_throttle`)
    .filter((p) => fs.existsSync(p));

  // Raising a hard limit needs CAP_SYS_RESOURCE; without it runc could not apply DEFAULT_NOFILE.
  const nrOpen = Number.parseInt(readOr('/proc/sys/fs/nr_open', String(DEFAULT_NOFILE)), 10) || DEFAULT_NOFILE;
  let nofile = Math.min(DEFAULT_NOFILE, nrOpen);
  if (!capabilities.includes('CAP_SYS_RESOURCE')) {
    const hard = /^Max open files\s+\S+\s+(\S+)/m.exec(readOr('/proc/self/limits', ''))?.[1];
    if (hard && /^\d+$/.test(hard)) nofile = Math.min(nofile, Number(hard));
  }

  // Docker skips ping_group_range inside a user namespace, and any sysctl the kernel lacks.
  const inUserNs = !/^\s*0\s+0\s+4294967295\s*$/.test(readOr('/proc/self/uid_map', '0 0 4294967295'));
  const netSysctls: { [key: string]: string } = {};
  for (const [key, value] of Object.entries(DEFAULT_NET_SYSCTLS)) {
    if (key === 'net.ipv4.ping_group_range' && inUserNs) continue;
    if (fs.existsSync(path.join('/proc/sys', key.replace(/\./g, '/')))) netSysctls[key] = value;
  }
  return { capabilities, cgroup2, swapLimit, thermalThrottlePaths, nofile, netSysctls, arch: process.arch, kernel: os.release() };
}

/** `0-3,5` → [0, 1, 2, 3, 5] (the format of /sys/devices/system/cpu/possible). */
function possibleCpus(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return [];
    const start = Number(m[1]);
    const end = m[2] === undefined ? start : Number(m[2]);
    for (let i = start; i <= end; i++) out.push(i);
  }
  return out;
}
