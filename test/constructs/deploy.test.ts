import { Container, Network, NetworkDriver, Testing } from '../../lib';
import { DEFAULT_DEPLOY } from '../../lib/plan/types';
import { BUILTIN_CAPABILITIES, DOCKER_CAPABILITIES, SWARM_CAPABILITIES } from '../../lib/drivers';
import type { DriverCapabilities } from '../../lib/drivers';
import type { Plan } from '../../lib/plan/types';
import { diffStack } from '../../lib/reconcile/diff';
import { ValidationError } from '../../lib/core/errors';
import { containerSpec, invalidArgument, portable, resourceAt, shop, synthProblems } from '../fixtures';

describe('Container deploy (Swarm)', () => {
  test('defaults: no deploy, no port mode, no encryption in the plan', () => {
    const stack = shop();
    new Container(stack, 'web', { image: 'nginx', ports: [80] });
    new Network(stack, 'back');
    const plan = Testing.synth(stack);
    expect(containerSpec(plan, 'web').deploy).toBeUndefined();
    expect(containerSpec(plan, 'web').ports).toEqual([{ containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 0 }]);
    expect(resourceAt(plan, 'back', 'network').spec.encrypted).toBeUndefined();
  });

  test('an empty deploy is every default, filled in (it marks the container as meant for a Swarm)', () => {
    const stack = shop();
    new Container(stack, 'web', { image: 'nginx', deploy: {} });
    expect(containerSpec(Testing.synth(stack), 'web').deploy).toEqual(DEFAULT_DEPLOY);
  });

  test('custom: every setting in canonical form (durations in ms, sizes in bytes, CPUs in nano, constraints sorted)', () => {
    const stack = shop();
    new Container(stack, 'web', {
      image: 'nginx',
      replicas: 3,
      ports: [{ containerPort: 80, hostPort: 8080 }, { containerPort: 81, hostPort: 8081, mode: 'host' }],
      deploy: {
        placement: { constraints: ['node.role==worker', 'node.labels.zone == a'], preferences: [{ spread: 'node.labels.zone' }], maxReplicasPerNode: 2 },
        updateConfig: { parallelism: 2, delay: '10s', order: 'start-first', failureAction: 'pause', monitor: '30s', maxFailureRatio: 0.25 },
        rollbackConfig: { parallelism: 0 },
        resources: { reservations: { cpus: 0.25, memory: '64m' } },
        restartPolicy: { condition: 'on-failure', delay: '2s', maxAttempts: 3, window: '1m' },
        endpointMode: 'vip',
      },
    });
    new Network(stack, 'back', { driver: NetworkDriver.OVERLAY, encrypted: true, attachable: true });
    const plan = Testing.synth(stack);
    const spec = containerSpec(plan, 'web');
    expect(spec.deploy).toEqual({
      mode: 'replicated',
      placement: { constraints: ['node.labels.zone == a', 'node.role == worker'], preferences: [{ spread: 'node.labels.zone' }], maxReplicasPerNode: 2 },
      updateConfig: { parallelism: 2, delayMs: 10_000, order: 'start-first', failureAction: 'pause', monitorMs: 30_000, maxFailureRatio: 0.25 },
      rollbackConfig: { ...DEFAULT_DEPLOY.rollbackConfig, parallelism: 0 },
      reservations: { nanoCpus: 250_000_000, memoryBytes: 64 * 1024 * 1024 },
      restartPolicy: { condition: 'on-failure', delayMs: 2000, maxAttempts: 3, windowMs: 60_000 },
      endpointMode: 'vip',
    });
    expect(spec.ports[1]).toEqual({ containerPort: 81, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8081, mode: 'host' });
    expect(resourceAt(plan, 'back', 'network').spec).toMatchObject({ driver: 'overlay', encrypted: true, attachable: true });
    expect(portable(plan)).toMatchSnapshot();
  });

  test('with deploy, replicas share a published port and a fixed name (the routing mesh and the service have them)', () => {
    const stack = shop();
    new Container(stack, 'web', { image: 'nginx', name: 'web', replicas: 3, ports: ['8080:80'], deploy: {} });
    expect(containerSpec(Testing.synth(stack), 'web').replicas).toBe(3);
    const plain = shop();
    new Container(plain, 'web', { image: 'nginx', replicas: 3, ports: ['8080:80'] });
    expect(synthProblems(plain)).toEqual(['[shop/web] host port 0.0.0.0:8080/tcp cannot be published by 3 replicas; omit hostPort to get a free port per replica']);
  });

  test.each([
    [{ mode: 'everywhere' }, 'deploy.mode "everywhere" is not one of "replicated", "global"'],
    [{ placement: { constraints: ['zone=a'] } }, 'placement constraint "zone=a" is not "<field> == <value>" or "<field> != <value>", such as "node.role == manager" or "node.labels.zone == a"'],
    [{ placement: { preferences: [{ spread: 'zone' }] } }, 'placement preference {"spread":"zone"} must be { spread: "node.labels.<name>" }'],
    [{ placement: { maxReplicasPerNode: 0 } }, 'placement.maxReplicasPerNode 0 must be a whole number from 1 to 4194304'],
    [{ updateConfig: { order: 'first' } }, 'updateConfig.order "first" is not one of "stop-first", "start-first"'],
    [{ updateConfig: { failureAction: 'retry' } }, 'updateConfig.failureAction "retry" is not one of "rollback", "pause", "continue"'],
    [{ updateConfig: { maxFailureRatio: 1.5 } }, 'updateConfig.maxFailureRatio 1.5 must be a fraction from 0 to 1, such as 0.2'],
    [{ updateConfig: { parallelism: -1 } }, 'updateConfig.parallelism -1 must be a whole number from 0 to 2147483647'],
    [{ rollbackConfig: { delay: 'soon' } }, 'rollbackConfig.delay: '],
    [{ resources: { reservations: { cpus: 0 } } }, 'resources.reservations.cpus 0 must be a number of CPUs from 0.01 to 8192, such as 0.5'],
    [{ restartPolicy: { condition: 'always' } }, 'restartPolicy.condition "always" is not one of "none", "on-failure", "any"'],
    [{ endpointMode: 'rr' }, 'endpointMode "rr" is not one of "vip", "dnsrr"'],
  ])('deploy %j is refused: %s', (deploy, message) => {
    const stack = shop();
    const m = invalidArgument(() => new Container(stack, 'web', { image: 'nginx', deploy: deploy as never }));
    expect(m.startsWith(`[shop/web] ${message}`)).toBe(true);
  });

  test('global mode with replicas, dnsrr with mesh ports, a bad port mode and encryption of a bridge are refused', () => {
    expect(invalidArgument(() => new Container(shop(), 'web', { image: 'nginx', replicas: 2, deploy: { mode: 'global' } }))).toBe(
      '[shop/web] replicas 2 cannot be combined with deploy mode "global" (one task on every node); remove replicas or use mode "replicated"',
    );
    const stack = shop();
    new Container(stack, 'web', { image: 'nginx', ports: ['80'], deploy: { endpointMode: 'dnsrr' } });
    expect(synthProblems(stack)).toEqual(['[shop/web] deploy endpointMode "dnsrr" cannot publish ports through the routing mesh; give each port mode "host", or use endpointMode "vip"']);
    expect(invalidArgument(() => new Container(shop(), 'web', { image: 'nginx', ports: [{ containerPort: 80, mode: 'mesh' as never }] }))).toBe('[shop/web] {"containerPort":80,"mode":"mesh"}: mode "mesh" is not one of "ingress", "host"');
    expect(invalidArgument(() => new Network(shop(), 'n', { encrypted: true }))).toBe('[shop/n] encrypted needs driver "overlay" (a bridge never leaves its host); set driver to "overlay" or remove encrypted');
  });
});

