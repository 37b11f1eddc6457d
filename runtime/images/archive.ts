import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { tarStream } from '../../lib/core/tar';
import { CdkDockerError, InvalidArgumentError } from '../../lib/core/errors';
import { familiarReference, formatReference, parseReference } from '../../lib/core/reference';
import { digestHex } from '../../lib/core/digest';
import { checkDocumentSize, checkLayerCount, manifestBytes, parseArchiveManifest, parseConfig, parseIndex, parseManifest } from './documents';
import { chainIds } from './layers';
import { ImageRecord, ImageStore } from './store';
import { ContainerConfig, Descriptor, ImageConfig, ImageIndex, ImageManifest, MEDIA_TYPES, hostPlatform } from './types';

/**
 * Moving images in and out of the store as files:
 * - `save`: one tar that is both Docker's archive format (`manifest.json` + `repositories`)
 *   and an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`), as Docker 25+
 *   writes it, so `docker load` and OCI tools read it.
 * - `load`: either format (Docker's older `<id>/layer.tar` archives included).
 * - `import`: a root filesystem tarball (plain, gzip, bzip2, xz or zstd) becomes a one-layer
 *   image, as `docker import`.
 */

/** The archive is not a readable image archive. */
export class BadArchiveError extends CdkDockerError {
  public override readonly code = 'BAD_ARCHIVE';
}

// --- save ---------------------------------------------------------------------------------------

export async function saveImages(store: ImageStore, names: string[], out: Writable): Promise<void> {
  if (names.length === 0) throw new InvalidArgumentError('save needs at least one image');
  const pack = tarStream().pack();
  const done = pipeline(pack as unknown as Readable, out);
  const written = new Set<string>();
  const manifestJson: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
  const repositories: Record<string, Record<string, string>> = {};
  const index: ImageIndex = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [] };
  const records = new Map<string, { record: ImageRecord; tags: string[] }>();
  for (const name of names) {
    const record = store.resolve(name);
    let tags: string[] = [];
    try {
      const full = formatReference(parseReference(name));
      tags = record.repoTags.includes(full) ? [full] : [];
    } catch {
      tags = [];
    }
    if (tags.length === 0 && !/^(sha256:)?[a-f0-9]{4,64}$/.test(name)) tags = [...record.repoTags];
    const entry = records.get(record.id) ?? { record, tags: [] };
    entry.tags.push(...tags.filter((t) => !entry.tags.includes(t)));
    records.set(record.id, entry);
  }
  const addFile = async (name: string, file: string): Promise<void> => {
    if (written.has(name)) return;
    written.add(name);
    const size = fs.statSync(file).size;
    await new Promise<void>((resolve, reject) => {
      const entry = pack.entry({ name, size, mode: 0o644, mtime: new Date(0) }, (err) => (err ? reject(err) : resolve()));
      fs.createReadStream(file).on('error', reject).pipe(entry);
    });
  };
  const addData = (name: string, data: string | Buffer): void => {
    pack.entry({ name, mode: 0o644, mtime: new Date(0) }, data);
  };
  pack.entry({ name: 'blobs/', type: 'directory', mode: 0o755, mtime: new Date(0) });
  pack.entry({ name: 'blobs/sha256/', type: 'directory', mode: 0o755, mtime: new Date(0) });
  for (const { record, tags } of records.values()) {
    const manifest = store.manifest(record);
    const config = store.config(record);
    for (const d of [record.manifestDigest, record.id, ...manifest.layers.map((l) => l.digest)]) {
      await addFile(`blobs/sha256/${d.slice(7)}`, store.blobPath(d));
    }
    manifestJson.push({
      Config: `blobs/sha256/${record.id.slice(7)}`,
      RepoTags: tags.length ? tags.map((t) => familiarReference(parseReference(t))) : null,
      Layers: manifest.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
    });
    const top = chainIds(config.rootfs.diff_ids).slice(-1)[0]?.slice(7) ?? '';
    for (const t of tags) {
      const r = parseReference(t);
      const repo = familiarReference({ registry: r.registry, repository: r.repository });
      repositories[repo] = { ...(repositories[repo] ?? {}), [r.tag!]: top };
    }
    const descriptor = { mediaType: record.manifestMediaType, digest: record.manifestDigest, size: store.blobSize(record.manifestDigest) };
    if (tags.length === 0) index.manifests.push(descriptor);
    for (const t of tags) {
      index.manifests.push({ ...descriptor, annotations: { 'io.containerd.image.name': t, 'org.opencontainers.image.ref.name': parseReference(t).tag! } });
    }
  }
  addData('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  addData('index.json', JSON.stringify(index));
  addData('manifest.json', JSON.stringify(manifestJson));
  if (Object.keys(repositories).length) addData('repositories', JSON.stringify(repositories));
  pack.finalize();
  await done;
}

