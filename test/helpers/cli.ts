import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The repository root (the package under test). */
export const ROOT = path.resolve(__dirname, '..', '..');
/** The built CLI (tests run after `tsc`, as `npm test` does). */
export const CLI = path.join(ROOT, 'bin', 'cdk-docker');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `cdk-docker ARGS` in `cwd` as a user would and returns what they would see. */
export function cdkDocker(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, input?: string): CliResult {
  const r = spawnSync(CLI, [...args], {
    cwd,
    input,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
    timeout: 120_000,
  });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

const temps: string[] = [];

/**
 * A fresh temporary directory. Remove it yourself (`fs.rmSync(dir, { recursive: true })`) or
 * with every other one this test file made, by `removeTempDirs()` in afterAll.
 */
export function tempDir(prefix = 'cdk-docker-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

/** Removes every directory `tempDir()` made (those already removed too); call it in afterAll. */
export function removeTempDirs(): void {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

/** Writes a JS app (CommonJS, requiring the built library) and its cdk-docker.json into `dir`. */
export function writeJsApp(dir: string, body: string): void {
  const lib = JSON.stringify(path.join(ROOT, 'dist', 'lib'));
  fs.writeFileSync(path.join(dir, 'app.js'), `const cdk = require(${lib});\n${body}\n`);
  fs.writeFileSync(path.join(dir, 'cdk-docker.json'), JSON.stringify({ app: 'node app.js' }));
}

/** The output of a command that must succeed; otherwise an error with its exit code and stderr. */
export function ok(r: CliResult): string {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `check` every 100 ms until it holds (a check that throws does not hold yet); after
 * `timeoutMs` fails with `what` and, when given, `detail()` of what is still in the way.
 */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000, detail?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${detail ? `; still there:\n${detail()}` : ''}`);
    await sleep(100);
  }
}

/** A program started without waiting: its output is collected as it comes. */
export interface Running {
  readonly child: import('node:child_process').ChildProcess;
  readonly done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** The output so far, carriage returns dropped. */
  output(): string;
}

/** Starts `command ARGS` in `cwd` with NO_COLOR and `env` over this process's environment. */
export function startProgram(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(command, args, { cwd, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done, output: () => stdout.replace(/\r/g, '') };
}
