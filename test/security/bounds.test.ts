import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { Container, Duration, Restart, Size, Stack, Volume } from '../../lib';
import { Plan, planSchema, validatePlan } from '../../lib/plan';
import { PlanValidationError } from '../../lib/core/errors';
import { parseGoDuration } from '../../lib/core/duration';
import { expandEnv, readEnvFile } from '../../lib/core/env';
import * as limits from '../../lib/core/limits';
import { AppFailedError, synthesize } from '../../lib/toolkit/synth';
import { buildSpec, HostFacts } from '../../runtime/containers/spec';
import { healthTimings } from '../../runtime/containers/health';
import type { SpecInput } from '../../runtime/containers/types';
import { fixtureApp, invalidArgument, resourceAt, thrown } from '../fixtures';
import { CliResult, cdkDocker, ok, removeTempDirs, tempDir, until, writeJsApp } from '../helpers/cli';
import { busyboxRootfsTar } from '../helpers/images';
import { privateNetworkConfig } from '../helpers/network';
import { requireCommand } from '../helpers/prereq';

jest.setTimeout(60_000);

/**
 * Issue 11 item 9 and its "Also" line: every number a container takes is bounded by what the
 * kernel, its cgroup files, runc and the engine accept, at synth (exact messages), in the plan
 * schema (a hand-edited plan), in the OCI spec builder (the last gate) and at the runtime CLI,
 * where a refused `run` leaves no container; and a user's mistake is one line, never a stack.
 */

const web = (props: Partial<ConstructorParameters<typeof Container>[2]>): string =>
  invalidArgument(() => new Container(new Stack(fixtureApp(), 'shop'), 'web', { image: 'nginx:1.25', ...props }));

