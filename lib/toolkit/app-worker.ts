/**
 * The entry of the worker thread a TypeScript app runs in (see ./app-thread). It is given the run
 * as its workerData, or, started ahead of time, waits for it as its one message. Then: the app's
 * environment, the esbuild hooks of ./ts-hooks for the project, source-mapped stacks,
 * `process.argv` as `node ENTRY` gives it, and the entry loaded as the thread's main module
 * (`require.main === module` holds in it).
 */
import Module from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { describeAppError } from '../core/app-run';
import type { AppRun } from './app-thread';
import { installTsHooks } from './ts-hooks';

function run({ entry, dir, outdir, env }: AppRun): void {
  for (const name of Object.keys(process.env)) if (!(name in env)) delete process.env[name];
  Object.assign(process.env, env);
  process.setSourceMapsEnabled(true);
  installTsHooks(dir, outdir);
  process.argv = [process.execPath, entry];
  try {
    (Module as unknown as { _load(request: string, parent: unknown, isMain: boolean): unknown })._load(entry, null, true);
  } catch (err) {
    // As Node shows an error of the main module, but without the frames of this thread's start.
    process.stderr.write(describeAppError(trimStack(err)));
    process.exit(1);
  }
}

if (workerData) run(workerData as AppRun);
else {
  parentPort!.once('message', (r: AppRun) => {
    // Nothing else comes: the port must not keep the thread (and the app's run) alive.
    parentPort!.close();
    run(r);
  });
}

/** The error with its stack cut where this file's frames and those loading the entry begin: they are not the app's. */
function trimStack(err: unknown): unknown {
  if (!(err instanceof Error) || typeof err.stack !== 'string') return err;
  const lines = err.stack.split('\n');
  const ours = lines.findIndex((l) => /\((?:node:internal\/modules\/|.*[\\/]toolkit[\\/](?:ts-hooks|app-worker)\.[jt]s:)/.test(l));
  if (ours > 0) err.stack = lines.slice(0, ours).join('\n');
  return err;
}