// --- load ---------------------------------------------------------------------------------------

/** An archive's entry, spooled to a file. */
interface SpooledEntry {
  readonly file: string;
  readonly size: number;
}

/** The normalised name of an archive entry (`./a//b/` → `a/b`), or undefined when it leaves the archive. */
function normaliseEntryName(name: string): string | undefined {
  if (name.startsWith('/')) return undefined;
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return undefined;
  return parts.join('/');
}

/**
 * The entries of an image archive. Every name the archive's documents mention (manifest.json's
 * Config and Layers, index.json, oci-layout, blobs/…) is looked up here, by exact normalised
 * name, and never as a host path: each regular file is spooled to `<dir>/<n>`, so no name of
 * the archive is ever joined to a directory. Symlinks and hardlinks (Docker's older archives
 * link identical layers) resolve to other entries of the archive only.
 */
class ArchiveEntries {
  private readonly files = new Map<string, SpooledEntry>();
  /** name → target entry name (undefined: the link leaves the archive). */
  private readonly links = new Map<string, string | undefined>();

  constructor(private readonly dir: string, public readonly source: string) {}

  /** Reads the archive, spooling its regular files; refuses entries whose names leave it. */
  public async read(input: Readable): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const extract = tarStream().extract();
    let n = 0;
    // The entry being written: `read` answers only once it has ended, so a failed load removes
    // the folder after the last write into it, never before.
    let writing: Promise<unknown> = Promise.resolve();
    // Once `read` has answered, the parser may still hand out an entry it had buffered: it is
    // drained, never written (the folder may be gone).
    let answered = false;
    extract.on('entry', (header, stream, next) => {
      if (answered) {
        stream.on('error', () => undefined);
        stream.resume();
        return;
      }
      const name = normaliseEntryName(header.name);
      if (name === undefined) {
        stream.on('error', () => undefined);
        extract.destroy(new BadArchiveError(`${this.source}: entry "${header.name}" escapes the archive; refusing to load it`));
        return;
      }
      const skip = (): void => {
        stream.on('end', next).resume();
      };
      if (name === '' || header.type === 'directory') {
        skip();
        return;
      }
      if (header.type === 'symlink' || header.type === 'link') {
        const target = header.linkname ?? '';
        const resolved = header.type === 'symlink' && !target.startsWith('/') ? normaliseEntryName(path.posix.join(path.posix.dirname(name), target)) : normaliseEntryName(target);
        this.files.delete(name);
        this.links.set(name, header.type === 'symlink' && target.startsWith('/') ? undefined : resolved);
        skip();
        return;
      }
      if (header.type !== 'file' && header.type !== 'contiguous-file') {
        skip();
        return;
      }
      const file = path.join(this.dir, String(n++));
      this.links.delete(name);
      // Opened now: a lazy open() could create the file after a failed load removed the folder.
      let fd: number;
      try {
        fd = fs.openSync(file, 'wx', 0o600);
      } catch (e) {
        stream.on('error', () => undefined);
        stream.resume();
        extract.destroy(e as Error);
        return;
      }
      const written = pipeline(stream, fs.createWriteStream(file, { fd })).then(() => {
        this.files.set(name, { file, size: fs.statSync(file).size });
        next();
      });
      writing = written.catch((e: unknown) => extract.destroy(e as Error));
    });
    try {
      await pipeline(input, extract as unknown as Writable);
    } catch (e) {
      answered = true;
      await writing;
      if (e instanceof CdkDockerError) throw e;
      throw new BadArchiveError(`${this.source} is not a complete image archive (${(e as Error).message}): it may be truncated; save it again`);
    }
  }

  public has(name: string): boolean {
    const n = normaliseEntryName(name);
    return n !== undefined && (this.files.has(n) || this.links.has(n));
  }

  /** The entry `name` (as named by `field` of a document); a one-line BadArchiveError otherwise. */
  public lookup(name: unknown, field: string): SpooledEntry {
    if (typeof name !== 'string' || name === '') throw new BadArchiveError(`${this.source}: ${field} is not an entry name (${JSON.stringify(name)})`);
    let n = normaliseEntryName(name);
    for (let hops = 0; hops < 16; hops++) {
      if (n === undefined) throw new BadArchiveError(`${this.source}: ${field} "${name}" points outside the archive; refusing to load it`);
      const found = this.files.get(n);
      if (found) return found;
      if (!this.links.has(n)) break;
      n = this.links.get(n);
    }
    throw new BadArchiveError(`${this.source}: ${field} "${name}" is not an entry of the archive; it may be truncated or damaged`);
  }

  /** Reads a JSON document of the archive, refusing it before reading when it is too large. */
  public document(name: string, field: string, kind: 'manifest' | 'index' | 'config' | 'archive'): Buffer {
    const entry = this.lookup(name, field);
    checkDocumentSize(entry.size, kind, `${this.source}: ${name}`);
    return fs.readFileSync(entry.file);
  }

  /** A blob of an OCI layout (`blobs/sha256/<hex>`), its digest parsed first and checked after. */
  public blob(digest: string, field: string, kind?: 'manifest' | 'index' | 'config'): { entry: SpooledEntry; bytes?: Buffer } {
    const hex = digestHex(digest, `${this.source}: ${field}`);
    const name = `blobs/sha256/${hex}`;
    if (!kind) return { entry: this.lookup(name, field) };
    const bytes = this.document(name, field, kind);
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== hex) throw new BadArchiveError(`${this.source}: ${name} has digest sha256:${actual}, not its name's: the archive is damaged`);
    return { entry: this.lookup(name, field), bytes };
  }
}

