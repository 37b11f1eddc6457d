import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { engine as builtinEngine } from '../../lib/cli/engine';
import { apply, destroy, diff } from '../../lib/toolkit/deploy';
import { detectDrift, drift } from '../../lib/toolkit/drift';
import type { StackEngine } from '../../lib/toolkit/engine';
import { tempDir, writeJsApp } from '../helpers/cli';

/**
 * The toolkit's diff, apply, destroy and drift called directly with an options object, as a
 * program would (no CLI): the real built-in engine on a private state root, a stack of volumes
 * (no container, so no network set-up), output collected from an injected stream.
 */
let dir: string;
let engine: StackEngine;
/** The stacks whose lock each call took, in order. */
const locked: string[] = [];
const saved: { [k: string]: string | undefined } = {};

/** A stream that keeps what is written. */
function collector(): PassThrough & { text(): string } {
  const s = new PassThrough();
  let text = '';
  s.on('data', (d) => (text += d));
  return Object.assign(s, { text: () => text });
}

beforeAll(async () => {
  dir = tempDir('cdk-docker-toolkit-');
  for (const k of ['CDK_DOCKER_ROOT', 'CDK_DOCKER_RUNROOT', 'CDK_DOCKER_PLAN_KEY']) saved[k] = process.env[k];
  process.env.CDK_DOCKER_ROOT = path.join(dir, 'root');
  process.env.CDK_DOCKER_RUNROOT = path.join(dir, 'run');
  delete process.env.CDK_DOCKER_PLAN_KEY;
  writeJsApp(
    dir,
    `const app = new cdk.App();
const s = new cdk.Stack(app, 'vols');
new cdk.Volume(s, 'data');
new cdk.Volume(s, 'scratch', { removalPolicy: 'destroy' });
app.synth();`,
  );
  const real = await builtinEngine();
  engine = {
    driver: real.driver,
    planKey: () => real.planKey(),
    stackLocked: (stack, fn) => {
      locked.push(stack);
      return real.stackLocked(stack, fn);
    },
  };
});

afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

const summary = (changes: Array<{ action: string; path: string }>) => changes.map((c) => `${c.action} ${c.path}`).sort();

test('diff returns each stack\'s changes and prints them to the given stream, as JSON when asked', async () => {
  const out = collector();
  const r = await diff({ dir, engine, out, json: true });
  expect(r.changed).toBe(true);
  expect(r.diffs.map((d) => d.stack)).toEqual(['vols']);
  expect(summary(r.diffs[0].changes)).toEqual(['create data', 'create scratch']);
  const printed = JSON.parse(out.text()) as Array<{ stack: string }>;
  expect(printed.map((d) => d.stack)).toEqual(['vols']);
  expect(locked).toEqual([]); // diff changes nothing and takes no lock
});

test('apply without a way to ask and without autoApprove is refused, holding the lock, changing nothing', async () => {
  await expect(apply({ dir, engine, out: collector() })).rejects.toThrow('apply needs a confirmation: run it from a terminal, or pass --auto-approve');
  expect(locked).toEqual(['vols']);
  await expect(apply({ dir, engine, out: collector(), autoApprove: true, parallelism: 0 })).rejects.toThrow('parallelism 0: give a whole number of at least 1');
  expect((await engine.driver.observe('vols')).volumes).toEqual([]);
});

test('apply asks through the given confirm and stops at no', async () => {
  const asked: string[] = [];
  const out = collector();
  const r = await apply({ dir, engine, out, confirm: async (q) => (asked.push(q), false) });
  expect(asked).toEqual(['Apply these changes to stack vols?']);
  expect(r.map((x) => [x.stack, x.outcome])).toEqual([['vols', 'cancelled']]);
  expect(out.text()).toContain('Apply cancelled.\n');
  expect((await engine.driver.observe('vols')).volumes).toEqual([]);
});

test('a plan saved by diff is carried out by apply without a question; drift then finds nothing', async () => {
  const file = path.join(dir, 'vols.saved-plan');
  const out = collector();
  await diff({ dir, engine, out, save: file });
  expect(out.text()).toContain(`Saved the plan to ${file}`);
  locked.length = 0;
  const applied = collector();
  const r = await apply({ dir, engine, out: applied, plan: file });
  expect(locked).toEqual(['vols']);
  expect(r).toHaveLength(1);
  expect(r[0]).toMatchObject({ stack: 'vols', outcome: 'applied', counts: { create: 2, update: 0, replace: 0, delete: 0 } });
  expect(applied.text()).toContain('Apply complete! Resources: 2 added, 0 changed, 0 replaced, 0 destroyed.\n');
  expect((await engine.driver.observe('vols')).volumes.map((v) => v.name).sort()).toEqual(['vols-data', 'vols-scratch']);

  expect(await diff({ dir, engine, out: collector() })).toMatchObject({ changed: false });
  const drifts = await detectDrift({ dir, driver: engine.driver });
  expect(drifts).toEqual([{ stack: 'vols', findings: [] }]);
});

