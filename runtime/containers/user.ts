import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError } from '../../lib/core/errors';
import { ResolvedUser } from './types';

/**
 * The container's user and default environment, as Docker computes them.
 *
 * Terms
 * - A *user spec* is the `-u`/`USER` value: `""`, `name`, `uid`, `name:group`, `uid:gid` or
 *   `uid:group`, resolved against the image's `/etc/passwd` and `/etc/group` with the rules of
 *   moby/sys/user `GetExecUser` (which Docker's daemon and runc both use).
 * - Files of the image are read *in scope*: symlinks resolve as if the container root were `/`
 *   (moby's `FollowSymlinkInScope`), so an image cannot make the runtime read a host file.
 */

/** Docker's default PATH for Linux containers (moby `oci.DefaultPathEnv`). */
export const DEFAULT_PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const MAX_ID = 2 ** 31 - 1;
const MAX_SYMLINKS = 255;
/** passwd and group files larger than this are not read (they are never this big). */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: string[];
}

/**
 * Resolves `spec` (Docker's `-u` value) against the passwd and group files under `rootfs`.
 * `additionalGids` is what Docker puts in the OCI `process.user`: the primary gid first, then
 * the groups that list the user (only when no group was given explicitly).
 * Throws InvalidArgumentError with Docker's messages: `unable to find user nobody2: no matching
 * entries in passwd file`, `unable to find group staff2: no matching entries in group file`,
 * `uids and gids must be in range 0-2147483647`.
 */
export function resolveUser(rootfs: string, spec: string | undefined): ResolvedUser {
  // Go's parseLine: split on ':', extra fields ignored.
  const [userArg = '', groupArg = ''] = (spec ?? '').split(':');
  const uidArg = parseNumeric(userArg);
  const gidArg = parseNumeric(groupArg);

  const passwdText = readFileInRoot(rootfs, '/etc/passwd');
  const groupText = readFileInRoot(rootfs, '/etc/group');

  let uid = 0;
  let gid = 0;
  let home: string | undefined;
  let matchedName = '';
  const users = passwdText === undefined ? [] : parsePasswd(passwdText).filter((u) => {
    if (userArg === '') return u.uid === 0;
    if (uidArg !== undefined) return u.uid === uidArg;
    return u.name === userArg;
  });
  if (users.length > 0) {
    matchedName = users[0].name;
    uid = users[0].uid;
    gid = users[0].gid;
    home = users[0].home;
  } else if (userArg !== '') {
    if (uidArg === undefined) throw new InvalidArgumentError(`unable to find user ${userArg}: no matching entries in passwd file`);
    uid = uidArg;
  }

  let supplementary: number[] = [];
  if (groupArg !== '' || matchedName !== '') {
    const groups = groupText === undefined ? [] : parseGroup(groupText).filter((g) => {
      if (groupArg === '') return g.members.includes(matchedName);
      if (gidArg !== undefined) return g.gid === gidArg;
      return g.name === groupArg;
    });
    if (groupArg !== '') {
      if (groups.length > 0) {
        gid = groups[0].gid;
      } else {
        if (gidArg === undefined) throw new InvalidArgumentError(`unable to find group ${groupArg}: no matching entries in group file`);
        gid = gidArg;
      }
    } else {
      supplementary = groups.map((g) => g.gid);
    }
  }
  return { uid, gid, additionalGids: [gid, ...supplementary], ...(home !== undefined ? { home } : {}) };
}

/**
 * The process environment Docker gives a container: `PATH` (Docker's default) and `HOSTNAME`,
 * then `TERM=xterm` with a TTY, then `env` (image + user variables) replacing an entry of the
 * same name in place or appended (`NAME` without `=` removes it), as moby's
 * `CreateDaemonEnvironment`; finally `HOME` from passwd (or `/`) when still unset, which runc
 * adds last.
 */
