import { Restart, Testing } from '../../lib';
import { resolveStackContainer, stackPathOf } from '../../lib/cli/stack-commands';
import type { Driver, ObservedContainer } from '../../lib/drivers/types';
import { LABELS } from '../../lib/drivers/types';
import type { Plan } from '../../lib/plan/types';
import { driftStack, driftToJson, renderDrift, StackDrift } from '../../lib/reconcile/drift';
import { shop } from '../fixtures';
import { ENGINE, faithful, Faithful, hex } from './faithful';

/**
 * Drift, pure: plans from constructs, observations as a faithful engine would report them, then
 * one out-of-band change per test.
 */

/** The sample shop: a network, a volume, a long-running `web` (2 replicas), a one-shot `init`. */
function shopPlan(o: { initRestart?: Restart } = {}): Plan {
  return Testing.synth(
    shop({
      sample: {
        web: { command: ['sleep', '1000'], env: { MODE: 'live' }, restart: Restart.UNLESS_STOPPED, replicas: 2 },
        init: { command: ['true'], restart: o.initRestart },
      },
    }),
  );
}

const summary = (d: StackDrift): string[] => d.findings.map((f) => `${f.category} ${f.type} ${f.name}`);

function withContainer(f0: Faithful, name: string, f: (c: ObservedContainer) => ObservedContainer): Faithful {
  return { ...f0, observed: { ...f0.observed, containers: f0.observed.containers.map((c) => (c.name === name ? f(c) : c)) } };
}