/** The problems the diff of `plan` on an engine that can do `capabilities` refuses it for; none when it is accepted. */
function refused(plan: Plan, capabilities: DriverCapabilities): string[] {
  try {
    diffStack(plan, { networks: [], volumes: [], containers: [] }, {}, capabilities);
  } catch (e) {
    if (e instanceof ValidationError) return e.problems;
    throw e;
  }
  return [];
}

describe('engines refuse what they cannot honour, at diff, naming the engine', () => {
  const swarmStack = () => {
    const stack = shop();
    new Container(stack, 'web', { image: 'nginx', deploy: { mode: 'global' } });
    new Network(stack, 'mesh', { driver: NetworkDriver.OVERLAY });
    return Testing.synth(stack);
  };

  test('the built-in and Docker engines refuse deploy and overlay networks', () => {
    for (const [name, capabilities] of [['built-in', BUILTIN_CAPABILITIES], ['docker', DOCKER_CAPABILITIES]] as const) {
      expect(refused(swarmStack(), capabilities).sort()).toEqual([
        `[shop/mesh] an overlay network spans the nodes of a Swarm, which the ${name} engine cannot make; use driver "bridge", or apply to a swarm (--engine swarm)`,
        `[shop/web] deploy is a Swarm setting, which the ${name} engine cannot honour; remove deploy, or apply to a swarm (--engine swarm)`,
      ]);
    }
  });

  test('a Swarm takes them, and refuses what a service cannot have', () => {
    expect(refused(swarmStack(), SWARM_CAPABILITIES)).toEqual([]);
    const stack = shop();
    new Container(stack, 'web', { image: 'nginx', publishAllPorts: true, ports: ['127.0.0.1:8080:80'] });
    expect(refused(Testing.synth(stack), SWARM_CAPABILITIES)).toEqual([
      '[shop/web] a Swarm service publishes only the ports it lists, so the swarm engine cannot honour publishAllPorts; list them in ports instead',
      '[shop/web] a Swarm publishes a port on every address of its nodes, so the swarm engine cannot bind one to a hostIp; remove hostIp (firewall the port instead), or apply with --engine docker',
    ]);
  });
});
