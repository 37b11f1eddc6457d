import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import { CdkDockerError } from '../../lib/util/errors';
import { runTool } from '../util/exec';
import { MEDIA_TYPES } from './types';

/**
 * Layers: unpacking a layer blob into a directory usable as an overlayfs lowerdir.
 *
 * Every entry of the layer is checked before anything is trusted: an entry that would land
 * outside the layer directory — through `..`, an absolute path, a symlink of the layer or a
 * hardlink — rejects the whole layer, and its directory is removed. Extraction itself is done
 * by GNU tar (ownership, modes, mtimes, xattrs such as file capabilities, device nodes,
 * hardlinks and symlinks), into a fresh directory that is renamed into place only when
 * complete. Whiteouts are then converted to overlayfs form: `.wh.X` → a 0:0 character device
 * `X`; `.wh..wh..opq` → the `trusted.overlay.opaque=y` xattr on its directory.
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

/** Whiteouts found in a layer, applied after extraction. */
interface Scan {
  readonly whiteouts: string[];
  readonly opaques: string[];
  readonly size: number;
}

/**
 * Checks one entry name (and link target) against the layer root; returns the normalised
 * relative path or throws UnsafeLayerError.
 */
function checkEntry(name: string, type: string, linkname: string | null, symlinks: Set<string>): string {
  const bad = (why: string): never => {
    throw new UnsafeLayerError(`layer entry "${name}" ${why}; the layer was rejected and nothing of it was kept`);
  };
  if (name.startsWith('/')) bad('has an absolute path');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) bad('contains ".." and would escape the layer directory');
  for (let i = 1; i < parts.length; i++) {
    if (symlinks.has(parts.slice(0, i).join('/'))) bad(`goes through the symlink "${parts.slice(0, i).join('/')}" of the same layer`);
  }
  const rel = parts.join('/');
  if (type === 'link') {
    if (!linkname) bad('is a hardlink without a target');
    const target = linkname!;
    if (target.startsWith('/') && !target.replace(/^\/+/, '')) bad('is a hardlink to the root');
    const tparts = target.split('/').filter((p) => p !== '' && p !== '.');
    if (tparts.includes('..')) bad(`is a hardlink to "${target}", outside the layer directory`);
    for (let i = 1; i <= tparts.length; i++) {
      if (symlinks.has(tparts.slice(0, i).join('/'))) bad(`is a hardlink through the symlink "${tparts.slice(0, i).join('/')}"`);
    }
  }
  if (type === 'symlink') symlinks.add(rel);
  else symlinks.delete(rel);
  return rel;
}

/** Parses the tar stream, validating every entry; resolves with what extraction must fix up. */
function scanner(): { sink: Writable; done: Promise<Scan> } {
  const extract = tarStream.extract();
  const symlinks = new Set<string>();
  const whiteouts: string[] = [];
  const opaques: string[] = [];
  let size = 0;
  const done = new Promise<Scan>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      try {
        const rel = checkEntry(header.name, header.type ?? 'file', header.linkname ?? null, symlinks);
        const base = path.posix.basename(rel);
        if (base === '.wh..wh..opq') opaques.push(path.posix.dirname(rel));
        else if (base.startsWith('.wh.')) whiteouts.push(rel);
        size += header.size ?? 0;
      } catch (e) {
        stream.on('error', () => undefined);
        extract.destroy(e as Error);
        return;
      }
      stream.on('end', () => next());
      stream.resume();
    });
    extract.on('finish', () => resolve({ whiteouts, opaques, size }));
    extract.on('error', reject);
  });
  return { sink: extract as unknown as Writable, done };
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

/**
 * A sink that writes every chunk to all of `targets`, going on when each has taken it. A target
 * that has closed (GNU tar exits after the archive's end blocks, before the record padding) no
 * longer holds the others up.
 */
function fanOut(targets: Writable[]): Writable {
  const closed = (t: Writable) => t.destroyed || t.writableFinished || (t as Writable & { closed?: boolean }).closed === true;
  const taken = (t: Writable, cb: () => void) => {
    const go = () => {
      t.off('drain', go);
      t.off('close', go);
      cb();
    };
    t.on('drain', go);
    t.on('close', go);
  };
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      const open = targets.filter((t) => !closed(t));
      let waiting = open.length;
      if (waiting === 0) return cb();
      const done = () => {
        if (--waiting === 0) cb();
      };
      for (const t of open) {
        if (t.write(chunk)) process.nextTick(done);
        else taken(t, done);
      }
    },
    final(cb) {
      const open = targets.filter((t) => !closed(t));
      let waiting = open.length;
      if (waiting === 0) return cb();
      for (const t of open) {
        let counted = false;
        const go = () => {
          if (counted) return;
          counted = true;
          if (--waiting === 0) cb();
        };
        t.once('close', go);
        t.end(go);
      }
    },
  });
}

