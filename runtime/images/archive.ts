import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import * as tarStream from 'tar-stream';
import { CdkDockerError, InvalidArgumentError } from '../../lib/util/errors';
import { familiarReference, formatReference, parseReference } from '../../lib/util/reference';
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
  const pack = tarStream.pack();
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

/** Unpacks an archive's regular files into `dir`, refusing unsafe names. */
async function extractArchive(input: Readable, dir: string, source: string): Promise<void> {
  const extract = tarStream.extract();
  extract.on('entry', (header, stream, next) => {
    const name = header.name.replace(/^\.\//, '');
    const parts = name.split('/').filter((p) => p !== '' && p !== '.');
    if (name.startsWith('/') || parts.includes('..')) {
      extract.destroy(new BadArchiveError(`${source}: entry "${header.name}" escapes the archive; refusing to load it`));
      return;
    }
    if (header.type === 'directory' || parts.length === 0) {
      stream.on('end', next).resume();
      return;
    }
    if (header.type !== 'file' && header.type !== 'contiguous-file') {
      stream.on('end', next).resume();
      return;
    }
    const file = path.join(dir, ...parts);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    pipeline(stream, fs.createWriteStream(file)).then(() => next(), (e) => extract.destroy(e));
  });
  try {
    await pipeline(input, extract as unknown as Writable);
  } catch (e) {
    if (e instanceof CdkDockerError) throw e;
    throw new BadArchiveError(`${source} is not a complete image archive (${(e as Error).message}): it may be truncated; save it again`);
  }
}

/** Loads every image of a Docker or OCI archive; returns Docker's "Loaded image:" lines. */
export async function loadImages(store: ImageStore, input: Readable, source = 'the archive'): Promise<string[]> {
  const tmp = path.join(store.dir, 'ingest', `load-${randomBytes(6).toString('hex')}`);
  fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
  try {
    await extractArchive(input, tmp, source);
    const has = (f: string) => fs.existsSync(path.join(tmp, f));
    if (has('manifest.json')) return await loadDockerFormat(store, tmp, source);
    if (has('index.json') && has('oci-layout')) return await loadOciLayout(store, tmp, source);
    throw new BadArchiveError(`${source} has neither manifest.json (Docker format) nor index.json + oci-layout (OCI layout): it is not an image archive`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function readJson<T>(dir: string, rel: string, source: string): T {
  const file = path.join(dir, ...rel.split('/'));
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new BadArchiveError(`${source}: ${rel} is missing or not JSON (${(e as Error).message}); the archive may be truncated`);
  }
}

async function loadDockerFormat(store: ImageStore, dir: string, source: string): Promise<string[]> {
  const entries = readJson<Array<{ Config: string; RepoTags?: string[] | null; Layers: string[] }>>(dir, 'manifest.json', source);
  if (!Array.isArray(entries)) throw new BadArchiveError(`${source}: manifest.json is not a list of images`);
  const lines: string[] = [];
  for (const entry of entries) {
    const configBytes = readFile(dir, entry.Config, source);
    const config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== entry.Layers.length) throw new BadArchiveError(`${source}: ${entry.Config} lists ${diffIds.length} layers but manifest.json has ${entry.Layers.length}`);
    const layers: Descriptor[] = [];
    for (let i = 0; i < entry.Layers.length; i++) {
      layers.push(await storeLayer(store, path.join(dir, ...entry.Layers[i].split('/')), diffIds[i], `${source}: ${entry.Layers[i]}`));
    }
    const configDigest = store.writeBlob(configBytes);
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.dockerManifest,
      config: { mediaType: MEDIA_TYPES.dockerConfig, digest: configDigest, size: configBytes.length },
      layers,
    };
    const manifestDigest = store.writeBlob(Buffer.from(JSON.stringify(manifest)));
    await store.unpackImage(manifest, config);
    const tags = (entry.RepoTags ?? []).map((t) => formatReference(parseReference(t)));
    await store.register({ manifestDigest, manifestMediaType: MEDIA_TYPES.dockerManifest, tags });
    if (tags.length) lines.push(...tags.map((t) => `Loaded image: ${familiarReference(parseReference(t))}`));
    else lines.push(`Loaded image ID: ${configDigest}`);
  }
  return lines;
}

async function loadOciLayout(store: ImageStore, dir: string, source: string): Promise<string[]> {
  const index = readJson<ImageIndex>(dir, 'index.json', source);
  const lines: string[] = [];
  const blob = (d: string) => readFile(dir, `blobs/sha256/${d.replace(/^sha256:/, '')}`, source);
  for (let desc of index.manifests ?? []) {
    const tagName = desc.annotations?.['io.containerd.image.name'] ?? desc.annotations?.['org.opencontainers.image.ref.name'];
    if (desc.mediaType === MEDIA_TYPES.ociIndex || desc.mediaType === MEDIA_TYPES.dockerManifestList) {
      const nested = JSON.parse(blob(desc.digest).toString('utf8')) as ImageIndex;
      const want = hostPlatform();
      const match = nested.manifests.find((m) => m.platform?.os === want.os && m.platform?.architecture === want.architecture) ?? nested.manifests[0];
      desc = { ...match, annotations: desc.annotations };
    }
    const manifestBytes = blob(desc.digest);
    const manifest = JSON.parse(manifestBytes.toString('utf8')) as ImageManifest;
    const configBytes = blob(manifest.config.digest);
    const config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
    for (const l of manifest.layers) {
      await store.ingest(fs.createReadStream(path.join(dir, 'blobs', 'sha256', l.digest.slice(7))), l.digest, `${source}: layer ${l.digest}`);
    }
    store.writeBlob(configBytes);
    const manifestDigest = store.writeBlob(manifestBytes);
    await store.unpackImage(manifest, config);
    let tags: string[] = [];
    if (tagName && /[:/]/.test(tagName)) tags = [formatReference(parseReference(tagName))];
    await store.register({ manifestDigest, manifestMediaType: desc.mediaType, tags });
    lines.push(tags.length ? `Loaded image: ${familiarReference(parseReference(tags[0]))}` : `Loaded image ID: ${manifest.config.digest}`);
  }
  return lines;
}

function readFile(dir: string, rel: string, source: string): Buffer {
  if (rel.split('/').includes('..') || rel.startsWith('/')) throw new BadArchiveError(`${source}: path "${rel}" escapes the archive`);
  try {
    return fs.readFileSync(path.join(dir, ...rel.split('/')));
  } catch {
    throw new BadArchiveError(`${source}: ${rel} is missing; the archive may be truncated`);
  }
}

/**
 * Stores a layer file from an archive as a gzip blob: a gzip file as it is (its diff id is
 * checked when unpacking), a plain tar compressed on the way in with its diff id checked.
 */
async function storeLayer(store: ImageStore, file: string, diffId: string, what: string): Promise<Descriptor> {
  if (!fs.existsSync(file)) throw new BadArchiveError(`${what} is missing; the archive may be truncated`);
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
  const spool = path.join(store.dir, 'ingest', `import-${randomBytes(6).toString('hex')}`);
  let layer: { digest: string; size: number; diffId: string };
  try {
    await pipeline(input, fs.createWriteStream(spool, { mode: 0o600 }));
    layer = await gzipIntoStore(store, openDecompressed(spool), 'imported tarball');
  } finally {
    fs.rmSync(spool, { force: true });
  }
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
  const manifestDigest = store.writeBlob(Buffer.from(JSON.stringify(manifest)));
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
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { parseInstruction } = require('../build/dockerfile') as typeof import('../build/dockerfile');
  const { applyConfigInstruction, CONFIG_INSTRUCTIONS } = require('../build/config') as typeof import('../build/config');
  const { processWord, processWords, SubstitutionError, varsOf } = require('../build/words') as typeof import('../build/words');
  /* eslint-enable @typescript-eslint/no-require-imports */
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
