import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { withLock, writeJsonAtomic } from '../util/files';
import { CdkDockerError, ConflictError, InvalidArgumentError, NotFoundError } from '../../lib/core/errors';
import { familiarReference, formatReference, parseReference } from '../../lib/core/reference';
import { digestHex, parseDigest } from '../../lib/core/digest';
import { IngestArea } from './ingest';
import { DigestMismatchError, chainIds, layerSize, unpackLayer } from './layers';
import type { ImageConfig, ImageManifest } from './types';
import { compareText } from '../../lib/core/canonical';

/**
 * The image store of the built-in runtime.
 *
 * Layout under `<root>/images`:
 * - `blobs/sha256/<hex>` — content-addressed blobs (manifests, configs, compressed layers);
 *   written to `ingest/` first, verified, then renamed into place.
 * - `layers/<chain-hex>/diff` — each layer unpacked once, keyed by chain id (an overlayfs
 *   lowerdir), with its size in `layers/<chain-hex>/size`. A layer directory appears only
 *   when complete (rename).
 * - `index.json` — the image records and tags, rewritten atomically under `index.lock`.
 *
 * Consistency: a record is added only after every blob and layer it needs is in place, so a
 * pull killed at any moment leaves at most unreferenced content, which the next pull reuses
 * and `rmi`/`prune` collect. Garbage collection runs under the same lock as registration.
 */
export interface ImageRecord {
  /** The config digest (Docker's image id). */
  readonly id: string;
  /** Digest of the stored manifest blob. */
  readonly manifestDigest: string;
  readonly manifestMediaType: string;
  /** Fully qualified `registry/repo:tag` references. */
  readonly repoTags: string[];
  /** Fully qualified `registry/repo@sha256:…` references (from pulls and pushes). */
  readonly repoDigests: string[];
  /** When the image was made (from its config). */
  readonly created: string;
  /** When it was added to this store. */
  readonly added: string;
  /** The image it was made from by `commit` or a build step (Docker's Parent). */
  readonly parent?: string;
}

interface IndexFile {
  version: 1;
  images: { [id: string]: ImageRecord };
  /** Repositories each blob is known to exist in (for cross-repository mounts on push). */
  blobSources: { [digest: string]: string[] };
}

/** A blob's length differs from the size its descriptor declares. */
export class BlobSizeError extends CdkDockerError {
  public override readonly code = 'SIZE_MISMATCH';
}

/** A container that uses an image; `running` as Docker's IsRunning (running, paused or restarting). */
export interface ImageUser {
  readonly id: string;
  readonly running: boolean;
}

/**
 * The containers that use each image, read once per decision (under the index lock, so that
 * `rmi` and `prune` act on what is there now): image id → its users.
 */
export type ImageUsers = () => (imageId: string) => readonly ImageUser[];

/** `users(id)` over one snapshot of `inUse`, taken on first use. */
function usersOf(inUse: ImageUsers | undefined): (id: string) => readonly ImageUser[] {
  let snapshot: ((id: string) => readonly ImageUser[]) | undefined;
  return (id) => (snapshot ??= inUse?.() ?? (() => []))(id);
}

/** An image of `images` by id, id prefix (4+ hex digits, unambiguous) or reference. */
function findImage(images: IndexFile['images'], nameOrId: string): ImageRecord | undefined {
  if (Object.hasOwn(images, nameOrId)) return images[nameOrId];
  const hex = nameOrId.replace(/^sha256:/, '');
  if (/^[a-f0-9]{4,64}$/.test(hex)) {
    const matches = Object.values(images).filter((r) => r.id.slice(7).startsWith(hex));
    if (matches.length === 1) return matches[0];
  }
  let ref: string;
  try {
    ref = formatReference(parseReference(nameOrId));
  } catch {
    return undefined;
  }
  return Object.values(images).find((r) => r.repoTags.includes(ref) || r.repoDigests.includes(ref));
}

/** As `list` orders images: newest first. */
function newestFirst(a: ImageRecord, b: ImageRecord): number {
  return compareText(b.created, a.created) || compareText(a.id, b.id);
}