test('drift reads the driver lazily and reports a volume removed out of band', async () => {
  await engine.driver.removeVolume('vols-scratch');
  let made = 0;
  const out = collector();
  const r = await drift({ dir, out, driver: async () => (made++, engine.driver) });
  expect(made).toBe(1);
  expect(r.drifted).toBe(true);
  expect(r.drifts[0].findings.map((f) => `${f.category} ${f.path}`)).toEqual(['missing scratch']);
  expect(out.text()).toMatch(/^ {2}missing +volume scratch \(vols-scratch\)$/m);
});

test('destroy asks through confirm, then removes what the removal policy allows', async () => {
  locked.length = 0;
  const asked: string[] = [];
  const out = collector();
  const r = await destroy({ dir, engine: async () => engine, out, confirm: async (q) => (asked.push(q), true) });
  expect(asked).toEqual(['Destroy every container and network of stack vols?']);
  expect(locked).toEqual(['vols']);
  expect(r).toEqual([{ stack: 'vols', outcome: 'destroyed', removed: 0, keptVolumes: ['vols-data'] }]);
  expect(out.text()).toContain('Destroy complete! 0 removed, volumes kept: vols-data.\n');
  const all = await destroy({ dir, engine, out: collector(), autoApprove: true, volumes: true });
  expect(all).toEqual([{ stack: 'vols', outcome: 'destroyed', removed: 1, keptVolumes: [] }]);
  expect((await engine.driver.observe('vols')).volumes).toEqual([]);
});

test('while the app runs, the stacks of the last synth are observed; a no-op apply uses that observation and takes no lock', async () => {
  const project = path.join(dir, 'early');
  fs.mkdirSync(project);
  const ended = path.join(project, 'app-ended');
  writeJsApp(
    project,
    `const app = new cdk.App();
new cdk.Volume(new cdk.Stack(app, 'early'), 'data');
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
require('fs').writeFileSync(${JSON.stringify(ended)}, '');
app.synth();`,
  );
  /** Each observe: its stack, and whether the app had ended by then. */
  const observed: Array<[string, boolean]> = [];
  const driver = new Proxy(engine.driver, {
    get(target, key) {
      if (key === 'observe') return (stack: string) => (observed.push([stack, fs.existsSync(ended)]), target.observe(stack));
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const counting: StackEngine = { ...engine, driver };
  // No synth before: nothing to observe early; the changes are observed again under the lock.
  locked.length = 0;
  await apply({ dir: project, engine: counting, out: collector(), autoApprove: true });
  expect(observed.slice(0, 2)).toEqual([['early', true], ['early', true]]);
  expect(locked).toEqual(['early']);

  observed.length = 0;
  locked.length = 0;
  fs.rmSync(ended);
  const out = collector();
  const r = await apply({ dir: project, engine: counting, out, autoApprove: true });
  expect(observed).toEqual([['early', false]]);
  expect(locked).toEqual([]);
  expect(r).toMatchObject([{ stack: 'early', outcome: 'applied', counts: { create: 0, update: 0, replace: 0, delete: 0 } }]);
  expect(out.text()).toContain('No changes');
  await destroy({ dir: project, engine, out: collector(), autoApprove: true, volumes: true });
});

test('without a parallelism, apply carries out as many changes at once as the engine says it takes best', async () => {
  const project = path.join(dir, 'many');
  fs.mkdirSync(project);
  writeJsApp(project, `const app = new cdk.App();\nconst s = new cdk.Stack(app, 'many');\nfor (let i = 0; i < 6; i++) new cdk.Volume(s, 'v' + i, { removalPolicy: 'destroy' });\napp.synth();`);
  let inFlight = 0;
  let most = 0;
  const driver = new Proxy(engine.driver, {
    get(target, key) {
      if (key === 'capabilities') return { ...target.capabilities, parallelism: 2 };
      if (key === 'createVolume') {
        return async (...args: Parameters<typeof target.createVolume>) => {
          most = Math.max(most, ++inFlight);
          await new Promise((r) => setTimeout(r, 100));
          inFlight--;
          return target.createVolume(...args);
        };
      }
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const limited: StackEngine = { ...engine, driver };
  await apply({ dir: project, engine: limited, out: collector(), autoApprove: true });
  expect(most).toBe(2);
  await destroy({ dir: project, engine, out: collector(), autoApprove: true, volumes: true });
  most = 0;
  await apply({ dir: project, engine: limited, out: collector(), autoApprove: true, parallelism: 3 });
  expect(most).toBe(3);
  await destroy({ dir: project, engine, out: collector(), autoApprove: true, volumes: true });
});
