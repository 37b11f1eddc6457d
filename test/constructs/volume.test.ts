import { Container, RemovalPolicy, Stack, Testing, Volume } from '../../lib';
import { fixtureApp, invalidArgument, portable, resourceAt, shop, synthProblems } from '../fixtures';

describe('Volume', () => {
  test('defaults: a local volume, named after the stack and path, retained on destroy', () => {
    const stack = shop();
    const data = new Volume(stack, 'data');
    expect(data.volumeName).toBe('shop-data');
    expect(Volume.isVolume(data)).toBe(true);

    const plan = Testing.synth(stack);
    expect(resourceAt(plan, 'data')).toEqual({
      logicalId: stack.getLogicalId(data),
      type: 'volume',
      path: 'data',
      name: 'shop-data',
      dependsOn: [],
      spec: { driver: 'local', driverOpts: {}, labels: {}, removalPolicy: 'retain' },
    });
    expect(portable(plan)).toMatchSnapshot();
  });

  test('custom: name, driver, driver options, labels and removal policy', () => {
    const stack = shop();
    const data = new Volume(stack, 'data', {
      name: 'pgdata',
      driver: 'local',
      driverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=100m,uid=1000' },
      labels: { 'com.example.backup': 'daily' },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    new Volume(stack, 'nfs', { driver: 'example.com/nfs:latest', removalPolicy: 'retain' });
    expect(data.volumeName).toBe('pgdata');

    const plan = Testing.synth(stack);
    expect(resourceAt(plan, 'data').spec).toEqual({
      driver: 'local',
      driverOpts: { device: 'tmpfs', o: 'size=100m,uid=1000', type: 'tmpfs' },
      labels: { 'com.example.backup': 'daily' },
      removalPolicy: 'destroy',
    });
    expect(resourceAt(plan, 'nfs').spec).toMatchObject({ driver: 'example.com/nfs:latest', removalPolicy: 'retain' });
    expect(portable(plan)).toMatchSnapshot();
  });

  test('a volume imported by name is mounted by name and not part of the plan', () => {
    const stack = shop();
    const shared = Volume.fromName(stack, 'shared', 'corp-data');
    expect(shared.volumeName).toBe('corp-data');
    expect(Volume.isVolume(shared)).toBe(false);
    new Container(stack, 'app', { image: 'busybox', mounts: [{ type: 'volume', source: shared, target: '/data', readOnly: true }] });
    const plan = Testing.synth(stack);
    expect(Object.values(plan.resources).map((r) => r.type).sort()).toEqual(['container', 'image']);
    expect(resourceAt(plan, 'app', 'container').spec.mounts).toEqual([{ type: 'volume', source: 'corp-data', target: '/data', readOnly: true }]);
    expect(invalidArgument(() => Volume.fromName(stack, 'bad', 'x'))).toBe(
      '[shop/bad] volume name "x" is not a valid Docker name: use at least two characters, starting with a letter or digit, then letters, digits, "_", "." or "-" (for example "x0")',
    );
  });

  test.each<[object, string]>([
    [{ name: 'my data' }, 'volume name "my data" is not a valid Docker name: use at least two characters, starting with a letter or digit, then letters, digits, "_", "." or "-" (for example "my-data")'],
    [{ removalPolicy: 'delete' }, 'removalPolicy "delete" is not one of "retain", "destroy"'],
    [{ driver: '-local' }, 'driver "-local" is not a valid driver name'],
    [{ labels: { 'a=b': 'c' } }, 'label key "a=b" must be non-empty without "=" or whitespace'],
  ])('%j is rejected: %s', (props, message) => {
    expect(invalidArgument(() => new Volume(shop(), 'data', props))).toBe(`[shop/data] ${message}`);
  });

  test('two volumes with one name are reported at synth, also across stacks', () => {
    const app = fixtureApp();
    const a = new Stack(app, 'one');
    const b = new Stack(app, 'two');
    new Volume(a, 'data', { name: 'shared-data' });
    new Volume(b, 'data', { name: 'shared-data' });
    expect(synthProblems(a)).toEqual(['[two/data] volume name "shared-data" is already used by one/data; give one of them another name']);
  });
});
