/**
 * OCI and Docker image formats, as stored in the content store and exchanged with registries.
 *
 * Terms
 * - A *blob* is content addressed by its digest (`sha256:<hex>`): a manifest, a config or a
 *   compressed layer.
 * - A *manifest* lists an image's config blob and its layer blobs. An *index* (manifest list)
 *   points at one manifest per platform.
 * - The *config* holds the runtime defaults (Cmd, Env, …) and `rootfs.diff_ids`, the digests of
 *   the *uncompressed* layers. The image *id* is the config's digest, as with Docker.
 * - A layer's *chain id* identifies it together with all layers below it:
 *   chain(L1) = diffid(L1); chain(Ln) = sha256(chain(Ln-1) + " " + diffid(Ln)).
 *   Unpacked layers are keyed by chain id.
 */

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

export interface Platform {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
  readonly 'os.version'?: string;
}

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly urls?: string[];
  readonly annotations?: { readonly [k: string]: string };
  readonly platform?: Platform;
}

export interface ImageManifest {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly config: Descriptor;
  readonly layers: Descriptor[];
  readonly annotations?: { readonly [k: string]: string };
}

export interface ImageIndex {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly manifests: Descriptor[];
  readonly annotations?: { readonly [k: string]: string };
}

export interface HealthConfig {
  readonly Test?: string[];
  /** Nanoseconds, as Docker stores them. */
  readonly Interval?: number;
  readonly Timeout?: number;
  readonly StartPeriod?: number;
  readonly Retries?: number;
}

/** The runtime defaults of an image (`config` in the image config). Docker's field names. */
export interface ContainerConfig {
  readonly User?: string;
  readonly ExposedPorts?: { readonly [portProto: string]: object };
  readonly Env?: string[];
  readonly Entrypoint?: string[] | null;
  readonly Cmd?: string[] | null;
  readonly Volumes?: { readonly [path: string]: object } | null;
  readonly WorkingDir?: string;
  readonly Labels?: { readonly [k: string]: string } | null;
  readonly StopSignal?: string;
  readonly Healthcheck?: HealthConfig;
  readonly OnBuild?: string[] | null;
  readonly Shell?: string[];
  readonly ArgsEscaped?: boolean;
}

export interface HistoryEntry {
  readonly created?: string;
  readonly created_by?: string;
  readonly author?: string;
  readonly comment?: string;
  readonly empty_layer?: boolean;
}

export interface ImageConfig {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
  readonly created?: string;
  readonly author?: string;
  readonly config?: ContainerConfig;
  readonly rootfs: { readonly type: 'layers'; readonly diff_ids: string[] };
  readonly history?: HistoryEntry[];
  /** Docker writes these too; kept when present. */
  readonly container_config?: ContainerConfig;
  readonly docker_version?: string;
}

/** The platform of this host, in OCI terms (one definition, with `--platform`'s parsing). */
export { hostPlatform } from '../../lib/core/platform';
