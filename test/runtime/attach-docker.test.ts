/**
 * Issue 12, item 4: `runtime attach` (and `start -a -i`) side by side with a private Docker 20.10
 * daemon: the same container, the same command line, the same output streams and exit codes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, Running, ok, startProgram, until } from '../helpers/cli';
import { TestDockerd, startDockerd } from '../helpers/dockerd';
import { requireCommand } from '../helpers/prereq';
import { BASE_ARCHIVE, StackWorld, stackWorld, tearDownWorld } from '../helpers/stack';

jest.setTimeout(240_000);

const IMAGE = 'busybox:examples';
let world: StackWorld;
let dockerd: TestDockerd | undefined;
let docker: string;

const start = (command: string, args: string[], envExtra: NodeJS.ProcessEnv): Running => startProgram(command, args, world.work, envExtra);

/** The two CLIs, each against its own engine, taking the same arguments. */
const engines = () => [
  { name: 'docker', run: (args: string[]) => start(docker, args, { DOCKER_HOST: dockerd!.host }), shell: (cmd: string) => `${docker} ${cmd}`, env: { DOCKER_HOST: dockerd!.host } },
  { name: 'builtin', run: (args: string[]) => start(CLI, ['runtime', ...args], world.env), shell: (cmd: string) => `${CLI} runtime ${cmd}`, env: world.env },
];
const docker2 = (args: string[]) => dockerd!.docker(args);

beforeAll(async () => {
  docker = requireCommand('docker', 'docker.io');
  requireCommand('script', 'bsdutils');
  world = stackWorld('cdk-docker-attach-docker-', 250);
  ok(world.rt(['load', '-i', BASE_ARCHIVE]));
  dockerd = await startDockerd();
  docker2(['load', '-i', BASE_ARCHIVE]);
});

afterAll(async () => {
  if (dockerd) {
    const all = docker2(['ps', '-aq']).split('\n').filter(Boolean);
    if (all.length) docker2(['rm', '-f', ...all]);
    await dockerd.stop();
  }
  expect(await tearDownWorld(world)).toEqual([]);
});

test('attach gets stdout and stderr apart and the exit code, as docker attach', async () => {
  const results = [];
  for (const e of engines()) {
    const go = path.join(world.work, `go-${e.name}`);
    fs.mkdirSync(go);
    const create = e.name === 'docker' ? (a: string[]) => docker2(a) : (a: string[]) => ok(world.rt(a));
    create(['run', '-d', '--network', 'none', '--name', 'talker', '-v', `${go}:/go`, IMAGE, 'sh', '-c', 'until test -e /go/now; do echo waiting; sleep 0.2; done; echo out; echo err >&2; exit 7']);
    const r = e.run(['attach', 'talker']);
    r.child.stdin!.end();
    await until(`${e.name} attach to relay output`, () => r.output().includes('waiting'), 30_000);
    fs.writeFileSync(path.join(go, 'now'), '');
    const end = await r.done;
    results.push({ ...end, stdout: end.stdout.replace(/^(waiting\n)+/, '') });
  }
  expect(results[0]).toEqual({ code: 7, stdout: 'out\n', stderr: 'err\n' });
  expect(results[1]).toEqual(results[0]);
});

test('start -a -i of a create -i container: its first output, EOF closes its stdin, its exit code', async () => {
  const results = [];
  for (const e of engines()) {
    const create = e.name === 'docker' ? (a: string[]) => docker2(a) : (a: string[]) => ok(world.rt(a));
    create(['create', '-i', '--network', 'none', '--name', 'once', IMAGE, 'sh', '-c', 'echo started; while read l; do echo got $l; done; echo eof >&2; exit 3']);
    const r = e.run(['start', '-a', '-i', 'once']);
    r.child.stdin!.end('a\nb\n');
    results.push(await r.done);
  }
  expect(results[0]).toEqual({ code: 3, stdout: 'started\ngot a\ngot b\n', stderr: 'eof\n' });
  expect(results[1]).toEqual(results[0]);
});

test('StdinOnce as Docker sets it: create -i and run -i (not -d, not -t) close stdin when the attached input ends', async () => {
  const flags = [['create', '-i'], ['create'], ['create', '-it'], ['run', '-di']];
  const seen: string[][] = [];
  for (const e of engines()) {
    const run = e.name === 'docker' ? (a: string[]) => docker2(a) : (a: string[]) => ok(world.rt(a));
    seen.push(flags.map((f, i) => {
      run([...f, '--network', 'none', '--name', `once${i}`, IMAGE, 'cat']);
      return `${f.join(' ')}: ${run(['inspect', '-f', '{{.Config.OpenStdin}} {{.Config.StdinOnce}}', `once${i}`]).trim()}`;
    }));
    const piped = e.run(['run', '-i', '--rm', '--network', 'none', IMAGE, 'cat']);
    piped.child.stdin!.end('hi\n');
    expect({ engine: e.name, ...(await piped.done) }).toEqual({ engine: e.name, code: 0, stdout: 'hi\n', stderr: '' });
  }
  expect(seen[0]).toEqual(['create -i: true true', 'create: false false', 'create -it: true true', 'run -di: true false']);
  expect(seen[1]).toEqual(seen[0]);
});