export function defaultEnv(env: string[], user: ResolvedUser, hostname: string, tty: boolean): string[] {
  const defaults = [`PATH=${DEFAULT_PATH_ENV}`, `HOSTNAME=${hostname}`, ...(tty ? ['TERM=xterm'] : [])];
  const merged = replaceOrAppendEnv(defaults, env);
  if (!merged.some((e) => envName(e) === 'HOME')) merged.push(`HOME=${user.home ?? '/'}`);
  return merged;
}

/**
 * moby's `ReplaceOrAppendEnvValues`, quirks included: only names present in `defaults` are
 * replaced in place (or removed by a bare `NAME`); everything else is appended as given.
 */
function replaceOrAppendEnv(defaults: string[], overrides: string[]): string[] {
  const out: Array<string | undefined> = [...defaults];
  const index = new Map<string, number>();
  defaults.forEach((e, i) => index.set(envName(e), i));
  for (const value of overrides) {
    const eq = value.indexOf('=');
    const i = index.get(eq < 0 ? value : value.slice(0, eq));
    if (eq < 0) {
      if (i !== undefined) out[i] = undefined;
    } else if (i !== undefined) {
      out[i] = value;
    } else {
      out.push(value);
    }
  }
  return out.filter((e): e is string => e !== undefined);
}

function envName(e: string): string {
  const eq = e.indexOf('=');
  return eq < 0 ? e : e.slice(0, eq);
}

/** Go's `strconv.Atoi` + range check: a number, undefined for a name; throws when out of range. */
function parseNumeric(value: string): number | undefined {
  if (!/^[+-]?\d+$/.test(value)) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_ID) {
    throw new InvalidArgumentError(`uids and gids must be in range 0-${MAX_ID}`);
  }
  return n;
}

/** Go's `Atoi` with errors ignored, as moby's passwd parser does for uid/gid fields. */
function lenientInt(field: string | undefined): number {
  if (field === undefined || !/^[+-]?\d+$/.test(field)) return 0;
  const n = Number(field);
  return Number.isSafeInteger(n) ? n : 0;
}

function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const f = line.split(':');
    out.push({ name: f[0], uid: lenientInt(f[2]), gid: lenientInt(f[3]), home: f[5] ?? '' });
  }
  return out;
}

function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    out.push({ name: f[0], gid: lenientInt(f[2]), members: f[3] ? f[3].split(',') : [] });
  }
  return out;
}

/**
 * The host path of `p` (an absolute path in the container) with every symlink resolved inside
 * `root`: absolute targets restart at `root`, `..` never climbs above it. The result always lies
 * under `root`; components that do not exist are appended unresolved.
 */
export function resolveInRoot(root: string, p: string): string {
  const pending = p.split('/').filter((c) => c !== '' && c !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const c = pending.shift() as string;
    if (c === '..') {
      resolved.pop();
      continue;
    }
    const candidate = path.join(root, ...resolved, c);
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(candidate);
    } catch {
      st = undefined;
    }
    if (st?.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) throw new InvalidArgumentError(`too many symlinks resolving ${p} in the container`);
      const target = fs.readlinkSync(candidate);
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...target.split('/').filter((t) => t !== '' && t !== '.'));
      continue;
    }
    resolved.push(c);
  }
  return path.join(root, ...resolved);
}

/**
 * The text of the regular file at container path `p`, or undefined when there is none. The path
 * is resolved in scope, opened without following a final symlink, and checked (through
 * /proc/self/fd) to be under the real `rootfs` after opening, so a file swapped for a link in
 * between cannot lead outside either.
 */
export function readFileInRoot(rootfs: string, p: string): string | undefined {
  let root: string;
  try {
    root = fs.realpathSync(rootfs);
  } catch {
    return undefined;
  }
  const hostPath = resolveInRoot(root, p);
  let fd: number;
  try {
    // Device nodes and FIFOs are never opened: only a regular file is a passwd file.
    if (!fs.lstatSync(hostPath).isFile()) return undefined;
    fd = fs.openSync(hostPath, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const opened = fs.readlinkSync(`/proc/self/fd/${fd}`);
    if (!opened.startsWith(root.endsWith('/') ? root : `${root}/`)) return undefined;
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > MAX_FILE_BYTES) return undefined;
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}
