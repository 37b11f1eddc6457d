import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readAssembly, readManifest, renderPlan, planFileName, Manifest, MANIFEST_FILE } from '../plan/io';
import { warmUpValidator } from '../plan/validate';
import type { Plan } from '../plan/types';
import { CdkDockerError, InvalidArgumentError } from '../core/errors';
import { CONFIG_FILE, loadConfig } from './config';
import { canRunInThread, runAppInThread } from './app-thread';
import { DirectTsApp, directTsApp } from './ts-app';

/** The app command failed; its own output has been shown already. */
export class AppFailedError extends CdkDockerError {
  public override readonly code = 'APP_FAILED';
}

export interface SynthOptions {
  /** Project directory (where cdk-docker.json is). @default process.cwd() */
  readonly dir?: string;
  /** App command; overrides cdk-docker.json's `app`. */
  readonly app?: string;
  /** Output directory. @default cdk-docker.json's `output`, else "cdk.out" */
  readonly outdir?: string;
  /** Stacks to return (all when empty); unknown names are an error. */
  readonly stacks?: string[];
  /** Also write `<stack>.plan.yaml`. */
  readonly format?: 'json' | 'yaml';
  /** Where the app's stdout and stderr go. @default process.stderr */
  readonly appOutput?: NodeJS.WritableStream;
  /**
   * Called once the app runs, with the stacks the last synth into the same directory made (a
   * hint, maybe stale or empty): work that does not depend on the new plans can go on meanwhile;
   * what it returns settles once that work is done.
   */
  readonly whileAppRuns?: (previousStacks: string[]) => Promise<unknown> | void;
  /** Run a TypeScript app of the template's form in a thread of this process when it can (./app-thread), not as a child process. @default false */
  readonly inProcess?: boolean;
}

/** The manifest a previous synth left in `outdir`, if it is readable. */
function previousManifest(outdir: string): Manifest | undefined {
  try {
    return readManifest(outdir);
  } catch {
    return undefined;
  }
}

/** The plan files `manifest` names in `outdir` as parsed JSON, unchecked: those there, readable, and of at most 8 MiB. */
function planSamples(outdir: string, manifest: Manifest | undefined): unknown[] {
  const plans: unknown[] = [];
  for (const { plan } of Object.values(manifest?.stacks ?? {})) {
    try {
      if (typeof plan !== 'string' || path.basename(plan) !== plan || !plan.endsWith('.plan.json')) continue;
      const file = path.join(outdir, plan);
      if (fs.statSync(file).size > 8 << 20) continue;
      plans.push(JSON.parse(fs.readFileSync(file, 'utf8')));
    } catch {
      // not there (any more), or not JSON: nothing to warm up with
    }
  }
  return plans;
}

export interface SynthResult {
  readonly outdir: string;
  readonly plans: Plan[];
  /** Files written per stack (relative to the project directory). */
  readonly files: { readonly [stack: string]: string[] };
}

/**
 * Runs the app command (like `cdk synth`) with `CDK_DOCKER_OUTDIR` set, then reads back and
 * validates every plan it wrote. The app's output is passed through; a failing app is an
 * AppFailedError. A TypeScript entry run by tsx runs without npx and tsx (see ./ts-app).
 */
export async function synthesize(options: SynthOptions = {}): Promise<SynthResult> {
  const dir = path.resolve(options.dir ?? process.cwd());
  const config = loadConfig(dir);
  const app = options.app ?? config.app;
  if (!app) {
    throw new InvalidArgumentError(`no app to run: add {"app": "npx tsx main.ts"} to ${path.join(dir, CONFIG_FILE)} or pass --app "<command>"`);
  }
  const outdir = path.resolve(dir, options.outdir ?? config.output ?? 'cdk.out');
  fs.mkdirSync(outdir, { recursive: true });
  const manifest = previousManifest(outdir);
  const previous = Object.keys(manifest?.stacks ?? {});
  fs.rmSync(path.join(outdir, MANIFEST_FILE), { force: true });

  const out = options.appOutput ?? process.stderr;
  // A TypeScript entry (the template's `npx tsx main.ts`) runs without npx and tsx, compiled by
  // esbuild from a cache: in a thread of this process when it can (./app-thread), else as a
  // child Node. Any other app command runs through the shell.
  const direct = directTsApp(app, dir);
  let code: number;
  if (direct && options.inProcess && canRunInThread(dir)) {
    let ended = false;
    const running = runAppInThread(direct.entry, dir, outdir, out).finally(() => (ended = true));
    const meanwhile = options.whileAppRuns?.(previous);
    // This thread has time while the app runs: the check of the plans it writes gets ready,
    // once the work begun meanwhile (an engine's answers to take in) is done, if the app still
    // runs — on the plan files there are then, the last synth's or already the new ones.
    void Promise.resolve(meanwhile)
      .catch(() => undefined)
      .then(() => setImmediate(() => ended || warmUpValidator(planSamples(outdir, manifest))));
    code = await running;
  } else {
    code = await runChild(app, direct, dir, outdir, out, () => options.whileAppRuns?.(previous));
  }
  if (code !== 0) {
    throw new AppFailedError(`the app command \`${app}\` failed with exit code ${code} (its output is above)`);
  }
  if (!fs.existsSync(path.join(outdir, MANIFEST_FILE))) {
    throw new AppFailedError(`the app command \`${app}\` wrote no plans to ${outdir}: does it call app.synth() at the end?`);
  }
  const plans = readAssembly(outdir, options.stacks ?? []);
  const files: Record<string, string[]> = {};
  for (const plan of plans) {
    const list = [path.relative(dir, path.join(outdir, planFileName(plan.stack, 'json')))];
    if (options.format === 'yaml') {
      const yamlFile = path.join(outdir, planFileName(plan.stack, 'yaml'));
      fs.writeFileSync(yamlFile, renderPlan(plan, 'yaml'));
      list.push(path.relative(dir, yamlFile));
    }
    files[plan.stack] = list;
  }
  return { outdir, plans, files };
}

/** Runs the app as a child process (directly on this Node when `direct`, else through the shell); resolves to its exit code. */
function runChild(app: string, direct: DirectTsApp | undefined, dir: string, outdir: string, out: NodeJS.WritableStream, started: () => void): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const child = spawn(direct?.command ?? app, direct?.args ?? [], {
      cwd: dir,
      shell: !direct,
      env: { ...process.env, CDK_DOCKER_OUTDIR: outdir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d) => out.write(d));
    child.stderr.on('data', (d) => out.write(d));
    child.on('error', reject);
    child.on('close', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
    started();
  });
}
