/**
 * The labels cdk-docker writes on what it makes: every name under one reserved prefix, written
 * here once. Users may not set a label under the prefix (the constructs refuse it).
 */

/** The prefix reserved for cdk-docker's own labels. */
export const LABEL_PREFIX = 'io.cdk-docker.';

/** The labels that make an object managed: its stack, its logical path, its spec hash, its replica. */
export const LABELS = {
  stack: `${LABEL_PREFIX}stack`,
  path: `${LABEL_PREFIX}path`,
  specHash: `${LABEL_PREFIX}spec-hash`,
  replica: `${LABEL_PREFIX}replica`,
} as const;

/** Labels beyond LABELS that an apply writes. */
export const EXTRA_LABELS = {
  /** Canonical JSON of a container's inputs (lib/reconcile/hash). */
  inputs: `${LABEL_PREFIX}inputs`,
  /** A build image's context hash (for display when a rebuild is due). */
  contextHash: `${LABEL_PREFIX}context-hash`,
  /** On an adoption record (a volume): the network or volume it makes the stack's, `network:NAME`. */
  adopts: `${LABEL_PREFIX}adopts`,
} as const;

/** Label prefixes of the tools that make containers, networks and volumes (not the user's labels). */
export const FOREIGN_TOOL_LABEL_PREFIXES: readonly string[] = ['com.docker.compose.'];

/** True for a label another tool wrote (Compose's project, service, config hash…). */
export function isForeignToolLabel(key: string): boolean {
  return FOREIGN_TOOL_LABEL_PREFIXES.some((p) => key.startsWith(p));
}

/** The built-in runtime's labels on the step containers of a Dockerfile build. */
export const BUILD_LABELS = {
  /** Marks a container as a build step (`ps` never lists these). */
  step: `${LABEL_PREFIX}build`,
  /** The identity (`PID STARTTIME`) of the build process that owns a step container. */
  owner: `${LABEL_PREFIX}build.owner`,
} as const;

/** True for a label key under the reserved prefix. */
export function isOwnLabel(key: string): boolean {
  return key.startsWith(LABEL_PREFIX);
}

/** The labels under the reserved prefix, or (with `own` false) all the others. */
export function ownLabels(labels: { readonly [k: string]: string } | undefined, own = true): { [k: string]: string } {
  return Object.fromEntries(Object.entries(labels ?? {}).filter(([k]) => isOwnLabel(k) === own));
}