describe('driftStack', () => {
  test('a stack as applied has no drift, whether or not the engine reports what the image supplies', () => {
    const plan = shopPlan();
    for (const effective of [false, true]) {
      const f = faithful(plan, { effective });
      const d = driftStack(plan, f.observed, f.images, ENGINE);
      expect(d.findings).toEqual([]);
      expect(renderDrift(d, { color: false })).toBe('No drift. Stack shop matches its last synthesized plan.\n');
      expect(driftToJson(d)).toMatchObject({ stack: 'shop', drift: false, findings: [] });
    }
  });

  test('a one-shot container that exited 0 is not stopped; one that failed, or a service that exited, is', () => {
    const plan = shopPlan();
    const f = faithful(plan);
    const done = withContainer(f, 'shop-init', (c) => ({ ...c, status: 'exited', exitCode: 0 }));
    expect(driftStack(plan, done.observed, done.images, ENGINE).findings).toEqual([]);

    const failed = withContainer(done, 'shop-init', (c) => ({ ...c, status: 'exited', exitCode: 1 }));
    const d = driftStack(plan, failed.observed, failed.images, ENGINE);
    expect(summary(d)).toEqual(['stopped container shop-init']);
    expect(d.findings[0].reasons).toEqual([{ field: 'status', before: 'exited (exit code 1)', after: '"running"', needs: 'update' }]);

    const serviceDown = withContainer(f, 'shop-web-2', (c) => ({ ...c, status: 'exited', exitCode: 0 }));
    const d2 = driftStack(plan, serviceDown.observed, serviceDown.images, ENGINE);
    expect(summary(d2)).toEqual(['stopped container shop-web-2']);
    expect(d2.findings[0]).toMatchObject({ path: 'web', replica: 2 });
    expect(renderDrift(d2, { color: false })).toContain('  stopped     container web:2 (shop-web-2)\n      status: exited (exit code 0) → "running"\n');
  });

  test('a one-shot with restart always that exited is stopped; one never started (created) is stopped', () => {
    const plan = shopPlan({ initRestart: Restart.ALWAYS });
    const f = withContainer(faithful(plan), 'shop-init', (c) => ({ ...c, status: 'exited', exitCode: 0 }));
    expect(summary(driftStack(plan, f.observed, f.images, ENGINE))).toEqual(['stopped container shop-init']);
    const created = withContainer(faithful(plan), 'shop-web', (c) => ({ ...c, status: 'created' }));
    expect(summary(driftStack(plan, created.observed, created.images, ENGINE))).toEqual(['stopped container shop-web']);
  });

  test('containers, networks, volumes and images the engine does not have are missing', () => {
    const plan = shopPlan();
    const f = faithful(plan);
    const observed = {
      networks: [],
      volumes: [],
      containers: f.observed.containers.filter((c) => c.name !== 'shop-web-2' && c.name !== 'shop-init'),
    };
    const imageId = Object.keys(f.images)[0];
    const d = driftStack(plan, observed, { [imageId]: undefined }, ENGINE);
    expect(summary(d).sort()).toEqual(
      ['missing container shop-init', 'missing container shop-web-2', 'missing image docker.io/library/busybox:1.36', 'missing network shop-backend', 'missing volume shop-data'].sort(),
    );
    // The consequences (web's network and volume to be recreated) are not reported on web.
    expect(d.findings.filter((x) => x.name === 'shop-web')).toEqual([]);
    expect(d.findings.find((x) => x.name === 'shop-web-2')).toMatchObject({ path: 'web', replica: 2, reasons: [] });
  });

  test('a container changed out of band is changed, field by field, even with the spec hash it was created with', () => {
    const plan = shopPlan();
    const f = withContainer(faithful(plan), 'shop-web', (c) => ({
      ...c,
      spec: { ...c.spec, fullEnv: { ...c.spec.fullEnv, MODE: 'debug' }, networks: [], restart: { policy: 'no', maxRetries: 0 } },
    }));
    // The labels (spec hash included) are still the plan's, as after `runtime run -l …` by hand.
    expect(f.observed.containers.find((c) => c.name === 'shop-web')!.labels[LABELS.specHash]).toBeDefined();
    const d = driftStack(plan, f.observed, f.images, ENGINE);
    expect(summary(d)).toEqual(['changed container shop-web']);
    const fields = d.findings[0].reasons.map((r) => `${r.field}: ${r.before} → ${r.after} (${r.needs})`);
    expect(fields).toEqual(expect.arrayContaining(['env.MODE: "debug" → "live" (replace)', 'restart: no → unless-stopped (update)', 'networks.shop-backend: undefined → aliases web (update)', 'networks.bridge: attached → undefined (update)']));
    const text = renderDrift(d, { color: false });
    expect(text).toContain('  changed     container web (shop-web)\n');
    expect(text).toContain('      env.MODE: "debug" → "live"\n');
    expect(text).toContain('Drift: 0 missing, 0 stopped, 1 changed, 0 orphan, 0 image moved.');
  });

  test('a network changed out of band is changed', () => {
    const plan = shopPlan();
    const f = faithful(plan);
    const observed = { ...f.observed, networks: f.observed.networks.map((n) => ({ ...n, internal: true })) };
    const d = driftStack(plan, observed, f.images, ENGINE);
    expect(summary(d)).toEqual(['changed network shop-backend']);
    expect(d.findings[0].reasons).toEqual([{ field: 'internal', before: 'true', after: 'false', needs: 'replace' }]);
  });

  test('containers, networks and volumes labelled for the stack but not in the plan are orphans; so is a replica beyond replicas', () => {
    const plan = shopPlan();
    const f = faithful(plan);
    const web = f.observed.containers.find((c) => c.name === 'shop-web')!;
    const stray: ObservedContainer = { ...web, id: hex('stray'), name: 'stray', labels: { [LABELS.stack]: 'shop', [LABELS.path]: 'stray', [LABELS.specHash]: 'x' } };
    const third: ObservedContainer = { ...web, id: hex('third'), name: 'shop-web-3', labels: { ...web.labels, [LABELS.replica]: '3' } };
    const observed = {
      networks: [...f.observed.networks, { ...f.observed.networks[0], id: hex('n2'), name: 'old-net', labels: { [LABELS.stack]: 'shop', [LABELS.path]: 'old-net' } }],
      volumes: [...f.observed.volumes, { ...f.observed.volumes[0], name: 'old-vol', labels: { [LABELS.stack]: 'shop', [LABELS.path]: 'old-vol' } }],
      containers: [...f.observed.containers, stray, third],
    };
    const d = driftStack(plan, observed, f.images, ENGINE);
    expect(summary(d).sort()).toEqual(['orphan container shop-web-3', 'orphan container stray', 'orphan network old-net', 'orphan volume old-vol']);
    expect(d.findings.find((x) => x.name === 'shop-web-3')).toMatchObject({ path: 'web', replica: 3 });
    const text = renderDrift(d, { color: false });
    expect(text).toContain('  orphan      container stray (stray)\n');
    expect(text).toContain('  orphan      container web:3 (shop-web-3)\n');
    expect(driftToJson(d).summary).toEqual({ missing: 0, stopped: 0, changed: 0, orphan: 4, 'image-moved': 0 });
  });

  test('a registry image whose reference now names another id is image moved, for each container on the old id', () => {
    const plan = shopPlan();
    const f = faithful(plan);
    const imageId = Object.keys(f.images)[0];
    const moved = { ...f.images, [imageId]: { ...f.images[imageId]!, id: `sha256:${hex('newer')}` } };
    const d = driftStack(plan, f.observed, moved, ENGINE);
    expect(summary(d).sort()).toEqual(['image-moved container shop-init', 'image-moved container shop-web', 'image-moved container shop-web-2']);
    expect(d.findings.find((x) => x.name === 'shop-web')!.reasons).toEqual([
      { field: 'image', before: `sha256:${hex('image docker.io/library/busybox:1.36').slice(0, 12)}`, after: `sha256:${hex('newer').slice(0, 12)} (docker.io/library/busybox:1.36 now)`, needs: 'replace' },
    ]);
    expect(renderDrift(d, { color: false })).toContain('  image moved container web (shop-web)\n      image: sha256:');
    expect(driftToJson(d).findings.find((x) => x.name === 'shop-web')).toMatchObject({ category: 'image-moved', type: 'container', path: 'web', name: 'shop-web', replica: 1 });
  });

  test('several findings on one container are reported each under its category, in plan order', () => {
    const plan = shopPlan();
    const f = faithful(plan);
    const imageId = Object.keys(f.images)[0];
    const g = withContainer(f, 'shop-web', (c) => ({ ...c, status: 'exited', exitCode: 137, spec: { ...c.spec, fullEnv: { ...c.spec.fullEnv, MODE: 'x' } } }));
    const d = driftStack(plan, g.observed, { ...g.images, [imageId]: { ...g.images[imageId]!, id: `sha256:${hex('newer')}` } }, ENGINE);
    expect(summary(d).filter((s) => s.endsWith(' shop-web'))).toEqual(['stopped container shop-web', 'image-moved container shop-web', 'changed container shop-web']);
    const json = driftToJson(d);
    expect(json.drift).toBe(true);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });
});

