import { Readable } from 'node:stream';
import { InvalidArgumentError } from '../../lib/core/errors';
import { formatReference, parseReference } from '../../lib/core/reference';
import { applyChanges, gzipIntoStore } from './archive';
import { manifestBytes } from './documents';
import { ImageRecord, ImageStore } from './store';
import { ContainerConfig, Descriptor, ImageConfig, ImageManifest, MEDIA_TYPES, hostPlatform } from './types';

/**
 * `commit`: an image made of a base image's layers plus one more layer (a container's changes),
 * with the container's settings as its defaults. The layer is gzip'd into the content store and
 * unpacked (keyed by its chain id) like a pulled one, so the image runs, saves and pushes as any
 * other.
 */
export interface CommitOptions {
  /** The image the new one builds on (id or reference); undefined: none (`FROM scratch`). */
  readonly baseImage: string | undefined;
  /**
   * The new layer: an uncompressed tar, deletions as `.wh.` entries, opaque directories as
   * `.wh..wh..opq`. Undefined: no layer, only a new config (its history entry is `empty_layer`),
   * as the builder's metadata instructions make.
   */
  readonly layer: Readable | undefined;
  /** The image's defaults (Cmd, Env, …), before `changes`. */
  readonly config: ContainerConfig;
  /** Dockerfile instructions applied to `config`, as `import -c`. */
  readonly changes?: string[];
  /** @default "" */
  readonly author?: string;
  /** The history comment. @default "" */
  readonly message?: string;
  /** The history's `created_by` (Docker puts the container's command there); undefined: no history entry (the empty start of a build stage FROM scratch). */
  readonly createdBy: string | undefined;
  /** `REPOSITORY[:TAG]` to tag the image with. @default untagged */
  readonly ref?: string;
}

/** Checks a commit's reference and changes before any work is done; returns the tag and the final config. */
export function validateCommit(ref: string | undefined, config: ContainerConfig, changes: string[] = []): { tags: string[]; config: ContainerConfig } {
  let tags: string[] = [];
  if (ref !== undefined) {
    const parsed = parseReference(ref);
    if (parsed.digest) throw new InvalidArgumentError(`refusing to create a tag with a digest reference "${ref}"; give REPOSITORY[:TAG]`);
    tags = [formatReference(parsed)];
  }
  return { tags, config: applyChanges(config, changes) };
}

export async function commitImage(store: ImageStore, opts: CommitOptions): Promise<ImageRecord> {
  const { tags, config } = validateCommit(opts.ref, opts.config, opts.changes);
  const base = opts.baseImage !== undefined ? store.resolve(opts.baseImage) : undefined;
  const platform = hostPlatform();
  const baseConfig: ImageConfig = base ? store.config(base) : { architecture: platform.architecture, os: platform.os, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
  const baseManifest: Pick<ImageManifest, 'layers'> = base ? store.manifest(base) : { layers: [] };
  const oci = base?.manifestMediaType === MEDIA_TYPES.ociManifest;
  const layer = opts.layer ? await gzipIntoStore(store, opts.layer, 'the container\'s layer') : undefined;
  const created = new Date().toISOString();
  const imageConfig: ImageConfig = {
    ...baseConfig,
    created,
    author: opts.author ?? '',
    config,
    container_config: undefined,
    rootfs: { type: 'layers', diff_ids: [...baseConfig.rootfs.diff_ids, ...(layer ? [layer.diffId] : [])] },
    history: [
      ...(baseConfig.history ?? []),
      ...(opts.createdBy === undefined
        ? []
        : [{ created, created_by: opts.createdBy, ...(opts.author ? { author: opts.author } : {}), ...(opts.message ? { comment: opts.message } : {}), ...(layer ? {} : { empty_layer: true }) }]),
    ],
  };
  const configBytes = Buffer.from(JSON.stringify(imageConfig));
  const configDigest = store.writeBlob(configBytes);
  const newLayers: Descriptor[] = layer ? [{ mediaType: oci ? MEDIA_TYPES.ociLayerGzip : MEDIA_TYPES.dockerLayerGzip, digest: layer.digest, size: layer.size }] : [];
  const mediaType = oci ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest;
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: oci ? MEDIA_TYPES.ociConfig : MEDIA_TYPES.dockerConfig, digest: configDigest, size: configBytes.length },
    layers: [...baseManifest.layers, ...newLayers],
  };
  const manifestDigest = store.writeBlob(manifestBytes(manifest));
  await store.unpackImage(manifest, imageConfig);
  return store.register({ manifestDigest, manifestMediaType: mediaType, tags, parent: base?.id });
}
