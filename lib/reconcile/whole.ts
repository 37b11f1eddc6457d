import type { ContainerResource, Plan } from '../plan/types';
import type { ServiceChangeClasses } from '../drivers/types';
import type { Change, ChangeAction, Reason } from './types';

/**
 * The changes as a driver that owns replicas takes them: each container resource's replica
 * changes, and the removal of its surplus replicas, become one change of the resource, named as
 * it is: `create` when the engine has none of it, else the strongest of its replicas' actions
 * (scaling is an `update` of `replicas`), with every reason. Orphans of resources no longer in
 * the plan stay deletes.
 */
export function wholeContainerChanges(plan: Plan, changes: readonly Change[]): Change[] {
  const groups = new Map<string, Change[]>();
  for (const c of changes) {
    if (c.type === 'container' && plan.resources[c.logicalId]?.type === 'container') groups.set(c.logicalId, [...(groups.get(c.logicalId) ?? []), c]);
  }
  const out: Change[] = [];
  for (const c of changes) {
    const group = groups.get(c.logicalId);
    if (c.type !== 'container' || group === undefined) out.push(c);
    else if (group[0] === c) out.push(wholeChange(plan.resources[c.logicalId] as ContainerResource, group));
  }
  return out;
}

function wholeChange(r: ContainerResource, group: readonly Change[]): Change {
  const replicas = group.filter((c) => c.action !== 'delete');
  const missing = replicas.filter((c) => c.action === 'create').length;
  const surplus = group.length - replicas.length;
  /** The containers the engine has of it. */
  const have = replicas.length - missing + surplus;
  const reasons: Reason[] = [];
  for (const x of replicas.flatMap((c) => c.reasons)) {
    if (!reasons.some((y) => y.field === x.field && y.before === x.before && y.after === x.after && y.needs === x.needs)) reasons.push(x);
  }
  if (have > 0 && (missing > 0 || surplus > 0)) reasons.push({ field: 'replicas', before: String(have), after: String(r.spec.replicas), needs: 'update' });
  const action: ChangeAction = have === 0 ? 'create' : reasons.some((x) => x.needs === 'replace') ? 'replace' : reasons.length > 0 ? 'update' : 'no-op';
  return { logicalId: group[0].logicalId, path: r.path, type: 'container', name: r.name, action, reasons };
}


/**
 * The changes of a diff for an engine whose container resources are single objects (a Swarm
 * service, see ServiceChangeClasses): each container resource once (`wholeContainerChanges`),
 * each orphaned resource once (its replica 1's name), and each reason with the effect `classes`
 * gives its field — `replace` ones force a replacement, the others update in place.
 */
export function serviceChanges(plan: Plan, changes: readonly Change[], classes: ServiceChangeClasses): Change[] {
  const out: Change[] = [];
  const orphans = new Map<string, Change>();
  // Every replica of a service has its settings: replica 1 says what changed; the others only
  // whether their task runs.
  const perReplica = changes.map((c): Change => {
    if (c.type !== 'container' || (c.replica ?? 1) === 1 || c.action === 'create' || c.action === 'delete') return c;
    const reasons = c.reasons.filter((r) => r.field === 'status');
    return { ...c, reasons, action: reasons.length > 0 ? 'update' : 'no-op' };
  });
  for (const c of wholeContainerChanges(plan, perReplica)) {
    if (c.type === 'container' && c.action === 'delete') {
      const seen = orphans.get(c.path);
      if (seen === undefined || (c.replica ?? 1) < (seen.replica ?? 1)) orphans.set(c.path, c);
      if (seen === undefined) out.push(c);
      continue;
    }
    if (c.type !== 'container' || c.action === 'create' || c.action === 'no-op') {
      out.push(c);
      continue;
    }
    const reasons = c.reasons.map((r) => classify(r, classes));
    const action: ChangeAction = reasons.some((r) => r.needs === 'replace') ? 'replace' : 'update';
    out.push({ ...c, action, reasons });
  }
  return out.map((c) => {
    if (c.type !== 'container' || c.action !== 'delete') return c;
    const { replica: _replica, ...rest } = orphans.get(c.path) ?? c;
    return rest;
  });
}

function classify(r: Reason, classes: ServiceChangeClasses): Reason {
  const under = (prefixes: readonly string[]): boolean => prefixes.some((p) => r.field === p || r.field.startsWith(`${p}.`) || r.field.startsWith(`${p}[`));
  if (under(classes.replace)) {
    const { effect: _effect, ...rest } = r;
    return { ...rest, needs: 'replace' };
  }
  // Tasks not running as they should: the update brings them back.
  if (r.field === 'status') return { ...r, needs: 'update' };
  if (under(classes.scale)) return { ...r, needs: 'update', effect: 'scale only' };
  if (under(classes.metadata)) return { ...r, needs: 'update', effect: 'metadata only' };
  return { ...r, needs: 'update', effect: 'rolls tasks' };
}
