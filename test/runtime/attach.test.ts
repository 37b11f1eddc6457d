import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, CliResult, ROOT, Running, cdkDocker, ok, sleep, startProgram, tempDir, until } from '../helpers/cli';
import { busyboxRootfsTar } from '../helpers/images';
import { privateNetworkConfig } from '../helpers/network';
import { requireCommand } from '../helpers/prereq';

jest.setTimeout(60_000);

/**
 * `runtime attach` (and the attach behind `start -a -i`) on real runc + conmon: conmon's attach
 * socket, stdin, a terminal, detach keys, resize, several attachers, signal proxying. Containers
 * are created with -i/-t and started detached, as `run -dit` does.
 */
let work: string;
let env: NodeJS.ProcessEnv;
const rt = (args: string[], input?: string): CliResult => cdkDocker(['runtime', ...args], work, env, input);
const status = (c: string) => ok(rt(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', c])).trim();

/** Starts `cdk-docker ARGV…` (or another program) without waiting; its output is collected. */
const start = (command: string, args: string[]): Running => startProgram(command, args, work, env);
const startCli = (args: string[]) => start(CLI, ['runtime', ...args]);

/** `script` gives the CLI a terminal of `rows`×`cols`; `then` runs in the same terminal after the CLI started (a resize). */
function inTerminal(cli: string, opts: { rows: number; cols: number; then?: string }): Running {
  const resize = opts.then ? `(${opts.then}) & ` : '';
  return start('script', ['-qec', `stty rows ${opts.rows} cols ${opts.cols}; ${resize}${CLI} runtime ${cli}`, '/dev/null']);
}

/** Processes (conmon, the CLI) whose command line names this suite's directory. */
function processesOfSuite(): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (cmd.includes(work) && !/\) Z /.test(stat)) out.push(`${pid} ${cmd.replace(/\0/g, ' ')}`);
    } catch {
      // gone
    }
  }
  return out;
}

beforeAll(() => {
  requireCommand('runc', 'runc');
  requireCommand('conmon', 'conmon');
  requireCommand('script', 'bsdutils');
  work = tempDir('cdk-docker-attach-');
  env = { CDK_DOCKER_ROOT: path.join(work, 'root'), CDK_DOCKER_RUNROOT: path.join(work, 'run') };
  privateNetworkConfig(env.CDK_DOCKER_ROOT!, 250);
  const rootfs = busyboxRootfsTar(work, ['sh', 'cat', 'echo', 'sleep', 'stty', 'test', 'true']);
  ok(rt(['import', '-c', 'CMD ["sh"]', '-c', 'ENV PATH=/bin', rootfs, 'busybox:attach']));
});

afterAll(async () => {
  if (!work) return;
  const all = rt(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  if (all.length) rt(['rm', '-f', ...all]);
  await until('the monitors of this suite to exit', () => processesOfSuite().length === 0, 15_000, () => processesOfSuite().join('\n'));
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(work));
  fs.rmSync(work, { recursive: true, force: true });
  expect(mounts).toEqual([]);
});

/** `run -d` with Docker's flags (`-dit`, `-di`): a detached container one can attach to later. */
function runDetached(name: string, flags: string[], command: string[]): void {
  ok(rt(['run', '-d', '--network', 'none', '--name', name, ...flags, 'busybox:attach', ...command]));
}

test('run -dit, run -i --rm, start -ai and create -i + start -a -i go through attach as Docker\'s do', () => {
  ok(rt(['run', '-dit', '--network', 'none', '--name', 'dit', 'busybox:attach', 'sh']));
  expect(status('dit')).toBe('running 0');
  expect(ok(rt(['inspect', '-f', '{{.Config.Tty}} {{.Config.OpenStdin}}', 'dit'])).trim()).toBe('true true');
  expect(rt(['run', '-i', '--rm', '--network', 'none', '--name', 'piped', 'busybox:attach', 'sh', '-c', 'read l; echo "got $l"; exit 6'], 'line\n')).toEqual({ code: 6, stdout: 'got line\n', stderr: '' });
  expect(rt(['ps', '-aq', '--filter', 'name=piped']).stdout).toBe('');
  ok(rt(['create', '-i', '--network', 'none', '--name', 'later', 'busybox:attach', 'sh', '-c', 'read l; echo "later $l"; exit 3']));
  expect(rt(['start', '-ai', 'later'], 'on\n')).toEqual({ code: 3, stdout: 'later on\n', stderr: '' });
  expect(rt(['run', '--detach-keys', 'ctrl-', '--network', 'none', '--name', 'badkeys', 'busybox:attach', 'true']).code).toBe(125);
  expect(rt(['ps', '-aq', '--filter', 'name=badkeys']).stdout).toBe('');
  ok(rt(['rm', '-f', 'dit', 'later']));
});