/** Loads every image of a Docker or OCI archive; returns Docker's "Loaded image:" lines. */
export async function loadImages(store: ImageStore, input: Readable, source = 'the archive'): Promise<string[]> {
  return store.ingestArea.use('load', async (tmp) => {
    const archive = new ArchiveEntries(tmp, source);
    await archive.read(input);
    if (archive.has('manifest.json')) return loadDockerFormat(store, archive);
    if (archive.has('index.json') && archive.has('oci-layout')) return loadOciLayout(store, archive);
    throw new BadArchiveError(`${source} has neither manifest.json (Docker format) nor index.json + oci-layout (OCI layout): it is not an image archive`);
  });
}

async function loadDockerFormat(store: ImageStore, archive: ArchiveEntries): Promise<string[]> {
  const source = archive.source;
  const entries = parseArchiveManifest(archive.document('manifest.json', 'manifest.json', 'archive'), `${source}: manifest.json`);
  // Everything is read and checked before anything is stored: a bad archive leaves nothing.
  const images = entries.map((entry, k) => {
    const at = `manifest.json[${k}]`;
    const configBytes = archive.document(entry.Config, `${at}.Config`, 'config');
    const config = parseConfig(configBytes, `${source}: ${entry.Config}`);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== entry.Layers.length) throw new BadArchiveError(`${source}: ${entry.Config} lists ${diffIds.length} layers but ${at}.Layers has ${entry.Layers.length}`);
    const layers = entry.Layers.map((l, i) => ({ name: l, file: archive.lookup(l, `${at}.Layers[${i}]`).file, diffId: diffIds[i] }));
    const tags = (entry.RepoTags ?? []).map((t) => formatReference(parseReference(t)));
    return { configBytes, config, layers, tags };
  });
  const lines: string[] = [];
  for (const { configBytes, config, layers: files, tags } of images) {
    const layers: Descriptor[] = [];
    for (const l of files) layers.push(await storeLayer(store, l.file, l.diffId, `${source}: ${l.name}`));
    const configDigest = store.writeBlob(configBytes);
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.dockerManifest,
      config: { mediaType: MEDIA_TYPES.dockerConfig, digest: configDigest, size: configBytes.length },
      layers,
    };
    const manifestDigest = store.writeBlob(manifestBytes(manifest));
    await store.unpackImage(manifest, config);
    await store.register({ manifestDigest, manifestMediaType: MEDIA_TYPES.dockerManifest, tags });
    if (tags.length) lines.push(...tags.map((t) => `Loaded image: ${familiarReference(parseReference(t))}`));
    else lines.push(`Loaded image ID: ${configDigest}`);
  }
  return lines;
}

