import { Container, MIN_MEMORY_BYTES, Size, Testing } from '../../lib';
import { containerSpec, invalidArgument, portable, shop } from '../fixtures';

describe('Size', () => {
  test('defaults: no memory limit and a tmpfs without a size limit', () => {
    const stack = shop();
    new Container(stack, 'web', { image: 'nginx', mounts: [{ type: 'tmpfs', target: '/tmp' }] });
    const plan = Testing.synth(stack);
    const spec = containerSpec(plan, 'web');
    expect(spec.memoryBytes).toBeUndefined();
    expect(spec.mounts).toEqual([{ type: 'tmpfs', target: '/tmp' }]);
    expect(portable(plan)).toMatchSnapshot();
  });

  test('custom: Size objects and Docker strings render as whole bytes', () => {
    const stack = shop();
    new Container(stack, 'web', {
      image: 'nginx',
      memory: Size.mebibytes(512),
      mounts: [
        { type: 'tmpfs', target: '/tmp', size: '64m' },
        { type: 'tmpfs', target: '/run', size: Size.kibibytes(512) },
      ],
    });
    new Container(stack, 'db', { image: 'postgres:16', memory: '1.5g' });
    new Container(stack, 'tiny', { image: 'busybox', memory: '6m' });
    const plan = Testing.synth(stack);
    expect(containerSpec(plan, 'web').memoryBytes).toBe(536_870_912);
    expect(containerSpec(plan, 'web').mounts.map((m) => (m.type === 'tmpfs' ? m.sizeBytes : undefined))).toEqual([67_108_864, 524_288]);
    expect(containerSpec(plan, 'db').memoryBytes).toBe(1_610_612_736);
    expect(containerSpec(plan, 'tiny').memoryBytes).toBe(MIN_MEMORY_BYTES);
    expect(portable(plan)).toMatchSnapshot();
  });

  test.each<[string, number]>([
    ['512m', 512 * 1024 ** 2],
    ['512M', 512 * 1024 ** 2],
    ['1.5g', 1.5 * 1024 ** 3],
    ['64k', 65_536],
    ['64kb', 65_536],
    ['2GiB', 2 * 1024 ** 3],
    ['1t', 1024 ** 4],
    ['1024', 1024],
    ['100b', 100],
    ['0.5k', 512],
  ])('"%s" is %d bytes', (text, bytes) => {
    expect(Size.parse(text).toBytes()).toBe(bytes);
    expect(Size.of(text).toBytes()).toBe(bytes);
  });

  test('factories, conversions and the short form', () => {
    expect(Size.bytes(10.9).toBytes()).toBe(10);
    expect(Size.kibibytes(2).toBytes()).toBe(2048);
    expect(Size.gibibytes(1).toBytes()).toBe(1024 ** 3);
    expect([Size.gibibytes(2), Size.mebibytes(1536), Size.kibibytes(64), Size.bytes(1000)].map(String)).toEqual(['2g', '1536m', '64k', '1000b']);
    const s = Size.mebibytes(1);
    expect(Size.of(s)).toBe(s);
  });

  test.each(['', 'lots', '512 mb extra', '-1m', '1.5x', 'm'])('"%s" is not a size', (text) => {
    expect(invalidArgument(() => Size.parse(text))).toBe(`invalid size "${text}": use a number with an optional unit b, k, m, g or t, such as "512m" or "1.5g"`);
  });

  test('a negative amount is rejected', () => {
    expect(invalidArgument(() => Size.mebibytes(-1))).toBe('invalid size -1048576 bytes: it must be a finite number of zero or more');
  });
});
