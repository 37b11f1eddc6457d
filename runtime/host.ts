import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The host components the built-in runtime drives, where it finds them, and a health check of
 * each one (`cdk-docker doctor`). The runtime resolves every binary through `findHelper`, so the
 * doctor checks exactly what the engine will run.
 */

/** Directories searched after PATH for helpers that distributions keep off PATH (podman's layout). */
export const DEFAULT_HELPER_DIRS = ['/usr/local/libexec/podman', '/usr/local/lib/podman', '/usr/libexec/podman', '/usr/lib/podman'];

/**
 * The directories searched for a helper binary: `$PATH`, then `$CDK_DOCKER_HELPER_DIRS`
 * (colon-separated) or, when unset, `DEFAULT_HELPER_DIRS`. sbin directories are included because
 * root's tools (runc, iptables) live there and a user's PATH may lack them.
 */
export function helperSearchPath(env: NodeJS.ProcessEnv = process.env): string[] {
  const fromPath = (env.PATH ?? '').split(':').filter(Boolean);
  const helpers = env.CDK_DOCKER_HELPER_DIRS !== undefined ? env.CDK_DOCKER_HELPER_DIRS.split(':').filter(Boolean) : DEFAULT_HELPER_DIRS;
  const sbin = env.CDK_DOCKER_HELPER_DIRS !== undefined ? [] : ['/usr/local/sbin', '/usr/sbin', '/sbin'];
  return [...new Set([...fromPath, ...sbin, ...helpers])];
}

/** The absolute path of the first executable `name` on the helper search path, if any. */
export function findHelper(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of helperSearchPath(env)) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export type CheckStatus = 'ok' | 'missing' | 'warning';

/** The outcome of one check. */
export interface HostCheck {
  /** Short name shown in the first column: `runc`, `overlayfs`, `cgroups`. */
  readonly name: string;
  /** What the runtime uses it for. */
  readonly role: string;
  readonly status: CheckStatus;
  /** false for components only some features need (zstd layers, --init). */
  readonly required: boolean;
  /** Version and location when found; the problem when not. */
  readonly detail: string;
  /** Debian/Ubuntu packages that provide it, when apt can fix it. */
  readonly packages?: string[];
  /** A shell command that fixes it (`apt-get install -y runc`, `modprobe overlay`). */
  readonly fix?: string;
}

interface BinarySpec {
  readonly name: string;
  /** Alternatives accepted in its place (tini for catatonit). */
  readonly binaries: string[];
  readonly packages: string[];
  readonly role: string;
  readonly required: boolean;
  /** Arguments that print a version. */
  readonly versionArgs?: string[];
  /** Extracts the version from the output. */
  readonly version?: RegExp;
}

const BINARIES: BinarySpec[] = [
  { name: 'runc', binaries: ['runc'], packages: ['runc'], role: 'OCI runtime: namespaces, cgroups, mounts', required: true, versionArgs: ['--version'], version: /runc version (\S+)/ },
  { name: 'conmon', binaries: ['conmon'], packages: ['conmon'], role: 'container monitor: stdio, logs, exit codes', required: true, versionArgs: ['--version'], version: /conmon version (\S+)/ },
  { name: 'netavark', binaries: ['netavark'], packages: ['netavark'], role: 'bridge networks, NAT, published ports', required: true, versionArgs: ['--version'], version: /netavark (\S+)/ },
  { name: 'aardvark-dns', binaries: ['aardvark-dns'], packages: ['aardvark-dns'], role: 'container name and alias DNS', required: true, versionArgs: ['--version'], version: /aardvark-dns (\S+)/ },
  { name: 'ip', binaries: ['ip'], packages: ['iproute2'], role: 'network namespaces', required: true, versionArgs: ['-V'], version: /iproute2-([\w.]+)/ },
  { name: 'iptables', binaries: ['iptables'], packages: ['iptables'], role: 'the firewall of container networks (iptables-save, iptables-restore)', required: true, versionArgs: ['--version'], version: /iptables v(\S+)/ },
  { name: 'tar', binaries: ['tar'], packages: ['tar'], role: 'cp, export and commit (GNU tar)', required: true, versionArgs: ['--version'], version: /\(GNU tar\) (\S+)/ },
  { name: 'setfattr', binaries: ['setfattr'], packages: ['attr'], role: 'overlay opaque directories and file capabilities in layers', required: true, versionArgs: ['--version'], version: /setfattr (\S+)/ },
  { name: 'mknod', binaries: ['mknod'], packages: ['coreutils'], role: 'overlay whiteouts and device nodes in layers', required: true, versionArgs: ['--version'], version: /mknod \(GNU coreutils\) (\S+)/ },
  { name: 'init', binaries: ['catatonit', 'tini-static', 'tini'], packages: ['catatonit'], role: '--init (PID 1 that reaps and forwards signals)', required: false, versionArgs: ['--version'], version: /(?:catatonit|tini) version (\S+)/ },
  { name: 'zstd', binaries: ['zstd'], packages: ['zstd'], role: 'zstd-compressed image layers', required: false, versionArgs: ['--version'], version: /v(\d+\.\d+\.\d+)/ },
];

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 5000, encoding: 'utf8' }, (_err, stdout, stderr) => resolve(`${stdout ?? ''}${stderr ?? ''}`));
  });
}