/**
 * One thing `rmi` or `image prune` did, as Docker's ImageDeleteResponseItem: a reference
 * removed (`Untagged: busybox:latest`) or an image or layer deleted (`Deleted: sha256:…`, a
 * layer by its chain id), in Docker's order — per image its references, the image, the layers
 * it alone held (top first), then the same for each untagged parent that goes with it.
 */
export type ImageDeletion =
  | { readonly untagged: string; readonly image: string; /** Docker logs an `untag` event for it (not for the digest references a tag takes with it). */ readonly event: boolean }
  | { readonly deleted: string; readonly image: string; readonly layer: boolean };

/** Docker's line for a deletion: `Untagged: …` or `Deleted: …`. */
export function deletionLine(d: ImageDeletion): string {
  return 'untagged' in d ? `Untagged: ${d.untagged}` : `Deleted: ${d.deleted}`;
}

/** `registry/repository` of a full reference. */
function referenceName(ref: string): string {
  const p = parseReference(ref);
  return `${p.registry}/${p.repository}`;
}

/**
 * Docker's isSingleReference: every reference is of one repository and at most one is a tag.
 * False for none.
 */
function isSingleReference(refs: readonly string[]): boolean {
  if (refs.length === 0) return false;
  const names = new Set(refs.map(referenceName));
  return names.size === 1 && refs.filter((r) => !r.includes('@')).length <= 1;
}

export class ImageStore {
  public readonly dir: string;
  /** Temporary data of ingest, per writer process (see ingest.ts). */
  public readonly ingestArea: IngestArea;

  constructor(root: string) {
    this.dir = path.join(root, 'images');
    for (const d of ['blobs/sha256', 'ingest', 'layers']) fs.mkdirSync(path.join(this.dir, d), { recursive: true, mode: 0o700 });
    this.ingestArea = new IngestArea(this.dir);
  }

  /**
   * Removes the temporary data of killed loads, pulls, imports and unpacks (never a live
   * writer's). Runs at every locked store operation and from every command that opens the store.
   */
  public sweepInterrupted(): string[] {
    return this.ingestArea.sweep();
  }

  // --- blobs ----------------------------------------------------------------------------------

  public blobPath(digest: string): string {
    return path.join(this.dir, 'blobs', 'sha256', digestHex(digest, 'blob'));
  }

  public hasBlob(digest: string): boolean {
    return fs.existsSync(this.blobPath(digest));
  }

