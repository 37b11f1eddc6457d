/**
 * Adoption records: how a driver makes an existing network or volume a stack's when the engine
 * cannot change its labels (Docker's networks and volumes are immutable; the built-in runtime
 * relabels its own instead).
 *
 * The object itself is left as it is. Next to it the driver creates a *record*: an empty local
 * volume named `cdk-docker-adopted-<kind>-<sha256 of the name, 16 hex>` that carries the stack's
 * labels (stack, path, spec hash) and `io.cdk-docker.adopts=<kind>:<name>`. Observe lists the
 * stack's labelled volumes anyway, so it sees the records: it drops them from the volumes and
 * reports each adopted object with the record's labels instead of its own cdk-docker-less ones
 * (the labels of the tool that made it, Compose's, left out). Removing the object removes its
 * record; `destroy` therefore removes an adopted network, and keeps an adopted volume (and its
 * record) unless asked, as for any volume of the stack.
 */

import { createHash } from 'node:crypto';
import { EXTRA_LABELS, isForeignToolLabel, LABELS } from '../core/labels';
import type { VolumeSpec } from '../plan/types';
import type { ManagedLabels, ObservedNetwork, ObservedStack, ObservedVolume, UnmanagedObjects, UnmanagedQuery } from './types';

export type AdoptedKind = 'network' | 'volume';

/** The name of the record volume of an adopted network or volume. */
export function adoptionRecordName(kind: AdoptedKind, name: string): string {
  return `cdk-docker-adopted-${kind}-${createHash('sha256').update(name).digest('hex').slice(0, 16)}`;
}

/** What a record needs of its driver. */
export interface RecordKeeper {
  createVolume(name: string, spec: VolumeSpec, labels: ManagedLabels): Promise<unknown>;
  removeVolume(name: string): Promise<void>;
}

/** The objects without `io.cdk-docker.stack` labels that `query` names, adopted ones included. */
export type UnlabelledObjects = (query: UnmanagedQuery) => Promise<UnmanagedObjects>;

/** Writes (or rewrites) the record that makes `kind` `name` the stack's that `labels` name. */
export async function writeAdoptionRecord(driver: RecordKeeper, kind: AdoptedKind, name: string, labels: ManagedLabels): Promise<void> {
  const record = adoptionRecordName(kind, name);
  await driver.removeVolume(record);
  await driver.createVolume(record, { driver: 'local', driverOpts: {}, labels: {}, removalPolicy: 'retain' }, { ...labels, [EXTRA_LABELS.adopts]: `${kind}:${name}` });
}

/**
 * A stack's observation with its records applied: record volumes out, the objects they adopt in
 * (with the record's labels). A record whose object is gone is dropped (the object is missing).
 */
export async function withAdoptions(unlabelled: UnlabelledObjects, observed: ObservedStack): Promise<ObservedStack> {
  const records = observed.volumes.filter((v) => v.labels[EXTRA_LABELS.adopts] !== undefined);
  if (records.length === 0) return observed;
  const wanted = { network: new Map<string, ObservedVolume>(), volume: new Map<string, ObservedVolume>() };
  for (const r of records) {
    const m = /^(network|volume):(.+)$/.exec(r.labels[EXTRA_LABELS.adopts]);
    if (m) wanted[m[1] as AdoptedKind].set(m[2], r);
  }
  const found = await unlabelled({ containers: [], networks: [...wanted.network.keys()], volumes: [...wanted.volume.keys()] });
  const relabel = <T extends ObservedNetwork | ObservedVolume>(o: T, record: ObservedVolume): T => ({
    ...o,
    labels: {
      ...Object.fromEntries(Object.entries(o.labels).filter(([k]) => !isForeignToolLabel(k))),
      [LABELS.stack]: record.labels[LABELS.stack],
      [LABELS.path]: record.labels[LABELS.path],
      [LABELS.specHash]: record.labels[LABELS.specHash],
    },
  });
  const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return {
    ...observed,
    networks: [...observed.networks, ...found.networks.filter((n) => wanted.network.has(n.name)).map((n) => relabel(n, wanted.network.get(n.name)!))].sort(byName),
    volumes: [...observed.volumes.filter((v) => !records.includes(v)), ...found.volumes.filter((v) => wanted.volume.has(v.name)).map((v) => relabel(v, wanted.volume.get(v.name)!))].sort(byName),
  };
}

/** `network:NAME` and `volume:NAME` of every object a record adopts, from the engine's volumes' labels. */
export function adoptedObjects(volumes: ReadonlyArray<{ readonly labels: { readonly [k: string]: string } }>): Set<string> {
  return new Set(volumes.map((v) => v.labels[EXTRA_LABELS.adopts]).filter((x): x is string => x !== undefined));
}

/** True for a record volume (never reported as a volume of a stack, never adopted itself). */
export function isAdoptionRecord(labels: { readonly [k: string]: string }): boolean {
  return labels[EXTRA_LABELS.adopts] !== undefined;
}
