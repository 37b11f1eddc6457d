import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tarStream, TarHeader } from '../../lib/core/tar';
import { CdkDockerError } from '../../lib/core/errors';
import { runTool } from '../util/exec';
import { MEDIA_TYPES } from './types';

/**
 * Layers: unpacking a layer blob into a directory usable as an overlayfs lowerdir.
 *
 * What is checked is exactly what is extracted: one reader (tar-stream) gives the entries and
 * this process decides and writes each of them itself (LayerWriter), never resolving a path
 * through a symlink. An entry that would land outside the layer directory — through `..`, an
 * absolute path, a symlink or non-directory of the layer, a hardlink to anything but a file of
 * the layer — or a malformed archive (a zero block before more entries, as Go's archive/tar
 * refuses it; an unknown entry type; a whiteout without a name) rejects the whole layer.
 * Ownership, modes (setuid too), mtimes, xattrs (file capabilities; not overlayfs's own),
 * device nodes, hardlinks and symlinks are kept as GNU tar keeps them. It all
 * happens in a fresh directory that is renamed into place only when complete. Whiteouts take
 * overlayfs form: `.wh.X` → a 0:0 character device `X`; `.wh..wh..opq` → the
 * `trusted.overlay.opaque=y` xattr on its directory.
 */

/** A layer tried to write outside its directory (or was otherwise unsafe). */
export class UnsafeLayerError extends CdkDockerError {
  public override readonly code = 'UNSAFE_LAYER';
}

/** Content did not hash to the digest it was expected to have. */
export class DigestMismatchError extends CdkDockerError {
  public override readonly code = 'DIGEST_MISMATCH';
  constructor(what: string, public readonly expected: string, public readonly actual: string) {
    super(`${what}: digest mismatch: expected ${expected}, got ${actual}`);
  }
}

/** chain(L1) = diffid(L1); chain(Ln) = sha256(chain(Ln-1) + " " + diffid(Ln)). */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    out.push(out.length === 0 ? d : `sha256:${createHash('sha256').update(`${out[out.length - 1]} ${d}`).digest('hex')}`);
  }
  return out;
}

