import * as os from 'node:os';

/**
 * The bounds of every number a container takes (memory, CPUs, pids, sizes, durations, counts),
 * from what the kernel, cgroups, runc and this engine accept. One module, so that construct
 * validation, the plan schema (test/security/bounds.test.ts checks its `maximum`s against these),
 * the runtime CLI and the OCI spec builder refuse the same values, before anything is created.
 *
 * Measured on this project's hosts (Linux 6.x, cgroup v1 and v2):
 * - `cpu.cfs_quota_us` refuses a quota below 1000 µs (1 ms) or above 2^44 - 1 µs: with the
 *   100 ms period of `--cpus`, 0.01 CPU is the least a container can be given;
 * - `pids.max` refuses more than 4194304 (PID_MAX_LIMIT);
 * - runc reads `memory.limit`, `pids.limit` and `cpu.quota` as int64, and Node writes a number
 *   above 2^53 inexactly (above 1e21 as "1e+21"): byte counts stop at 2^53 - 1 (8 PiB).
 */

/** Docker's minimum memory limit (6 MiB): less and the container cannot start its process. */
export const MIN_MEMORY_BYTES = 6 * 1024 * 1024;

/** The largest byte count (memory, tmpfs and /dev/shm sizes, log sizes): 2^53 - 1, 8 PiB. */
export const MAX_BYTES = Number.MAX_SAFE_INTEGER;

/** The smallest CPU limit: a 1 ms CFS quota per 100 ms period. */
export const MIN_CPUS = 0.01;

/**
 * The largest CPU limit: 8192 CPUs, Linux's largest NR_CPUS (x86-64 MAXSMP). The quota of a
 * limit on more CPUs than the host has is never reached, so the CLI refuses those too, with
 * Docker's message; synth, which is pure, checks this bound only.
 */
export const MAX_CPUS = 8192;

/** The largest `pids.max` the kernel takes (PID_MAX_LIMIT). */
export const MAX_PIDS = 4194304;

/** The largest count of retries (healthcheck, restart policy): Go's int32, as Docker's API takes them. */
export const MAX_COUNT = 2147483647;

/**
 * The largest number of replicas: every replica is a container with at least one process, and
 * no host runs more processes than PID_MAX_LIMIT.
 */
export const MAX_REPLICAS = MAX_PIDS;

/** The largest uid or gid (Docker's "uids and gids must be in range 0-2147483647"). */
export const MAX_ID = 2147483647;

/**
 * The longest timeout the engine can wait for (a stop timeout, a healthcheck's interval,
 * timeout and start period): 2^31 - 1 ms, about 24.8 days, the longest Node timer; a longer one
 * would fire at once.
 */
export const MAX_TIMER_MS = 2147483647;

/** The longest stop timeout in whole seconds. */
export const MAX_STOP_TIMEOUT_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

/** Docker's least healthcheck interval, timeout and start period (when set): 1 ms. */
export const MIN_HEALTH_MS = 1;

/** The OOM score adjustment range of /proc/PID/oom_score_adj. */
export const OOM_SCORE_ADJ_RANGE = [-1000, 1000] as const;

/** A byte count as users read it: `8 PiB`, `1.5 GiB`, `512 B`. */
export function describeBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number(v.toPrecision(4))} ${units[i]}`;
}

/** `n` as a message quotes it: exact below 2^53, else in exponent form (`1.074e+32`). */
export function describeNumber(n: number): string {
  if (!Number.isFinite(n) || Number.isSafeInteger(n)) return String(n);
  return Number.isInteger(n) || Math.abs(n) >= 1e21 ? n.toPrecision(4) : String(n);
}

/** The CPU count Docker compares `--cpus` with (Go's runtime.NumCPU: the CPUs this process may run on). */
export function hostCpuCount(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** Docker's refusal of a CPU limit the host cannot give (moby `verifyPlatformContainerResources`). */
export function cpuRangeMessage(cpus: number): string {
  return `range of CPUs is from 0.01 to ${cpus}.00, as there are only ${cpus} CPUs available`;
}

/** Mount flags a tmpfs takes as words (moby `mount.ParseTmpfsOptions`' flags). */
const TMPFS_FLAGS = new Set([
  'ro', 'rw', 'exec', 'noexec', 'suid', 'nosuid', 'dev', 'nodev', 'sync', 'async', 'dirsync', 'atime', 'noatime',
  'diratime', 'nodiratime', 'relatime', 'norelatime', 'strictatime', 'nostrictatime', 'mand', 'nomand',
  'private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'tmpcopyup', 'notmpcopyup',
]);

const MEMPARSE_UNITS: { readonly [unit: string]: number } = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5, e: 1024 ** 6 };

/**
 * What is wrong with one tmpfs mount option (`size=64m`, `mode=1777`, `uid=1000`, `noexec`…),
 * as the kernel's tmpfs reads it (memparse sizes: a whole number with an optional k, m, g, t
 * unit, or a percentage of memory); undefined when the kernel takes it. Docker passes these
 * to the kernel unchecked, and runc then fails with `mount … data: size=abc: invalid argument`.
 */
export function tmpfsOptionProblem(option: string): string | undefined {
  const eq = option.indexOf('=');
  if (eq < 0) return TMPFS_FLAGS.has(option) ? undefined : `unknown tmpfs option "${option}": use size=, mode=, uid=, gid=, nr_inodes= or a mount flag such as noexec`;
  const key = option.slice(0, eq);
  const value = option.slice(eq + 1);
  switch (key) {
    case 'size':
    case 'nr_blocks':
    case 'nr_inodes': {
      if (key !== 'nr_blocks' && /^\d{1,3}%$/.test(value) && Number(value.slice(0, -1)) > 0) return undefined;
      const m = /^(\d+)([kmgtpe]?)$/i.exec(value);
      if (!m) return `${key} "${value}" is not a whole number with an optional unit k, m or g, such as 64m${key === 'size' ? ' (or a percentage of memory such as 50%)' : ''}`;
      const n = Number(m[1]) * MEMPARSE_UNITS[m[2].toLowerCase()];
      if (n > MAX_BYTES) return `${key} "${value}" is more than the largest size, ${describeBytes(MAX_BYTES)}; use a smaller one such as 64m`;
      return undefined;
    }
    case 'mode':
      return /^0*[0-7]{1,4}$/.test(value) ? undefined : `mode "${value}" is not an octal file mode such as 1777 or 755`;
    case 'uid':
    case 'gid':
      return /^\d{1,10}$/.test(value) && Number(value) <= MAX_ID ? undefined : `${key} "${value}" is not a number in range 0-${MAX_ID}`;
    case 'mpol':
      return /^(default|prefer|bind|interleave|local)(:[0-9,-]+)?$/.test(value) ? undefined : `mpol "${value}" is not a memory policy such as default, prefer:0 or bind:0-1`;
    default:
      return `unknown tmpfs option "${key}": use size=, mode=, uid=, gid=, nr_inodes= or a mount flag such as noexec`;
  }
}
