import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RuntimeConfig } from './config';
import { cgroupMode, findHelper } from './host';
import { packageVersion } from '../lib/core/package-info';

/**
 * `info`: what the built-in engine is and holds, in the JSON structure of Docker's
 * `GET /info` (types.Info of API 1.41), so that `info --format '{{.NCPU}}'` and
 * `{{json .}}` read the same fields as with Docker. Fields of Docker's that have no meaning
 * here (swarm, containerd, plugins we do not have) say so with Docker's own empty values.
 */
export interface EngineInfo {
  readonly ID: string;
  readonly Containers: number;
  readonly ContainersRunning: number;
  readonly ContainersPaused: number;
  readonly ContainersStopped: number;
  readonly Images: number;
  readonly Driver: string;
  readonly DriverStatus: ReadonlyArray<[string, string]>;
  readonly Plugins: { readonly Volume: string[]; readonly Network: string[]; readonly Authorization: null; readonly Log: string[] };
  readonly MemoryLimit: boolean;
  readonly SwapLimit: boolean;
  readonly CpuCfsPeriod: boolean;
  readonly CpuCfsQuota: boolean;
  readonly CPUShares: boolean;
  readonly CPUSet: boolean;
  readonly PidsLimit: boolean;
  readonly IPv4Forwarding: boolean;
  readonly Debug: boolean;
  readonly SystemTime: string;
  readonly LoggingDriver: string;
  readonly CgroupDriver: string;
  readonly CgroupVersion: string;
  readonly KernelVersion: string;
  readonly OperatingSystem: string;
  readonly OSVersion: string;
  readonly OSType: string;
  readonly Architecture: string;
  readonly IndexServerAddress: string;
  readonly RegistryConfig: {
    readonly IndexConfigs: { [name: string]: { readonly Name: string; readonly Mirrors: string[]; readonly Secure: boolean; readonly Official: boolean } };
    readonly InsecureRegistryCIDRs: string[];
    readonly Mirrors: string[];
  };
  readonly NCPU: number;
  readonly MemTotal: number;
  readonly DockerRootDir: string;
  readonly HttpProxy: string;
  readonly HttpsProxy: string;
  readonly NoProxy: string;
  readonly Name: string;
  readonly Labels: string[];
  readonly ExperimentalBuild: boolean;
  readonly ServerVersion: string;
  readonly Runtimes: { [name: string]: { readonly path: string } };
  readonly DefaultRuntime: string;
  readonly Swarm: { readonly NodeID: string; readonly NodeAddr: string; readonly LocalNodeState: string; readonly ControlAvailable: boolean; readonly Error: string; readonly RemoteManagers: null };
  readonly LiveRestoreEnabled: boolean;
  readonly Isolation: string;
  readonly InitBinary: string;
  readonly RuncCommit: { readonly ID: string; readonly Expected: string };
  readonly SecurityOptions: string[];
  readonly Warnings: string[] | null;
}

/** Container counts as Docker's info makes them: paused, else running (restarting counts), else stopped. */
export interface ContainerCounts {
  readonly running: number;
  readonly paused: number;
  readonly stopped: number;
}

/** statfs magic numbers → the names Docker's graphdriver gives backing filesystems. */
const FS_NAMES: { [magic: number]: string } = {
  0xef53: 'extfs',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlayfs',
  0x6969: 'nfs',
  0x2fc12fc1: 'zfs',
  0x65735546: 'fuseblk',
  0x52654973: 'reiserfs',
  0x858458f6: 'ramfs',
  0xf2f52010: 'f2fs',
  0x3153464a: 'jfs',
};

function backingFilesystem(dir: string): string {
  try {
    const type = fs.statfsSync(dir).type >>> 0;
    return FS_NAMES[type] ?? `<unknown> (0x${type.toString(16)})`;
  } catch {
    return '<unknown>';
  }
}

function osRelease(): { name: string; version: string } {
  try {
    const text = fs.readFileSync('/etc/os-release', 'utf8');
    const field = (k: string) => /^(?:"(.*)"|(.*))$/.exec(new RegExp(`^${k}=(.*)$`, 'm').exec(text)?.[1] ?? '')!.slice(1).find((x) => x !== undefined) ?? '';
    return { name: field('PRETTY_NAME') || 'Linux', version: field('VERSION_ID') };
  } catch {
    return { name: 'Linux', version: '' };
  }
}

/** `runc --version`'s first line's version, or '' when runc is missing. */
function runcVersion(runc: string | undefined): string {
  if (!runc) return '';
  try {
    return /runc version (\S+)/.exec(execFileSync(runc, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }))?.[1] ?? '';
  } catch {
    return '';
  }
}