test('piped stdin reaches a -i container; it runs on with stdin open, ready for the next attach', () => {
  runDetached('cat', ['-i'], ['cat']);
  expect(rt(['attach', 'cat'], 'hi\n')).toEqual({ code: 0, stdout: 'hi\n', stderr: '' });
  expect(status('cat')).toBe('running 0');
  expect(rt(['attach', 'cat'], 'again\nand again\n')).toEqual({ code: 0, stdout: 'again\nand again\n', stderr: '' });
  expect(status('cat')).toBe('running 0');
  // Without -i the container gets no input from an attach (Docker's rule), and --no-stdin sends none.
  runDetached('reader', ['-i'], ['sh', '-c', 'read -t 2 l; echo "[$l]"']);
  expect(rt(['attach', '--no-stdin', 'reader'], 'ignored\n')).toEqual({ code: 0, stdout: '[]\n', stderr: '' });
  ok(rt(['rm', '-f', 'cat', 'reader']));
});

test('several attachers get the same stdout and stderr and exit with the container', async () => {
  // It says "waiting" until the test lets it go on (a file in a bind mount), once both attachers heard it.
  fs.mkdirSync(path.join(work, 'go'));
  runDetached('talker', ['-v', `${path.join(work, 'go')}:/go`], ['sh', '-c', 'until test -e /go/now; do echo waiting; sleep 0.2; done; for i in 1 2 3; do echo out$i; echo err$i >&2; done; exit 7']);
  const a = startCli(['attach', 'talker']);
  const b = startCli(['attach', 'talker']);
  a.child.stdin!.end();
  b.child.stdin!.end();
  await until('both attachers to hear the container', () => a.output().includes('waiting') && b.output().includes('waiting'), 20_000);
  fs.writeFileSync(path.join(work, 'go', 'now'), '');
  for (const r of [await a.done, await b.done]) {
    expect(r).toMatchObject({ code: 7, stderr: 'err1\nerr2\nerr3\n' });
    expect(r.stdout).toMatch(/^(waiting\n)+out1\nout2\nout3\n$/);
  }
  expect(status('talker')).toBe('exited 7');
  ok(rt(['rm', 'talker']));
});

test('an attach ends with the run it saw, also when the restart policy starts the container again', async () => {
  runDetached('phoenix', ['--restart', 'always'], ['sh', '-c', 'sleep 3; exit 3']); // time for the attach to start under load
  const r = startCli(['attach', 'phoenix']);
  r.child.stdin!.end();
  expect((await r.done).code).toBe(3);
  ok(rt(['rm', '-f', 'phoenix']));
});

test('an attach whose reader goes away (| head) ends with 0 and no trace; the container runs on', async () => {
  runDetached('yes', [], ['sh', '-c', 'while true; do echo y; done']);
  const r = start('bash', ['-c', `${CLI} runtime attach --no-stdin yes | head -2; echo "attach exited \${PIPESTATUS[0]}" >&2`]);
  r.child.stdin!.end();
  expect(await r.done).toEqual({ code: 0, stdout: 'y\ny\n', stderr: 'attach exited 0\n' });
  expect(status('yes')).toBe('running 0');
  ok(rt(['rm', '-f', 'yes']));
});

