import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tarStream, TarHeader } from '../../lib/core/tar';
import { CdkDockerError, ConflictError, InvalidArgumentError, NotFoundError } from '../../lib/core/errors';
import { commitImage, validateCommit } from '../images/commit';
import type { ImageRecord } from '../images/store';
import type { ContainerConfig } from '../images/types';
import { type ContainerContext, contextOf } from './context';
import { pauseContainer, unpauseContainer } from './lifecycle';
import { isMounted, mountRootfs, unmountAll } from './rootfs';
import type { ContainerService } from './service';
import type { ContainerRecord } from './types';
import { runTool } from '../util/exec';

/**
 * The files of a container: `cp`, `diff`, `export` and `commit`, as Docker has them.
 *
 * Terms
 * - The *merged root* is what the container sees at `/`: its image's layers with its own
 *   changes on top (withRootfs mounts it when the container is not running).
 * - The *upper directory* holds its own changes only; a deleted file is a 0:0 character device
 *   (a *whiteout*), a directory whose lower content is hidden carries `trusted.overlay.opaque=y`.
 * - A *container path* is absolute inside the container. It is resolved to a host path here,
 *   component by component: a symlink is followed relative to the container's root (`/` and
 *   `..` never leave it), and a path under a bind or volume mount lands in the mount's source.
 *
 * Tars are written by GNU tar and read and rewritten with tar-stream.
 *
 * Limits: a copy reads and writes the merged root as the host sees it, so a directory copy does
 * not descend into mounts below it and tmpfs mounts are out of reach; a running container can
 * change its files between the resolution of a path and its use (as with Docker's cp), though an
 * archive can never write through a symlink it made itself.
 */