/**
 * A stable engine ID in Docker's form (12 groups of 4 base32 characters): derived from the
 * host's machine id and the state root, so it needs no state of its own and two roots differ.
 */
function engineId(root: string): string {
  let machine = '';
  for (const f of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      machine = fs.readFileSync(f, 'utf8').trim();
      break;
    } catch {
      // next
    }
  }
  const bytes = createHash('sha256').update(`cdk-docker engine\0${machine || os.hostname()}\0${root}`).digest();
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < 48) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{4}/g)!.join(':');
}

/** Builds the `info` structure for a state root; `containers` and `images` are counted by the caller's services. */
export function engineInfo(config: RuntimeConfig, counts: { containers: ContainerCounts; images: number }): EngineInfo {
  const cgroups = cgroupMode();
  const rel = osRelease();
  const runc = findHelper('runc');
  const runcId = runcVersion(runc);
  const insecure = config.insecureRegistries;
  const indexConfigs: EngineInfo['RegistryConfig']['IndexConfigs'] = {
    'docker.io': { Name: 'docker.io', Mirrors: [], Secure: true, Official: true },
  };
  for (const r of insecure) indexConfigs[r] = { Name: r, Mirrors: [], Secure: false, Official: false };
  const flag = (file: string) => fs.existsSync(file);
  const cg = cgroups === 'v2' ? (f: string) => flag(path.join('/sys/fs/cgroup', f)) : (f: string) => flag(path.join('/sys/fs/cgroup', f.split('.')[0], f));
  const { running, paused, stopped } = counts.containers;
  let forwarding = false;
  try {
    forwarding = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() === '1';
  } catch {
    // no procfs
  }
  const warnings: string[] = [];
  if (!runc) warnings.push('WARNING: runc is not installed: containers cannot start (apt-get install runc)');
  return {
    ID: engineId(config.root),
    Containers: running + paused + stopped,
    ContainersRunning: running,
    ContainersPaused: paused,
    ContainersStopped: stopped,
    Images: counts.images,
    Driver: 'overlay',
    DriverStatus: [
      ['Backing Filesystem', backingFilesystem(fs.existsSync(config.root) ? config.root : path.dirname(config.root))],
      ['Supports d_type', 'true'],
      ['Native Overlay Diff', 'true'],
      ['userxattr', 'false'],
    ],
    Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['k8s-file'] },
    MemoryLimit: cg(cgroups === 'v2' ? 'cgroup.controllers' : 'memory.limit_in_bytes'),
    SwapLimit: cg(cgroups === 'v2' ? 'cgroup.controllers' : 'memory.memsw.limit_in_bytes'),
    CpuCfsPeriod: cg(cgroups === 'v2' ? 'cgroup.controllers' : 'cpu.cfs_period_us'),
    CpuCfsQuota: cg(cgroups === 'v2' ? 'cgroup.controllers' : 'cpu.cfs_quota_us'),
    CPUShares: cg(cgroups === 'v2' ? 'cgroup.controllers' : 'cpu.shares'),
    CPUSet: cg(cgroups === 'v2' ? 'cgroup.controllers' : 'cpuset.cpus'),
    PidsLimit: cg(cgroups === 'v2' ? 'cgroup.controllers' : 'pids.max'),
    IPv4Forwarding: forwarding,
    Debug: false,
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'k8s-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: cgroups === 'v2' ? '2' : '1',
    KernelVersion: os.release(),
    OperatingSystem: rel.name,
    OSVersion: rel.version,
    OSType: 'linux',
    Architecture: os.machine(),
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: { IndexConfigs: indexConfigs, InsecureRegistryCIDRs: ['127.0.0.0/8'], Mirrors: [] },
    NCPU: os.availableParallelism(),
    MemTotal: os.totalmem(),
    DockerRootDir: config.root,
    HttpProxy: process.env.HTTP_PROXY ?? process.env.http_proxy ?? '',
    HttpsProxy: process.env.HTTPS_PROXY ?? process.env.https_proxy ?? '',
    NoProxy: process.env.NO_PROXY ?? process.env.no_proxy ?? '',
    Name: os.hostname(),
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: packageVersion(),
    Runtimes: { runc: { path: runc ?? 'runc' } },
    DefaultRuntime: 'runc',
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    // Daemonless: containers run under conmon and outlive every command.
    LiveRestoreEnabled: true,
    Isolation: '',
    InitBinary: 'catatonit',
    RuncCommit: { ID: runcId, Expected: runcId },
    SecurityOptions: ['name=seccomp,profile=default', ...(cgroups === 'v2' ? ['name=cgroupns'] : [])],
    Warnings: warnings.length ? warnings : null,
  };
}
