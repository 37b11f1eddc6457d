import { Container, Network, Secret, Stack, Testing, Volume } from '../../lib';
import { DOCKER_CAPABILITIES } from '../../lib/drivers/docker/driver';
import type { ObservedStack } from '../../lib/drivers/types';
import type { Plan } from '../../lib/plan/types';
import { diffStack, diffToJson, renderDiff } from '../../lib/reconcile';
import { FIXTURE_ENV, fixtureApp } from '../fixtures';
import { ENGINE, faithful } from './faithful';

/** A network, a volume and a container using both, as `import containers` writes them (names fixed). */
function stack(env: NonNullable<ConstructorParameters<typeof Container>[2]>['env'] = { MODE: 'prod' }): Plan {
  const s = new Stack(fixtureApp({ env: FIXTURE_ENV }), 'shop');
  const net = new Network(s, 'front', { name: 'shop_front' });
  const data = new Volume(s, 'data', { name: 'shop_data' });
  new Container(s, 'web', { image: 'busybox:1.36', name: 'shop_web_1', env, networks: [{ network: net, aliases: ['www'] }], mounts: [{ type: 'volume', source: data, target: '/data' }] });
  return Testing.synth(s);
}

/** What the engine has when Compose made the plan's objects: the same, without our labels, with Compose's. */
function madeByCompose(plan: Plan): { observed: ObservedStack; images: ReturnType<typeof faithful>['images'] } {
  const f = faithful(plan);
  const foreign = (labels: { readonly [k: string]: string }, kind: string) => ({
    ...Object.fromEntries(Object.entries(labels).filter(([k]) => !k.startsWith('io.cdk-docker.'))),
    'com.docker.compose.project': 'shop',
    [`com.docker.compose.${kind}`]: 'x',
  });
  return {
    images: f.images,
    observed: {
      networks: [],
      volumes: [],
      containers: [],
      unmanaged: {
        networks: f.observed.networks.map((n) => ({ ...n, labels: foreign(n.labels, 'network') })),
        volumes: f.observed.volumes.map((v) => ({ ...v, labels: foreign(v.labels, 'volume') })),
        containers: f.observed.containers.map((c) => ({ ...c, labels: foreign(c.labels, 'service'), spec: { ...c.spec, labels: foreign(c.spec.labels ?? {}, 'service') } })),
      },
    },
  };
}

test('objects of the plan\'s names without our labels are adopted: relabelled where the engine can', () => {
  const plan = stack();
  const { observed, images } = madeByCompose(plan);
  const d = diffStack(plan, observed, images, ENGINE);
  expect(d.changes.filter((c) => c.action !== 'no-op').map((c) => [c.action, c.type, c.name, c.adopt])).toEqual([
    ['adopt', 'network', 'shop_front', { by: 'relabel' }],
    ['adopt', 'volume', 'shop_data', { by: 'relabel' }],
    ['adopt', 'container', 'shop_web_1', { by: 'relabel' }],
  ]);
  expect(renderDiff(d, { color: false })).toBe(
    [
      ' <= network front (shop_front) adopt',
      ' <= volume data (shop_data) adopt',
      ' <= container web (shop_web_1) adopt',
      '',
      'Plan: 3 to adopt, 0 to add, 0 to change, 0 to replace, 0 to destroy.',
      '',
    ].join('\n'),
  );
  expect(diffToJson(d).summary).toEqual({ add: 0, change: 0, replace: 0, destroy: 0, adopt: 3 });
});

test('on an engine that cannot relabel, a container is adopted by a replacement, and the diff says why; networks and volumes are recorded', () => {
  const plan = stack();
  const { observed, images } = madeByCompose(plan);
  const text = renderDiff(diffStack(plan, observed, images, { ...DOCKER_CAPABILITIES, defaults: ENGINE.defaults }), { color: false });
  expect(text).toBe(
    [
      ' <= network front (shop_front) adopt (kept as it is, recorded)',
      ' <= volume data (shop_data) adopt (kept as it is, recorded)',
      ' <= container web (shop_web_1) adopt (replace: Docker cannot relabel)',
      '',
      'Plan: 3 to adopt, 0 to add, 0 to change, 0 to replace, 0 to destroy.',
      '',
    ].join('\n'),
  );
});

test('a container whose settings differ from the plan is not adopted: the diff says so, naming the fields; a secret stays masked', () => {
  const adopted = stack();
  const { observed, images } = madeByCompose(adopted);
  const plan = stack({ MODE: 'test', TOKEN: Secret.fromEnv('DB_PASSWORD') });
  const d = diffStack(plan, observed, images, ENGINE);
  const web = d.changes.find((c) => c.type === 'container')!;
  expect(web.adopt).toEqual({ by: 'conflict', note: 'its env differs from the plan' });
  expect(renderDiff(d, { color: false })).toContain(
    [
      " <= container web (shop_web_1) adopt refused: exists without cdk-docker's labels and its env differs from the plan; make the code match it (cdk-docker import containers) or rename it",
      '      env.MODE: (sensitive) → "test"',
      '      env.TOKEN: (none) → (sensitive)',
    ].join('\n'),
  );
});

test('without unmanaged objects nothing changes: the resources are created', () => {
  const plan = stack();
  const d = diffStack(plan, { networks: [], volumes: [], containers: [] }, {}, ENGINE);
  expect(d.changes.filter((c) => c.type !== 'image').map((c) => c.action)).toEqual(['create', 'create', 'create']);
  expect(d.changes.some((c) => c.adopt !== undefined)).toBe(false);
});
