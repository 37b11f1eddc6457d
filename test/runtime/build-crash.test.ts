import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { CLI, CliResult, cdkDocker, ok, tempDir, until } from '../helpers/cli';
import { busyboxRootfsTar } from '../helpers/images';
import { privateNetworkConfig } from '../helpers/network';
import { requireCommand } from '../helpers/prereq';

/**
 * A build stopped half-way leaves nothing behind (issue 11, item 7): a signal makes it remove its
 * step container and temporary files before it exits with 128+N; a build killed with SIGKILL
 * (even one left a zombie by a parent that does not reap) is cleaned up by the next build or
 * `image prune`, which never touch the containers of a build that still runs.
 */

jest.setTimeout(180_000);

const OCTET = 230;

let work: string;
let root: string;
let runRoot: string;
let env: NodeJS.ProcessEnv;
let server: http.Server;
let url: string;
/** Processes this suite started, killed in afterAll if still there. */
const started: ChildProcess[] = [];

const rt = (args: string[], input?: string): CliResult => cdkDocker(['runtime', ...args], work, env, input);

/** `PID STARTTIME` of a live, non-zombie process, else undefined (a pid reused later is another process). */
function identity(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : `${pid} ${fields[19]}`;
  } catch {
    return undefined;
  }
}

function processState(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0];
  } catch {
    return undefined;
  }
}

/** Pids of the live children of `pid`. */
function childrenOf(pid: number): number[] {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((p) => {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(fields[1]) === pid && fields[0] !== 'Z';
    } catch {
      return false;
    }
  });
}

/** Lines of iptables-save that name this suite's subnets (10.230.0.0/24, 10.231.0.0/16): other suites run at once. */
function ourIptablesLines(): string[] {
  const text = execFileSync('iptables-save', { encoding: 'utf8' });
  return text.split('\n').filter((l) => /\b10\.23[01]\./.test(l));
}

/**
 * Lines this suite's work added since beforeAll: a leak adds lines. (A line of the baseline that
 * went away is no leak — a stale rule left by a killed run elsewhere, removed meanwhile, once
 * failed the plain before/after equality.)
 */
function addedIptablesLines(): string[] {
  const before = new Set(iptablesBefore);
  return ourIptablesLines().filter((l) => !before.has(l));
}

/** Container records in the store, build steps included (`ps -a` does not list those). */
function containerIds(): string[] {
  const dir = path.join(root, 'containers');
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /^[0-9a-f]{64}$/.test(f)) : [];
}

/** Temporary files of builds, wherever the builder keeps them. */
function buildTempFiles(): string[] {
  const list = (d: string) => (fs.existsSync(d) ? fs.readdirSync(d).map((f) => path.join(d, f)) : []);
  return [...list(path.join(work, 'tmp')), ...list(path.join(root, 'build-tmp'))];
}

