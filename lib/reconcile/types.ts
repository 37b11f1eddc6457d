/**
 * The reconciler's vocabulary: what `diff` computes and `apply` carries out.
 *
 * Terms
 * - A *change* is what one plan resource (or one orphan) needs: `create`, `update` (in place),
 *   `replace` (remove and create again), `delete` (an orphan), `no-op`, or `adopt` (an object
 *   with the resource's name exists without cdk-docker's labels — made by hand or by Compose —
 *   and becomes the stack's instead of a duplicate being created; see Adoption).
 * - Every change but create/no-op carries *reasons*: the field that differs, the old and new
 *   values as shown to users (secrets masked), and what that field's change needs (`update` or
 *   `replace`). The change's action is the strongest of its reasons.
 * - Values known only after apply (an image id of a build, a random host port) show as
 *   KNOWN_AFTER_APPLY.
 */

import type { ResourceType } from '../plan/types';

export type ChangeAction = 'create' | 'update' | 'replace' | 'delete' | 'no-op' | 'adopt';

/**
 * How an `adopt` change makes an existing object without cdk-docker's labels the stack's:
 * `relabel` (the engine changes its labels in place: no restart), `replace` (the engine cannot
 * relabel a container: a new one made from the same settings takes its place, volumes and their
 * data kept), `record` (a network or volume left as it is, its adoption recorded by the driver
 * where observe sees it), or `conflict`: its settings differ from the plan's (the reasons say
 * which), so it is not the resource's — apply refuses it rather than replace or delete what it
 * did not make.
 */
export interface Adoption {
  readonly by: 'relabel' | 'replace' | 'record' | 'conflict';
  /** Why it is replaced or refused, as the diff shows it (`Docker cannot relabel`). */
  readonly note?: string;
}

export const KNOWN_AFTER_APPLY = '(known after apply)';
export const MASKED = '(sensitive)';

export interface Reason {
  /** Dotted field path in the plan's terms: `env.DB_URL`, `restart`, `ports[0].hostPort`, `image`. */
  readonly field: string;
  /** What the engine has, as shown to users; undefined when absent. */
  readonly before?: string;
  /** What the plan wants, as shown to users; undefined when absent. */
  readonly after?: string;
  /** What this difference needs. */
  readonly needs: 'update' | 'replace';
  /**
   * What an update does to an engine's object that has tasks (a Swarm service): replaces its
   * tasks batch by batch, only adds or removes tasks, or touches only the object itself.
   */
  readonly effect?: 'rolls tasks' | 'scale only' | 'metadata only';
}

export interface Change {
  /** Logical id in the plan (for orphans: the `io.cdk-docker.path` label). */
  readonly logicalId: string;
  readonly path: string;
  readonly type: ResourceType;
  /** Runtime name (container name with replica suffix, network or volume name, image ref). */
  readonly name: string;
  readonly action: ChangeAction;
  readonly reasons: Reason[];
  /** For containers: which replica (1-based); undefined for other kinds. */
  readonly replica?: number;
  /** For `adopt`: how. */
  readonly adopt?: Adoption;
}

/** The result of a diff of one stack. */
export interface StackDiff {
  readonly stack: string;
  /** In the order apply would go: creates and updates in dependency order, deletes last. */
  readonly changes: Change[];
}