describe('construct props are bounded at synth, naming the prop, the value and the fix', () => {
  afterAll(removeTempDirs);

  test('memory above what a cgroup and a plan can hold is refused (it used to fail inside runc)', () => {
    expect(web({ memory: '99999999999999999999999g' })).toBe(
      '[shop/web] memory: invalid size "99999999999999999999999g": 1.074e+32 bytes is more than the largest size, 8 PiB (9007199254740991 bytes); use a smaller size such as "512m"',
    );
    expect(invalidArgument(() => Size.gibibytes(2 ** 30))).toBe('invalid size: 1.153e+18 bytes is more than the largest size, 8 PiB (9007199254740991 bytes); use a smaller size such as "512m"');
    expect(web({ memory: '8193t' })).toBe(
      '[shop/web] memory: invalid size "8193t": 9.008e+15 bytes is more than the largest size, 8 PiB (9007199254740991 bytes); use a smaller size such as "512m"',
    );
  });

  test('cpus outside the CFS quota range 0.01-8192 are refused', () => {
    const msg = (v: number) => `[shop/web] cpus ${v} is out of range 0.01-8192 (a CFS quota of at least 1 ms per 100 ms, on at most Linux's 8192 CPUs); give the CPUs the container may use, such as 0.5 or 2`;
    expect(web({ cpus: 1e9 })).toBe(msg(1000000000));
    expect(web({ cpus: 0.001 })).toBe(msg(0.001));
  });

  test('pidsLimit above PID_MAX_LIMIT, replicas above what a host can run, uids above 2^31-1 are refused', () => {
    expect(web({ pidsLimit: 4194305 })).toBe('[shop/web] pidsLimit 4194305 is more than the kernel allows, 4194304 (PID_MAX_LIMIT); use a smaller limit, or leave pidsLimit out for no limit');
    expect(web({ replicas: 1e9 })).toBe('[shop/web] replicas 1000000000 is more than one host can run, 4194304 (one process each, PID_MAX_LIMIT); use fewer replicas');
    expect(web({ user: '99999999999:0' })).toBe('[shop/web] user "99999999999:0": uid or gid 99999999999 is out of range 0-2147483647');
  });

  test('durations longer than the engine can wait and counts above int32 are refused', () => {
    expect(web({ stopTimeout: '1000h' })).toBe('[shop/web] stopTimeout "1000h" is longer than the engine can wait, 2147483s (24 days); use a shorter timeout such as "30s"');
    expect(web({ healthcheck: { test: 'true', interval: Duration.hours(1e6) } })).toBe(
      '[shop/web] healthcheck interval 1000000h is longer than the engine can wait, 2147483647ms (24 days); use a shorter one such as "30s"',
    );
    expect(web({ healthcheck: { test: 'true', retries: 2 ** 40 } })).toBe('[shop/web] healthcheck retries 1099511627776 is out of range 1-2147483647; use a smaller count such as 3');
    expect(invalidArgument(() => Restart.onFailure(2 ** 40))).toBe('Restart.onFailure(1099511627776): maxRetries is out of range 0-2147483647; use a smaller count, or 0 for no limit');
  });

  test('a tmpfs size must be a size from one byte to 8 PiB', () => {
    expect(web({ mounts: [{ type: 'tmpfs', target: '/t', size: '0' }] })).toBe(
      '[shop/web] tmpfs size for /t "0" is less than one byte; give a size such as "64m", or leave size out for the kernel\'s default',
    );
    expect(web({ mounts: [{ type: 'tmpfs', target: '/t', size: '1e30' }] })).toBe(
      '[shop/web] tmpfs size for /t: invalid size "1e30": use a number with an optional unit b, k, m, g or t, such as "512m" or "1.5g"',
    );
    expect(web({ mounts: [{ type: 'tmpfs', target: '/t', size: '9000000t' }] })).toMatch(/^\[shop\/web\] tmpfs size for \/t: invalid size "9000000t": 9\.896e\+18 bytes is more than the largest size, 8 PiB/);
  });

  test('a tmpfs volume\'s mount options are checked as the kernel reads them', () => {
    expect(invalidArgument(() => new Volume(new Stack(fixtureApp(), 'shop'), 'cache', { driverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=abc' } }))).toBe(
      '[shop/cache] driverOpts.o "size=abc": size "abc" is not a whole number with an optional unit k, m or g, such as 64m (or a percentage of memory such as 50%)',
    );
    expect(() => new Volume(new Stack(fixtureApp(), 'shop'), 'ok', { driverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=64m,uid=1000' } })).not.toThrow();
  });

  test('the largest values accepted synthesize into a plan the schema accepts', () => {
    const stack = new Stack(fixtureApp(), 'shop');
    new Container(stack, 'web', {
      image: 'nginx:1.25',
      memory: Size.bytes(limits.MAX_BYTES),
      cpus: 8192,
      pidsLimit: 4194304,
      stopTimeout: Duration.seconds(2147483),
      healthcheck: { test: 'true', interval: Duration.millis(2147483647), retries: 2147483647 },
      restart: Restart.onFailure(2147483647),
      mounts: [{ type: 'tmpfs', target: '/t', size: Size.bytes(limits.MAX_BYTES) }],
    });
    const app = stack.node.root as ReturnType<typeof fixtureApp>;
    const plan = app._render([stack]).shop;
    expect(() => validatePlan(JSON.parse(JSON.stringify(plan)), 'max.plan.json')).not.toThrow();
    expect(resourceAt(plan, 'web', 'container').spec).toMatchObject({ memoryBytes: 9007199254740991, nanoCpus: 8192e9, pidsLimit: 4194304, stopTimeoutSeconds: 2147483 });
  });
});

describe('a hand-edited plan with a number out of range is refused by the schema', () => {
  afterAll(removeTempDirs);

  function plan(): Plan {
    const stack = new Stack(fixtureApp(), 'shop');
    new Container(stack, 'web', { image: 'nginx:1.25', memory: '64m', cpus: 1, pidsLimit: 10, healthcheck: { test: 'true' }, mounts: [{ type: 'tmpfs', target: '/t', size: '1m' }] });
    return JSON.parse(JSON.stringify((stack.node.root as ReturnType<typeof fixtureApp>)._render([stack]).shop)) as Plan;
  }

  test.each([
    ['memoryBytes', (s: any) => (s.memoryBytes = 1e32), 'must be <= 9007199254740991'],
    ['nanoCpus', (s: any) => (s.nanoCpus = 1e18), 'must be <= 8192000000000'],
    ['nanoCpus below 0.01 CPU', (s: any) => (s.nanoCpus = 1), 'must be >= 10000000'],
    ['pidsLimit', (s: any) => (s.pidsLimit = 4194305), 'must be <= 4194304'],
    ['replicas', (s: any) => (s.replicas = 1e9), 'must be <= 4194304'],
    ['stopTimeoutSeconds', (s: any) => (s.stopTimeoutSeconds = 1e12), 'must be <= 2147483'],
    ['healthcheck.intervalMs', (s: any) => (s.healthcheck.intervalMs = 1e15), 'must be <= 2147483647'],
    ['healthcheck.retries', (s: any) => (s.healthcheck.retries = 2 ** 40), 'must be <= 2147483647'],
    ['restart.maxRetries', (s: any) => (s.restart = { policy: 'on-failure', maxRetries: 2 ** 40 }), 'must be <= 2147483647'],
    ['mounts[0].sizeBytes', (s: any) => (s.mounts[0].sizeBytes = 1e30), 'must be <= 9007199254740991'],
  ])('%s', (_field, edit, expectation) => {
    const p = plan();
    edit(resourceAt(p, 'web', 'container').spec);
    const e = thrown(() => validatePlan(p, 'edited.plan.json'));
    expect(e).toBeInstanceOf(PlanValidationError);
    expect((e as PlanValidationError).problems.join('\n')).toContain(expectation);
  });

  test('the schema\'s maximums are the bounds the constructs and the CLI use', () => {
    const spec = (planSchema() as any).$defs.containerSpec.properties;
    expect(spec.memoryBytes).toMatchObject({ minimum: limits.MIN_MEMORY_BYTES, maximum: limits.MAX_BYTES });
    expect(spec.nanoCpus).toMatchObject({ minimum: limits.MIN_CPUS * 1e9, maximum: limits.MAX_CPUS * 1e9 });
    expect(spec.pidsLimit.maximum).toBe(limits.MAX_PIDS);
    expect(spec.replicas.maximum).toBe(limits.MAX_REPLICAS);
    expect(spec.stopTimeoutSeconds.maximum).toBe(limits.MAX_STOP_TIMEOUT_SECONDS);
    expect(spec.restart.properties.maxRetries.maximum).toBe(limits.MAX_COUNT);
    for (const k of ['intervalMs', 'timeoutMs', 'startPeriodMs']) expect(spec.healthcheck.properties[k].maximum).toBe(limits.MAX_TIMER_MS);
    expect(spec.healthcheck.properties.retries.maximum).toBe(limits.MAX_COUNT);
    expect(spec.mounts.items.oneOf[2].properties.sizeBytes.maximum).toBe(limits.MAX_BYTES);
  });
});

describe('the OCI spec builder refuses what runc would refuse with a raw error', () => {
  const host: HostFacts = { capabilities: [], cgroup2: false, swapLimit: true, thermalThrottlePaths: [], nofile: 1024, netSysctls: {}, arch: 'x64', kernel: '6.1.0' };
  const input = (over: Partial<SpecInput>): SpecInput => ({
    rootfs: '/r', args: ['true'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] }, hostname: 'h', tty: false,
    capAdd: [], capDrop: [], privileged: false, noNewPrivileges: false, seccomp: false, readonlyRootfs: false,
    memory: 0, nanoCpus: 0, pidsLimit: 0, cgroupsPath: '/cdk-docker/x', shmSize: 0, mounts: [], ...over,
  }) as SpecInput;
  const refusal = (over: Partial<SpecInput>) => invalidArgument(() => buildSpec(input(over), host));

  test('limits beyond the cgroup files, sizes that are not sizes, nameless variables', () => {
    expect(refusal({ memory: 1.073741824e32 })).toBe('invalid memory limit 1.074e+32 bytes: it must be from 6 MiB (Docker\'s minimum) to 8 PiB, or 0 for none');
    expect(refusal({ nanoCpus: 1e18 })).toBe('invalid CPU limit 1000000000 CPUs: range of CPUs is from 0.01 to 8192, or 0 for none');
    expect(refusal({ pidsLimit: 1e20 })).toBe('invalid pids limit 1.000e+20: the kernel takes at most 4194304; use a smaller limit, or 0 for none');
    expect(refusal({ shmSize: 1.073741824e29 })).toBe('invalid /dev/shm size 1.074e+29 bytes: it must be a whole number of bytes up to 8 PiB, such as 64m');
    expect(refusal({ oomScoreAdj: 1001 })).toBe('invalid value 1001, range for oom score adj is [-1000, 1000]');
    expect(refusal({ env: ['=x'] })).toBe('invalid environment variable: =x');
    expect(refusal({ cwd: 'rel' })).toBe("the working directory 'rel' is invalid, it needs to be an absolute path");
    expect(refusal({ mounts: [{ destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'size=abc'] }] })).toBe(
      'invalid tmpfs mount at /t: size "abc" is not a whole number with an optional unit k, m or g, such as 64m (or a percentage of memory such as 50%)',
    );
    expect(() => buildSpec(input({ memory: limits.MAX_BYTES, nanoCpus: 8192e9, pidsLimit: 4194304, mounts: [{ destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['size=50%', 'mode=1777', 'uid=1000'] }] }), host)).not.toThrow();
  });
});

describe('durations are Go durations: longer than an int64 of nanoseconds is invalid, as in Go', () => {
  test('parseGoDuration and Duration.parse', () => {
    expect(parseGoDuration('2562047h')).toBe(2562047 * 3600e9);
    expect(invalidArgument(() => parseGoDuration('9999999999h'))).toBe('time: invalid duration "9999999999h"');
    expect(invalidArgument(() => Duration.parse('2562048h'))).toBe('invalid duration "2562048h": longer than Go\'s longest duration, 2562047h; use a shorter one such as "30s"');
    expect(web({ stopTimeout: '9999999h' })).toBe('[shop/web] stopTimeout: invalid duration "9999999h": longer than Go\'s longest duration, 2562047h; use a shorter one such as "30s"');
  });
});

describe('env files and -e values without a variable name are refused with Docker\'s words', () => {
  afterAll(removeTempDirs);

  test('an env file line "=x" and an entry "=x"', () => {
    const file = path.join(tempDir(), 'app.env');
    fs.writeFileSync(file, 'A=1\n=x\n');
    expect(invalidArgument(() => readEnvFile(file, {}))).toBe(`env file ${file} line 2: poorly formatted environment: no variable name on line "=x"; write NAME=VALUE`);
    expect(invalidArgument(() => expandEnv('=x', {}))).toBe('invalid environment variable: =x');
  });

  test('as Docker\'s env-file parser: names with blanks, NUL bytes and invalid UTF-8 are refused; a BOM and leading blanks go', () => {
    const file = path.join(tempDir(), 'odd.env');
    const refused = (text: string | Buffer) => {
      fs.writeFileSync(file, text);
      return invalidArgument(() => readEnvFile(file, {}));
    };
    expect(refused('A B=1\n')).toBe(`env file ${file} line 1: poorly formatted environment: variable "A B" contains whitespaces; write NAME=VALUE`);
    expect(refused('export A=1\n')).toBe(`env file ${file} line 1: poorly formatted environment: variable "export A" contains whitespaces; write NAME=VALUE`);
    expect(refused('ok=1\na\t=\n')).toBe(`env file ${file} line 2: poorly formatted environment: variable "a\\t" contains whitespaces; write NAME=VALUE`);
    expect(refused('A=a\0b\n')).toBe(`env file ${file} line 1 contains a NUL byte, which no environment variable can hold; remove it`);
    expect(refused(Buffer.from([0x41, 0x3d, 0xff, 0x0a]))).toBe(`env file ${file} contains invalid utf8 bytes; save it as UTF-8`);
    fs.writeFileSync(file, '\uFEFFA=1\r\n  \tB=two words \n# c\nUNSET\nSET\n');
    expect(readEnvFile(file, { SET: 'yes' })).toEqual(['A=1', 'B=two words ', 'SET=yes']);
  });
});

describe('synth of an app whose constructs throw shows the validation lines, not a Node stack', () => {
  afterAll(removeTempDirs);

  test('an uncaught construct error under cdk-docker synth', async () => {
    const dir = tempDir();
    writeJsApp(dir, [
      'const app = new cdk.App();',
      "const stack = new cdk.Stack(app, 'demo');",
      "new cdk.Container(stack, 'web', { image: 'nginx:1.25', memory: '99999999999999999999999g' });",
      'app.synth();',
    ].join('\n'));
    const output = new PassThrough();
    let text = '';
    output.on('data', (d: Buffer) => (text += d.toString()));
    const e = await synthesize({ dir, appOutput: output }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(AppFailedError);
    expect(text).toBe('Error: [demo/web] memory: invalid size "99999999999999999999999g": 1.074e+32 bytes is more than the largest size, 8 PiB (9007199254740991 bytes); use a smaller size such as "512m"\n');
  });

  test('synth-time validation problems are listed one per line', async () => {
    const dir = tempDir();
    writeJsApp(dir, [
      'const app = new cdk.App();',
      "const stack = new cdk.Stack(app, 'demo');",
      "new cdk.Container(stack, 'web', { image: 'nginx:1.25', name: 'web1', replicas: 2 });",
      'app.synth();',
    ].join('\n'));
    const output = new PassThrough();
    let text = '';
    output.on('data', (d: Buffer) => (text += d.toString()));
    await expect(synthesize({ dir, appOutput: output })).rejects.toBeInstanceOf(AppFailedError);
    expect(text).toBe('Error: Validation failed with the following errors:\n  [demo/web] a fixed name ("web1") cannot be used with replicas 2; remove name so each replica gets <name>-N\n');
  });
});

describe('runtime run/create/update refuse out-of-range numbers before anything is created', () => {
  let work: string;
  let env: NodeJS.ProcessEnv;
  const rt = (args: string[]): CliResult => cdkDocker(['runtime', ...args], work, env);
  const containerDirs = () => {
    const dirs = [path.join(work, 'root', 'containers'), path.join(work, 'run', 'containers')];
    return dirs.flatMap((d) => (fs.existsSync(d) ? fs.readdirSync(d).filter((f) => /^[0-9a-f]{64}$/.test(f)) : []));
  };

  beforeAll(() => {
    requireCommand('runc', 'runc');
    requireCommand('conmon', 'conmon');
    work = tempDir('cdk-docker-bounds-');
    env = { CDK_DOCKER_ROOT: path.join(work, 'root'), CDK_DOCKER_RUNROOT: path.join(work, 'run') };
    privateNetworkConfig(path.join(work, 'root'), 214);
    ok(rt(['import', '-c', 'CMD ["sh"]', '-c', 'ENV PATH=/bin', busyboxRootfsTar(work, ['sh', 'true']), 'bounds:1']));
  });

  afterAll(async () => {
    if (!work) return;
    const all = rt(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
    if (all.length) rt(['rm', '-f', ...all]);
    await until('no container of this suite is left', () => containerDirs().length === 0);
    fs.rmSync(work, { recursive: true, force: true });
  });

  const cpus = limits.hostCpuCount();
  test.each([
    [['-m', '99999999999999999999999g'], 'invalid --memory "99999999999999999999999g": 1.074e+32 bytes is more than the largest size, 8 PiB (9007199254740991 bytes); use a smaller size such as "512m"'],
    [['--cpus', '1e9'], `range of CPUs is from 0.01 to ${cpus}.00, as there are only ${cpus} CPUs available`],
    [['--cpus', '0.001'], `range of CPUs is from 0.01 to ${cpus}.00, as there are only ${cpus} CPUs available`],
    [['--pids-limit', '99999999999999999999'], 'invalid --pids-limit "99999999999999999999": at most 4194304 (the kernel\'s PID_MAX_LIMIT); use -1 for unlimited'],
    [['--shm-size', '99999999999999999999g'], 'invalid --shm-size "99999999999999999999g": 1.074e+29 bytes is more than the largest size, 8 PiB (9007199254740991 bytes); use a smaller size such as "512m"'],
    [['-e', '=x'], 'invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x'],
    [['--tmpfs', '/t:size=abc'], 'invalid --tmpfs "/t:size=abc": size "abc" is not a whole number with an optional unit k, m or g, such as 64m (or a percentage of memory such as 50%)'],
    [['--tmpfs', '/t:mode=999'], 'invalid --tmpfs "/t:mode=999": mode "999" is not an octal file mode such as 1777 or 755'],
    [['--mount', 'type=tmpfs,target=/t,tmpfs-size=1.5g'], 'invalid --mount "type=tmpfs,target=/t,tmpfs-size=1.5g": size "1.5g" is not a whole number with an optional unit k, m or g, such as 64m (or a percentage of memory such as 50%)'],
    [['--stop-timeout', '99999999999999999999'], 'invalid --stop-timeout "99999999999999999999": out of range 0 to 2147483 seconds (24 days, the longest the engine can wait)'],
    [['--health-cmd', 'true', '--health-retries', '99999999999999999999'], 'invalid --health-retries "99999999999999999999": at most 2147483647'],
    [['--health-cmd', 'true', '--health-interval', '1000h'], 'invalid --health-interval "1000h": longer than the engine can wait, 2147483647ms (24 days); use a shorter duration such as 30s'],
    [['--health-cmd', 'true', '--health-interval', '9999999999h'], 'invalid --health-interval "9999999999h": use a duration such as 30s, 1m30s or 500ms'],
    [['--health-cmd', 'true', '--health-timeout', '1ns'], 'Timeout in Healthcheck cannot be less than 1ms'],
    [['--restart', 'on-failure:99999999999999999999'], 'invalid restart policy "on-failure:99999999999999999999": the maximum retry count is out of range 0 to 2147483647'],
    [['-w', 'rel'], "the working directory 'rel' is invalid, it needs to be an absolute path"],
    [['--log-opt', 'max-size=99999999999999999999g'], 'invalid --log-opt max-size "99999999999999999999g": 1.074e+29 bytes is more than the largest size, 8 PiB (9007199254740991 bytes); use a smaller size such as "512m"'],
  ])('run %j is one line, exit 125 (Docker\'s for a refused flag), and leaves no container', (flags, message) => {
    for (const cmd of ['run', 'create']) {
      const r = rt([cmd, '--network', 'none', ...flags, 'bounds:1', 'true']);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 125, stderr: `Error: ${message}\n` });
      expect(containerDirs()).toEqual([]);
    }
    expect(ok(rt(['ps', '-aq']))).toBe('');
  });

  test('update refuses a CPU limit the host cannot give and a limit the kernel refuses, and keeps the record', () => {
    const id = ok(rt(['create', '--network', 'none', '--name', 'upd', 'bounds:1', 'true'])).trim();
    expect(rt(['update', '--cpus', '1e9', 'upd'])).toMatchObject({ code: 1, stderr: `Error: range of CPUs is from 0.01 to ${cpus}.00, as there are only ${cpus} CPUs available\n` });
    expect(rt(['update', '--pids-limit', '5000000', 'upd'])).toMatchObject({ code: 1, stderr: 'Error: invalid --pids-limit "5000000": at most 4194304 (the kernel\'s PID_MAX_LIMIT); use -1 for unlimited\n' });
    expect(ok(rt(['inspect', '-f', '{{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}', 'upd'])).trim()).toBe('0 <no value>');
    ok(rt(['rm', id]));
  });

  test('volume create refuses tmpfs options mount(8) would refuse at the first run, and creates nothing', () => {
    expect(rt(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=abc,uid=0', 'tv'])).toMatchObject({
      code: 1,
      stderr: 'Error: invalid --opt o=size=abc,uid=0: size "abc" is not a whole number with an optional unit k, m or g, such as 64m (or a percentage of memory such as 50%)\n',
    });
    expect(ok(rt(['volume', 'ls', '-q']))).toBe('');
  });

  test('apply refuses a CPU limit above this host\'s CPUs with Docker\'s message and creates nothing', () => {
    const dir = path.join(work, 'stack');
    fs.mkdirSync(dir, { recursive: true });
    writeJsApp(dir, [
      'const app = new cdk.App();',
      "const stack = new cdk.Stack(app, 'b214');",
      `new cdk.Container(stack, 'web', { image: 'bounds:1', command: ['true'], cpus: ${cpus + 1}, networkMode: 'none' });`,
      'app.synth();',
    ].join('\n'));
    const r = cdkDocker(['apply', '--auto-approve'], dir, env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`web: range of CPUs is from 0.01 to ${cpus}.00, as there are only ${cpus} CPUs available`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(containerDirs()).toEqual([]);
  });

  test('exec -e =x is refused with Docker\'s words before runc is asked', () => {
    expect(rt(['exec', '-e', '=x', 'nosuch', 'true'])).toMatchObject({ code: 1, stderr: 'Error: invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x\n' });
  });
});

describe("an image's own HEALTHCHECK is held to what a timer can wait", () => {
  test('durations past Node\'s longest timer are clamped, odd ones take the defaults', () => {
    expect(healthTimings({ Test: ['CMD', 'true'], Interval: 1e30, Timeout: -5, StartPeriod: Number.NaN, Retries: 1e20 })).toEqual({ interval: limits.MAX_TIMER_MS, timeout: 30_000, startPeriod: 0, retries: 3 });
    expect(healthTimings({ Test: ['CMD', 'true'], Interval: 2e9, Timeout: 1e9, StartPeriod: 5e9, Retries: 7 })).toEqual({ interval: 2000, timeout: 1000, startPeriod: 5000, retries: 7 });
  });
});