interface RunningBuild {
  /** The build's own process (node). */
  readonly pid: number;
  readonly log: () => string;
  /** Resolves with the exit status of the build (for `spawn` builds) or of its non-reaping parent. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A context directory `name` with this Dockerfile and a served data file for ADD. */
function context(name: string, dockerfile: string): string {
  const dir = path.join(work, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

/**
 * Starts `runtime build --no-cache DIR` in the background, its output in a log file. With
 * `zombieParent` its parent is a `sleep` that never reaps it, so once killed it stays a zombie.
 */
function startBuild(name: string, dockerfile: string, zombieParent = false): Promise<RunningBuild> {
  const dir = context(name, dockerfile);
  const logFile = path.join(work, `${name}.log`);
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  const fullEnv = { ...process.env, NO_COLOR: '1', ...env };
  let child: ChildProcess;
  if (zombieParent) {
    child = spawn('sh', ['-c', '"$0" "$@" >"$LOG" 2>&1 & echo $!; exec sleep 300', CLI, 'runtime', 'build', '--no-cache', dir], { cwd: work, env: { ...fullEnv, LOG: logFile }, stdio: ['ignore', 'pipe', 'inherit'] });
  } else {
    const fd = fs.openSync(logFile, 'w');
    child = spawn(CLI, ['runtime', 'build', '--no-cache', dir], { cwd: work, env: fullEnv, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
  }
  started.push(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  if (!zombieParent) return Promise.resolve({ pid: child.pid!, log, exited });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)\n/.exec(out);
      if (m) resolve({ pid: Number(m[1]), log, exited });
    });
    child.on('exit', () => reject(new Error(`the build's parent exited: ${out}`)));
  });
}

/** What a running RUN step holds on the host. */
interface StepHold {
  readonly id: string;
  /** Identities of conmon and of the step's command (`sleep`). */
  readonly processes: string[];
}

/** Waits until the build's RUN step runs, and returns its container and processes. */
async function runningStep(b: RunningBuild): Promise<StepHold> {
  let id = '';
  await until('the RUN step to start', () => {
    // The last RUN step started, once the build reached `RUN sleep …`.
    const m = [...b.log().matchAll(/Step \d+\/\d+ : RUN sleep[^\n]*\n ---> Running in ([0-9a-f]{12})/g)].pop();
    if (!m) return false;
    id = containerIds().find((c) => c.startsWith(m[1])) ?? '';
    const state = JSON.parse(fs.readFileSync(path.join(root, 'containers', id, 'state.json'), 'utf8')) as { Status: string };
    return state.Status === 'running';
  }, 60_000, () => b.log());
  const state = JSON.parse(fs.readFileSync(path.join(root, 'containers', id, 'state.json'), 'utf8')) as { Pid: number; MonitorPid: number };
  const processes = [identity(state.MonitorPid), identity(state.Pid)].filter((p): p is string => p !== undefined);
  expect(processes).toHaveLength(2);
  expect(fs.readFileSync(`/proc/${state.Pid}/cmdline`, 'utf8')).toContain('sleep');
  expect(fs.existsSync(path.join(runRoot, 'netns', id))).toBe(true);
  return { id, processes };
}

/** What is left on the host of a step container: record, bundle, mounts, netns, processes. */
function leftoversOf(step: StepHold): string[] {
  const out: string[] = [];
  if (fs.existsSync(path.join(root, 'containers', step.id))) out.push(`container record ${step.id}`);
  if (fs.existsSync(path.join(runRoot, 'containers', step.id))) out.push(`bundle ${step.id}`);
  if (fs.existsSync(path.join(runRoot, 'netns', step.id))) out.push(`netns ${step.id}`);
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint?.startsWith(work) && mountPoint.includes(step.id)) out.push(`mount ${mountPoint}`);
  }
  for (const p of step.processes) if (identity(Number(p.split(' ')[0])) === p) out.push(`process ${p}: ${fs.readFileSync(`/proc/${p.split(' ')[0]}/cmdline`, 'utf8').replace(/\0/g, ' ')}`);
  return out;
}

/** Every mount under this suite's directory. */
function mountsUnderWork(): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m?.startsWith(work));
}

let iptablesBefore: string[];