describe('resolveStackContainer', () => {
  const plan = shopPlan();
  const f = faithful(plan);
  const driver = { observe: async (stack: string) => (stack === 'shop' ? f.observed : { networks: [], volumes: [], containers: [] }) } as unknown as Driver;

  test('a container is found by construct path, path:N for replica N, or container name', async () => {
    expect((await resolveStackContainer('shop', 'web', driver)).name).toBe('shop-web');
    expect((await resolveStackContainer('shop', 'web:2', driver)).name).toBe('shop-web-2');
    expect((await resolveStackContainer('shop', 'shop-init', driver)).name).toBe('shop-init');
    expect(stackPathOf(f.observed.containers.find((c) => c.name === 'shop-web-2')!)).toBe('web:2');
  });

  test('a container whose replica label is not a number is nobody\'s replica: drift calls it an orphan, and the stack commands do not take it for the first replica', async () => {
    const plan = shopPlan();
    const g = faithful(plan);
    const web = g.observed.containers.find((c) => c.name === 'shop-web')!;
    const bogus: ObservedContainer = { ...web, id: hex('bogus'), name: 'shop-web-bogus', labels: { ...web.labels, [LABELS.replica]: 'x' } };
    const observed = { ...g.observed, containers: [bogus, ...g.observed.containers] };
    expect(summary(driftStack(plan, observed, g.images, ENGINE))).toEqual(['orphan container shop-web-bogus']);
    const listing = { observe: async () => observed } as unknown as Driver;
    expect((await resolveStackContainer('shop', 'web', listing)).name).toBe('shop-web');
    expect((await resolveStackContainer('shop', 'shop-web-bogus', listing)).name).toBe('shop-web-bogus');
  });

  test('an unknown container or stack is an error naming what there is and the fix', async () => {
    await expect(resolveStackContainer('shop', 'web:3', driver)).rejects.toThrow('stack shop has no container "web:3"; its containers: init (shop-init), web (shop-web), web:2 (shop-web-2)');
    await expect(resolveStackContainer('shopp', 'web', driver)).rejects.toThrow(
      'stack shopp has no containers (none carries the label io.cdk-docker.stack=shopp); check the stack name, or create them with `cdk-docker apply shopp`',
    );
  });
});