/** Paths the runtime itself creates as mount points (Docker keeps these in an init layer, out of diff and commit). */
const MOUNT_POINT_FILES = new Set(['etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'sbin/docker-init', '.dockerenv']);
const MOUNT_POINT_DIRS = new Set(['dev', 'proc', 'sys']);
const MAX_SYMLINKS = 40;

/** How container paths map to host paths. */
interface PathMap {
  readonly rootfs: string;
  /** Bind and volume mounts, deepest destination first. */
  readonly mounts: ReadonlyArray<{ readonly destination: string; readonly source: string; readonly rw: boolean }>;
  readonly readonlyRootfs: boolean;
}

/** The host's own file system, for the host side of a copy. */
const HOST: PathMap = { rootfs: '/', mounts: [], readonlyRootfs: false };

interface Resolved {
  /** The container path after following symlinks (missing components kept as given). */
  readonly ctr: string;
  readonly host: string;
  /** lstat of the result; undefined when it does not exist. */
  readonly stat?: fs.Stats;
}

function components(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

function mountOf(map: PathMap, ctr: string): PathMap['mounts'][number] | undefined {
  return map.mounts.find((m) => ctr === m.destination || ctr.startsWith(`${m.destination === '/' ? '' : m.destination}/`));
}

function toHost(map: PathMap, ctr: string): string {
  const m = mountOf(map, ctr);
  return m ? path.join(m.source, ctr.slice(m.destination.length)) : path.join(map.rootfs, ctr);
}

function lstat(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file);
  } catch {
    return undefined;
  }
}

/**
 * Resolves a container path to a host path without ever leaving the container: symlinks are
 * read and followed relative to the container's root (the last one only with `followLast`), `..`
 * stops at `/`.
 */
function resolveIn(map: PathMap, p: string, followLast: boolean): Resolved {
  const done: string[] = [];
  let rest = p.split('/').filter((c) => c !== '');
  let hops = 0;
  while (rest.length > 0) {
    const c = rest.shift()!;
    if (c === '.') continue;
    if (c === '..') {
      done.pop();
      continue;
    }
    const host = toHost(map, `/${[...done, c].join('/')}`);
    const st = lstat(host);
    if (st?.isSymbolicLink() && (rest.length > 0 || followLast)) {
      if (++hops > MAX_SYMLINKS) throw new InvalidArgumentError(`too many levels of symbolic links in ${p}`);
      const target = fs.readlinkSync(host);
      if (target.startsWith('/')) done.length = 0;
      rest = [...target.split('/').filter((x) => x !== ''), ...rest];
      continue;
    }
    done.push(c);
  }
  const ctr = `/${done.join('/')}`;
  const host = toHost(map, ctr);
  return { ctr, host, stat: lstat(host) };
}

/**
 * Runs `fn` with the container's merged root filesystem: the live one while it runs, else one
 * mounted for the call (and unmounted after). For cp, diff, export and commit.
 */
async function withRootfs<T>(ctx: ContainerContext, nameOrId: string, fn: (rootfs: string, record: ContainerRecord) => Promise<T>): Promise<T> {
  const id = ctx.store.resolve(nameOrId);
  const record = ctx.store.record(id);
  const rootfs = ctx.rootfs(id);
  const state = ctx.store.state(id);
  if ((state.Status === 'running' || state.Status === 'paused') && isMounted(rootfs)) return fn(rootfs, record);
  return ctx.store.locked(id, async () => {
    const image = ctx.images.resolve(record.ImageId);
    await mountRootfs(ctx.images.chainIds(image).map((c) => ctx.images.layerDiffDir(c)), ctx.store.containerDir(id), rootfs);
    try {
      return await fn(rootfs, record);
    } finally {
      const now = ctx.store.state(id);
      if (now.Status !== 'running' && now.Status !== 'paused') await unmountAll(rootfs);
    }
  });
}

/** The container's bind and volume mounts (and its /etc files), as the copy sees them. */
function containerMap(ctx: ContainerContext, record: ContainerRecord, rootfs: string): PathMap {
  const dir = ctx.store.containerDir(record.Id);
  const mounts = [
    ...['hostname', 'hosts', 'resolv.conf'].map((f) => ({ destination: `/etc/${f}`, source: path.join(dir, f), rw: !record.HostConfig.ReadonlyRootfs })),
    ...record.Mounts.filter((m) => m.Type !== 'tmpfs' && m.Source).map((m) => ({ destination: path.posix.normalize(m.Destination), source: m.Source, rw: m.RW })),
    // Secret and config files: read-only, as the container sees them.
    ...(record.Files ?? []).map((f, i) => ({ destination: f.Target, source: path.join(dir, 'files', String(i)), rw: false })),
  ].filter((m) => fs.existsSync(m.source));
  mounts.sort((a, b) => b.destination.length - a.destination.length);
  return { rootfs, mounts, readonlyRootfs: record.HostConfig.ReadonlyRootfs };
}

function checkWritable(map: PathMap, ctr: string): void {
  const m = mountOf(map, ctr);
  if (m && !m.rw) throw new ConflictError(`mounted volume is marked read-only: ${m.destination} is mounted read-only in the container; copy to another path`);
  if (!m && map.readonlyRootfs) throw new ConflictError(`container rootfs is marked read-only: the container runs with --read-only; copy into one of its writable volumes instead`);
}

// --- tar helpers ------------------------------------------------------------------------------

/** A running producer of a tar stream (GNU tar); `kill` ends it early. */
interface TarProcess {
  readonly output: Readable;
  readonly done: Promise<void>;
  kill(): void;
}

/** Runs GNU tar creating an archive of `names` (relative to `dir`, given NUL-separated on stdin). */
function tarCreate(dir: string, names: string[], extra: string[] = []): TarProcess {
  const child = spawn('tar', ['-c', '-f', '-', '-C', dir, '--numeric-owner', ...extra, '--null', '--verbatim-files-from', '-T', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(names.map((n) => `${n}\0`).join(''));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (e) => reject(new CdkDockerError(`cannot run GNU tar (${e.message}); install it with \`apt-get install tar\``)));
    child.on('close', (code, signal) => (code === 0 ? resolve() : reject(new CdkDockerError(`tar failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`))));
  });
  return { output: child.stdout!, done, kill: () => child.kill('SIGKILL') };
}

/** Waits for a consumer of a tar and its producer; a failing consumer stops the producer and its error wins. */
async function consume(tar: TarProcess, consumer: Promise<unknown>): Promise<void> {
  try {
    await consumer;
  } catch (e) {
    tar.kill();
    await tar.done.catch(() => undefined);
    throw e;
  }
  await tar.done;
}

type Header = Partial<TarHeader> & { name: string };

/**
 * Rewrites a tar stream entry by entry: `fn` returns the headers to write in place of one.
 * The entry's content goes with the first file header of the entry's size; others are empty.
 */
function rewriteTar(input: Readable, fn: (h: Header) => Header[]): Readable {
  const extract = tarStream().extract();
  const pack = tarStream().pack();
  const isFile = (h: Header) => h.type === 'file' || h.type === 'contiguous-file' || !h.type;
  extract.on('entry', (header: Header, stream, next) => {
    const out = fn(header);
    const carrier = isFile(header) && (header.size ?? 0) > 0 ? out.findIndex((h) => isFile(h) && h.size === header.size) : -1;
    const emit = (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        if (isFile(out[i])) pack.entry({ ...out[i], size: 0 }, '');
        else pack.entry(out[i]);
      }
    };
    if (carrier < 0) {
      emit(0, out.length);
      stream.on('end', () => next());
      stream.resume();
      return;
    }
    emit(0, carrier);
    const body = pack.entry(out[carrier], (err) => {
      if (err) {
        extract.destroy(err);
        return;
      }
      emit(carrier + 1, out.length);
      next();
    });
    stream.pipe(body);
  });
  extract.on('finish', () => pack.finalize());
  pipeline(input, extract as unknown as Writable).catch((e: Error) => pack.destroy(e));
  return pack as unknown as Readable;
}

