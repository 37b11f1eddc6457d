/**
 * Volumes of the built-in runtime.
 *
 * Terms
 * - A *volume* is a directory the runtime owns, `<root>/volumes/<name>/`: its record
 *   `volume.json` and its data directory `_data/`, the *mountpoint* containers mount. Only
 *   Docker's `local` driver exists.
 * - *Driver options* are those of Docker's local driver: `type`, `device` and `o`, as for
 *   mount(8) (`-o type=tmpfs -o device=tmpfs -o o=size=10m`, `-o type=none -o device=/srv/data
 *   -o o=bind`, `-o type=nfs -o device=:/export -o o=addr=10.0.0.1`). A volume with them has that
 *   filesystem mounted on `_data` while it is used (`mount`, `unmount`); one without them is a
 *   plain directory.
 * - An *anonymous* volume is one created without a name: it gets 64 hex digits and the label
 *   `com.docker.volume.anonymous`, and `prune` removes it when no container uses it.
 * - A volume is *in use* while any container record, running or not, mounts it (the `usedBy`
 *   callback of the store names those containers). A volume in use is never removed.
 * - *Copy-up*: when a volume is first mounted over a container path that has content in the
 *   image, that content (owners, modes, xattrs, symlinks, hard links) is copied into the empty
 *   volume, once, and the volume's root takes the image directory's owner and mode (Docker's
 *   behaviour).
 *
 * Lifecycle: `create` → (`mount` → `copyUp` → a container uses it → `unmount`)* → `remove` or
 * `prune`. Records are written atomically (write + rename) under the store's lock, and a volume
 * appears (rename of a complete directory) and disappears (rename, then delete) at once, so a
 * command killed at any moment leaves state the next one reads.
 */

import type { LabelFilters } from '../util/filters';

/** The label Docker puts on a volume it named itself (an anonymous volume). */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

/**
 * A volume as Docker shows it (`docker volume inspect`).
 * @see https://docs.docker.com/reference/cli/docker/volume/inspect/
 */
export interface Volume {
  /** When the volume was created, RFC 3339 to the second. */
  readonly CreatedAt: string;
  /** Always `local`. */
  readonly Driver: 'local';
  /** User labels; `{}` when there are none. */
  readonly Labels: { readonly [key: string]: string };
  /** The host directory containers mount: `<root>/volumes/<name>/_data`. */
  readonly Mountpoint: string;
  readonly Name: string;
  /** Driver options (`type`, `device`, `o`); `{}` when there are none. */
  readonly Options: { readonly [key: string]: string };
  /** Always `local`. */
  readonly Scope: 'local';
}

/** What `<root>/volumes/<name>/volume.json` holds: the Docker fields and the runtime's own. */
export interface VolumeRecord extends Volume {
  readonly version: 1;
  /**
   * When image content was copied into the volume (copy-up), if it was. Set only for plain
   * directory volumes: a mounted filesystem (tmpfs) may lose its content on unmount.
   */
  readonly CopiedUpAt?: string;
}

/** Options of `VolumeStore.create`. */
export interface CreateVolumeOptions {
  /**
   * The volume driver.
   * @default 'local' (the only one)
   */
  readonly driver?: string;
  /**
   * Labels. When given, an existing volume of the same name must have exactly these.
   * @default - none, and any labels of an existing volume are accepted
   */
  readonly labels?: { readonly [key: string]: string };
  /**
   * Driver options (`type`, `device`, `o`). When given, an existing volume of the same name must
   * have exactly these.
   * @default - none (a plain directory), and any options of an existing volume are accepted
   */
  readonly driverOpts?: { readonly [key: string]: string };
}

/** `volume ls` filters; different keys must all match, values of one key any (label: all). */
export interface VolumeListFilters {
  /** true: only volumes no container uses; false: only volumes in use. */
  readonly dangling?: boolean;
  /** `KEY` (has the label) or `KEY=VALUE`; every one must match. */
  readonly label?: readonly string[];
  /** Exact names or regular expressions (Docker's matching); any may match. */
  readonly name?: readonly string[];
  /** Driver names; any may match. */
  readonly driver?: readonly string[];
}

/** Options of `VolumeStore.prune`: only volumes with every `label` and none of `labelNot`. */
export interface PruneVolumesOptions extends LabelFilters {
  /**
   * Remove named volumes as well as anonymous ones (`--all`).
   * @default false (Docker ≥ 23: anonymous volumes only)
   */
  readonly all?: boolean;
}

/** What `prune` did. */
export interface PruneVolumesResult {
  /** Names of the removed volumes, sorted. */
  readonly deleted: string[];
  /** Bytes of data in them (regular files, hard links counted once). */
  readonly reclaimed: number;
}

/** Names the containers using a volume (empty when none). */
export type VolumeUsers = (volumeName: string) => string[];
