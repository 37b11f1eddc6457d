import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { CdkDockerError, InvalidArgumentError, NotFoundError } from '../../lib/core/errors';
import { ImageReference, formatReference, parseReference } from '../../lib/core/reference';
import { Progress, ProgressSink } from './progress';
import { RegistryClient } from './registry';
import { BlobSizeError, ImageRecord, ImageStore } from './store';
import { Descriptor, ImageConfig, MEDIA_TYPES, Platform, hostPlatform } from './types';
import { checkDocumentSize, checkLayerCount, parseConfig, parseIndex, parseManifest } from './documents';
import { DigestMismatchError } from './layers';
import { limiter, mapLimit } from '../../lib/core/concurrency';

export interface PullOptions {
  /** Platform to pick from a manifest list. @default the host's */
  readonly platform?: Platform;
  /** Layers downloaded at once. @default 3 */
  readonly concurrency?: number;
  readonly progress?: ProgressSink;
}

const MANIFEST_TYPES: string[] = [MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociManifest];
const INDEX_TYPES: string[] = [MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.ociIndex];

/**
 * Pulls `ref` into the store: resolves a manifest list for the platform, downloads the config
 * and the missing layers in parallel (each verified against its digest), unpacks them, and only
 * then records the image and its tag. Returns the record.
 */
