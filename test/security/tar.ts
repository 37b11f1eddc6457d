import * as tarStream from 'tar-stream';

/**
 * Layer tars for the fuzzer, written with tar-stream one entry at a time so that the stream can
 * hold what a well-behaved writer never emits: a lone zero block between entries, a GNU
 * `././@LongLink` name, a PAX path that differs from the ustar name, a size field far beyond the
 * data, a stream cut in the middle. Only the type flag and size field are patched by hand (with
 * the header checksum recomputed); everything else is tar-stream's encoding.
 */

export type EntryKind = 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';

export type TarOp =
  | { readonly op: 'entry'; readonly kind: EntryKind; readonly name: string; readonly target?: string; readonly content?: string; readonly mode?: number; readonly major?: number; readonly minor?: number }
  /** The name travels in a GNU longname record; the ustar header says `decoy`. */
  | { readonly op: 'gnu-longname'; readonly kind: 'file' | 'symlink' | 'directory'; readonly name: string; readonly target?: string; readonly decoy: string }
  /** The name (and link target) travel in a PAX header; the ustar header says `decoy`. */
  | { readonly op: 'pax'; readonly kind: 'file' | 'symlink' | 'link' | 'directory'; readonly name: string; readonly target?: string; readonly decoy: string }
  /** One 512-byte zero block: GNU tar takes it as the end of the archive (without -i). */
  | { readonly op: 'zero-block' }
  /** A file whose header claims 8 GiB; the data that follows is what the stream has left. */
  | { readonly op: 'huge'; readonly name: string };

export interface TarSpec {
  readonly ops: readonly TarOp[];
  /** Zero blocks at the end (2 is a proper end; 0 and 1 are truncated ends). */
  readonly endBlocks: 0 | 1 | 2;
  /** Cut the stream to this fraction of its length (undefined: keep it whole). */
  readonly cutAt?: number;
}

const MTIME = new Date(1_600_000_000_000);

/** One entry as tar-stream writes it, without the end-of-archive blocks. */
async function packOne(header: tarStream.Header, content?: Buffer): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  if (content !== undefined) pack.entry(header, content);
  else pack.entry(header);
  pack.finalize();
  await done;
  const all = Buffer.concat(chunks);
  return all.subarray(0, all.length - 1024);
}

function checksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += block[i];
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
}

/** Sets the type flag of the (last) header block at `offset`. */
function patchType(buf: Buffer, offset: number, flag: string): void {
  const block = buf.subarray(offset, offset + 512);
  block.write(flag, 156, 'latin1');
  checksum(block);
}

function header(kind: EntryKind, name: string, extra: Partial<tarStream.Header> = {}): tarStream.Header {
  return { name, type: kind, mode: kind === 'directory' ? 0o755 : 0o644, uid: 0, gid: 0, mtime: MTIME, ...extra } as tarStream.Header;
}

/** A name tar-stream's ustar encoder accepts (ASCII, ≤ 100 bytes per part). */
function encodable(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_');
  return ascii.length > 99 ? ascii.slice(-99) : ascii;
}

export async function tarBytes(spec: TarSpec): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const o of spec.ops) {
    if (o.op === 'zero-block') {
      parts.push(Buffer.alloc(512));
    } else if (o.op === 'entry') {
      const extra: Partial<tarStream.Header> = { mode: o.mode ?? (o.kind === 'directory' ? 0o755 : 0o644) };
      if (o.kind === 'symlink' || o.kind === 'link') extra.linkname = encodable(o.target ?? '');
      if (o.kind === 'character-device' || o.kind === 'block-device') Object.assign(extra, { devmajor: o.major ?? 0, devminor: o.minor ?? 0 });
      parts.push(await packOne(header(o.kind, encodable(o.name), extra), o.kind === 'file' ? Buffer.from(o.content ?? '') : undefined));
    } else if (o.op === 'gnu-longname') {
      const long = Buffer.from(`${o.name}\0`);
      const rec = await packOne(header('file', '././@LongLink', { size: long.length }), long);
      patchType(rec, 0, 'L');
      parts.push(rec);
      const extra: Partial<tarStream.Header> = o.kind === 'symlink' ? { linkname: encodable(o.target ?? '') } : {};
      parts.push(await packOne(header(o.kind, encodable(o.decoy), extra), o.kind === 'file' ? Buffer.from('longname') : undefined));
    } else if (o.op === 'pax') {
      const pax: Record<string, string> = { path: o.name };
      if (o.target !== undefined) pax.linkpath = o.target;
      const extra: Partial<tarStream.Header> = { pax };
      if (o.kind === 'symlink' || o.kind === 'link') extra.linkname = encodable(o.target ?? 'x');
      parts.push(await packOne(header(o.kind, encodable(o.decoy), extra), o.kind === 'file' ? Buffer.from('pax') : undefined));
    } else {
      const rec = await packOne(header('file', encodable(o.name)), Buffer.alloc(0));
      rec.write('77777777777\0', 124, 'latin1');
      checksum(rec.subarray(0, 512));
      parts.push(rec);
    }
  }
  parts.push(Buffer.alloc(512 * spec.endBlocks));
  const all = Buffer.concat(parts);
  return spec.cutAt === undefined ? all : all.subarray(0, Math.floor(all.length * spec.cutAt));
}
