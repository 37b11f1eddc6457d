import * as fs from 'node:fs';

/**
 * Is a process alive, as cdk-docker means it: it exists and is not a zombie. A killed process
 * whose parent has not reaped it yet (state Z, forever under an init that does not reap, as in
 * many CI containers) holds no lock, writes no file and answers no signal: it is dead.
 */

/** The fields of /proc/PID/stat after the command name (which is in parentheses and may hold spaces). */
function statFields(pid: number): string[] | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** True when `pid` exists and is neither a zombie nor dead (states Z, X). */
export function pidAlive(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z' && state !== 'X' && state !== 'x';
}

/**
 * `PID STARTTIME` of a live process (start time in clock ticks since boot), which names it
 * uniquely even after its pid is reused; undefined when it is gone or a zombie.
 */
export function processIdentity(pid: number): string | undefined {
  // This process's own never changes (every lock it takes writes it).
  if (pid === process.pid && ownIdentity !== undefined) return ownIdentity;
  const fields = statFields(pid);
  if (!fields || fields[0] === 'Z' || fields[0] === 'X' || fields[0] === 'x') return undefined;
  const identity = `${pid} ${fields[19]}`;
  if (pid === process.pid) ownIdentity = identity;
  return identity;
}

let ownIdentity: string | undefined;

/** True when `identity` (from processIdentity) still names a live process. */
export function identityAlive(identity: string): boolean {
  const pid = Number(identity.split(' ')[0]);
  return processIdentity(pid) === identity;
}