/** Renames the top component of every entry `from` → `to` (Docker's RebaseArchiveEntries). */
function rebaseName(name: string, from: string, to: string): string {
  const parts = name.split('/');
  const lead = parts[0] === '' ? 1 : 0;
  if (parts[lead] !== from) return name;
  parts[lead] = to;
  return parts.join('/');
}

// --- cp -------------------------------------------------------------------------------------

/** What a copy reads: a file or directory on either side, tarred from `tarDir` as `tarName`. */
interface Source {
  readonly ctr: string;
  readonly isDir: boolean;
  readonly tarDir: string;
  readonly tarName: string;
  /** The name the entry takes in the copy (the link's name when -L followed a symlink). */
  readonly base: string;
}

const endsWithDot = (p: string) => p === '.' || p.endsWith('/.');
const assertsDir = (p: string) => p.endsWith('/') || endsWithDot(p);

function sourceOf(map: PathMap, p: string, followLink: boolean, missing: () => Error): Source {
  const dot = endsWithDot(p);
  const r = resolveIn(map, p, followLink || assertsDir(p));
  if (!r.stat) throw missing();
  if (r.ctr === '/' && !dot) return sourceOf(map, '/.', followLink, missing);
  const isDir = r.stat.isDirectory();
  if (assertsDir(p) && !isDir) throw new InvalidArgumentError(`not a directory: ${p} is a file; drop the trailing "/" to copy the file`);
  const requested = path.posix.basename(path.posix.normalize(p.replace(/\/\.?$/, '') || '/'));
  if (dot) return { ctr: r.ctr, isDir, tarDir: r.host, tarName: '.', base: '.' };
  const actual = path.posix.basename(r.ctr) || '/';
  return { ctr: r.ctr, isDir, tarDir: path.dirname(r.host), tarName: path.basename(r.host), base: actual !== requested && requested !== '/' ? requested : actual };
}

/** Where the copy is extracted and how its top entry is renamed (Docker's PrepareArchiveCopy). */
function prepareCopy(src: { isDir: boolean; base: string }, dst: { path: string; exists: boolean; isDir: boolean }): { dir: string; rename?: string } {
  const clean = path.posix.normalize(dst.path) + (endsWithDot(dst.path) ? '/.' : '');
  const dstDir = path.posix.dirname(clean.replace(/\/$/, '') || '/');
  const dstBase = path.posix.basename(clean.replace(/\/$/, ''));
  if (dst.exists && dst.isDir) return { dir: dst.path, rename: src.base };
  if (dst.exists && src.isDir) throw new InvalidArgumentError(`cannot copy directory: the destination ${dst.path} is a file; give a directory or a new name`);
  if (!dst.exists && !src.isDir && assertsDir(dst.path)) throw new NotFoundError(`no such directory: ${dst.path} does not exist; create it first or drop the trailing "/" to copy to a file of that name`);
  return { dir: dstDir, rename: dstBase };
}

interface ExtractTarget {
  readonly map: PathMap;
  /** The directory (a resolved path in the map's terms) entries are relative to. */
  readonly dir: string;
  /** Rename the top entry: [from, to]. */
  readonly rebase?: [string, string];
  /** Owner of what is written: the archive's (`keep`), fixed ids, or whoever runs this (undefined). */
  readonly owner?: 'keep' | { uid: number; gid: number };
  /** Checks a path before writing (read-only mounts). */
  readonly check?: (ctr: string) => void;
  /** How to name a path in messages. */
  readonly label: (ctr: string) => string;
}

/**
 * Extracts a tar into `target.dir`, each entry's parent resolved inside the map's root (an
 * existing symlink in the destination never leads out of it), as Docker's untar: a directory
 * merges into a directory, anything else replaces what is there, never a directory by a
 * non-directory or the reverse.
 */
async function extractTar(input: Readable, target: ExtractTarget): Promise<void> {
  try {
    await extractTarEntries(input, target);
  } catch (e) {
    if (e instanceof CdkDockerError) throw e;
    const err = e as NodeJS.ErrnoException;
    const what = (err.message ?? String(e)).split('\n')[0];
    // tar-stream's parse errors have no errno code; the file system's do.
    if (!err.code) throw new InvalidArgumentError(`the archive cannot be read (${what}): it is damaged or not a tar`);
    throw new CdkDockerError(`copying the archive into ${target.label(target.dir)} failed: ${err.code}${err.syscall ? ` (${err.syscall})` : ''}`);
  }
}