/** How a layer blob is compressed, from its media type (or its first bytes). */
export function compressionOf(mediaType: string, head?: Buffer): 'gzip' | 'zstd' | 'none' {
  if (/zstd/.test(mediaType)) return 'zstd';
  if (/gzip/.test(mediaType)) return 'gzip';
  if (head && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (mediaType === MEDIA_TYPES.ociLayer || mediaType === 'application/vnd.docker.image.rootfs.diff.tar') return 'none';
  return 'none';
}

/** Entry types that carry no data: a size on one of them is a malformed archive. */
const HEADER_ONLY = new Set(['link', 'symlink', 'character-device', 'block-device', 'directory', 'fifo']);
const FILE_TYPES = new Set(['file', 'contiguous-file']);
const KNOWN_TYPES = new Set([...HEADER_ONLY, ...FILE_TYPES]);

/** tar-stream's own header decoder, for the extended headers it consumes before an entry (loaded with the first layer read). */
let tarHeaders: { decode(buf: Buffer, filenameEncoding: string, allowUnknownFormat: boolean): { type: string | null; size: number } | null } | undefined;
const headers = () => (tarHeaders ??= require(path.join(path.dirname(require.resolve('tar-stream')), 'headers.js')) as NonNullable<typeof tarHeaders>);

const BLOCK = 512;
/** The most bytes of extended headers (and zero blocks) accepted between two entries. */
const MAX_GAP = 64 << 20;
const padded = (n: number) => Math.ceil(n / BLOCK) * BLOCK;

/** How messages name a layer: its diff id (as `image inspect` lists it), else its blob's digest. */
function layerName(blob: string, diffId?: string): string {
  if (diffId && /^sha256:[a-f0-9]{64}$/.test(diffId)) return diffId;
  const base = path.basename(blob);
  return /^[a-f0-9]{64}$/.test(base) ? `sha256:${base}` : base;
}

/**
 * The bytes of the uncompressed tar on their way to tar-stream: hashed for the diff id, and the
 * stretches between two entries (extended headers, zero blocks) kept until the entry after them
 * has been read, so that they can be checked. tar-stream skips zero blocks wherever they are and
 * gives PAX values as UTF-8 text, which binary xattrs are not; these stretches say both exactly.
 */
class Tap extends Transform {
  public readonly hash = createHash('sha256');
  private pos = 0;
  private keepFrom = 0;
  /** Kept chunks, each with the offset of its first byte, in order. */
  private kept: Array<{ at: number; bytes: Buffer }> = [];

  constructor(private readonly layer: string) {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    const end = this.pos + chunk.length;
    if (end > this.keepFrom) {
      const from = Math.max(this.keepFrom, this.pos);
      this.kept.push({ at: from, bytes: chunk.subarray(from - this.pos) });
    }
    this.pos = end;
    // Extended headers are at most 4 MiB each (tar-stream's limit) and only a few precede an
    // entry; what is kept beyond the next entry's header is bounded by the streams' buffers.
    if (end - Math.max(this.keepFrom, this.kept[0]?.at ?? end) > MAX_GAP) {
      cb(new UnsafeLayerError(`layer ${this.layer}: more than ${MAX_GAP >> 20} MiB of extended headers before one entry at byte ${this.keepFrom} (malformed tar); the layer was rejected and nothing of it was kept`));
      return;
    }
    cb(null, chunk);
  }

  /** Bytes [from, to) of the tar (they must not have been released). */
  public slice(from: number, to: number): Buffer {
    if (to <= from) return Buffer.alloc(0);
    const parts: Buffer[] = [];
    for (const { at, bytes } of this.kept) {
      const s = Math.max(from, at);
      const e = Math.min(to, at + bytes.length);
      if (s < e) parts.push(bytes.subarray(s - at, e - at));
      if (at + bytes.length >= to) break;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  /** Forgets the bytes before `offset`. */
  public release(offset: number): void {
    this.keepFrom = Math.max(this.keepFrom, offset);
    let drop = 0;
    while (drop < this.kept.length && this.kept[drop].at + this.kept[drop].bytes.length <= offset) drop++;
    if (drop > 0) this.kept.splice(0, drop);
    const first = this.kept[0];
    if (first && first.at < offset) this.kept[0] = { at: offset, bytes: first.bytes.subarray(offset - first.at) };
  }
}

/** The binary-safe `SCHILY.xattr.*` records of a PAX extended header. */
function paxXattrs(data: Buffer, into: Map<string, Buffer>): void {
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space < 0) return;
    const len = Number(data.subarray(at, space).toString('latin1'));
    if (!Number.isInteger(len) || len <= 0 || at + len > data.length) return;
    const record = data.subarray(space + 1, at + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq > 0) {
      const key = record.subarray(0, eq).toString('utf8');
      if (key.startsWith('SCHILY.xattr.')) into.set(key.slice('SCHILY.xattr.'.length), Buffer.from(record.subarray(eq + 1)));
    }
    at += len;
  }
}

/**
 * Checks what lies between two entries — only extended headers may — and returns the xattrs of
 * the entry after it. A zero block ends a tar for GNU tar and Go's archive/tar alike: one followed
 * by an entry is refused (Go: "invalid tar header"), so no reader could see other entries.
 */
function readGap(gap: Buffer, start: number, fail: (why: string) => never): Map<string, Buffer> {
  const xattrs = new Map<string, Buffer>();
  let zeroAt = -1;
  for (let p = 0; p + BLOCK <= gap.length; ) {
    const block = gap.subarray(p, p + BLOCK);
    const decoded = block.every((b) => b === 0) ? null : headers().decode(block, 'utf-8', false);
    if (decoded === null) {
      if (zeroAt < 0) zeroAt = start + p;
      p += BLOCK;
      continue;
    }
    if (zeroAt >= 0) break;
    const data = gap.subarray(p + BLOCK, p + BLOCK + decoded.size);
    if (decoded.type === 'pax-header') paxXattrs(data, xattrs);
    p += BLOCK + padded(decoded.size);
  }
  if (zeroAt >= 0) fail(`follows a zero block at byte ${zeroAt}, which ends the archive (malformed tar: GNU tar and Docker stop reading there)`);
  return xattrs;
}

function lstatOrNone(file: string): fs.Stats | undefined {
  return fs.lstatSync(file, { throwIfNoEntry: false });
}

interface DirMeta {
  readonly mode: number;
  readonly mtime: number;
}

/**
 * Writes the entries of one layer into `root`, itself: no path is ever resolved through a
 * symlink. Every parent of an entry is lstat'ed and must be a real directory (a missing one is
 * made); what is at the entry's own path is removed first unless both are directories (Docker's
 * createTarFile); files are opened O_EXCL | O_NOFOLLOW; hardlinks only to a file or symlink of
 * this layer; whiteouts become overlayfs whiteouts at checked paths. Directory modes and mtimes
 * are applied at the end, as tar does, so that later entries can still be written into them.
 */
class LayerWriter {
  public size = 0;
  private readonly dirs = new Map<string, DirMeta>();
  /** Host paths found or made real directories since nothing was removed at or above them. */
  private readonly realDirs = new Set<string>();

  constructor(private readonly root: string, private readonly layer: string) {}

  public bad(name: string, why: string): never {
    throw new UnsafeLayerError(`layer ${this.layer}: entry "${name}" ${why}; the layer was rejected and nothing of it was kept`);
  }

  /** The checked relative path of an entry name (or link target). */
  private relOf(name: string): string[] {
    const parts = name.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) this.bad(name, 'contains ".." and would escape the layer directory');
    return parts;
  }

  /** Makes sure every parent of `parts` is a real directory of the layer; returns the host path of the parent. */
  private parents(name: string, parts: string[], create: boolean): string | undefined {
    let dir = this.root;
    for (let i = 0; i < parts.length - 1; i++) {
      dir = path.join(dir, parts[i]);
      if (this.realDirs.has(dir)) continue;
      const st = lstatOrNone(dir);
      if (!st) {
        if (!create) return undefined;
        fs.mkdirSync(dir, { mode: 0o755 });
        this.realDirs.add(dir);
      } else if (st.isDirectory()) {
        this.realDirs.add(dir);
      } else if (st.isSymbolicLink()) {
        this.bad(name, `goes through the symlink "${parts.slice(0, i + 1).join('/')}" of the same layer`);
      } else if (!st.isDirectory()) {
        this.bad(name, `goes through "${parts.slice(0, i + 1).join('/')}", which is not a directory`);
      }
    }
    return dir;
  }

  /** Removes what is at `file` (and forgets the directories it held). */
  private remove(file: string): void {
    fs.rmSync(file, { recursive: true, force: true });
    for (const d of this.realDirs) if (d === file || d.startsWith(`${file}/`)) this.realDirs.delete(d);
  }

  public async entry(header: TarHeader, stream: Readable, xattrs: Map<string, Buffer>): Promise<void> {
    const name = header.name;
    // tar-stream gives null for a type flag it does not know (GNU sparse, volume labels …):
    // Docker refuses those ("unhandled tar header type"), so does this.
    const type: string = header.type ?? 'unknown';
    this.size += header.size ?? 0;
    if (!KNOWN_TYPES.has(type)) this.bad(name, `has an unsupported tar entry type (${type}); only files, directories, links, devices and fifos can be unpacked`);
    if (HEADER_ONLY.has(type) && header.size > 0) this.bad(name, `is a ${type} entry with ${header.size} bytes of data (malformed tar)`);
    if (name.startsWith('/')) this.bad(name, 'has an absolute path');
    const parts = this.relOf(name);
    const pax = (header.pax ?? {}) as Record<string, string>;
    const uid = pax.uid !== undefined ? Number(pax.uid) : header.uid;
    const gid = pax.gid !== undefined ? Number(pax.gid) : header.gid;
    const mtime = pax.mtime !== undefined && Number.isFinite(Number(pax.mtime)) ? Number(pax.mtime) : header.mtime.getTime() / 1000;
    const mode = header.mode & 0o7777;

    if (parts.length === 0) {
      if (type !== 'directory') this.bad(name, 'names the layer root but is not a directory');
      fs.lchownSync(this.root, uid, gid);
      await this.setXattrs(this.root, xattrs);
      this.dirs.set('', { mode, mtime });
      return;
    }
    const base = parts[parts.length - 1];
    const dir = this.parents(name, parts, true)!;
    const file = path.join(dir, base);

    if (base.startsWith('.wh.')) {
      await this.whiteout(name, type, base, dir);
      stream.resume();
      return;
    }

    let linkTo: string | undefined;
    if (type === 'link') {
      const target = header.linkname ?? '';
      const tparts = target.split('/').filter((p) => p !== '' && p !== '.');
      if (tparts.includes('..')) this.bad(name, `is a hardlink to "${target}", outside the layer directory`);
      if (tparts.length === 0) this.bad(name, 'is a hardlink without a target');
      const tdir = this.parents(name, tparts, false);
      const tst = tdir === undefined ? undefined : lstatOrNone(path.join(tdir, tparts[tparts.length - 1]));
      if (!tst || !(tst.isFile() || tst.isSymbolicLink())) this.bad(name, `is a hardlink to "${target}", which is not a file of this layer`);
      linkTo = path.join(tdir!, tparts[tparts.length - 1]);
      if (linkTo === file) return;
    }
    if (type === 'symlink' && !header.linkname) this.bad(name, 'is a symlink without a target');

    const existing = lstatOrNone(file);
    if (existing && !(existing.isDirectory() && type === 'directory')) this.remove(file);
    if (type !== 'directory') this.dirs.delete(parts.join('/'));

    switch (type) {
      case 'directory':
        if (!existing?.isDirectory()) fs.mkdirSync(file, { mode: 0o700 });
        this.realDirs.add(file);
        fs.lchownSync(file, uid, gid);
        await this.setXattrs(file, xattrs);
        this.dirs.set(parts.join('/'), { mode, mtime });
        return;
      case 'file':
      case 'contiguous-file': {
        const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
        try {
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            for (let off = 0; off < chunk.length; ) off += fs.writeSync(fd, chunk, off);
          }
          fs.fchownSync(fd, uid, gid);
          fs.fchmodSync(fd, mode);
          await this.setXattrs(file, xattrs);
          fs.futimesSync(fd, mtime, mtime);
        } finally {
          fs.closeSync(fd);
        }
        return;
      }
      case 'link':
        fs.linkSync(linkTo!, file);
        return;
      case 'symlink':
        fs.symlinkSync(header.linkname!, file);
        fs.lchownSync(file, uid, gid);
        await this.setXattrs(file, xattrs);
        fs.lutimesSync(file, mtime, mtime);
        return;
      default: {
        // character-device, block-device, fifo: mknod(1) at the checked path.
        const kind = type === 'fifo' ? ['p'] : [type === 'block-device' ? 'b' : 'c', String(header.devmajor ?? 0), String(header.devminor ?? 0)];
        await runTool('mknod', ['-m', '000', file, ...kind]);
        fs.lchownSync(file, uid, gid);
        fs.chmodSync(file, mode);
        await this.setXattrs(file, xattrs);
        fs.lutimesSync(file, mtime, mtime);
      }
    }
  }

  /** `.wh.X` removes X of this layer and leaves a 0:0 character device; `.wh..wh..opq` marks its directory opaque. */
  private async whiteout(name: string, type: string, base: string, dir: string): Promise<void> {
    if (base === '.wh..wh..opq') {
      if (!FILE_TYPES.has(type)) this.bad(name, `is an opaque-directory marker (.wh..wh..opq) but a ${type}, not a regular file`);
      await runTool('setfattr', ['-h', '-n', 'trusted.overlay.opaque', '-v', 'y', dir]);
      return;
    }
    const victim = base.slice('.wh.'.length);
    if (victim === '') this.bad(name, 'is a whiteout without a name (.wh.)');
    if (victim === '.' || victim === '..') this.bad(name, `is a whiteout of "${victim}", which is not an entry of its directory`);
    if (!FILE_TYPES.has(type) && type !== 'link') this.bad(name, `is a whiteout (.wh.) but a ${type}, not a regular file`);
    const file = path.join(dir, victim);
    if (lstatOrNone(file)) this.remove(file);
    await runTool('mknod', ['-m', '000', file, 'c', '0', '0']);
  }

  /**
   * The entry's xattrs, but overlayfs's own (redirect, origin, metacopy …): those steer how the
   * kernel merges the layers, and a layer says what it deletes with `.wh.` entries only.
   */
  private async setXattrs(file: string, xattrs: Map<string, Buffer>): Promise<void> {
    for (const [key, value] of xattrs) {
      if (key.startsWith('trusted.overlay.') && !(key === 'trusted.overlay.opaque' && value.toString('latin1') === 'y')) continue;
      await runTool('setfattr', ['-h', '-n', key, '-v', value.length ? `0x${value.toString('hex')}` : '""', file]);
    }
  }

  /** Directory modes and mtimes, at the end; a directory replaced since is left alone. */
  public finish(): void {
    const entries = [...this.dirs].sort((a, b) => b[0].split('/').length - a[0].split('/').length);
    for (const [rel, meta] of entries) {
      const parts = rel ? rel.split('/') : [];
      if (parts.length > 0) {
        const dir = this.parents(rel, parts, false);
        if (dir === undefined || !lstatOrNone(path.join(dir, parts[parts.length - 1]))?.isDirectory()) continue;
      }
      const fd = fs.openSync(path.join(this.root, rel), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
      try {
        fs.fchmodSync(fd, meta.mode);
        fs.futimesSync(fd, meta.mtime, meta.mtime);
      } finally {
        fs.closeSync(fd);
      }
    }
  }
}