async function loadOciLayout(store: ImageStore, archive: ArchiveEntries): Promise<string[]> {
  const source = archive.source;
  const index = parseIndex(archive.document('index.json', 'index.json', 'index'), `${source}: index.json`);
  const images = index.manifests.map((top, k) => {
    let desc: Descriptor = top;
    let at = `index.json manifests[${k}]`;
    const tagName = top.annotations?.['io.containerd.image.name'] ?? top.annotations?.['org.opencontainers.image.ref.name'];
    if (desc.mediaType === MEDIA_TYPES.ociIndex || desc.mediaType === MEDIA_TYPES.dockerManifestList) {
      const nested = parseIndex(archive.blob(desc.digest, `${at}.digest`, 'index').bytes!, `${source}: ${at}`);
      const want = hostPlatform();
      const i = Math.max(0, nested.manifests.findIndex((m) => m.platform?.os === want.os && m.platform?.architecture === want.architecture));
      if (!nested.manifests[i]) throw new BadArchiveError(`${source}: the index of ${at} lists no manifests`);
      desc = nested.manifests[i];
      at = `${at} → manifests[${i}]`;
    }
    const manifestBytes = archive.blob(desc.digest, `${at}.digest`, 'manifest').bytes!;
    const manifest = parseManifest(manifestBytes, `${source}: ${at}`);
    const configBytes = archive.blob(manifest.config.digest, `${at} config.digest`, 'config').bytes!;
    const config = parseConfig(configBytes, `${source}: ${at} config`);
    checkLayerCount(manifest, config, `${source}: ${at}`);
    const layers = manifest.layers.map((l, i) => ({ desc: l, entry: archive.blob(l.digest, `${at} layers[${i}].digest`).entry }));
    const tags = tagName && /[:/]/.test(tagName) ? [formatReference(parseReference(tagName))] : [];
    return { desc, manifestBytes, manifest, configBytes, config, layers, tags };
  });
  const lines: string[] = [];
  for (const { desc, manifestBytes, manifest, configBytes, config, layers, tags } of images) {
    for (const { desc: l, entry } of layers) {
      await store.ingest(fs.createReadStream(entry.file), l.digest, `${source}: layer ${l.digest}`, l.size);
    }
    store.writeBlob(configBytes);
    const manifestDigest = store.writeBlob(manifestBytes);
    await store.unpackImage(manifest, config);
    await store.register({ manifestDigest, manifestMediaType: desc.mediaType, tags });
    lines.push(tags.length ? `Loaded image: ${familiarReference(parseReference(tags[0]))}` : `Loaded image ID: ${manifest.config.digest}`);
  }
  return lines;
}

/**
 * Stores a layer file from an archive as a gzip blob: a gzip file as it is (its diff id is
 * checked when unpacking), a plain tar compressed on the way in with its diff id checked.
 */
async function storeLayer(store: ImageStore, file: string, diffId: string, what: string): Promise<Descriptor> {
  const head = Buffer.alloc(2);
  const fd = fs.openSync(file, 'r');
  fs.readSync(fd, head, 0, 2, 0);
  fs.closeSync(fd);
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const { digest, size } = await store.ingest(fs.createReadStream(file), undefined, what);
    return { mediaType: MEDIA_TYPES.dockerLayerGzip, digest, size };
  }
  const { digest, size, diffId: actual } = await gzipIntoStore(store, fs.createReadStream(file), what);
  if (actual !== diffId) throw new BadArchiveError(`${what}: digest mismatch: the config expects ${diffId}, the layer is ${actual}`);
  return { mediaType: MEDIA_TYPES.dockerLayerGzip, digest, size };
}

/** Gzips an uncompressed tar stream into a blob; returns the blob digest and the tar's diff id. */
export async function gzipIntoStore(store: ImageStore, tar: Readable, what: string): Promise<{ digest: string; size: number; diffId: string }> {
  const hash = createHash('sha256');
  const counted = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  const gz = zlib.createGzip({ level: 6 });
  const out = new PassThrough();
  const piping = pipeline(tar, counted, gz, out);
  const [{ digest, size }] = await Promise.all([store.ingest(out, undefined, what), piping]);
  return { digest, size, diffId: `sha256:${hash.digest('hex')}` };
}

// --- import -------------------------------------------------------------------------------------

