import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The mount points of this process's mount namespace, as /proc/self/mountinfo lists them (its
 * fifth field, with the kernel's octal escapes of space, tab, newline and backslash decoded).
 * An unreadable mountinfo is an error, never "nothing is mounted": callers delete directories
 * once nothing is mounted under them.
 */

/** Every mount point, in mount order. */
export function mountPoints(): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => unescapeMountinfo(line.split(' ')[4] ?? ''));
}

/** Whether `dir` is a mount point. */
export function isMounted(dir: string): boolean {
  return mountPoints().includes(path.resolve(dir));
}

/** Mount points at or under `dir`, deepest first (the order to unmount them in). */
export function mountsUnder(dir: string): string[] {
  const base = path.resolve(dir);
  return mountPoints()
    .filter((m) => m === base || m.startsWith(`${base}/`))
    .sort((a, b) => b.length - a.length);
}

/** Decodes mountinfo's `\NNN` octal escapes. */
function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}
