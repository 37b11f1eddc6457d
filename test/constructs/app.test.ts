import { Construct } from 'constructs';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Container, Image, Network, Stack, Testing, ValidationError, Volume } from '../../lib';
import { readPlan } from '../../lib/plan';
import { FIXTURES, fixtureApp, invalidArgument, portable, synthProblems, thrown } from '../fixtures';
import { removeTempDirs, tempDir } from '../helpers/cli';

afterAll(removeTempDirs);

describe('App', () => {
  test('defaults: plans go to cdk.out under the current directory', () => {
    const app = new App({ env: {} });
    expect(App.isApp(app)).toBe(true);
    expect(app.baseDir).toBe(process.cwd());
    expect(app.outdir).toBe(path.join(process.cwd(), 'cdk.out'));
    expect(app.stacks).toEqual([]);
    expect(app._render()).toEqual({});
  });

  test('custom: outdir and baseDir, relative outdir resolved against baseDir', () => {
    const dir = tempDir();
    const app = new App({ baseDir: dir, outdir: 'out', env: {} });
    expect(app.baseDir).toBe(dir);
    expect(app.outdir).toBe(path.join(dir, 'out'));
    expect(new App({ baseDir: dir, outdir: '/abs/out', env: {} }).outdir).toBe('/abs/out');
    // `cdk-docker synth -o DIR` passes the directory in CDK_DOCKER_OUTDIR; an explicit outdir wins.
    expect(new App({ baseDir: dir, env: { CDK_DOCKER_OUTDIR: 'from-cli' } }).outdir).toBe(path.join(dir, 'from-cli'));
    expect(new App({ baseDir: dir, outdir: 'mine', env: { CDK_DOCKER_OUTDIR: 'from-cli' } }).outdir).toBe(path.join(dir, 'mine'));
  });

  test('synth writes one plan per stack and a manifest, and the plans read back', () => {
    const outdir = tempDir();
    const app = fixtureApp({ outdir });
    const web = new Stack(app, 'web');
    const jobs = new Stack(app, 'jobs');
    new Container(web, 'api', { image: 'busybox', ports: ['8080:80'] });
    new Network(web, 'net');
    new Container(jobs, 'cron', { image: 'busybox' });
    expect(app.stacks).toEqual([web, jobs]);

    const assembly = app.synth();
    expect(assembly.outdir).toBe(outdir);
    expect(assembly.manifest).toEqual({
      version: 1,
      stacks: { web: { plan: 'web.plan.json', resources: 3 }, jobs: { plan: 'jobs.plan.json', resources: 2 } },
    });
    expect(fs.readdirSync(outdir).sort()).toEqual(['jobs.plan.json', 'manifest.json', 'web.plan.json']);
    expect(JSON.parse(fs.readFileSync(path.join(outdir, 'manifest.json'), 'utf8'))).toEqual(assembly.manifest);
    expect(readPlan(path.join(outdir, 'web.plan.json'))).toEqual(assembly.plans.web);
    expect(readPlan(path.join(outdir, 'jobs.plan.json'))).toEqual(assembly.plans.jobs);
    expect(portable(assembly.plans)).toMatchSnapshot();
  });

  test('synth replaces plans of stacks that no longer exist', () => {
    const outdir = tempDir();
    fs.writeFileSync(path.join(outdir, 'old.plan.json'), '{}');
    fs.writeFileSync(path.join(outdir, 'old.plan.yaml'), '');
    fs.writeFileSync(path.join(outdir, 'notes.txt'), 'kept');
    const app = fixtureApp({ outdir });
    new Stack(app, 'web');
    app.synth();
    expect(fs.readdirSync(outdir).sort()).toEqual(['manifest.json', 'notes.txt', 'web.plan.json']);
  });

  test('a failed synth writes nothing', () => {
    const outdir = path.join(tempDir(), 'cdk.out');
    const app = fixtureApp({ outdir });
    const s = new Stack(app, 'web');
    new Container(s, 'a', { image: 'busybox', name: 'same' });
    new Container(s, 'b', { image: 'busybox', name: 'same' });
    const e = thrown(() => app.synth());
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).problems).toEqual(['[web/b] container name "same" is already used by web/a; give one of them another name']);
    expect(fs.existsSync(outdir)).toBe(false);
  });
});