async function extractTarEntries(input: Readable, target: ExtractTarget): Promise<void> {
  const extract = tarStream().extract();
  input.on('error', (e) => extract.destroy(e));
  input.pipe(extract as unknown as Writable);
  const dirTimes: Array<[string, Date]> = [];
  // Symlinks this extraction made: an entry through one of them is refused (it could lead anywhere).
  const made = new Set<string>();
  const throughMade = (name: string, p: string): void => {
    for (let q = path.posix.dirname(p); q.length > target.dir.length; q = path.posix.dirname(q)) {
      if (made.has(q)) throw new InvalidArgumentError(`the archive entry "${name}" goes through the symlink ${target.label(q)} of the same archive; refusing to copy it`);
    }
  };
  const entryPath = (name: string): string | undefined => {
    const renamed = target.rebase ? rebaseName(name.replace(/^\/+/, ''), target.rebase[0], target.rebase[1]) : name;
    const parts = components(renamed);
    if (parts.includes('..')) throw new InvalidArgumentError(`the archive entry "${name}" contains ".." and would be written outside ${target.label(target.dir)}; refusing to copy it`);
    return parts.length ? path.posix.join(target.dir, ...parts) : undefined;
  };
  for await (const entry of extract) {
    const h = entry.header;
    const ctr = entryPath(h.name);
    if (!ctr || ctr === target.dir) {
      entry.resume();
      continue;
    }
    throughMade(h.name, ctr);
    target.check?.(ctr);
    const parent = resolveIn(target.map, path.posix.dirname(ctr), true);
    if (!parent.stat) fs.mkdirSync(parent.host, { recursive: true, mode: 0o755 });
    else if (!parent.stat.isDirectory()) throw new InvalidArgumentError(`not a directory: ${target.label(parent.ctr)} is a file, so ${target.label(ctr)} cannot be written`);
    const where = path.posix.join(parent.ctr, path.posix.basename(ctr));
    const file = toHost(target.map, where);
    const isDir = h.type === 'directory';
    const existing = lstat(file);
    if (existing?.isDirectory() && !isDir) throw new ConflictError(`cannot overwrite directory "${target.label(where)}" with non-directory "${h.name}"`);
    if (existing && !existing.isDirectory() && isDir) throw new ConflictError(`cannot overwrite non-directory "${target.label(where)}" with directory "${h.name}"`);
    if (existing && !isDir) fs.rmSync(file, { force: true });
    const mode = (h.mode ?? 0o644) & 0o7777;
    made.delete(ctr);
    made.delete(where);
    switch (h.type) {
      case 'directory':
        if (!existing) fs.mkdirSync(file, { mode: 0o700 });
        dirTimes.push([file, h.mtime ?? new Date()]);
        break;
      case 'file':
      case 'contiguous-file': {
        const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
        await pipeline(entry as unknown as Readable, fs.createWriteStream('', { fd }));
        break;
      }
      case 'symlink':
        fs.symlinkSync(h.linkname ?? '', file);
        made.add(ctr).add(where);
        break;
      case 'link': {
        const to = entryPath(h.linkname ?? '');
        if (!to) throw new InvalidArgumentError(`the archive entry "${h.name}" is a hardlink without a target`);
        throughMade(h.name, to);
        const source = resolveIn(target.map, to, false);
        const kind = source.stat ? (source.stat.isDirectory() ? 'a directory' : undefined) : 'not in the archive or the destination';
        if (kind) throw new InvalidArgumentError(`the archive entry "${h.name}" is a hardlink to "${h.linkname}", which is ${kind}; refusing to copy it`);
        fs.linkSync(source.host, file);
        break;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo':
        await mknod(file, h);
        break;
      default:
        entry.resume();
        continue;
    }
    entry.resume();
    const owner = target.owner === 'keep' ? { uid: h.uid ?? 0, gid: h.gid ?? 0 } : target.owner;
    if (owner) fs.lchownSync(file, owner.uid, owner.gid);
    // chmod follows symlinks, and a hardlink to a symlink is one: its target is a host path
    // (Docker's createTarFile skips those too).
    if (!lstat(file)?.isSymbolicLink()) fs.chmodSync(file, mode);
    if (h.type !== 'directory' && h.mtime) fs.lutimesSync(file, h.mtime, h.mtime);
  }
  for (const [dir, time] of dirTimes.reverse()) fs.lutimesSync(dir, time, time);
}

function mknod(file: string, h: Header): Promise<void> {
  const kind = h.type === 'fifo' ? ['p'] : [h.type === 'block-device' ? 'b' : 'c', String(h.devmajor ?? 0), String(h.devminor ?? 0)];
  return runTool('mknod', [file, ...kind]);
}

export interface CopyOptions {
  /** `-L`: copy what a symlink at the source points to, not the link. */
  readonly followLink?: boolean;
  /** `-a`: keep the archive's uid/gid (into a container); otherwise files are owned by root. */
  readonly archive?: boolean;
}

/**
 * `cp CONTAINER:SRC DEST|-`: to a host path with Docker's rules, or as a tar stream to `out` when
 * `dest` is `-`. Works on running and stopped containers.
 */
export async function copyFromContainer(svc: ContainerService, container: string, srcPath: string, dest: string, out: Writable, opts: CopyOptions = {}): Promise<void> {
  let hostDest: { dir: string; rename?: string } | undefined;
  const src = srcPath.startsWith('/') ? srcPath : `/${srcPath}`;
  const ctx = contextOf(svc);
  await withRootfs(ctx, container, async (rootfs, record) => {
    const map = containerMap(ctx, record, rootfs);
    const source = sourceOf(map, src, !!opts.followLink, () => new NotFoundError(`Could not find the file ${src} in container ${container}`));
    if (dest !== '-') {
      const abs = path.resolve(dest) + (dest.endsWith('/') ? '/' : dest === '.' || dest.endsWith('/.') ? '/.' : '');
      const parent = path.dirname(path.resolve(dest));
      if (!fs.existsSync(parent)) throw new NotFoundError(`invalid output path: directory "${parent}" does not exist`);
      const d = resolveIn(HOST, abs, true);
      const exists = !!d.stat;
      if (d.stat && !d.stat.isDirectory() && !d.stat.isFile()) throw new InvalidArgumentError(`invalid output path: "${dest}" must be a directory or a regular file`);
      if (d.stat && !d.stat.isDirectory() && assertsDir(dest)) throw new InvalidArgumentError(`not a directory: ${dest} is a file; drop the trailing "/" to overwrite it`);
      hostDest = prepareCopy(source, { path: exists && d.stat!.isDirectory() ? d.ctr : assertsDir(abs) ? `${d.ctr}/` : d.ctr, exists, isDir: !!d.stat?.isDirectory() });
    }
    const tar = tarCreate(source.tarDir, [source.tarName]);
    const renamed = source.base !== source.tarName && source.tarName !== '.' ? rewriteTar(tar.output, (h) => [{ ...h, name: rebaseName(h.name, source.tarName, source.base), ...(h.type === 'link' && h.linkname ? { linkname: rebaseName(h.linkname, source.tarName, source.base) } : {}) }]) : tar.output;
    if (!hostDest) {
      await consume(tar, pipeline(renamed, out, { end: false }));
      return;
    }
    const final = hostDest;
    await consume(tar, extractTar(renamed, { map: HOST, dir: final.dir, rebase: final.rename !== undefined ? [source.base, final.rename] : undefined, label: (p) => p }));
  });
}

/**
 * `cp SRC|- CONTAINER:DEST`: a host file or directory (or a tar stream on `input` when `src` is
 * `-`) into the container, with Docker's rules. Into a running container the files land in its
 * merged root and in the bind and volume mounts at their paths.
 */
export async function copyToContainer(svc: ContainerService, src: string, input: Readable, container: string, dstPath: string, opts: CopyOptions = {}): Promise<void> {
  const dst = dstPath.startsWith('/') ? dstPath : `/${dstPath}`;
  const source = src === '-' ? undefined : sourceOf(HOST, path.resolve(src) + (src.endsWith('/') ? '/' : endsWithDot(src) ? '/.' : ''), !!opts.followLink, () => new NotFoundError(`no such file or directory: ${src} does not exist on this host`));
  const ctx = contextOf(svc);
  await withRootfs(ctx, container, async (rootfs, record) => {
    const map = containerMap(ctx, record, rootfs);
    const d = resolveIn(map, dst, true);
    const exists = !!d.stat;
    const isDir = !!d.stat?.isDirectory();
    if (d.stat && !isDir && !d.stat.isFile()) throw new InvalidArgumentError(`destination "${container}:${dstPath}" must be a directory or a regular file`);
    if (d.stat && !isDir && assertsDir(dstPath)) throw new InvalidArgumentError(`not a directory: ${dstPath} in container ${container} is a file; drop the trailing "/" to overwrite it`);
    let target: { dir: string; rename?: string };
    if (!source) {
      // Docker's answer for a missing destination of an archive.
      if (!exists) throw new NotFoundError(`Could not find the file ${dstPath} in container ${container}`);
      if (!isDir) throw new InvalidArgumentError(`destination "${container}:${dstPath}" must be a directory`);
      target = { dir: d.ctr };
    } else {
      target = prepareCopy(source, { path: exists ? d.ctr : assertsDir(dst) ? `${d.ctr}/` : d.ctr, exists, isDir });
    }
    const dir = resolveIn(map, target.dir, true);
    if (!dir.stat) throw new NotFoundError(`Could not find the file ${target.dir} in container ${container}`);
    if (!dir.stat.isDirectory()) throw new InvalidArgumentError(`not a directory: ${target.dir} in container ${container} is a file`);
    checkWritable(map, dir.ctr);
    const common = { map, dir: dir.ctr, owner: opts.archive ? ('keep' as const) : { uid: 0, gid: 0 }, check: (p: string) => checkWritable(map, p), label: (p: string) => p };
    if (!source) {
      await extractTar(input, common);
      return;
    }
    const tar = tarCreate(source.tarDir, [source.tarName]);
    await consume(tar, extractTar(tar.output, { ...common, rebase: target.rename !== undefined ? [source.tarName, target.rename] : undefined }));
  });
}

// --- the builder's access ---------------------------------------------------------------------

/** A stopped container's merged root, as the builder writes COPY, ADD and WORKDIR into it. */
export interface ContainerRoot {
  /** The merged root on the host. */
  readonly rootfs: string;
  /** Resolves a container path inside the root (symlinks followed relative to it; the last one with `followLast`). */
  resolve(ctrPath: string, followLast?: boolean): { readonly ctr: string; readonly host: string; readonly stat?: fs.Stats };
  /** Extracts a tar into directory `dir` (a container path), keeping the archive's owners, as `cp -a`. */
  extract(tar: Readable, dir: string): Promise<void>;
}

/** Runs `fn` with a container's merged root mounted (unmounted after). */
export function withContainerRoot<T>(svc: ContainerService, container: string, fn: (root: ContainerRoot) => Promise<T>): Promise<T> {
  const ctx = contextOf(svc);
  return withRootfs(ctx, container, (rootfs, record) => {
    const map = containerMap(ctx, record, rootfs);
    return fn({
      rootfs,
      resolve: (p, followLast = true) => resolveIn(map, p, followLast),
      extract: (tar, dir) => extractTar(tar, { map, dir: resolveIn(map, dir, true).ctr, owner: 'keep', label: (p) => p }),
    });
  });
}

// --- diff -----------------------------------------------------------------------------------

export type ChangeKind = 'A' | 'C' | 'D';

export interface Change {
  readonly kind: ChangeKind;
  /** Absolute path in the container. */
  readonly path: string;
}

const isWhiteout = (st: fs.Stats) => st.isCharacterDevice() && st.rdev === 0;

/** Directories of a tree with `trusted.overlay.opaque=y` (relative paths), via getfattr. */
function opaqueDirs(root: string): Promise<Set<string>> {
  return new Promise((resolve, reject) => {
    const named = spawn('getfattr', ['-R', '-P', '--absolute-names', '-n', 'trusted.overlay.opaque', root], { stdio: ['ignore', 'pipe', 'ignore'] });
    let text = '';
    named.stdout!.on('data', (d) => (text += d));
    named.on('error', (e) => reject(new CdkDockerError(`cannot run getfattr (${e.message}); install it with \`apt-get install attr\``)));
    named.on('close', () => {
      const out = new Set<string>();
      let file: string | undefined;
      for (const line of text.split('\n')) {
        // getfattr escapes each byte above 127 as \ooo: undo that, then read the bytes as UTF-8.
        if (line.startsWith('# file: ')) file = Buffer.from(line.slice(8).replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))), 'latin1').toString('utf8');
        else if (file && /^trusted\.overlay\.opaque="y"$/.test(line)) out.add(path.relative(root, file));
      }
      resolve(out);
    });
  });
}