test('create -i, start, attach: the input\'s end closes stdin, the attach waits for the exit; a second attach\'s input goes nowhere', async () => {
  const results = [];
  for (const e of engines()) {
    const run = e.name === 'docker' ? (a: string[]) => docker2(a) : (a: string[]) => ok(world.rt(a));
    run(['create', '-i', '--network', 'none', '--name', 'twice', IMAGE, 'sh', '-c', 'cat; echo closed; sleep 2; cat; echo end; exit 4']);
    run(['start', 'twice']);
    // The first attach: its input ends, the container's stdin closes; it would wait for the exit, and is ended instead.
    const first = e.run(['attach', '--sig-proxy=false', 'twice']);
    first.child.stdin!.end('one\n');
    await until(`${e.name}: the first attach to see stdin closed`, () => first.output().includes('closed'), 20_000, first.output);
    expect(first.child.exitCode).toBeNull();
    first.child.kill('SIGKILL');
    await first.done;
    // The second: what it sends never reaches the container; it ends with the container's exit code.
    const second = e.run(['attach', 'twice']);
    second.child.stdin!.end('two\n');
    const end = await second.done;
    results.push({ first: first.output(), second: { code: end.code, stdout: end.stdout }, logs: run(['logs', 'twice']) });
  }
  expect(results[0]).toEqual({ first: 'one\nclosed\n', second: { code: 4, stdout: 'end\n' }, logs: 'one\nclosed\nend\n' });
  expect(results[1]).toEqual(results[0]);
});

test('a terminal: ctrl-p ctrl-q detaches with "read escape sequence", the container runs on', async () => {
  for (const e of engines()) {
    const create = e.name === 'docker' ? (a: string[]) => docker2(a) : (a: string[]) => ok(world.rt(a));
    // `run -dit` on the built-in engine is wired by containers.ts; create -it + start is the same container.
    if (e.name === 'docker') create(['run', '-dit', '--network', 'none', '--name', 'shell', IMAGE, 'sh']);
    else {
      create(['create', '-it', '--network', 'none', '--name', 'shell', IMAGE, 'sh']);
      create(['start', 'shell']);
    }
    const r = start('script', ['-qec', `stty rows 33 cols 77; ${e.shell('attach shell')}`, '/dev/null'], e.env);
    await until(`${e.name}: the prompt after attaching`, () => r.output().includes('/ # '), 30_000, r.output);
    r.child.stdin!.write('stty size\n');
    await until(`${e.name}: the size`, () => r.output().includes('\n33 77\n'), 10_000, r.output);
    r.child.stdin!.write('\x10\x11');
    const end = await r.done;
    // Measured: Docker 20.10's attach reports the detach as an error and exits 1; ours exits 0
    // (a detach the user asked for is no failure), as issue 12 asks.
    const code = e.name === 'docker' ? 1 : 0;
    expect({ engine: e.name, code: end.code, tail: end.stdout.replace(/\r/g, '').split('\n').slice(-2) }).toEqual({ engine: e.name, code, tail: [expect.stringMatching(/read escape sequence$/), ''] });
    const running = e.name === 'docker' ? docker2(['inspect', '-f', '{{.State.Running}}', 'shell']) : ok(world.rt(['inspect', '-f', '{{.State.Running}}', 'shell']));
    expect(`${e.name} ${running.trim()}`).toBe(`${e.name} true`);
  }
});

test('attach to a stopped container is refused with Docker\'s message, exit 1', () => {
  docker2(['create', '--network', 'none', '--name', 'idle', IMAGE, 'true']);
  ok(world.rt(['create', '--network', 'none', '--name', 'idle', IMAGE, 'true']));
  let theirs = '';
  try {
    docker2(['attach', 'idle']);
  } catch (e) {
    theirs = String((e as { stderr?: string }).stderr);
    expect((e as { status?: number }).status).toBe(1);
  }
  expect(theirs).toBe('You cannot attach to a stopped container, start it first\n');
  const ours = world.rt(['attach', 'idle']);
  expect(ours.code).toBe(1);
  expect(ours.stderr).toBe(`Error: ${theirs.trim()}: runtime start -a idle\n`);
});