/**
 * The uncompressed tar of a layer blob: gzip is inflated in this process (zlib works on the
 * thread pool, twice as fast as gzip(1) here), zstd by `zstd -dc` (Node has no zstd). A
 * missing zstd becomes an error naming the package.
 */
function decompressed(blob: string, compression: 'gzip' | 'zstd' | 'none'): { stream: Readable; done: Promise<void>; kill: () => void } {
  const file = fs.createReadStream(blob, { highWaterMark: 1 << 20 });
  if (compression === 'none') return { stream: file, done: Promise.resolve(), kill: () => file.destroy() };
  if (compression === 'gzip') {
    file.on('error', () => undefined); // reported by the pipeline that reads the gunzip
    const gunzip = zlib.createGunzip({ chunkSize: 1 << 20 });
    return { stream: file.pipe(gunzip), done: Promise.resolve(), kill: () => file.destroy() };
  }
  file.destroy();
  const child = spawn('zstd', ['-dcq', '--', blob], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (e) =>
      reject(
        (e as NodeJS.ErrnoException).code === 'ENOENT'
          ? new CdkDockerError('this layer needs zstd to be decompressed and zstd is not installed; install it with `apt-get install zstd`')
          : new CdkDockerError(`cannot run zstd: ${e.message}`),
      ),
    );
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else if (code !== null || signal !== 'SIGKILL') reject(new CdkDockerError(`decompressing the layer with zstd failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
      else resolve();
    });
  });
  done.catch(() => undefined);
  return { stream: child.stdout!, done, kill: () => child.kill('SIGKILL') };
}

export interface UnpackResult {
  /** Digest of the uncompressed tar. */
  readonly diffId: string;
  /** Sum of the entry sizes. */
  readonly size: number;
}

/**
 * Unpacks `blob` into `dest` (which must not exist): each entry checked and written by
 * LayerWriter as tar-stream reads it, whiteouts converted, then renamed into place. On any
 * failure nothing is left at `dest`. When `expectedDiffId` is given, the uncompressed content
 * must hash to it.
 */
export async function unpackLayer(blob: string, mediaType: string, dest: string, expectedDiffId?: string): Promise<UnpackResult> {
  const head = Buffer.alloc(4);
  const fd = fs.openSync(blob, 'r');
  fs.readSync(fd, head, 0, 4, 0);
  fs.closeSync(fd);
  const layer = layerName(blob, expectedDiffId);
  const tmp = path.join(path.dirname(dest), `.tmp-${path.basename(dest)}-${randomBytes(4).toString('hex')}`);
  const diffDir = path.join(tmp, 'diff');
  fs.mkdirSync(diffDir, { recursive: true, mode: 0o755 });
  try {
    // One reader: the bytes are decompressed once, hashed, and read by tar-stream; each entry
    // it gives is checked and written by this process before the next is read.
    const source = decompressed(blob, compressionOf(mediaType, head));
    const tap = new Tap(layer);
    const extract = tarStream().extract();
    const writer = new LayerWriter(diffDir, layer);
    const feeding = pipeline(source.stream, tap, extract as unknown as Writable);
    const consuming = (async () => {
      let end = 0;
      for await (const entry of extract) {
        const header = entry.header;
        const xattrs = readGap(tap.slice(end, entry.offset), end, (why) => writer.bad(header.name, why));
        end = header.type === 'directory' ? entry.offset + BLOCK : entry.offset + BLOCK + padded(header.size ?? 0);
        tap.release(end);
        try {
          await writer.entry(header, entry as unknown as Readable, xattrs);
        } catch (e) {
          if (e instanceof CdkDockerError) throw e;
          throw new CdkDockerError(`layer ${layer}: entry "${header.name}" cannot be written (${(e as Error).message}); the layer was rejected and nothing of it was kept`);
        }
        entry.resume();
      }
    })();
    consuming.catch(() => source.kill());
    const [consumed, fed, decompressedOk] = await Promise.allSettled([consuming, feeding, source.done]);
    const failures = [consumed, decompressedOk, fed].filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error);
    if (failures.length > 0) {
      source.kill();
      const typed = failures.find((e) => e instanceof CdkDockerError);
      if (typed) throw typed;
      throw new CdkDockerError(`layer ${layer} cannot be read (${failures[0].message}): the blob is damaged or not a layer; remove the image and pull or load it again`);
    }
    writer.finish();
    const diffId = `sha256:${tap.hash.digest('hex')}`;
    if (expectedDiffId && diffId !== expectedDiffId) throw new DigestMismatchError(`layer ${path.basename(blob)}`, expectedDiffId, diffId);
    fs.writeFileSync(path.join(tmp, 'size'), String(writer.size));
    try {
      fs.renameSync(tmp, dest);
    } catch (e) {
      // Another process unpacked the same layer first: its copy is as good as ours.
      if (!['ENOTEMPTY', 'EEXIST'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    return { diffId, size: writer.size };
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Size recorded for an unpacked layer directory. */
export function layerSize(layerDir: string): number {
  try {
    return Number(fs.readFileSync(path.join(layerDir, 'size'), 'utf8')) || 0;
  } catch {
    return 0;
  }
}