/** The image's layers as seen from above: does a path exist in them, what does a directory hold. */
class Lowers {
  constructor(private readonly layers: string[], private readonly opaque: Array<Set<string>>) {}

  /** lstat of `rel` in the merged lower layers (undefined when absent or deleted). */
  public stat(rel: string): fs.Stats | undefined {
    const parts = rel.split('/');
    for (let i = 0; i < this.layers.length; i++) {
      const st = lstat(path.join(this.layers[i], rel));
      if (st) return isWhiteout(st) ? undefined : st;
      // A whiteout, a file or an opaque directory on the way hides the layers below.
      for (let j = parts.length - 1; j >= 1; j--) {
        const anc = parts.slice(0, j).join('/');
        const a = lstat(path.join(this.layers[i], anc));
        if (a && !a.isDirectory()) return undefined;
        if (a && this.opaque[i].has(anc)) return undefined;
      }
    }
    return undefined;
  }

  /** Names in directory `rel` of the merged lower layers. */
  public list(rel: string): string[] {
    const names = new Set<string>();
    for (const layer of this.layers) {
      try {
        for (const n of fs.readdirSync(path.join(layer, rel))) names.add(n);
      } catch {
        // not in this layer
      }
    }
    return [...names].filter((n) => this.stat(path.posix.join(rel, n)) !== undefined);
  }
}

