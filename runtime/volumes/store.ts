import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CdkDockerError, ConflictError, InvalidArgumentError, NotFoundError } from '../../lib/core/errors';
import { NAME_PATTERN, checkName, validateName } from '../../lib/core/names';
import { identityAlive, pidAlive, processIdentity } from '../../lib/core/process';
import type { ContainerRecord } from '../containers/types';
import { recordEvent } from '../events';
import { ToolError, runTool } from '../util/exec';
import { dataSize, withLock, writeJsonAtomic } from '../util/files';
import { isMounted, mountsUnder } from '../util/mounts';
import { anyOf, boolFilter, groupFilters, matchLabels, matchName } from '../util/filters';
import {
  ANONYMOUS_LABEL,
  CreateVolumeOptions,
  PruneVolumesOptions,
  PruneVolumesResult,
  Volume,
  VolumeListFilters,
  VolumeRecord,
  VolumeUsers,
} from './types';

/** The driver options of Docker's local driver. */
const DRIVER_OPTS = ['type', 'device', 'o'];
/** The record of a volume and the staged copy-up being applied to it, inside `<name>/`. */
const RECORD = 'volume.json';
const STAGED = 'copyup';

/**
 * The volume store of the built-in runtime (see ./types for the terms).
 *
 * Layout under `<root>/volumes` (mode 0700):
 * - `<name>/volume.json` — the record; `<name>/_data/` — the mountpoint (0755, root's, until a
 *   copy-up gives it the image directory's owner and mode).
 * - `.lock` — the store's lock (proper-lockfile), held by every change.
 * - `.tmp-<pid>-<start>-<hex>/` — a volume being created; `.rm-<pid>-<start>-<hex>/` — one being
 *   deleted (`<pid> <start>` is the writer's processIdentity, so a reused pid does not keep
 *   them). Those of dead processes are collected by the next `create` or `prune`.
 *
 * Names are Docker's (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`), so they never clash with those entries.
 */
export class VolumeStore {
  /** `<root>/volumes`. */
  public readonly dir: string;
  private readonly usedBy: VolumeUsers;