test('the detach keys leave the container running, with exit code 0; broken sequences pass through', async () => {
  runDetached('echoer', ['-i'], ['cat']);
  const r = startCli(['attach', '--detach-keys', 'ctrl-a,x', 'echoer']);
  // ctrl-a then y is no detach sequence: both bytes reach the container.
  r.child.stdin!.write('one\n\x01y\n');
  await until('the echo of the input', () => r.output() === 'one\n\x01y\n', 20_000, r.output);
  r.child.stdin!.write('\x01x');
  const end = await r.done;
  expect(end).toEqual({ code: 0, stdout: 'one\n\x01y\n', stderr: 'read escape sequence\n' });
  expect(status('echoer')).toBe('running 0');
  ok(rt(['rm', '-f', 'echoer']));
});

test('bad detach keys and stopped containers are refused with one line', () => {
  ok(rt(['create', '--network', 'none', '--name', 'idle', 'busybox:attach', 'true']));
  expect(rt(['attach', '--detach-keys', 'ctrl-P', 'idle'])).toEqual({
    code: 1,
    stdout: '',
    stderr: 'Error: invalid --detach-keys "ctrl-P": unknown key "ctrl-P"; use single characters or ctrl-<value> with a-z, @, [, \\, ], ^ or _, separated by commas (default ctrl-p,ctrl-q)\n',
  });
  expect(rt(['attach', 'idle'])).toEqual({ code: 1, stdout: '', stderr: 'Error: You cannot attach to a stopped container, start it first: runtime start -a idle\n' });
  expect(rt(['attach', '--sig-proxy=maybe', 'idle'])).toMatchObject({ code: 1, stderr: 'Error: invalid argument "maybe" for "--sig-proxy" flag: use --sig-proxy=true or --sig-proxy=false\n' });
  ok(rt(['rm', 'idle']));
});

test('a terminal: raw input, the window size and its changes, ctrl-p ctrl-q, then the exit code', async () => {
  runDetached('shell', ['-i', '-t'], ['sh']);
  // The resize waits for a file the test makes once the first size was seen.
  const resized = path.join(work, 'resize-now');
  const first = inTerminal('attach shell', { rows: 33, cols: 77, then: `while [ ! -e ${resized} ]; do sleep 0.1; done; stty rows 44 cols 88 </dev/tty` });
  // The shell redraws its prompt when attach sets the window size: the attach is up.
  await until('the prompt after attaching', () => first.output().includes('/ # '), 20_000, first.output);
  first.child.stdin!.write('stty size; test -t 0 && echo stdin-is-a-tty\n');
  await until('the first size', () => first.output().includes('\n33 77\nstdin-is-a-tty\n'), 10_000, first.output);
  fs.writeFileSync(resized, '');
  await until('the resized terminal', () => {
    first.child.stdin!.write('stty size\n');
    return first.output().includes('\n44 88\n');
  }, 10_000, first.output);
  first.child.stdin!.write('\x10\x11');
  const detached = await first.done;
  expect(detached.code).toBe(0);
  const out = detached.stdout.replace(/\r/g, '');
  expect(out).toContain('\n33 77\nstdin-is-a-tty\n');
  expect(out).toContain('\n44 88\n');
  expect(out).toMatch(/read escape sequence\n$/);
  expect(status('shell')).toBe('running 0');

  const second = inTerminal('attach shell', { rows: 20, cols: 60 });
  await until('the prompt after attaching again', () => second.output().includes('/ # '), 20_000, second.output);
  second.child.stdin!.write('echo back; exit 5\n');
  await sleep(500);
  second.child.stdin!.end();
  const exited = await second.done;
  expect(exited.stdout.replace(/\r/g, '')).toContain('\nback\n');
  expect(exited.code).toBe(5);
  expect(status('shell')).toBe('exited 5');
  // Docker's check: a terminal container needs a terminal to take input from.
  ok(rt(['start', 'shell']));
  expect(rt(['attach', 'shell'], '')).toEqual({ code: 1, stdout: '', stderr: 'Error: the input device is not a TTY; attach with --no-stdin, or from a terminal\n' });
  ok(rt(['rm', '-f', 'shell']));
});