/** What the change walk found: the changes, and what a commit layer needs from the upper dir. */
interface Walk {
  readonly changes: Change[];
  /** Upper-dir paths (relative) to archive, in order. */
  readonly archive: string[];
  /** Directories of `archive` that are opaque. */
  readonly opaque: Set<string>;
}

async function walkChanges(ctx: ContainerContext, nameOrId: string): Promise<Walk> {
  const id = ctx.store.resolve(nameOrId);
  const record = ctx.store.record(id);
  const upper = ctx.upperDir(id);
  const image = ctx.images.resolve(record.ImageId);
  const layers = ctx.images
    .chainIds(image)
    .map((c) => ctx.images.layerDiffDir(c))
    .reverse();
  // Opacity below the top layer only matters with several layers.
  const lowerOpaque = await Promise.all(layers.map((l, i) => (i < layers.length - 1 ? opaqueDirs(l) : Promise.resolve(new Set<string>()))));
  const lowers = new Lowers(layers, lowerOpaque);
  const upperOpaque = fs.existsSync(upper) ? await opaqueDirs(upper) : new Set<string>();
  const changes: Change[] = [];
  const archive: string[] = [];
  const opaque = new Set<string>();

  /** Walks directory `rel` of the upper dir; returns whether anything in it counts. */
  const walk = (rel: string, allAdded: boolean): boolean => {
    let names: string[];
    try {
      names = fs.readdirSync(path.join(upper, rel));
    } catch {
      return false;
    }
    const lowerNames = rel !== '' && upperOpaque.has(rel) && !allAdded ? lowers.list(rel) : [];
    const entries = [...new Set([...names, ...lowerNames])].sort();
    let any = false;
    for (const name of entries) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstat(path.join(upper, r));
      if (!st) {
        // Hidden by the opaque directory above.
        changes.push({ kind: 'D', path: `/${r}` });
        any = true;
        continue;
      }
      const below = allAdded ? undefined : lowers.stat(r);
      if (isWhiteout(st)) {
        changes.push({ kind: 'D', path: `/${r}` });
        archive.push(r);
        any = true;
        continue;
      }
      if (!below && (MOUNT_POINT_FILES.has(r) && st.isFile() && st.size === 0)) continue;
      if (!below && r === 'etc/mtab' && st.isSymbolicLink() && fs.readlinkSync(path.join(upper, r)) === '/proc/mounts') continue; // the runtime's (spec.ts ensureMtab)
      if (!below && MOUNT_POINT_DIRS.has(r) && st.isDirectory()) continue;
      if (st.isDirectory()) {
        const at = changes.length;
        const atArchive = archive.length;
        changes.push({ kind: below ? 'C' : 'A', path: `/${r}` });
        archive.push(r);
        const inner = walk(r, !below);
        const keep = below
          ? inner || !below.isDirectory() || below.mode !== st.mode || below.uid !== st.uid || below.gid !== st.gid || upperOpaque.has(r)
          : // An added directory counts, unless it only holds the runtime's mount points.
            inner || fs.readdirSync(path.join(upper, r)).length === 0;
        if (!keep) {
          changes.splice(at);
          archive.splice(atArchive);
          continue;
        }
        if (upperOpaque.has(r) && below) opaque.add(r);
        any = true;
        continue;
      }
      changes.push({ kind: below ? 'C' : 'A', path: `/${r}` });
      archive.push(r);
      any = true;
    }
    return any;
  };
  walk('', false);
  return { changes, archive, opaque };
}