export async function pullImage(store: ImageStore, client: RegistryClient, refText: string, opts: PullOptions = {}): Promise<ImageRecord> {
  const ref = parseReference(refText);
  const progress: ProgressSink = opts.progress ?? Progress.silent();
  const reference = ref.digest ?? ref.tag!;
  let fetched = await client.getManifest(ref.registry, ref.repository, reference);

  const name = formatReference(ref);
  if (INDEX_TYPES.includes(fetched.mediaType)) {
    const index = parseIndex(fetched.body, `the manifest list of ${name} from registry ${ref.registry}`);
    const chosen = choosePlatform(index.manifests, opts.platform ?? hostPlatform(), ref);
    fetched = await client.getManifest(ref.registry, ref.repository, chosen.digest);
  }
  if (!MANIFEST_TYPES.includes(fetched.mediaType)) {
    throw new InvalidArgumentError(`${formatReference(ref)} has a manifest of type ${fetched.mediaType}, which is not supported (Docker v2 schema 2 and OCI manifests are)`);
  }
  const manifest = parseManifest(fetched.body, `the manifest ${fetched.digest} of ${name} from registry ${ref.registry}`);
  progress.line(`${ref.tag ?? ref.digest}: Pulling from ${ref.repository}`);

  // The config is read into memory (its declared size bounded), verified and checked before it
  // is stored: a bad one leaves nothing behind.
  const configDigest = manifest.config.digest;
  const configWhere = `the config ${configDigest} of ${name} from registry ${ref.registry}`;
  let config: ImageConfig;
  // As Docker's: an image whose config is already here lists no layers (nothing to fetch).
  const imageKnown = store.hasBlob(configDigest) && manifest.layers.every((l) => store.hasBlob(l.digest));
  if (store.hasBlob(configDigest)) {
    config = parseConfig(store.readBlob(configDigest), configWhere);
  } else {
    checkDocumentSize(manifest.config.size, 'config', configWhere);
    const { stream } = await client.getBlob(ref.registry, ref.repository, configDigest);
    const bytes = await readAtMost(stream, manifest.config.size, configWhere);
    const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (actual !== configDigest) throw new DigestMismatchError(configWhere, configDigest, actual);
    config = parseConfig(bytes, configWhere);
    store.writeBlob(bytes);
  }
  checkLayerCount(manifest, config, `${name} from registry ${ref.registry}`);

  for (const layer of manifest.layers) {
    if (/zstd/.test(layer.mediaType)) continue;
    if (!/tar(\+gzip|\.gzip)?$/.test(layer.mediaType) && !/diff\.tar/.test(layer.mediaType)) {
      throw new InvalidArgumentError(`${formatReference(ref)}: layer ${layer.digest} has the unsupported media type ${layer.mediaType}`);
    }
  }
  // Each layer is unpacked as soon as it is downloaded (at most `unpackLimit` at once), while
  // the download slots go on to the next layers.
  const unpackSlots = limiter(2);
  const unpacks: Promise<void>[] = [];
  const unpack = (i: number, short: string, downloaded: boolean) => {
    const p = unpackSlots(async () => {
      if (downloaded) progress.layer(short, 'Extracting');
      await store.unpackLayerOf(manifest, config, i);
      if (downloaded) progress.layer(short, 'Pull complete');
    });
    p.catch(() => undefined); // observed below, with the others
    unpacks.push(p);
  };
  const downloads = mapLimit(manifest.layers.map((layer, i) => ({ layer, i })), opts.concurrency ?? 3, async ({ layer, i }: { layer: Descriptor; i: number }) => {
    const short = layer.digest.slice(7, 19);
    if (store.hasBlob(layer.digest)) {
      if (!imageKnown) progress.layer(short, 'Already exists');
      unpack(i, short, false);
      return;
    }
    progress.layer(short, 'Pulling fs layer');
    const { stream } = await client.getBlob(ref.registry, ref.repository, layer.digest);
    let received = 0;
    stream.on('data', (c: Buffer) => {
      received += c.length;
      progress.bytes(short, received, layer.size);
    });
    try {
      await store.ingest(stream, layer.digest, `layer ${layer.digest} of ${formatReference(ref)}`, layer.size);
    } catch (e) {
      if (e instanceof CdkDockerError) throw e;
      // The connection broke mid-blob (undici's SocketError and the like).
      throw new CdkDockerError(`downloading layer ${layer.digest} of ${formatReference(ref)} from registry ${ref.registry} failed (${String((e as Error).message ?? e).split('\n')[0]}); pull again`);
    }
    progress.layer(short, 'Download complete');
    unpack(i, short, true);
  });
  // A failure answers only once every download and unpack under way has ended: nothing of this
  // pull goes on writing (or leaves its claims) after it returned.
  const downloaded = await downloads.then(() => undefined, (e: unknown) => ({ e }));
  const unpacked = await Promise.allSettled(unpacks);
  if (downloaded) throw downloaded.e;
  for (const r of unpacked) if (r.status === 'rejected') throw r.reason;

  const manifestDigest = store.writeBlob(fetched.body);
  const upToDate = store.tryResolve(formatReference(ref))?.manifestDigest === manifestDigest;
  let lastError: unknown;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await store.unpackImage(manifest, config);
      const record = await store.register({
        manifestDigest,
        manifestMediaType: fetched.mediaType,
        tags: ref.tag !== undefined && !ref.digest ? [formatReference(ref)] : [],
        repoDigest: `${ref.registry}/${ref.repository}@${ref.digest ?? fetched.digest}`,
        source: `${ref.registry}/${ref.repository}`,
      });
      progress.line(`Digest: ${ref.digest ?? fetched.digest}`);
      progress.line(`Status: ${upToDate ? 'Image is up to date' : 'Downloaded newer image'} for ${formatReference(ref)}`);
      return record;
    } catch (e) {
      // A concurrent rmi/prune may have collected content between unpack and register.
      if (!(e instanceof NotFoundError)) throw e;
      lastError = e;
      for (const layer of manifest.layers) {
        if (!store.hasBlob(layer.digest)) {
          const { stream } = await client.getBlob(ref.registry, ref.repository, layer.digest);
          await store.ingest(stream, layer.digest, `layer ${layer.digest} of ${name}`, layer.size);
        }
      }
    }
  }
  throw lastError;
}

/** Reads a stream of at most `max` bytes (a declared size); more is refused, not read. */
async function readAtMost(stream: Readable, max: number, where: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > max) {
      stream.on('error', () => undefined).destroy();
      throw new BlobSizeError(`${where}: the registry sent more than the ${max} bytes its descriptor declares; nothing was stored`);
    }
    chunks.push(chunk as Buffer);
  }
  if (size !== max) throw new BlobSizeError(`${where}: the registry sent ${size} bytes but its descriptor declares ${max}; nothing was stored`);
  return Buffer.concat(chunks);
}

function choosePlatform(manifests: Descriptor[], want: Platform, ref: ImageReference): Descriptor {
  const match = manifests.find(
    (m) => m.platform && m.platform.os === want.os && m.platform.architecture === want.architecture && (!want.variant || m.platform.variant === want.variant),
  );
  if (match) return match;
  const available = manifests.filter((m) => m.platform).map((m) => `${m.platform!.os}/${m.platform!.architecture}${m.platform!.variant ? `/${m.platform!.variant}` : ''}`);
  throw new NotFoundError(`no matching manifest for ${want.os}/${want.architecture} in the manifest list of ${formatReference(ref)} (it has ${available.join(', ') || 'none'})`);
}

export { limiter, mapLimit };