test('signals to attach reach the container (--sig-proxy); with --sig-proxy=false they end only the attach', async () => {
  runDetached('trapper', [], ['sh', '-c', 'trap "echo got INT; exit 9" INT; while true; do echo tick; sleep 0.2; done']);
  // Output through the attach means it is up, its signal handlers too.
  const proxied = startCli(['attach', 'trapper']);
  proxied.child.stdin!.end();
  await until('the attach to relay output', () => proxied.output().includes('tick'), 20_000);
  proxied.child.kill('SIGINT');
  const end = await proxied.done;
  expect(end).toMatchObject({ code: 9, stderr: '' });
  expect(end.stdout).toMatch(/^(tick\n)+got INT\n$/);

  ok(rt(['start', 'trapper']));
  const unproxied = startCli(['attach', '--sig-proxy=false', 'trapper']);
  unproxied.child.stdin!.end();
  await until('the attach to relay output', () => unproxied.output().includes('tick'), 20_000);
  unproxied.child.kill('SIGINT');
  const r = await unproxied.done;
  expect(r.stdout).not.toContain('got INT');
  expect(r.code).not.toBe(9);
  expect(status('trapper')).toBe('running 0');
  ok(rt(['rm', '-f', 'trapper']));
});

test('start -a -i (attachToContainer with start): no output is missed and the end of input closes its stdin', async () => {
  ok(rt(['create', '--network', 'none', '-i', '--name', 'once', 'busybox:attach', 'sh', '-c', 'echo started; while read l; do echo got $l; done; echo eof >&2; exit 3']));
  const script = `require(${JSON.stringify(path.join(ROOT, 'dist', 'lib', 'cli', 'runtime', 'attach.js'))}).attachToContainer('once', { start: true }).then((c) => { process.exitCode = c; });`;
  for (const input of ['a\nb\n', 'c\n']) {
    const r = start(process.execPath, ['-e', script]);
    r.child.stdin!.end(input);
    expect(await r.done).toEqual({ code: 3, stdout: `started\n${input.replace(/^(.*)$/gm, (l) => (l ? `got ${l}` : l))}`, stderr: 'eof\n' });
  }
  ok(rt(['rm', 'once']));
  // An --rm container started attached is gone when the attach returns its exit code, as Docker's.
  ok(rt(['create', '--network', 'none', '--rm', '--name', 'gone', 'busybox:attach', 'sh', '-c', 'echo bye; exit 4']));
  const r = start(process.execPath, ['-e', script.replace("'once'", "'gone'")]);
  r.child.stdin!.end();
  expect(await r.done).toEqual({ code: 4, stdout: 'bye\n', stderr: '' });
  expect(rt(['ps', '-aq', '--filter', 'name=^gone$'])).toEqual({ code: 0, stdout: '', stderr: '' });
});

test("detach keys read as Docker's: ctrl-<value> for a-z @ [ \\ ] ^ _, single characters, sequences split across reads", () => {
  const m = require('../../runtime/containers/attach') as typeof import('../../runtime/containers/attach');
  expect([...m.parseDetachKeys('ctrl-@,ctrl-a,ctrl-z,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_,q,Q')]).toEqual([0, 1, 26, 27, 28, 29, 30, 31, 113, 81]);
  expect([...m.parseDetachKeys(m.DEFAULT_DETACH_KEYS)]).toEqual([16, 17]);
  for (const bad of ['ctrl-P', 'ctrl-1', 'ctrl-', 'alt-a', 'ab', 'é', 'ctrl-a,,x']) expect(() => m.parseDetachKeys(bad)).toThrow(/^invalid --detach-keys /);
  const scanner = new m.DetachKeyScanner(m.parseDetachKeys('ctrl-p,ctrl-q'));
  // ctrl-p is held until the next read tells whether the sequence goes on.
  expect(scanner.feed(Buffer.from('ls\x10'))).toEqual({ forward: Buffer.from('ls'), detached: false });
  expect(scanner.feed(Buffer.from('\x10'))).toEqual({ forward: Buffer.from('\x10'), detached: false });
  expect(scanner.feed(Buffer.from('x'))).toEqual({ forward: Buffer.from('\x10x'), detached: false });
  expect(scanner.feed(Buffer.from('\x10'))).toEqual({ forward: Buffer.alloc(0), detached: false });
  expect(scanner.feed(Buffer.from('\x11after'))).toEqual({ forward: Buffer.alloc(0), detached: true });
});