/** `diff`: the container's changes to its image's file system, as Docker lists them. */
export async function containerChanges(svc: ContainerService, nameOrId: string): Promise<Change[]> {
  return (await walkChanges(contextOf(svc), nameOrId)).changes;
}

// --- export ---------------------------------------------------------------------------------

/** `export`: the container's merged file system (without its volumes) as a tar on `out`. */
export async function exportContainer(svc: ContainerService, nameOrId: string, out: Writable): Promise<void> {
  await withRootfs(contextOf(svc), nameOrId, async (rootfs) => {
    const names = fs.readdirSync(rootfs).sort();
    const tar = tarCreate(rootfs, names, ['--one-file-system', '--xattrs', '--xattrs-include=*']);
    await consume(tar, pipeline(tar.output, out, { end: false }));
  });
}

// --- commit ---------------------------------------------------------------------------------

export interface CommitContainerOptions {
  /** `REPOSITORY[:TAG]`. @default untagged */
  readonly ref?: string;
  readonly author?: string;
  readonly message?: string;
  /** Dockerfile instructions (`-c`): CMD, ENTRYPOINT, ENV, LABEL, WORKDIR, USER, STOPSIGNAL, EXPOSE, VOLUME. */
  readonly changes?: string[];
  /** Pause a running container while its changes are read. @default true */
  readonly pause?: boolean;
  /** The new image's defaults, instead of the container's settings (the builder's config). */
  readonly config?: ContainerConfig;
  /** The history's `created_by`. @default the container's command */
  readonly createdBy?: string;
}

