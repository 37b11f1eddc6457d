import { Container, Duration, Testing } from '../../lib';
import { containerSpec, invalidArgument, portable, shop } from '../fixtures';

describe('Duration', () => {
  test('defaults: a healthcheck without times uses Docker\'s, and no stop timeout is set', () => {
    const stack = shop();
    new Container(stack, 'web', { image: 'nginx', healthcheck: { test: 'true' } });
    const plan = Testing.synth(stack);
    const spec = containerSpec(plan, 'web');
    expect(spec.healthcheck).toEqual({ test: ['CMD-SHELL', 'true'], intervalMs: 30_000, timeoutMs: 30_000, retries: 3, startPeriodMs: 0 });
    expect(spec.stopTimeoutSeconds).toBeUndefined();
    expect(portable(plan)).toMatchSnapshot();
  });

  test('custom: Duration objects and Docker strings render as whole milliseconds or seconds', () => {
    const stack = shop();
    new Container(stack, 'web', {
      image: 'nginx',
      healthcheck: { test: 'true', interval: Duration.millis(1500), timeout: '1m30s', startPeriod: Duration.minutes(2) },
      stopTimeout: Duration.millis(1500),
    });
    new Container(stack, 'db', { image: 'postgres:16', stopTimeout: '2m', healthcheck: { test: 'true', interval: Duration.hours(1), timeout: '250ms' } });
    const plan = Testing.synth(stack);
    expect(containerSpec(plan, 'web').healthcheck).toMatchObject({ intervalMs: 1500, timeoutMs: 90_000, startPeriodMs: 120_000 });
    // Rounded up: a non-zero timeout never becomes "no timeout".
    expect(containerSpec(plan, 'web').stopTimeoutSeconds).toBe(2);
    expect(containerSpec(plan, 'db').healthcheck).toMatchObject({ intervalMs: 3_600_000, timeoutMs: 250 });
    expect(containerSpec(plan, 'db').stopTimeoutSeconds).toBe(120);
    expect(portable(plan)).toMatchSnapshot();
  });

  test.each<[string, number]>([
    ['30s', 30_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['1.5h', 5_400_000],
    ['2h45m', 9_900_000],
    ['10', 10_000],
    ['1500us', 2],
    [' 5s ', 5000],
  ])('"%s" is %d ms', (text, ms) => {
    expect(Duration.parse(text).toMilliseconds()).toBe(ms);
    expect(Duration.of(text).toMilliseconds()).toBe(ms);
  });

  test('factories, conversions and the short form', () => {
    expect(Duration.seconds(90).toMilliseconds()).toBe(90_000);
    expect(Duration.minutes(1).toSeconds()).toBe(60);
    expect(Duration.hours(2).toMilliseconds()).toBe(7_200_000);
    expect(Duration.millis(1).toSeconds()).toBe(1);
    expect(Duration.millis(0).toSeconds()).toBe(0);
    expect([Duration.hours(2), Duration.minutes(90), Duration.seconds(45), Duration.millis(1500), Duration.millis(0)].map(String)).toEqual(['2h', '90m', '45s', '1500ms', '0s']);
    const d = Duration.seconds(3);
    expect(Duration.of(d)).toBe(d);
  });

  test.each(['', 'soon', '10 s', '-5s', '5x', 's', '1m30'])('"%s" is not a duration', (text) => {
    expect(invalidArgument(() => Duration.parse(text))).toBe(`invalid duration "${text}": use a number with a unit, such as "30s", "1m30s" or "500ms"`);
  });

  test('a negative or infinite amount is rejected', () => {
    expect(invalidArgument(() => Duration.seconds(-1))).toBe('invalid duration -1000 ms: it must be a finite number of zero or more');
    expect(invalidArgument(() => Duration.millis(Infinity))).toBe('invalid duration Infinity ms: it must be a finite number of zero or more');
  });
});