describe('Stack', () => {
  test('defaults: the stack name is the construct id', () => {
    const stack = new Stack(fixtureApp(), 'web');
    expect(Stack.isStack(stack)).toBe(true);
    expect(stack.stackName).toBe('web');
    expect(stack.resources).toEqual([]);
    const plan = Testing.synth(stack);
    expect(plan).toEqual({ version: 1, stack: 'web', resources: {} });
    expect(plan).toMatchSnapshot();
  });

  test('custom: stackName names the plan, the default resource names and the manifest entry', () => {
    const outdir = tempDir();
    const app = fixtureApp({ outdir });
    const stack = new Stack(app, 'Web', { stackName: 'shop-prod' });
    const group = new Construct(stack, 'db');
    const c = new Container(group, 'primary', { image: 'postgres:16' });
    const v = new Volume(group, 'data');
    expect(stack.relativePath(c)).toBe('db/primary');
    expect(c.containerName).toBe('shop-prod-db-primary');
    expect(v.volumeName).toBe('shop-prod-db-data');
    expect(stack.resources.map((r) => r.node.path).sort()).toEqual(['Web/db/data', 'Web/db/primary', 'Web/image-postgres-16']);
    const plan = Testing.synth(stack);
    expect(plan.stack).toBe('shop-prod');
    expect(Object.values(plan.resources).map((r) => r.path).sort()).toEqual(['db/data', 'db/primary', 'image-postgres-16']);
    expect(app.synth().manifest.stacks).toEqual({ 'shop-prod': { plan: 'shop-prod.plan.json', resources: 3 } });
    expect(portable(plan)).toMatchSnapshot();
  });

  test('Stack.of finds the stack of any construct in it', () => {
    const stack = new Stack(fixtureApp(), 'web');
    const deep = new Construct(new Construct(stack, 'a'), 'b');
    expect(Stack.of(deep)).toBe(stack);
    expect(Stack.of(stack)).toBe(stack);
  });

  test('a resource outside any stack is rejected with the fix', () => {
    const app = fixtureApp();
    expect(invalidArgument(() => new Container(app, 'web', { image: 'nginx' }))).toBe(
      '[web] is not inside a Stack: create it with a Stack (or a construct in one) as its scope',
    );
    expect(invalidArgument(() => new Network(app, 'net'))).toBe('[net] is not inside a Stack: create it with a Stack (or a construct in one) as its scope');
  });

  test('two stacks with one name are reported', () => {
    const app = fixtureApp();
    const a = new Stack(app, 'a', { stackName: 'web' });
    new Stack(app, 'b', { stackName: 'web' });
    expect(synthProblems(a)).toEqual(['[b] stack name "web" is already used by a; set a different stackName']);
  });

  test('a stack cannot use resources of another stack, which is applied separately', () => {
    const app = fixtureApp();
    const shared = new Stack(app, 'shared');
    const web = new Stack(app, 'web');
    const net = new Network(shared, 'net');
    const image = new Image(shared, 'img', { ref: 'nginx' });
    const db = new Container(shared, 'db', { image: 'postgres:16' });
    new Container(web, 'api', { image, networks: [net], dependsOn: [db] });
    expect(synthProblems(web)).toEqual([
      '[web/api] image shared/img is in another stack; stacks are applied separately, so define it in stack web or refer to it by name with fromName()',
      '[web/api] network shared/net is in another stack; stacks are applied separately, so define it in stack web or refer to it by name with fromName()',
      '[web/api] dependsOn container shared/db is in another stack; stacks are applied separately, so define it in stack web or refer to it by name with fromName()',
    ]);
  });
});

describe('Testing', () => {
  test('Testing.app writes to a fresh temporary directory unless told otherwise, made only when written', () => {
    const a = Testing.app({ env: {} });
    const b = Testing.app({ env: {} });
    expect(a.outdir).not.toBe(b.outdir);
    expect(path.dirname(a.outdir)).toBe(os.tmpdir());
    expect(fs.existsSync(a.outdir)).toBe(false);
    new Stack(a, 'made');
    a.synth();
    expect(fs.readdirSync(a.outdir).length).toBeGreaterThan(0);
    fs.rmSync(a.outdir, { recursive: true });
    expect(fs.existsSync(b.outdir)).toBe(false);
    const dir = tempDir();
    expect(Testing.app({ outdir: path.join(dir, 'mine'), env: {} }).outdir).toBe(path.join(dir, 'mine'));
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('Testing.synth renders one stack without writing and resolves paths against baseDir', () => {
    const app = Testing.app({ baseDir: FIXTURES, env: {}, outdir: path.join(tempDir(), 'never') });
    const stack = new Stack(app, 'web');
    new Image(stack, 'img', { archive: 'image.tar' });
    const plan = Testing.synth(stack);
    expect(Object.values(plan.resources)[0].spec).toMatchObject({ path: path.join(FIXTURES, 'image.tar') });
    expect(fs.existsSync(app.outdir)).toBe(false);
    expect(thrown(() => Testing.synth(new Stack(undefined as unknown as App, 'alone'))).message).toBe('stack alone is not in an App');
  });
});
