/** Linux names shared by prop validation and the runtime: signals and capabilities. */
import { InvalidArgumentError } from './errors';

/** Signal numbers on x86-64/arm64 Linux. */
export const SIGNALS: { readonly [name: string]: number } = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGIOT: 6, SIGBUS: 7, SIGFPE: 8,
  SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15,
  SIGSTKFLT: 16, SIGCHLD: 17, SIGCONT: 18, SIGSTOP: 19, SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22,
  SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28, SIGIO: 29,
  SIGPWR: 30, SIGSYS: 31,
};

/**
 * Normalises `TERM`, `sigterm`, `SIGTERM`, `15` or `SIGRTMIN+3` to the `SIGTERM` form;
 * returns undefined for anything else.
 */
export function normalizeSignal(input: string | number): string | undefined {
  const s = String(input).trim().toUpperCase();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    const name = Object.keys(SIGNALS).find((k) => SIGNALS[k] === n && k !== 'SIGIOT');
    if (name) return name;
    if (n >= 34 && n <= 64) return n <= 49 ? `SIGRTMIN+${n - 34}` : `SIGRTMAX-${64 - n}`;
    return undefined;
  }
  const name = s.startsWith('SIG') ? s : `SIG${s}`;
  if (name in SIGNALS) return name;
  const rt = /^SIGRT(MIN|MAX)([+-]\d+)?$/.exec(name);
  if (rt) {
    const offset = Number(rt[2] ?? 0);
    const n = (rt[1] === 'MIN' ? 34 : 64) + offset;
    if (n >= 34 && n <= 64) return name;
  }
  return undefined;
}

/** Accepts `TERM`, `SIGTERM`, `15`, `SIGRTMIN+3`; returns the `SIGTERM` form runc takes, or fails naming the input. */
export function signalName(signal: string): string {
  const name = normalizeSignal(signal);
  if (!name) throw new InvalidArgumentError(`invalid signal: ${signal}`);
  return name;
}

/** Linux capabilities without the CAP_ prefix (capabilities(7)). */
export const CAPABILITIES: readonly string[] = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
];

/** Docker's default capability set (14). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP',
  'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE',
];

/** `cap_net_admin` / `CAP_NET_ADMIN` / `net_admin` → `NET_ADMIN`; `all` → `ALL`; undefined if unknown. */
export function normalizeCapability(input: string): string | undefined {
  const s = input.trim().toUpperCase().replace(/^CAP_/, '');
  if (s === 'ALL') return 'ALL';
  return CAPABILITIES.includes(s) ? s : undefined;
}
