import { Secret } from '../../lib';
import { LABELS } from '../../lib/drivers/types';
import type { Plan } from '../../lib/plan/types';
import { dependencyOrder, EXTRA_LABELS, managedLabels, replicaName, specHash } from '../../lib/reconcile';
import { NotFoundError } from '../../lib/core/errors';
import { FIXTURE_ENV, resourceAt, shop } from '../fixtures';
import { Testing } from '../../lib';

interface Props {
  replicas?: number;
  env?: { [k: string]: string };
  password?: string;
  removalPolicy?: 'retain' | 'destroy';
  subnet?: string;
  pullPolicy?: 'missing' | 'always';
  dependsOnDb?: boolean;
}

/** The sample shop's plan, varied by `p`. */
function shopPlan(p: Props = {}): Plan {
  return Testing.synth(
    shop({
      app: { env: { ...FIXTURE_ENV, ...(p.password !== undefined ? { DB_PASSWORD: p.password } : {}) } },
      sample: {
        backend: { subnet: p.subnet },
        data: { removalPolicy: p.removalPolicy },
        busybox: { pullPolicy: p.pullPolicy },
        db: {},
        web: { env: { ...(p.env ?? {}), DB_PASSWORD: Secret.fromEnv('DB_PASSWORD') }, replicas: p.replicas ?? 1 },
        webDependsOnDb: p.dependsOnDb,
      },
    }),
  );
}

const hashAt = (plan: Plan, path: string): string => {
  const r = resourceAt(plan, path);
  return specHash(r, plan);
};

describe('specHash', () => {
  test('is a sha256 of the canonical spec, the same for the same stack synthesized twice', () => {
    const a = shopPlan();
    const b = shopPlan();
    for (const path of ['web', 'db', 'backend', 'data', 'busybox']) {
      expect(hashAt(a, path)).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(hashAt(a, path)).toBe(hashAt(b, path));
    }
    expect(hashAt(a, 'web')).not.toBe(hashAt(a, 'db'));
  });

  test('what must not force a change does not change it: replicas, dependsOn, removalPolicy, pullPolicy', () => {
    const base = shopPlan();
    expect(hashAt(shopPlan({ replicas: 3 }), 'web')).toBe(hashAt(base, 'web'));
    expect(hashAt(shopPlan({ dependsOnDb: true }), 'web')).toBe(hashAt(base, 'web'));
    expect(hashAt(shopPlan({ removalPolicy: 'destroy' }), 'data')).toBe(hashAt(base, 'data'));
    expect(hashAt(shopPlan({ pullPolicy: 'always' }), 'busybox')).toBe(hashAt(base, 'busybox'));
    expect(hashAt(shopPlan({ pullPolicy: 'always' }), 'web')).toBe(hashAt(base, 'web'));
  });

  test('what needs a change changes it: env, a secret value (by its HMAC), a subnet', () => {
    const base = shopPlan();
    expect(hashAt(shopPlan({ env: { A: '1' } }), 'web')).not.toBe(hashAt(base, 'web'));
    expect(hashAt(shopPlan({ password: 'another-password' }), 'web')).not.toBe(hashAt(base, 'web'));
    expect(hashAt(shopPlan({ subnet: '10.9.0.0/24' }), 'backend')).not.toBe(hashAt(base, 'backend'));
    expect(hashAt(shopPlan({ env: { A: '1' } }), 'db')).toBe(hashAt(base, 'db'));
  });
});

describe('managedLabels', () => {
  test('a container replica carries stack, path, spec hash, replica and its inputs; never a secret value', () => {
    const plan = shopPlan({ replicas: 2 });
    const web = resourceAt(plan, 'web', 'container');
    const labels = managedLabels(plan, web.logicalId, 2);
    expect(Object.keys(labels).sort()).toEqual([EXTRA_LABELS.inputs, LABELS.path, LABELS.replica, LABELS.specHash, LABELS.stack].sort());
    expect(labels[LABELS.stack]).toBe('shop');
    expect(labels[LABELS.path]).toBe('web');
    expect(labels[LABELS.replica]).toBe('2');
    expect(labels[LABELS.specHash]).toBe(specHash(web, plan));
    const inputs = JSON.parse(labels[EXTRA_LABELS.inputs]);
    expect(inputs).toEqual({ image: 'docker.io/library/busybox:1.36', secrets: { DB_PASSWORD: web.spec.secretEnv.DB_PASSWORD.hmac }, envFiles: [], files: {} });
    expect(JSON.stringify(labels)).not.toContain(FIXTURE_ENV.DB_PASSWORD);
    expect(managedLabels(plan, web.logicalId)[LABELS.replica]).toBe('1');
  });

  test('a network carries the three identity labels only', () => {
    const plan = shopPlan();
    const net = resourceAt(plan, 'backend');
    expect(managedLabels(plan, net.logicalId)).toEqual({ [LABELS.stack]: 'shop', [LABELS.path]: 'backend', [LABELS.specHash]: specHash(net, plan) });
  });

  test('an unknown logical id is a NotFoundError', () => {
    expect(() => managedLabels(shopPlan(), 'Nope')).toThrow(NotFoundError);
  });
});

test('replica 1 has the resource name, replica N the name and -N', () => {
  expect(replicaName('shop-web', 1)).toBe('shop-web');
  expect(replicaName('shop-web', 3)).toBe('shop-web-3');
});

test('dependency order: images, networks and volumes before containers, dependsOn respected', () => {
  const plan = shopPlan({ dependsOnDb: true });
  const order = dependencyOrder(plan).map((id) => plan.resources[id].path);
  expect(order).toEqual(['busybox', 'backend', 'data', 'db', 'web']);
});