  public readBlob(digest: string): Buffer {
    try {
      return fs.readFileSync(this.blobPath(digest));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`blob ${digest} is not in the image store`);
      throw e;
    }
  }

  public blobSize(digest: string): number {
    return fs.statSync(this.blobPath(digest)).size;
  }

  /**
   * Stores a stream as a blob. With `expected`, the content must hash to it: on a mismatch
   * the partial file is deleted and DigestMismatchError names both digests.
   */
  public async ingest(stream: Readable, expected?: string, what = 'blob', expectedSize?: number): Promise<{ digest: string; size: number }> {
    if (expected !== undefined) parseDigest(expected, what);
    if (expected && this.hasBlob(expected)) {
      // Someone else stored it meanwhile: drop the download (its abort error is expected).
      stream.on('error', () => undefined);
      stream.destroy();
      return { digest: expected, size: this.blobSize(expected) };
    }
    return this.ingestArea.use('blob', async (tmp) => {
      const hash = createHash('sha256');
      let size = 0;
      await pipeline(
        stream,
        new Transform({
          transform(chunk: Buffer, _e, cb) {
            hash.update(chunk);
            size += chunk.length;
            // More than the descriptor said: a registry or archive that never ends is cut off.
            if (expectedSize !== undefined && size > expectedSize) cb(new BlobSizeError(`${what}: more than the ${expectedSize} bytes its descriptor declares were sent; the source is damaged or hostile, nothing was stored`));
            else cb(null, chunk);
          },
        }),
        // Opened here, not by the stream: a stream that fails before its lazy open() would
        // create the file after `use` removed it, leaving it behind.
        fs.createWriteStream(tmp, { fd: fs.openSync(tmp, 'wx', 0o600) }),
      );
      const digest = `sha256:${hash.digest('hex')}`;
      if (expected && digest !== expected) throw new DigestMismatchError(what, expected, digest);
      if (expectedSize !== undefined && size !== expectedSize) throw new BlobSizeError(`${what}: ${size} bytes were sent but its descriptor declares ${expectedSize}; the source is damaged or hostile, nothing was stored`);
      fs.renameSync(tmp, this.blobPath(digest));
      return { digest, size };
    });
  }

  /** Stores bytes as a blob and returns its digest. */
  public writeBlob(data: Buffer): string {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const file = this.blobPath(digest);
    if (!fs.existsSync(file)) {
      this.ingestArea.useSync('write', (tmp) => {
        fs.writeFileSync(tmp, data, { mode: 0o600 });
        fs.renameSync(tmp, file);
      });
    }
    return digest;
  }

  // --- layers ---------------------------------------------------------------------------------

  public layerDir(chainId: string): string {
    return path.join(this.dir, 'layers', digestHex(chainId, 'layer chain id'));
  }

  /** The overlayfs lowerdir of a layer. */
  public layerDiffDir(chainId: string): string {
    return path.join(this.layerDir(chainId), 'diff');
  }

  public hasLayer(chainId: string): boolean {
    return fs.existsSync(path.join(this.layerDir(chainId), 'size'));
  }

  /** Unpacks every layer of an image that is not unpacked yet (bottom to top). */
  public async unpackImage(manifest: ImageManifest, config: ImageConfig): Promise<void> {
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length) {
      throw new InvalidArgumentError(`the image has ${manifest.layers.length} layers but its config lists ${diffIds.length} diff ids`);
    }
    for (let i = 0; i < diffIds.length; i++) await this.unpackLayerOf(manifest, config, i);
  }

  /**
   * Unpacks layer `i` of an image unless it is there already. Each layer directory holds only
   * that layer's diff, so layers can be unpacked in any order and in parallel.
   */
  public async unpackLayerOf(manifest: ImageManifest, config: ImageConfig, i: number): Promise<void> {
    parseDigest(config.rootfs.diff_ids[i], `config rootfs.diff_ids[${i}]`);
    const chainId = chainIds(config.rootfs.diff_ids.slice(0, i + 1))[i];
    if (this.hasLayer(chainId)) return;
    const blob = this.blobPath(manifest.layers[i].digest);
    const dest = this.layerDir(chainId);
    await this.ingestArea.withLayerClaim(path.basename(dest), () => unpackLayer(blob, manifest.layers[i].mediaType, dest, config.rootfs.diff_ids[i]));
  }

  // --- records --------------------------------------------------------------------------------

  private indexFile(): string {
    return path.join(this.dir, 'index.json');
  }

  /** The current index (atomic writes make an unlocked read consistent). */
  private readIndex(): IndexFile {
    try {
      return JSON.parse(fs.readFileSync(this.indexFile(), 'utf8')) as IndexFile;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, images: {}, blobSources: {} };
      throw e;
    }
  }

  private writeIndex(index: IndexFile): void {
    writeJsonAtomic(this.indexFile(), index);
  }

  /** Runs `fn` with the index locked (across processes); writes it back if `fn` returns true. */
  public async withIndex<T>(fn: (index: IndexFile) => { result: T; changed: boolean }): Promise<T> {
    return withLock(path.join(this.dir, 'index.lock'), () => {
      this.sweepInterrupted();
      const index = this.readIndex();
      const { result, changed } = fn(index);
      if (changed) this.writeIndex(index);
      return result;
    });
  }

  /**
   * The images, newest first. Without `all`, intermediate images (untagged parents of other
   * images: the build's steps) are left out, as `docker images` does.
   */
  public list(all = true): ImageRecord[] {
    const images = Object.values(this.readIndex().images);
    const parents = new Set(images.map((r) => r.parent).filter((p): p is string => !!p));
    return images.filter((r) => all || r.repoTags.length > 0 || !parents.has(r.id)).sort(newestFirst);
  }

  /** Images made from `id` (its children). */
  public children(id: string): ImageRecord[] {
    return Object.values(this.readIndex().images).filter((r) => r.parent === id);
  }

  public manifest(record: ImageRecord): ImageManifest {
    return JSON.parse(this.readBlob(record.manifestDigest).toString('utf8')) as ImageManifest;
  }

  public config(record: ImageRecord): ImageConfig {
    return JSON.parse(this.readBlob(record.id).toString('utf8')) as ImageConfig;
  }

  /** Chain ids of an image's layers, bottom to top. */
  public chainIds(record: ImageRecord): string[] {
    return chainIds(this.config(record).rootfs.diff_ids);
  }

  /** Unpacked size of an image (sum of its layers). */
  public size(record: ImageRecord): number {
    return this.chainIds(record).reduce((n, c) => n + layerSize(this.layerDir(c)), 0);
  }

  /**
   * Finds an image by reference (`busybox`, `host:5000/a:b`, `repo@sha256:…`), by id
   * (`sha256:…`) or by an id prefix of at least 4 hex digits. Throws NotFoundError.
   */
  public resolve(nameOrId: string): ImageRecord {
    const found = this.tryResolve(nameOrId);
    if (!found) throw new NotFoundError(`No such image: ${nameOrId}`);
    return found;
  }

  public tryResolve(nameOrId: string): ImageRecord | undefined {
    return findImage(this.readIndex().images, nameOrId);
  }

  /**
   * Records an image whose manifest, config and layer blobs are stored and whose layers are
   * unpacked; moves `tags` to it. Checks that everything is still there (under the lock), so a
   * concurrent garbage collection cannot leave a record without its content.
   */
  public async register(opts: {
    manifestDigest: string;
    manifestMediaType: string;
    tags?: string[];
    repoDigest?: string;
    source?: string;
    parent?: string;
  }): Promise<ImageRecord> {
    const manifest = JSON.parse(this.readBlob(opts.manifestDigest).toString('utf8')) as ImageManifest;
    const config = JSON.parse(this.readBlob(manifest.config.digest).toString('utf8')) as ImageConfig;
    const chains = chainIds(config.rootfs.diff_ids);
    return this.withIndex((index) => {
      for (const l of manifest.layers) if (!this.hasBlob(l.digest)) throw new NotFoundError(`layer blob ${l.digest} disappeared while the image was being added; retry`);
      for (const c of chains) if (!this.hasLayer(c)) throw new NotFoundError(`unpacked layer ${c} disappeared while the image was being added; retry`);
      const id = manifest.config.digest;
      const tags = (opts.tags ?? []).map((t) => formatReference(parseReference(t)));
      for (const r of Object.values(index.images)) {
        if (r.id !== id && tags.some((t) => r.repoTags.includes(t))) {
          index.images[r.id] = { ...r, repoTags: r.repoTags.filter((t) => !tags.includes(t)) };
        }
      }
      const previous = index.images[id];
      const record: ImageRecord = {
        id,
        manifestDigest: opts.manifestDigest,
        manifestMediaType: opts.manifestMediaType,
        repoTags: [...new Set([...(previous?.repoTags ?? []), ...tags])].sort(),
        repoDigests: [...new Set([...(previous?.repoDigests ?? []), ...(opts.repoDigest ? [opts.repoDigest] : [])])].sort(),
        created: config.created ?? previous?.created ?? new Date(0).toISOString(),
        added: previous?.added ?? new Date().toISOString(),
        ...(opts.parent || previous?.parent ? { parent: opts.parent ?? previous?.parent } : {}),
      };
      index.images[id] = record;
      if (opts.source) {
        for (const d of [...manifest.layers.map((l) => l.digest), manifest.config.digest]) {
          const list = index.blobSources[d] ?? [];
          if (!list.includes(opts.source)) index.blobSources[d] = [...list, opts.source].slice(-5);
        }
      }
      return { result: record, changed: true };
    });
  }

  /** Repositories (`registry/repo`) a blob is known to be in. */
  public blobSources(digest: string): string[] {
    return this.readIndex().blobSources[digest] ?? [];
  }

  /** Records that blobs exist in a repository, and the repo digest of a pushed image. */
  public async recordPush(id: string, digests: string[], source: string, repoDigest: string): Promise<void> {
    await this.withIndex((index) => {
      for (const d of digests) {
        const list = index.blobSources[d] ?? [];
        if (!list.includes(source)) index.blobSources[d] = [...list, source].slice(-5);
      }
      const r = index.images[id];
      if (r && !r.repoDigests.includes(repoDigest)) index.images[id] = { ...r, repoDigests: [...r.repoDigests, repoDigest].sort() };
      return { result: undefined, changed: true };
    });
  }

  /** `tag SRC DST`: DST now names SRC's image (moved from any other image). */
  public async tag(source: string, target: string): Promise<ImageRecord> {
    const record = this.resolve(source);
    const ref = parseReference(target);
    if (ref.digest) throw new InvalidArgumentError(`cannot tag with a digest reference "${target}"; use a tag`);
    const full = formatReference(ref);
    return this.withIndex((index) => {
      for (const r of Object.values(index.images)) {
        if (r.repoTags.includes(full)) index.images[r.id] = { ...r, repoTags: r.repoTags.filter((t) => t !== full) };
      }
      const current = index.images[record.id];
      if (!current) throw new NotFoundError(`No such image: ${source}`);
      index.images[record.id] = { ...current, repoTags: [...current.repoTags, full].sort() };
      return { result: index.images[record.id], changed: true };
    });
  }

  /**
   * `rmi`, with the rules and messages of Docker 20.10 (moby daemon/images/image_delete.go):
   *
   * - By reference (`app:1`, `app@sha256:…`): the reference goes; when it was the image's only
   *   one (one repository, at most one tag) and a container uses the image, that is refused
   *   unless `force`. Untagging the last tag of a repository also drops its digest references.
   *   An image left with no reference is deleted, unless a running container uses it (or a
   *   stopped one and not `force`): then it stays as a dangling `<none>` image.
   * - By id (or id prefix): refused while a running container uses it or images are built on it
   *   ("cannot be forced"), and without `force` while it has references in several repositories
   *   or a stopped container uses it ("must be forced").
   * - Deleting an image deletes its untagged parents nothing else needs (a build's steps) and
   *   collects blobs and layers no record needs.
   *
   * One difference from Docker: Docker deletes an image a stopped container uses when forced
   * (its layers live on in the container's); here the image stays as a dangling `<none>` image
   * until the container is removed, since a container's root filesystem is made from its image.
   * Returns what was done in Docker's order (see ImageDeletion).
   */
  public async remove(nameOrId: string, opts: { force?: boolean; inUse?: ImageUsers } = {}): Promise<ImageDeletion[]> {
    this.resolve(nameOrId);
    const users = usersOf(opts.inUse);
    return this.withIndex((index) => {
      const done = this.deleteImage(index, nameOrId, opts.force === true, users, this.chainsCache());
      this.collect(index);
      return { result: done, changed: true };
    });
  }

  /**
   * `image prune`, as Docker 20.10's (moby daemon/images/image_prune.go): without `all`, each
   * image that has no tag and no image built on it is deleted by id (or by its digest
   * references), with the untagged parents only it needed; with `all`, each image with a
   * reference is deleted reference by reference, and each untagged one nothing is built on by
   * id. A deletion the rules of `rmi` refuse (a container uses the image) is passed over
   * silently, so an image a container uses stays (with `all`, its references in other
   * repositories go first, as Docker's). Docker takes the images in a random order (a Go map);
   * here newest first, so that an image goes before the image it was built on.
   */
  public async prune(opts: { all?: boolean; inUse?: ImageUsers } = {}): Promise<{ deletions: ImageDeletion[]; reclaimed: number }> {
    const before = this.diskUsage();
    const users = usersOf(opts.inUse);
    const deletions: ImageDeletion[] = [];
    await this.withIndex((index) => {
      const chains = this.chainsCache();
      const parents = new Set(Object.values(index.images).map((r) => r.parent));
      const candidates = Object.values(index.images)
        .filter((r) => (opts.all ? r.repoTags.length + r.repoDigests.length > 0 || !parents.has(r.id) : r.repoTags.length === 0 && !parents.has(r.id)))
        .sort(newestFirst);
      for (const c of candidates) {
        const refs = [...c.repoTags, ...c.repoDigests].sort();
        for (const target of refs.length > 0 ? refs : [c.id]) {
          if (!index.images[c.id]) break;
          const saved = { ...index.images };
          try {
            deletions.push(...this.deleteImage(index, target, false, users, chains));
          } catch (e) {
            if (!(e instanceof ConflictError || e instanceof NotFoundError)) throw e;
            index.images = saved;
          }
        }
      }
      this.collect(index);
      return { result: undefined, changed: deletions.length > 0 };
    });
    return { deletions, reclaimed: Math.max(0, before - this.diskUsage()) };
  }

  /** Chain ids of an image by id, read once per operation. Index locked. */
  private chainsCache(): (id: string) => string[] {
    const cache = new Map<string, string[]>();
    return (id) => {
      let c = cache.get(id);
      if (!c) cache.set(id, (c = chainIds((JSON.parse(this.readBlob(id).toString('utf8')) as ImageConfig).rootfs.diff_ids)));
      return c;
    };
  }

  /**
   * One `rmi` (Docker's ImageDelete with prune): the rules above, applied to the locked `index`.
   * A ConflictError or NotFoundError may come after `index` was changed (a reference taken
   * off): a caller that goes on after one puts the index back itself.
   */
  private deleteImage(index: IndexFile, nameOrId: string, force: boolean, users: (id: string) => readonly ImageUser[], chainsOf: (id: string) => string[]): ImageDeletion[] {
    const r = findImage(index.images, nameOrId);
    if (!r) throw new NotFoundError(`No such image: ${nameOrId}`);
    // By id only when it reads as one (an image may be named `sha` or `sha256`).
    const hex = nameOrId.replace(/^sha256:/, '');
    const byId = /^[a-f0-9]{1,64}$/.test(hex) && r.id.slice('sha256:'.length).startsWith(hex);
    const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);
    const familiar = (ref: string) => familiarReference(parseReference(ref));
    const done: ImageDeletion[] = [];
    const untagged = (ref: string, event = true) => done.push({ untagged: familiar(ref), image: r.id, event });
    let tags = [...r.repoTags];
    let digests = [...r.repoDigests];
    const refsNow = () => [...tags, ...digests];
    const save = () => {
      index.images[r.id] = { ...r, repoTags: tags, repoDigests: digests };
    };
    const hasChildren = (id: string) => Object.values(index.images).some((c) => c.parent === id);
    /** Docker's checkImageDeleteConflict, in its order: children, running, references, stopped. */
    const conflict = (hard: boolean, soft: boolean, activeReference: boolean): { message: string; used: boolean } | undefined => {
      const who = users(r.id);
      const text = (cannot: boolean, why: string) => `conflict: unable to delete ${short(r.id)} (${cannot ? 'cannot be forced' : 'must be forced'}) - ${why}`;
      if (hard && hasChildren(r.id)) return { message: text(true, 'image has dependent child images'), used: false };
      const running = who.find((u) => u.running);
      if (hard && running) return { message: text(true, `image is being used by running container ${short(running.id)}`), used: true };
      if (soft && activeReference && refsNow().length > 0) return { message: text(false, 'image is referenced in multiple repositories'), used: false };
      const stopped = who.find((u) => !u.running);
      if (soft && stopped) return { message: text(false, `image is being used by stopped container ${short(stopped.id)}`), used: true };
      return undefined;
    };
    let quiet = false;
    if (!byId) {
      const ref = formatReference(parseReference(nameOrId));
      const user = users(r.id)[0];
      if (!force && isSingleReference(refsNow()) && user) {
        throw new ConflictError(`conflict: unable to remove repository reference "${nameOrId}" (must force) - container ${short(user.id)} is using its referenced image ${short(r.id)}`);
      }
      if (!refsNow().includes(ref)) throw new NotFoundError(`No such image: ${nameOrId}`);
      tags = tags.filter((t) => t !== ref);
      digests = digests.filter((d) => d !== ref);
      untagged(ref);
      const name = referenceName(ref);
      // The last tag of a repository takes that repository's digest references with it (Docker
      // logs no event for those).
      if (!ref.includes('@') && !tags.some((t) => referenceName(t) === name)) {
        for (const d of digests.filter((x) => referenceName(x) === name)) untagged(d, false);
        digests = digests.filter((x) => referenceName(x) !== name);
      }
      save();
      if (refsNow().length > 0) return done;
      quiet = true;
    } else if (isSingleReference(refsNow())) {
      const c = conflict(true, !force, false);
      if (c) throw new ConflictError(c.message);
      for (const t of refsNow()) untagged(t);
      tags = [];
      digests = [];
      save();
    }
    const c = conflict(true, !force, true);
    if (c) {
      // Untagged by reference: the image stays, dangling, for what still needs it.
      if (quiet && (hasChildren(r.id) || c.used)) return done;
      throw new ConflictError(c.message);
    }
    for (const t of refsNow()) untagged(t);
    tags = [];
    digests = [];
    save();
    // Forced past a stopped container: kept (dangling) for the container's root filesystem.
    if (users(r.id).length > 0) return done;
    this.dropImage(index, r.id, done, chainsOf);
    // As Docker: the untagged parents nothing else builds on (a build's steps) go too.
    for (let p = r.parent ? index.images[r.parent] : undefined; p && p.repoTags.length === 0 && p.repoDigests.length === 0 && users(p.id).length === 0; p = p.parent ? index.images[p.parent] : undefined) {
      if (hasChildren(p.id)) break;
      this.dropImage(index, p.id, done, chainsOf);
    }
    return done;
  }

  /**
   * Takes an image's record out of the index and notes it, then the layers it alone held, top
   * first, as Docker's layer store releases them: a layer goes with the last image whose chain
   * includes it (layers are shared by chain id). Index locked; the files go at `collect`.
   */
  private dropImage(index: IndexFile, id: string, done: ImageDeletion[], chainsOf: (id: string) => string[]): void {
    delete index.images[id];
    done.push({ deleted: id, image: id, layer: false });
    const needed = new Set(Object.keys(index.images).flatMap(chainsOf));
    const mine = chainsOf(id);
    for (let i = mine.length - 1; i >= 0 && !needed.has(mine[i]); i--) done.push({ deleted: mine[i], image: id, layer: true });
  }

  /** Deletes blobs and layers no record needs. Called with the index locked. */
  private collect(index: IndexFile): void {
    const blobs = new Set<string>();
    const layers = new Set<string>();
    for (const r of Object.values(index.images)) {
      blobs.add(r.manifestDigest);
      blobs.add(r.id);
      const manifest = JSON.parse(this.readBlob(r.manifestDigest).toString('utf8')) as ImageManifest;
      for (const l of manifest.layers) blobs.add(l.digest);
      for (const c of chainIds((JSON.parse(this.readBlob(r.id).toString('utf8')) as ImageConfig).rootfs.diff_ids)) layers.add(c.slice(7));
    }
    const blobDir = path.join(this.dir, 'blobs', 'sha256');
    for (const hex of fs.readdirSync(blobDir)) {
      if (!blobs.has(`sha256:${hex}`)) {
        fs.rmSync(path.join(blobDir, hex), { force: true });
        delete index.blobSources[`sha256:${hex}`];
      }
    }
    const layerRoot = path.join(this.dir, 'layers');
    for (const name of fs.readdirSync(layerRoot)) {
      if (!layers.has(name) && !name.startsWith('.tmp-')) fs.rmSync(path.join(layerRoot, name), { recursive: true, force: true });
    }
  }

  /** Bytes used by blobs and unpacked layers. */
  public diskUsage(): number {
    let total = 0;
    const blobDir = path.join(this.dir, 'blobs', 'sha256');
    for (const hex of fs.readdirSync(blobDir)) total += fs.statSync(path.join(blobDir, hex)).size;
    for (const name of fs.readdirSync(path.join(this.dir, 'layers'))) total += layerSize(path.join(this.dir, 'layers', name));
    return total;
  }
}