beforeAll(async () => {
  for (const [cmd, pkg] of [['runc', 'runc'], ['conmon', 'conmon'], ['iptables-save', 'iptables']]) requireCommand(cmd, pkg);
  requireCommand('netavark', 'netavark', ['/usr/lib/podman']);
  work = tempDir('cdk-docker-build-crash-');
  root = path.join(work, 'root');
  runRoot = path.join(work, 'run');
  env = { CDK_DOCKER_ROOT: root, CDK_DOCKER_RUNROOT: runRoot, TMPDIR: path.join(work, 'tmp') };
  fs.mkdirSync(path.join(work, 'tmp'));
  privateNetworkConfig(root, OCTET);
  ok(rt(['import', '-c', 'ENV PATH=/bin', '-c', 'CMD ["sh"]', busyboxRootfsTar(work, ['sh', 'sleep', 'echo', 'true', 'cat']), 'busybox:crash']));
  server = http.createServer((_req, res) => res.end('downloaded\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/data.txt`;
  iptablesBefore = ourIptablesLines();
});

afterAll(async () => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  server?.close();
  if (!work) return;
  const ids = containerIds();
  if (ids.length) rt(['rm', '-f', '-v', ...ids]);
  fs.rmSync(work, { recursive: true, force: true });
});

test('a build killed with SIGKILL during a RUN (left a zombie) leaves nothing once the next build ran', async () => {
  const killed = await startBuild('killed', `FROM busybox:crash\nADD ${url} /data.txt\nRUN sleep 30\n`, true);
  const step = await runningStep(killed);
  expect(buildTempFiles()).not.toHaveLength(0); // the ADD download, kept until the build ends
  expect(ourIptablesLines().length).toBeGreaterThan(iptablesBefore.length);

  process.kill(killed.pid, 'SIGKILL');
  await until('the killed build to be a zombie', () => processState(killed.pid) === 'Z');
  expect(leftoversOf(step)).not.toHaveLength(0); // what the next build has to collect

  const next = rt(['build', '--no-cache', context('next', 'FROM busybox:crash\nRUN echo next-build\n')]);
  expect(next.stderr).toBe('');
  expect(next.code).toBe(0);
  expect(leftoversOf(step)).toEqual([]);
  expect(containerIds()).toEqual([]);
  expect(mountsUnderWork()).toEqual([]);
  expect(buildTempFiles()).toEqual([]);
  expect(addedIptablesLines()).toEqual([]);
});

test.each([
  ['SIGINT', 130],
  ['SIGTERM', 143],
  ['SIGHUP', 129],
] as const)('%s stops a build during a RUN: exit %i, and nothing is left at once', async (signal, status) => {
  const b = await startBuild(`signal-${signal}`, `FROM busybox:crash\nADD ${url} /data.txt\nRUN sleep 30\n`);
  const step = await runningStep(b);
  const started = Date.now();
  process.kill(b.pid, signal);
  const exit = await b.exited;
  expect(Date.now() - started).toBeLessThan(15_000);
  expect(exit).toEqual({ code: status, signal: null });
  expect(b.log()).toContain(`build interrupted by ${signal}`);
  expect(b.log()).not.toMatch(/\n\s+at /); // no stack trace
  expect(leftoversOf(step)).toEqual([]);
  expect(containerIds()).toEqual([]);
  expect(mountsUnderWork()).toEqual([]);
  expect(buildTempFiles()).toEqual([]);
  expect(addedIptablesLines()).toEqual([]);
});

test('a new build collects a killed build\'s step container but never a live build\'s; ps -a lists neither', async () => {
  const [killed, live] = await Promise.all([
    startBuild('two-killed', 'FROM busybox:crash\nRUN sleep 30\n'),
    // Its step ends when the test kills its `sleep` (the shell goes on), not on a timer a slow machine could beat.
    startBuild('two-live', 'FROM busybox:crash\nRUN sleep 120 || echo live-done > /done\n'),
  ]);
  const [killedStep, liveStep] = await Promise.all([runningStep(killed), runningStep(live)]);
  const listed = ok(rt(['ps', '-a', '-q', '--no-trunc'])).split('\n').filter(Boolean);
  expect(listed).not.toContain(killedStep.id);
  expect(listed).not.toContain(liveStep.id);

  process.kill(killed.pid, 'SIGKILL');
  expect(await killed.exited).toEqual({ code: null, signal: 'SIGKILL' });
  ok(rt(['build', '--no-cache', context('third', 'FROM busybox:crash\nRUN echo third\n')]));

  expect(leftoversOf(killedStep)).toEqual([]);
  // The live build's step still runs, and the build finishes.
  expect(leftoversOf(liveStep)).toEqual(expect.arrayContaining([`container record ${liveStep.id}`, ...liveStep.processes.map((p) => expect.stringContaining(`process ${p}`))]));
  const shell = Number(liveStep.processes[1].split(' ')[0]);
  const sleeper = childrenOf(shell);
  expect(sleeper).toHaveLength(1);
  process.kill(sleeper[0], 'SIGKILL');
  expect(await live.exited).toEqual({ code: 0, signal: null });
  expect(live.log()).toContain('Successfully built');
  expect(leftoversOf(liveStep)).toEqual([]);
  expect(containerIds()).toEqual([]);
  expect(mountsUnderWork()).toEqual([]);
  expect(addedIptablesLines()).toEqual([]);
});

test('image prune collects a killed build\'s step container, then the images it held', async () => {
  const killed = await startBuild('prune-killed', 'FROM busybox:crash\nRUN echo layer > /f\nRUN sleep 30\n');
  const step = await runningStep(killed);
  process.kill(killed.pid, 'SIGKILL');
  await killed.exited;
  const pruned = rt(['image', 'prune', '-f']);
  expect(pruned.code).toBe(0);
  expect(leftoversOf(step)).toEqual([]);
  expect(containerIds()).toEqual([]);
  expect(mountsUnderWork()).toEqual([]);
  expect(addedIptablesLines()).toEqual([]);
  // The intermediate image of `RUN echo layer` no container holds any more: prune removed it.
  expect(pruned.stdout).toContain('deleted: sha256:');
});