  /**
   * @param root the runtime's state root (`RuntimeConfig.root`)
   * @param usedBy names the containers using a volume; by default read from the container
   *   records under `<root>/containers` (see `containerVolumeUsers`)
   */
  constructor(root: string, usedBy?: VolumeUsers) {
    this.dir = path.join(root, 'volumes');
    if (fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 }) !== undefined) fs.chmodSync(this.dir, 0o700);
    this.usedBy = usedBy ?? containerVolumeUsers(root);
  }

  /** `<root>/volumes/<name>`: the record and the data directory. */
  public volumeDir(name: string): string {
    if (checkName('volume', name)) throw new NotFoundError(`no such volume: ${name}`);
    return path.join(this.dir, name);
  }

  /** The mountpoint of a volume: `<root>/volumes/<name>/_data`. */
  public dataDir(name: string): string {
    return path.join(this.volumeDir(name), '_data');
  }

  /**
   * Runs `fn` holding the store's lock (across processes; re-entrant within one async context).
   * Callers that must not race a removal — a container being created with a volume — write
   * their record inside it.
   */
  public locked<T>(fn: () => Promise<T> | T): Promise<T> {
    const lockPath = path.join(this.dir, '.lock');
    return withLock(lockPath, fn, { busy: `the volume store is locked by another cdk-docker command (${lockPath}); retry when it has finished` });
  }


  // --- reading (atomic writes make unlocked reads consistent) -----------------------------------

  /** The record of a volume, or undefined. */
  public tryGet(name: string): VolumeRecord | undefined {
    if (checkName('volume', name)) return undefined;
    const file = path.join(this.dir, name, RECORD);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw e;
    }
    try {
      return JSON.parse(text) as VolumeRecord;
    } catch (e) {
      throw new CdkDockerError(`volume record ${file} is not valid JSON (${(e as Error).message}); move the directory ${path.dirname(file)} away to drop the volume`);
    }
  }

  /** The record of a volume; NotFoundError "no such volume: NAME". */
  public get(name: string): VolumeRecord {
    const r = this.tryGet(name);
    if (!r) throw new NotFoundError(`no such volume: ${name}`);
    return r;
  }

  /** A volume as `docker volume inspect` shows it; NotFoundError "no such volume: NAME". */
  public inspect(name: string): Volume {
    return this.toVolume(this.get(name));
  }

  /** Volumes matching `filters`, sorted by name (as `docker volume ls`). */
  public list(filters: VolumeListFilters = {}): Volume[] {
    const out: Volume[] = [];
    for (const name of fs.readdirSync(this.dir).sort()) {
      if (!NAME_PATTERN.test(name)) continue;
      const r = this.tryGet(name);
      if (!r) continue;
      if (!anyOf(filters.driver, (d) => d === r.Driver) || !anyOf(filters.name, (f) => matchName(r.Name, f)) || !matchLabels(r.Labels, filters)) continue;
      if (filters.dangling !== undefined && (this.usedBy(r.Name).length === 0) !== filters.dangling) continue;
      out.push(this.toVolume(r));
    }
    return out;
  }

  /** Names of the containers that use a volume (by the store's `usedBy`). */
  public users(name: string): string[] {
    return this.usedBy(name);
  }

  private toVolume(r: VolumeRecord): Volume {
    return {
      CreatedAt: r.CreatedAt,
      Driver: r.Driver,
      Labels: sorted(r.Labels),
      Mountpoint: path.join(this.dir, r.Name, '_data'),
      Name: r.Name,
      Options: sorted(r.Options),
      Scope: r.Scope,
    };
  }

  // --- changes ---------------------------------------------------------------------------------

  /**
   * Creates a volume, or returns the existing one of that name (as Docker does) when the labels
   * and driver options asked for, if any, are the same; otherwise ConflictError. Without a name,
   * the volume is anonymous: 64 hex digits and the label `com.docker.volume.anonymous`.
   */
  public async create(name?: string, opts: CreateVolumeOptions = {}): Promise<VolumeRecord> {
    const anonymous = name === undefined || name === '';
    const volName = anonymous ? randomBytes(32).toString('hex') : validateName('volume', name);
    const driver = opts.driver ?? 'local';
    if (driver !== 'local') {
      throw new InvalidArgumentError(`create ${volName}: volume driver "${driver}" is not supported: the built-in runtime has only the "local" driver (drop -d/--driver)`);
    }
    const options = checkDriverOpts(volName, opts.driverOpts ?? {});
    const labels: { [key: string]: string } = { ...(opts.labels ?? {}) };
    for (const key of Object.keys(labels)) if (key.length === 0) throw new InvalidArgumentError(`create ${volName}: a label needs a name (KEY=VALUE)`);
    if (anonymous) labels[ANONYMOUS_LABEL] = '';

    return this.locked(async () => {
      const existing = this.tryGet(volName);
      if (existing) {
        const labelsDiffer = opts.labels !== undefined && !sameMap(existing.Labels, labels);
        const optsDiffer = opts.driverOpts !== undefined && !sameMap(existing.Options, options);
        if (labelsDiffer || optsDiffer) {
          const what = [labelsDiffer ? `labels ${showMap(existing.Labels)}` : '', optsDiffer ? `driver options ${showMap(existing.Options)}` : ''].filter(Boolean).join(' and ');
          throw new ConflictError(`create ${volName}: volume "${volName}" already exists with ${what}; remove it first (cdk-docker runtime volume rm ${volName}) or ask for the same ones`);
        }
        recordEvent(path.dirname(this.dir), 'volume', 'create', volName, { driver: 'local' }); // Docker announces an existing volume again
        return existing;
      }
      await this.collectLeftovers();
      const tmp = path.join(this.dir, ownEntry('.tmp-'));
      try {
        fs.mkdirSync(tmp, { mode: 0o700 });
        fs.chmodSync(tmp, 0o700);
        fs.mkdirSync(path.join(tmp, '_data'), { mode: 0o755 });
        fs.chmodSync(path.join(tmp, '_data'), 0o755);
        const record: VolumeRecord = {
          version: 1,
          CreatedAt: rfc3339(new Date()),
          Driver: 'local',
          Labels: sorted(labels),
          Mountpoint: path.join(this.dir, volName, '_data'),
          Name: volName,
          Options: sorted(options),
          Scope: 'local',
        };
        writeJsonAtomic(path.join(tmp, RECORD), record);
        try {
          fs.renameSync(tmp, path.join(this.dir, volName));
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR') {
            throw new ConflictError(`create ${volName}: ${path.join(this.dir, volName)} exists but is not a volume (no ${RECORD}); move it away`);
          }
          throw e;
        }
        recordEvent(path.dirname(this.dir), 'volume', 'create', volName, { driver: 'local' });
        return record;
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    });
  }

  /**
   * Replaces a volume's labels (its data and options stay). Docker has no such call; the
   * reconciler uses it to adopt a volume it did not make.
   */
  public async setLabels(name: string, labels: { readonly [key: string]: string }): Promise<VolumeRecord> {
    for (const key of Object.keys(labels)) if (key.length === 0) throw new InvalidArgumentError(`volume ${name}: a label needs a name (KEY=VALUE)`);
    return this.locked(() => {
      const record = this.get(name);
      const next: VolumeRecord = { ...record, Labels: sorted(labels) };
      writeJsonAtomic(path.join(this.dir, record.Name, RECORD), next);
      return next;
    });
  }

  /**
   * Removes a volume and its data. Refused while a container uses it (Docker's `remove NAME:
   * volume is in use - [containers]`), with or without `force`; `force` only makes a missing
   * volume no error. Returns whether a volume was removed.
   */
  public async remove(name: string, opts: { force?: boolean } = {}): Promise<boolean> {
    const trash = await this.locked(async () => {
      if (!this.tryGet(name)) {
        if (opts.force) return undefined;
        throw new NotFoundError(`no such volume: ${name}`);
      }
      const users = this.usedBy(name);
      if (users.length > 0) throw new ConflictError(`remove ${name}: volume is in use - [${users.join(', ')}]`);
      return this.detach(name);
    });
    if (trash === undefined) return false;
    await fs.promises.rm(trash, { recursive: true, force: true });
    return true;
  }

  /**
   * Removes volumes no container uses: anonymous ones, or all with `all` (Docker ≥ 23), that
   * match the label filters. Volumes with driver options are kept, as Docker keeps them.
   */
  public async prune(opts: PruneVolumesOptions = {}): Promise<PruneVolumesResult> {
    const trash = await this.locked(async () => {
      await this.collectLeftovers();
      const picked: { name: string; dir: string }[] = [];
      for (const v of this.list()) {
        if (!opts.all && !Object.prototype.hasOwnProperty.call(v.Labels, ANONYMOUS_LABEL)) continue;
        if (Object.keys(v.Options).length > 0) continue;
        if (!matchLabels(v.Labels, opts)) continue;
        if (this.usedBy(v.Name).length > 0) continue;
        picked.push({ name: v.Name, dir: await this.detach(v.Name) });
      }
      return picked;
    });
    let reclaimed = 0;
    for (const t of trash) {
      reclaimed += await dataSize(path.join(t.dir, '_data'));
      await fs.promises.rm(t.dir, { recursive: true, force: true });
    }
    return { deleted: trash.map((t) => t.name), reclaimed };
  }

  /**
   * Mounts a volume's filesystem on its mountpoint when it has driver options and is not mounted
   * yet (Docker's local driver mounts on first use); returns the mountpoint. A plain volume's
   * mountpoint is returned as it is.
   */
  public async mount(name: string): Promise<string> {
    return this.locked(async () => {
      const r = this.get(name);
      const data = this.dataDir(name);
      if (!r.Options.type || isMounted(data)) return data;
      const args = ['-t', r.Options.type, ...(r.Options.o ? ['-o', r.Options.o] : []), '--', r.Options.device, data];
      try {
        await runTool('mount', args);
      } catch (e) {
        // The tool's stderr only: the arguments hold the options unredacted.
        throw new CdkDockerError(`error while mounting volume "${name}" with options: ${describeOpts(r.Options)}: ${brief(e)}`, { cause: e });
      }
      return data;
    });
  }

  /**
   * Unmounts a volume's filesystem if it is mounted (a volume with driver options, when no
   * running container uses it any more). A plain volume is left as it is.
   */
  public async unmount(name: string): Promise<void> {
    await this.locked(async () => {
      this.get(name);
      const data = this.dataDir(name);
      if (isMounted(data)) await umount(data, name);
    });
  }

  /**
   * Copies a container path's content from the image (`imageDir`: the path in a merged image
   * root, not a raw layer) into a volume mounted over it, as Docker does: only into an empty
   * volume, with owners, modes, timestamps, xattrs, symlinks and hard links (`cp -a`), and the
   * volume's root takes `imageDir`'s owner, mode and xattrs. A plain volume is copied into once:
   * the record keeps `CopiedUpAt`, and the copy is staged next to `_data` and moved in under the
   * lock, so a killed copy is resumed or redone, never left half-done. Returns whether content
   * was copied (false when `imageDir` is missing or empty, or the volume is not empty).
   */
  public async copyUp(name: string, imageDir: string): Promise<boolean> {
    let st: fs.Stats;
    try {
      st = fs.statSync(imageDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    if (!st.isDirectory()) return false;
    const record = this.get(name);
    if (record.Options.type) return this.copyUpMounted(name, imageDir);

    const volDir = this.volumeDir(name);
    const data = this.dataDir(name);
    const staged = path.join(volDir, STAGED);
    if (record.CopiedUpAt && !fs.existsSync(staged)) return false;
    if (fs.existsSync(staged)) return this.locked(() => this.applyStaged(name));
    if (fs.readdirSync(data).length > 0) return false;

    // Copy outside the lock (it may take long), then move in under it.
    const stage = path.join(volDir, ownEntry('.copyup-'));
    try {
      try {
        await runTool('cp', ['-a', '-T', '--', imageDir, stage]);
      } catch (e) {
        throw new CdkDockerError(`copy of ${imageDir} into volume "${name}" failed: ${brief(e)}`, { cause: e });
      }
      return await this.locked(async () => {
        const now = this.get(name);
        if (!fs.existsSync(staged)) {
          if (now.CopiedUpAt || fs.readdirSync(data).length > 0) return false;
          fs.renameSync(stage, staged);
        }
        return this.applyStaged(name);
      });
    } finally {
      await fs.promises.rm(stage, { recursive: true, force: true });
    }
  }

  // --- internals -------------------------------------------------------------------------------

  /** Moves a complete staged copy into `_data` and records it. Called with the lock held. */
  private async applyStaged(name: string): Promise<boolean> {
    const volDir = this.volumeDir(name);
    const data = this.dataDir(name);
    const staged = path.join(volDir, STAGED);
    const record = this.get(name);
    removeDeadEntries(volDir, '.copyup-');
    if (!fs.existsSync(staged)) return false; // another process applied it meanwhile
    if (!record.CopiedUpAt) {
      const entries = fs.readdirSync(staged);
      for (const entry of entries) {
        const target = path.join(data, entry);
        // A resumed copy finds its own earlier moves (or a container's files): those stay.
        if (fs.existsSync(target) || isSymlink(target)) continue;
        fs.renameSync(path.join(staged, entry), target);
      }
      for (const left of fs.readdirSync(staged)) await fs.promises.rm(path.join(staged, left), { recursive: true, force: true });
      // The volume's root takes the image directory's owner, mode and xattrs.
      await runTool('cp', ['-a', '--attributes-only', '-T', '--', staged, data]);
      if (entries.length > 0) writeJsonAtomic(path.join(volDir, RECORD), { ...record, CopiedUpAt: rfc3339(new Date()) });
    }
    await fs.promises.rm(staged, { recursive: true, force: true });
    return !record.CopiedUpAt && fs.readdirSync(data).length > 0;
  }

  /** Copy-up into a mounted filesystem (tmpfs, nfs, a bind): copied whenever it is empty. */
  private async copyUpMounted(name: string, imageDir: string): Promise<boolean> {
    return this.locked(async () => {
      const data = await this.mount(name);
      if (fs.readdirSync(data).length > 0) return false;
      const hasContent = fs.readdirSync(imageDir).length > 0;
      try {
        await runTool('cp', ['-a', ...(hasContent ? [] : ['--attributes-only']), '-T', '--', imageDir, data]);
      } catch (e) {
        throw new CdkDockerError(`copy of ${imageDir} into volume "${name}" failed: ${brief(e)}`, { cause: e });
      }
      return hasContent;
    });
  }

  /**
   * Takes a volume out of the store: unmounts its filesystem, checks nothing else is mounted in
   * it, renames it to `.rm-…` (it is gone at once) and returns that path for deletion. Lock held.
   */
  private async detach(name: string): Promise<string> {
    const volDir = this.volumeDir(name);
    const data = this.dataDir(name);
    if (isMounted(data)) await umount(data, name);
    const mounted = mountsUnder(volDir);
    if (mounted.length > 0) {
      throw new ConflictError(`remove ${name}: ${mounted[0]} is still mounted; unmount it first (umount ${mounted[0]})`);
    }
    const trash = path.join(this.dir, ownEntry('.rm-'));
    fs.renameSync(volDir, trash);
    recordEvent(path.dirname(this.dir), 'volume', 'destroy', name, { driver: 'local' });
    return trash;
  }

  /** Deletes `.tmp-`/`.rm-` directories left by processes that died. Lock held. */
  private async collectLeftovers(): Promise<void> {
    for (const entry of deadEntries(this.dir, ['.tmp-', '.rm-'])) {
      const dir = path.join(this.dir, entry);
      if (mountsUnder(dir).length === 0) await fs.promises.rm(dir, { recursive: true, force: true });
    }
  }
}

/**
 * The default `usedBy`: names of the containers whose records (`<root>/containers/<id>/
 * config.json`) mount the volume, running or not. A record that cannot be read is an error —
 * better to refuse a removal than to delete a volume a container uses.
 */
export function containerVolumeUsers(root: string): VolumeUsers {
  const dir = path.join(root, 'containers');
  return (volumeName: string) => {
    let ids: string[];
    try {
      ids = fs.readdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const users: string[] = [];
    for (const id of ids) {
      const file = path.join(dir, id, 'config.json');
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') continue;
        throw e;
      }
      let record: Partial<ContainerRecord>;
      try {
        record = JSON.parse(text) as Partial<ContainerRecord>;
      } catch (e) {
        throw new CdkDockerError(`container record ${file} is not valid JSON (${(e as Error).message}), so whether it uses volume "${volumeName}" is unknown; repair or remove that container`);
      }
      if ((record.Mounts ?? []).some((m) => m.Type === 'volume' && m.Name === volumeName)) users.push(record.Name ?? id);
    }
    return users.sort();
  };
}

// --- helpers -------------------------------------------------------------------------------------

/** Checks driver options as Docker's local driver does (messages included). */
function checkDriverOpts(name: string, opts: { readonly [key: string]: string }): { [key: string]: string } {
  for (const key of Object.keys(opts)) {
    if (key === 'size') {
      throw new InvalidArgumentError(`create ${name}: invalid option: "size": the built-in runtime has no quotas for volume directories; for a size-limited volume use -o type=tmpfs -o device=tmpfs -o o=size=10m`);
    }
    if (!DRIVER_OPTS.includes(key)) {
      throw new InvalidArgumentError(`create ${name}: invalid option: "${key}": the local driver takes type, device and o (for example -o type=tmpfs -o device=tmpfs -o o=size=10m)`);
    }
  }
  const has = (k: string) => Object.prototype.hasOwnProperty.call(opts, k);
  if (has('device') && !has('type')) throw new InvalidArgumentError(`create ${name}: missing required option: "type" (the filesystem type of device "${opts.device}", e.g. -o type=none -o o=bind for a directory)`);
  if (has('type') && !has('device')) throw new InvalidArgumentError(`create ${name}: missing required option: "device" (what to mount, e.g. -o device=tmpfs for type tmpfs)`);
  if (has('o') && !has('type')) throw new InvalidArgumentError(`create ${name}: missing required option: "type" (o=${opts.o} are mount options of a type/device pair)`);
  if (has('type') && (opts.type === '' || opts.device === '')) throw new InvalidArgumentError(`create ${name}: options "type" and "device" must not be empty`);
  if (has('type') && /(^|,)bind(,|$)|(^|,)rbind(,|$)/.test(opts.o ?? '') && !path.isAbsolute(opts.device)) {
    throw new InvalidArgumentError(`create ${name}: device "${opts.device}" of a bind volume must be an absolute path`);
  }
  return { ...opts };
}

function sameMap(a: { readonly [key: string]: string }, b: { readonly [key: string]: string }): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

/** A copy with keys in order (as Go's JSON prints maps). */
function sorted(m: { readonly [key: string]: string }): { [key: string]: string } {
  return Object.fromEntries(Object.keys(m).sort().map((k) => [k, m[k]]));
}

function showMap(m: { readonly [key: string]: string }): string {
  const entries = Object.keys(m).sort().map((k) => `${k}=${redact(m[k])}`);
  return entries.length ? `{${entries.join(', ')}}` : '{} (none)';
}

/** Hides `password=…` in mount options (cifs). */
function redact(s: string): string {
  return s.replace(/(^|,)(password=)[^,]*/g, '$1$2********');
}

function describeOpts(o: { readonly [key: string]: string }): string {
  return `type='${o.type ?? ''}' device='${o.device ?? ''}' o='${redact(o.o ?? '')}'`;
}

/** RFC 3339 to the second, as Docker prints CreatedAt. */
function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function isSymlink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** What a failed tool said (`TOOL: stderr`), without its arguments. */
function brief(e: unknown): string {
  return e instanceof ToolError ? e.brief : (e as Error).message;
}

async function umount(dir: string, name: string): Promise<void> {
  try {
    await runTool('umount', ['--', dir]);
  } catch (e) {
    throw new CdkDockerError(`cannot unmount volume "${name}" (${dir}): ${brief(e)}`, { cause: e });
  }
}

/** A temporary entry name of this process: `<prefix><pid>-<start>-<hex>` (see deadEntries). */
function ownEntry(prefix: string): string {
  const identity = processIdentity(process.pid)?.replace(' ', '-') ?? String(process.pid);
  return `${prefix}${identity}-${randomBytes(4).toString('hex')}`;
}

/**
 * Entries `<prefix><pid>-<start>-<hex>` of `dir` whose writer is gone (its pid dead or now another
 * process's); entries `<prefix><pid>-<hex>` of older versions by the pid alone.
 */
function deadEntries(dir: string, prefixes: string[]): string[] {
  return fs.readdirSync(dir).filter((entry) => {
    const prefix = prefixes.find((p) => entry.startsWith(p));
    if (!prefix) return false;
    const parts = entry.slice(prefix.length).split('-');
    const pid = Number(parts[0]);
    if (!Number.isInteger(pid) || pid <= 0) return true;
    return parts.length >= 3 ? !identityAlive(`${pid} ${parts[1]}`) : !pidAlive(pid);
  });
}

function removeDeadEntries(dir: string, prefix: string): void {
  for (const entry of deadEntries(dir, [prefix])) fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
}

// --- filters -------------------------------------------------------------------------------------

/** Parses `volume ls --filter` arguments: `dangling=true|false`, `label=KEY[=VALUE]`, `name=X`, `driver=D`. */
export function parseListFilters(args: readonly string[]): VolumeListFilters {
  const g = groupFilters(args, ['dangling', 'label', 'name', 'driver'], 'volume');
  return { dangling: boolFilter(g, 'dangling'), label: g.get('label'), name: g.get('name'), driver: g.get('driver') };
}

/** Parses `volume prune --filter` arguments: `label=…`, `label!=…`, `all=true|false`. */
export function parsePruneFilters(args: readonly string[], all = false): PruneVolumesOptions {
  const g = groupFilters(args, ['label', 'label!', 'all'], 'volume');
  if (g.has('all') && all) throw new InvalidArgumentError('conflicting options: cannot specify both --all and --filter all=1');
  return { all: boolFilter(g, 'all') ?? all, label: g.get('label'), labelNot: g.get('label!') };
}