/** The container's settings as image defaults (what `commit` keeps). */
function imageDefaults(ctx: ContainerContext, record: ContainerRecord, image: ImageRecord): ContainerConfig {
  const base = ctx.images.config(image).config ?? {};
  const c = record.Config;
  return {
    ...base,
    User: c.User || undefined,
    Env: c.Env,
    Cmd: c.Cmd ?? undefined,
    Entrypoint: c.Entrypoint ?? undefined,
    WorkingDir: c.WorkingDir || undefined,
    Labels: Object.keys(c.Labels).length ? c.Labels : undefined,
    ExposedPorts: c.ExposedPorts ?? undefined,
    Volumes: c.Volumes ?? undefined,
    StopSignal: c.StopSignal && (c.StopSignal !== 'SIGTERM' || base.StopSignal) ? c.StopSignal : undefined,
    Healthcheck: c.Healthcheck ?? base.Healthcheck,
  };
}

/** The container's layer: its upper dir's changes, whiteouts as `.wh.` entries, opaque dirs marked. */
function layerTar(upper: string, walk: Walk): TarProcess {
  const tar = tarCreate(upper, walk.archive, ['--no-recursion']);
  const output = rewriteTar(tar.output, (h) => {
    const name = h.name.replace(/\/$/, '');
    if (h.type === 'character-device' && !h.devmajor && !h.devminor) {
      return [{ name: path.posix.join(path.posix.dirname(name), `.wh.${path.posix.basename(name)}`), type: 'file', size: 0, mode: 0o600, uid: h.uid, gid: h.gid, mtime: h.mtime }];
    }
    if (h.type === 'directory' && walk.opaque.has(name)) {
      return [h, { name: `${name}/.wh..wh..opq`, type: 'file', size: 0, mode: (h.mode ?? 0o755) & 0o777, uid: h.uid, gid: h.gid, mtime: h.mtime }];
    }
    return [h];
  });
  return { output, done: tar.done, kill: tar.kill };
}

/**
 * `commit`: a new image from the container — its image's layers plus one layer of its changes,
 * its settings as the image's defaults with `changes` applied. A running container is paused
 * meanwhile unless `pause` is false; `committed` is called with the image before it is resumed
 * (where Docker's events of a commit come). Returns the new image.
 */
export async function commitContainer(svc: ContainerService, nameOrId: string, opts: CommitContainerOptions = {}, committed?: (image: ImageRecord) => void): Promise<ImageRecord> {
  const ctx = contextOf(svc);
  const id = ctx.store.resolve(nameOrId);
  const record = ctx.store.record(id);
  const image = ctx.images.resolve(record.ImageId);
  const config = opts.config ?? imageDefaults(ctx, record, image);
  validateCommit(opts.ref, config, opts.changes);
  const status = ctx.store.state(id).Status;
  const pause = opts.pause !== false && status === 'running';
  if (pause) await pauseContainer(ctx, id);
  try {
    const walk = await walkChanges(ctx, id);
    const layer = layerTar(ctx.upperDir(id), walk);
    let made: ImageRecord | undefined;
    await consume(
      layer,
      commitImage(ctx.images, {
        baseImage: image.id,
        layer: layer.output,
        config,
        changes: opts.changes,
        author: opts.author,
        message: opts.message,
        createdBy: opts.createdBy ?? [record.Path, ...record.Args].join(' '),
        ref: opts.ref,
      }).then((r) => (made = r)),
    );
    committed?.(made!);
    return made!;
  } finally {
    if (pause) await unpauseContainer(ctx, id).catch(() => undefined);
  }
}

