import type { Driver, PlanFeature } from '../drivers/types';
import type { Plan } from '../plan/types';
import { UnsupportedError } from '../drivers/errors';

/** Where a plan uses a setting: the resource's path and what it is called there. */
interface Use {
  readonly path: string;
  readonly feature: PlanFeature;
  /** The setting as users wrote it: `deploy`, `ports[0].hostIp 127.0.0.1`. */
  readonly what: string;
}

/** The settings of `plan` that only some engines honour (see PlanFeature), in plan order. */
export function planFeatures(plan: Plan): Use[] {
  const uses: Use[] = [];
  for (const id of Object.keys(plan.resources).sort()) {
    const r = plan.resources[id];
    const use = (feature: PlanFeature, what: string): void => {
      uses.push({ path: r.path, feature, what });
    };
    if (r.type === 'network') {
      if (r.spec.driver === 'overlay') use('overlay', `driver "overlay"${r.spec.encrypted ? ' (encrypted)' : ''}`);
      continue;
    }
    if (r.type !== 'container') continue;
    const s = r.spec;
    if (s.deploy !== undefined) use('deploy', 'deploy');
    if (s.privileged) use('privileged', 'privileged');
    if (s.publishAllPorts) use('publishAllPorts', 'publishAllPorts');
    if (s.volumesFrom.length > 0) use('volumesFrom', 'volumesFrom');
    if (s.networkMode !== 'bridge') use('networkMode', `networkMode ${s.networkMode}`);
    s.ports.forEach((p, i) => {
      if (p.hostIp !== '0.0.0.0' && p.hostIp !== '::') use('hostIp', `ports[${i}].hostIp ${p.hostIp}`);
    });
    s.networks.forEach((n) => {
      if (n.ipv4Address !== undefined) use('ipv4Address', `the ipv4Address ${n.ipv4Address} on network ${n.network}`);
    });
  }
  return uses;
}

/** What to do instead, per setting. */
const FIX: { readonly [f in PlanFeature]: string } = {
  deploy: 'it is a Swarm setting; remove deploy, or apply to a swarm (--engine swarm)',
  overlay: 'overlay networks span the nodes of a Swarm; use driver "bridge", or apply to a swarm (--engine swarm)',
  privileged: 'a Swarm service cannot be privileged; remove privileged (add the capabilities it needs with capAdd), or apply with --engine docker',
  publishAllPorts: 'a Swarm service publishes only the ports it lists; list them in ports instead',
  volumesFrom: "a Swarm service cannot mount another container's volumes; mount the volumes themselves",
  networkMode: 'a Swarm service joins networks (bridge mode); remove networkMode',
  hostIp: 'a Swarm publishes a port on every address of its nodes; remove hostIp (firewall the port instead), or apply with --engine docker',
  ipv4Address: 'a Swarm allocates its tasks\' addresses; remove ipv4Address and reach the service by its name',
};

/**
 * Refuses, in one error listing every use, a plan that uses settings `driver`'s engine cannot
 * honour (its capabilities' `unsupported`); nothing when it can honour them all.
 */
export function refuseUnsupported(plan: Plan, driver: Pick<Driver, 'name' | 'capabilities'>): void {
  const lacks = new Set(driver.capabilities.unsupported ?? []);
  const bad = planFeatures(plan).filter((u) => lacks.has(u.feature));
  if (bad.length === 0) return;
  const lines = bad.map((u) => `${u.path}: ${u.what} cannot be honoured by the ${driver.name} engine: ${FIX[u.feature]}`);
  throw new UnsupportedError(lines.length === 1 ? `stack ${plan.stack}: ${lines[0]}` : `stack ${plan.stack} uses settings the ${driver.name} engine cannot honour:\n  ${lines.join('\n  ')}`);
}
