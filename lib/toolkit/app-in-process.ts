/**
 * A TypeScript app run inside the CLI's own process: no second Node to start (~70 ms of boot, and
 * the library loaded again) on every synth, diff, apply and destroy. The app runs as it would in a
 * process of its own, as far as it can tell:
 *
 * - it is the main module (`require.main === module` holds), `process.argv` is `[node, entry]`,
 *   `CDK_DOCKER_OUTDIR` is set; its environment changes are undone afterwards;
 * - its stdout and stderr go where a child's would (`out`), its `.ts` files compile through the
 *   same esbuild hooks and cache as a child's (./ts-hooks), stack traces are source-mapped;
 * - `process.exit(n)`, an uncaught exception or an unhandled rejection end the app's run with
 *   that code (1 for an error, printed as the child's library would print it), not the CLI;
 * - the run is over when `App.synth()` has written the plans (the library tells the run, see
 *   lib/core/app-run) and the entry has returned, or, for an app that never synthesizes, when it
 *   has nothing left to do (Node's `beforeExit`): its exit code is then `process.exitCode`.
 *
 * What a process of its own would give and this does not: a synth that goes on working after
 * `app.synth()` returns runs on beside the command. Such apps, ES modules and anything but the
 * template's form run as a child (./ts-app); CDK_DOCKER_APP_RUNNER=node forces that.
 */
import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import { IN_PROCESS_APP, InProcessApp, describeAppError } from '../core/app-run';
import { packageRoot } from '../core/package-info';
import { installTsHooks } from './ts-hooks';

/** Thrown by the app's `process.exit` while it runs here: unwinds the app, not the CLI. */
class AppExit {
  constructor(public readonly code: number) {}
}

interface ModuleInternals {
  _load(request: string, parent: unknown, isMain: boolean): unknown;
  _cache: Record<string, unknown>;
}

/**
 * Whether the app in `dir` may run in this process: it is `dir` this process works in (the app
 * sees its working directory as its own) and the `cdk-docker` it imports is this very copy of the
 * library (another copy, maybe another version, runs as a child, as it always did).
 */
export function canRunInProcess(entry: string, dir: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.CDK_DOCKER_APP_RUNNER === 'node' || path.resolve(process.cwd()) !== dir) return false;
  try {
    const lib = require.resolve('cdk-docker/package.json', { paths: [path.dirname(entry)] });
    return path.dirname(fs.realpathSync(lib)) === fs.realpathSync(packageRoot());
  } catch {
    return false;
  }
}

/**
 * Runs `entry` here with CDK_DOCKER_OUTDIR=`outdir`, its output going to `out`; resolves to its
 * exit code once its run is over (0: it synthesized, or ended without an error).
 */
export async function runAppInProcess(entry: string, dir: string, outdir: string, out: NodeJS.WritableStream): Promise<number> {
  installTsHooks(dir, outdir);
  process.setSourceMapsEnabled(true);
  const internals = Module as unknown as ModuleInternals;
  // A run before this one in the same process (tests, a library user) left the project's files
  // in the module cache: they would not run again.
  for (const file of Object.keys(internals._cache)) {
    if (file.startsWith(dir + path.sep) && !file.includes(`${path.sep}node_modules${path.sep}`)) delete internals._cache[file];
  }

  const saved = {
    argv: process.argv,
    env: { ...process.env },
    exit: process.exit,
    exitCode: process.exitCode,
    mainModule: process.mainModule,
    stdoutWrite: process.stdout.write,
    stderrWrite: process.stderr.write,
  };
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => {
    finish = resolve;
  });
  let ended = false;
  const end = (code: number) => {
    if (ended) return;
    ended = true;
    finish(code);
  };
  const failed = (err: unknown) => {
    if (err instanceof AppExit) return end(err.code);
    out.write(describeAppError(trimStack(err)));
    end(1);
  };
  let returned = false;
  let synthesized = false;
  const run: InProcessApp = {
    synthesized: () => {
      synthesized = true;
      if (returned) end(0);
    },
  };
  const drained = () => end(typeof process.exitCode === 'number' ? process.exitCode : 0);

  const write = (chunk: unknown, encoding?: unknown, cb?: unknown) => out.write(chunk as string, encoding as BufferEncoding, cb as () => void);
  process.stdout.write = write as typeof process.stdout.write;
  if ((out as unknown) !== process.stderr) process.stderr.write = write as typeof process.stderr.write;
  process.exit = ((code?: number | string | null) => {
    throw new AppExit(Number(code ?? process.exitCode ?? 0) || 0);
  }) as typeof process.exit;
  process.argv = [process.execPath, entry];
  process.env.CDK_DOCKER_OUTDIR = outdir;
  process.exitCode = undefined;
  (globalThis as { [IN_PROCESS_APP]?: InProcessApp })[IN_PROCESS_APP] = run;
  process.on('uncaughtException', failed);
  process.on('unhandledRejection', failed);
  process.on('beforeExit', drained);
  try {
    try {
      internals._load(entry, null, true);
      returned = true;
      if (synthesized) end(0);
    } catch (err) {
      failed(err);
    }
    return await done;
  } finally {
    process.off('uncaughtException', failed);
    process.off('unhandledRejection', failed);
    process.off('beforeExit', drained);
    delete (globalThis as { [IN_PROCESS_APP]?: InProcessApp })[IN_PROCESS_APP];
    process.stdout.write = saved.stdoutWrite;
    process.stderr.write = saved.stderrWrite;
    process.exit = saved.exit;
    process.exitCode = saved.exitCode;
    process.argv = saved.argv;
    process.mainModule = saved.mainModule;
    for (const name of Object.keys(process.env)) if (!(name in saved.env)) delete process.env[name];
    Object.assign(process.env, saved.env);
  }
}

/** The error with its stack cut where this runner's frames begin: they are not the app's. */
function trimStack(err: unknown): unknown {
  if (!(err instanceof Error) || typeof err.stack !== 'string') return err;
  const lines = err.stack.split('\n');
  const ours = lines.findIndex((l) => /[\\/]toolkit[\\/]app-in-process\.[jt]s:/.test(l));
  if (ours > 0) {
    // Node's module loading and our compile hook, just above, are not the app's either.
    let cut = ours;
    while (cut > 1 && /\((?:node:internal\/modules\/|.*[\\/]toolkit[\\/]ts-hooks\.[jt]s:)/.test(lines[cut - 1])) cut--;
    err.stack = lines.slice(0, cut).join('\n');
  }
  return err;
}
