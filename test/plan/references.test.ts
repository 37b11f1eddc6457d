import { Container, PlanValidationError, Stack, Testing } from '../../lib';
import { validatePlan } from '../../lib/plan/validate';

/** What the schema cannot say about a hand-edited plan: the logical ids it names. */
function plan(): { resources: Record<string, { type: string; dependsOn: string[]; spec: Record<string, unknown> }> } {
  const stack = new Stack(Testing.app(), 'refs');
  const db = new Container(stack, 'db', { image: 'busybox' });
  new Container(stack, 'web', { image: 'busybox', dependsOn: [{ container: db, condition: 'started' }] });
  return JSON.parse(JSON.stringify(Testing.synth(stack)));
}
const ids = (p: ReturnType<typeof plan>) => ({
  web: Object.keys(p.resources).find((id) => id.startsWith('Web'))!,
  db: Object.keys(p.resources).find((id) => id.startsWith('Db'))!,
  image: Object.keys(p.resources).find((id) => p.resources[id].type === 'image')!,
});
const problems = (p: unknown): string[] => {
  try {
    validatePlan(p, 'edited.plan.json');
  } catch (e) {
    if (e instanceof PlanValidationError) return e.problems;
    throw e;
  }
  return [];
};

test('what synth writes has no reference problems', () => {
  expect(problems(plan())).toEqual([]);
});

test('a dependsOn naming no resource, or the resource itself, is refused', () => {
  const p = plan();
  const { web, db } = ids(p);
  p.resources[web].dependsOn.push('Ghost0000');
  p.resources[db].dependsOn.push(db);
  expect(problems(p).sort()).toEqual([`resources.${web}.dependsOn: "Ghost0000" is not a resource of the plan`, `resources.${db}.dependsOn: depends on itself`].sort());
});

test('a container whose image or spec.dependsOn names the wrong thing, or skips dependsOn, is refused', () => {
  const p = plan();
  const { web, db, image } = ids(p);
  (p.resources[web].spec.dependsOn as Array<{ container: string }>)[0].container = image;
  p.resources[db].spec.image = web;
  expect(problems(p).sort()).toEqual([
    `resources.${web}.spec.dependsOn.0.container: "${image}" is an image, not a container`,
    `resources.${db}.spec.image: "${web}" is a container, not an image`,
  ].sort());
  const q = plan();
  const w = ids(q).web;
  q.resources[w].dependsOn = q.resources[w].dependsOn.filter((d) => d !== ids(q).db);
  expect(problems(q)).toEqual([`resources.${w}.spec.dependsOn.0.container: "${ids(q).db}" is missing from resources.${w}.dependsOn`]);
});

test('a networkMode naming no container, itself, or one missing from dependsOn is refused', () => {
  const p = plan();
  const { web, db, image } = ids(p);
  p.resources[web].spec.networkMode = { container: 'Ghost0000' };
  p.resources[db].spec.networkMode = { container: db };
  expect(problems(p).sort()).toEqual([
    `resources.${db}.spec.networkMode.container: shares its own network`,
    `resources.${web}.spec.networkMode.container: "Ghost0000" is not a resource of the plan`,
  ].sort());
  const q = plan();
  q.resources[ids(q).web].spec.networkMode = { container: image };
  expect(problems(q)).toEqual([`resources.${ids(q).web}.spec.networkMode.container: "${image}" is an image, not a container`]);
  const r = plan();
  r.resources[ids(r).db].spec.networkMode = { container: ids(r).web };
  expect(problems(r)).toEqual([`resources.${ids(r).db}.spec.networkMode.container: "${ids(r).web}" is missing from resources.${ids(r).db}.dependsOn`]);
});

test('a dependsOn cycle is refused, naming it', () => {
  const p = plan();
  const { web, db } = ids(p);
  p.resources[db].dependsOn.push(web);
  p.resources[db].dependsOn.sort();
  expect(problems(p)).toEqual([`resources: dependsOn cycle ${db} → ${web} → ${db}; remove one of these dependencies`]);
});