async function checkBinary(spec: BinarySpec, env: NodeJS.ProcessEnv): Promise<HostCheck> {
  for (const bin of spec.binaries) {
    const found = findHelper(bin, env);
    if (!found) continue;
    let version = '';
    if (spec.versionArgs && spec.version) {
      version = spec.version.exec(await run(found, spec.versionArgs))?.[1] ?? '';
    }
    return { name: spec.name, role: spec.role, status: 'ok', required: spec.required, detail: [version, found].filter(Boolean).join('  ') };
  }
  const where = spec.binaries.length > 1 ? `none of ${spec.binaries.join(', ')}` : spec.binaries[0];
  return {
    name: spec.name,
    role: spec.role,
    status: spec.required ? 'missing' : 'warning',
    required: spec.required,
    detail: `${where} not found on PATH or in ${helperSearchPath(env).filter((d) => !(env.PATH ?? '').split(':').includes(d)).join(', ')}`,
    packages: spec.packages,
    fix: `apt-get install -y ${spec.packages.join(' ')}`,
  };
}

function checkOverlay(procFilesystems: string): HostCheck {
  const base = { name: 'overlayfs', role: 'image layers and container root filesystems', required: true } as const;
  let text = '';
  try {
    text = fs.readFileSync(procFilesystems, 'utf8');
  } catch {
    // treated as absent
  }
  if (/\toverlay$/m.test(text)) return { ...base, status: 'ok', detail: 'kernel supports overlay' };
  return { ...base, status: 'missing', detail: `the kernel does not list overlay in ${procFilesystems}`, fix: 'modprobe overlay' };
}

/** Which cgroup hierarchy the host runs: v2 (unified), hybrid (v1 + unified), v1, or none. */
export function cgroupMode(root = '/sys/fs/cgroup'): 'v2' | 'hybrid' | 'v1' | 'none' {
  if (fs.existsSync(path.join(root, 'cgroup.controllers'))) return 'v2';
  if (fs.existsSync(path.join(root, 'memory')) || fs.existsSync(path.join(root, 'cpu'))) {
    return fs.existsSync(path.join(root, 'unified', 'cgroup.controllers')) ? 'hybrid' : 'v1';
  }
  return 'none';
}

function checkCgroups(root: string): HostCheck {
  const base = { name: 'cgroups', role: 'resource limits, stats, pause', required: true } as const;
  const mode = cgroupMode(root);
  if (mode === 'none') {
    return { ...base, status: 'missing', detail: `no cgroup hierarchy is mounted at ${root}`, fix: `mount -t cgroup2 none ${root}` };
  }
  return { ...base, status: 'ok', detail: `${mode}${mode === 'hybrid' ? ' (runc handles it; crun does not)' : ''}` };
}

function checkRoot(uid: number): HostCheck {
  const base = { name: 'root', role: 'the engine needs root (rootless mode is not supported yet)', required: true } as const;
  if (uid === 0) return { ...base, status: 'ok', detail: 'running as root' };
  return { ...base, status: 'missing', detail: `running as uid ${uid}`, fix: 'run cdk-docker as root (sudo cdk-docker …)' };
}

function checkStateRoot(root: string): HostCheck {
  const base = { name: 'state root', role: 'images, containers, volumes', required: true } as const;
  // The nearest existing ancestor must be writable so the engine can create the root.
  let dir = root;
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return { ...base, status: 'ok', detail: root };
  } catch {
    return { ...base, status: 'missing', detail: `${root} is not writable (${dir})`, fix: `set CDK_DOCKER_ROOT to a writable directory or run as root` };
  }
}

export interface HostCheckOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** State root to check, default `$CDK_DOCKER_ROOT` or /var/lib/cdk-docker. */
  readonly stateRoot?: string;
  readonly uid?: number;
  readonly procFilesystems?: string;
  readonly cgroupRoot?: string;
}

/** Checks every host component of the built-in runtime; the order is the display order. */
export async function checkHost(opts: HostCheckOptions = {}): Promise<HostCheck[]> {
  const env = opts.env ?? process.env;
  const binaries = await Promise.all(BINARIES.map((b) => checkBinary(b, env)));
  return [
    checkRoot(opts.uid ?? process.getuid?.() ?? 0),
    checkOverlay(opts.procFilesystems ?? '/proc/filesystems'),
    checkCgroups(opts.cgroupRoot ?? '/sys/fs/cgroup'),
    ...binaries,
    checkStateRoot(path.resolve(opts.stateRoot ?? env.CDK_DOCKER_ROOT ?? '/var/lib/cdk-docker')),
  ];
}

/** The commands that fix what `checks` found wrong, apt packages first and in one install. */
export function fixCommands(checks: HostCheck[]): { packages: string[]; other: string[] } {
  const packages = new Set<string>();
  const other: string[] = [];
  for (const c of checks) {
    if (c.status === 'ok') continue;
    if (c.packages) c.packages.forEach((p) => packages.add(p));
    else if (c.fix) other.push(c.fix);
  }
  return { packages: [...packages].sort(), other };
}