/** Opens a rootfs tarball file decompressed, by its magic bytes (gzip, bzip2, xz, zstd or plain). */
export function openDecompressed(file: string): Readable {
  const head = Buffer.alloc(6);
  const fd = fs.openSync(file, 'r');
  const n = fs.readSync(fd, head, 0, 6, 0);
  fs.closeSync(fd);
  if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) return fs.createReadStream(file).pipe(zlib.createGunzip());
  const tool =
    head.subarray(0, 3).toString('latin1') === 'BZh' ? 'bzip2'
      : head.equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) ? 'xz'
        : n >= 4 && head.readUInt32LE(0) === 0xfd2fb528 ? 'zstd' : undefined;
  if (!tool) return fs.createReadStream(file);
  const out = new PassThrough();
  const child = spawn(tool, ['-dc', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.on('error', (e) => out.destroy(new CdkDockerError(`the tarball is ${tool}-compressed and ${tool} cannot run (${e.message}); install it with \`apt-get install ${tool === 'xz' ? 'xz-utils' : tool}\``)));
  child.on('close', (code) => {
    if (code !== 0) out.destroy(new CdkDockerError(`${tool} could not decompress the tarball (exit ${code}): ${stderr.trim()}`));
  });
  child.stdout.pipe(out);
  return out;
}

export interface ImportOptions {
  /** Dockerfile-like changes: `CMD ["sh"]`, `ENTRYPOINT …`, `ENV K=V`, `WORKDIR`, `USER`, `EXPOSE`, `LABEL K=V`, `STOPSIGNAL`, `VOLUME`. */
  readonly changes?: string[];
  /** History comment. @default "Imported from -" */
  readonly message?: string;
}

/** `import`: a rootfs tarball becomes a one-layer image tagged `ref` (if given). */
export async function importRootfs(store: ImageStore, input: Readable, ref: string | undefined, opts: ImportOptions = {}): Promise<ImageRecord> {
  const tags = ref ? [formatReference(parseReference(ref))] : [];
  const config = applyChanges({}, opts.changes ?? []);
  // Spooled to a file first: the compression is known from the first bytes, and a tarball
  // read from stdin can be decompressed by an external tool.
  const layer = await store.ingestArea.use('import', async (spool) => {
    await pipeline(input, fs.createWriteStream(spool, { fd: fs.openSync(spool, 'wx', 0o600) }));
    return gzipIntoStore(store, openDecompressed(spool), 'imported tarball');
  });
  const { digest, size, diffId } = layer;
  const created = new Date().toISOString();
  const platform = hostPlatform();
  const imageConfig: ImageConfig = {
    architecture: platform.architecture,
    os: platform.os,
    created,
    config,
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created, created_by: '', comment: opts.message ?? 'Imported from -' }],
  };
  const configBytes = Buffer.from(JSON.stringify(imageConfig));
  const configDigest = store.writeBlob(configBytes);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.dockerManifest,
    config: { mediaType: MEDIA_TYPES.dockerConfig, digest: configDigest, size: configBytes.length },
    layers: [{ mediaType: MEDIA_TYPES.dockerLayerGzip, digest, size }],
  };
  const manifestDigest = store.writeBlob(manifestBytes(manifest));
  await store.unpackImage(manifest, imageConfig);
  return store.register({ manifestDigest, manifestMediaType: MEDIA_TYPES.dockerManifest, tags });
}

/**
 * Applies `--change` instructions (`CMD ["sh"]`, `ENV K=V`, `EXPOSE 80`, …) to an image's
 * container config with the builder's own dispatch of config instructions, as Docker's commit
 * and import do; variables are substituted from the config's environment.
 */
export function applyChanges(base: ContainerConfig, changes: string[]): ContainerConfig {
  if (changes.length === 0) return { ...base };
  // Loaded here: the builder's modules are not needed by loads, saves and imports without -c.
  const { parseInstruction } = require('../dockerfile/dockerfile') as typeof import('../dockerfile/dockerfile');
  const { applyConfigInstruction, CONFIG_INSTRUCTIONS } = require('./instructions') as typeof import('./instructions');
  const { processWord, processWords, SubstitutionError, varsOf } = require('../dockerfile/words') as typeof import('../dockerfile/words');
  const c: { -readonly [K in keyof ContainerConfig]: ContainerConfig[K] } = { ...base };
  const state = { cmdSet: false };
  for (const change of changes) {
    const bad = (message: string) => new InvalidArgumentError(`--change "${change}": ${message}`);
    let ins;
    try {
      ins = parseInstruction(change.trim(), '--change', 1);
    } catch {
      throw bad('expected an instruction such as \'CMD ["sh"]\'');
    }
    if (!CONFIG_INSTRUCTIONS.includes(ins.keyword)) throw bad(`${ins.keyword} is not supported; use ${CONFIG_INSTRUCTIONS.join(', ')}`);
    const vars = varsOf(c.Env ?? []);
    try {
      const fail = (message: string): never => {
        throw new InvalidArgumentError(message);
      };
      applyConfigInstruction(c, ins, { word: (w) => processWord(w, vars), words: (w) => processWords(w, vars), fail }, state);
    } catch (e) {
      if (e instanceof CdkDockerError || e instanceof SubstitutionError) throw bad(e.message);
      throw e;
    }
  }
  return c;
}