export interface UnpackResult {
  /** Digest of the uncompressed tar. */
  readonly diffId: string;
  /** Sum of the entry sizes. */
  readonly size: number;
}

/**
 * Unpacks `blob` into `dest` (which must not exist): validated, extracted, whiteouts
 * converted, then renamed into place. On any failure nothing is left at `dest`.
 * When `expectedDiffId` is given, the uncompressed content must hash to it.
 */
export async function unpackLayer(blob: string, mediaType: string, dest: string, expectedDiffId?: string): Promise<UnpackResult> {
  const head = Buffer.alloc(4);
  const fd = fs.openSync(blob, 'r');
  fs.readSync(fd, head, 0, 4, 0);
  fs.closeSync(fd);
  const tmp = path.join(path.dirname(dest), `.tmp-${path.basename(dest)}-${randomBytes(4).toString('hex')}`);
  const diffDir = path.join(tmp, 'diff');
  fs.mkdirSync(diffDir, { recursive: true, mode: 0o755 });
  try {
    // The blob is decompressed once; GNU tar extracts from its stdin while this process hashes
    // and checks every entry of the same bytes. A bad entry ends tar and the directory goes.
    const source = decompressed(blob, compressionOf(mediaType, head));
    const tar = spawn('tar', ['-x', '-f', '-', '-C', diffDir, '--numeric-owner', '--same-owner', '--same-permissions', '--xattrs', '--xattrs-include=*'], { stdio: ['pipe', 'ignore', 'pipe'], env: process.env });
    let tarErr = '';
    tar.stderr!.on('data', (d) => (tarErr += d));
    tar.stdin!.on('error', () => undefined); // tar ended early: its exit status says why
    const tarDone = new Promise<void>((resolve, reject) => {
      tar.on('error', (e) => reject(new CdkDockerError(`cannot run tar to unpack a layer: ${e.message}; install it with \`apt-get install tar\``)));
      tar.on('close', (code, signal) => (code === 0 ? resolve() : reject(new CdkDockerError(`unpacking the layer failed (tar ${signal ?? `exit ${code}`}): ${tarErr.trim()}`))));
    });
    tarDone.catch(() => undefined);
    const hash = createHash('sha256');
    const scan = scanner();
    const hashing = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    let result: Scan;
    try {
      [result] = await Promise.all([scan.done, pipeline(source.stream, hashing, fanOut([scan.sink, tar.stdin!])), source.done]);
      await tarDone;
    } catch (e) {
      source.kill();
      tar.kill('SIGKILL');
      await tarDone.catch(() => undefined);
      if (e instanceof CdkDockerError) throw e;
      throw new CdkDockerError(`layer ${path.basename(blob)} cannot be read (${(e as Error).message}): the blob is damaged or not a layer; remove the image and pull or load it again`);
    }
    const diffId = `sha256:${hash.digest('hex')}`;
    if (expectedDiffId && diffId !== expectedDiffId) throw new DigestMismatchError(`layer ${path.basename(blob)}`, expectedDiffId, diffId);
    await convertWhiteouts(diffDir, result);
    fs.writeFileSync(path.join(tmp, 'size'), String(result.size));
    try {
      fs.renameSync(tmp, dest);
    } catch (e) {
      // Another process unpacked the same layer first: its copy is as good as ours.
      if (!['ENOTEMPTY', 'EEXIST'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    return { diffId, size: result.size };
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

async function convertWhiteouts(root: string, scan: Scan): Promise<void> {
  for (const rel of scan.whiteouts) {
    const file = path.join(root, rel);
    const target = path.join(path.dirname(file), path.basename(file).slice('.wh.'.length));
    fs.rmSync(file, { force: true });
    fs.rmSync(target, { recursive: true, force: true });
    await runTool('mknod', ['-m', '000', target, 'c', '0', '0']);
  }
  for (const rel of scan.opaques) {
    const dir = path.join(root, rel);
    fs.rmSync(path.join(dir, '.wh..wh..opq'), { force: true });
    await runTool('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', dir]);
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
