import { Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Driver } from '../drivers/types';
import { MANIFEST_FILE, readAssembly } from '../plan/io';
import type { Plan } from '../plan/types';
import type { ObservedImages } from '../reconcile/diff';
import type { StackDrift } from '../reconcile/drift';
import { NotFoundError } from '../core/errors';
import { commandDriver } from './engine';

/**
 * `drift`: what the engine runs against the last synthesized plan (cdk.out). The app is not run:
 * drift answers "is the machine still what I applied?", not "what would apply change now?".
 */

/** The plans directory: -o DIR, else cdk-docker.json's "output", else cdk.out (as synth resolves it). */
export async function planDir(output: string | undefined, dir = process.cwd()): Promise<string> {
  const { loadConfig } = await import('../toolkit/config');
  return path.resolve(dir, output ?? loadConfig(dir).output ?? 'cdk.out');
}

/** True when a synth left plans in `outdir`. */
export function hasPlans(outdir: string): boolean {
  return fs.existsSync(path.join(outdir, MANIFEST_FILE));
}

/** The last synthesized plans of `stacks` (all when empty); a clear error when there are none. */
export function lastPlans(outdir: string, stacks: string[]): Plan[] {
  if (!hasPlans(outdir)) {
    throw new NotFoundError(`no synthesized plan in ${outdir} (no ${MANIFEST_FILE}): run \`cdk-docker synth\` or \`cdk-docker apply\` first, or point -o/--output at the plans directory`);
  }
  return readAssembly(outdir, stacks);
}

export interface DriftOptions {
  readonly stacks: string[];
  /** Plans directory (default: as synth resolves it). */
  readonly output?: string;
  readonly driver?: Driver;
}

/** The drift of each stack of the last synth. */
export async function detectDrift(options: DriftOptions): Promise<StackDrift[]> {
  const plans = lastPlans(await planDir(options.output), options.stacks);
  const { driftStack } = await import('../reconcile/drift');
  const driver = options.driver ?? (await commandDriver());
  const out: StackDrift[] = [];
  for (const plan of plans) {
    const observed = await driver.observe(plan.stack);
    const images: { [id: string]: Awaited<ReturnType<Driver['image']>> } = {};
    for (const [id, r] of Object.entries(plan.resources)) if (r.type === 'image') images[id] = await driver.image(r.name);
    out.push(driftStack(plan, observed, images as ObservedImages));
  }
  return out;
}

export function registerDrift(program: Command): void {
  program
    .command('drift')
    .description('compare what the engine runs with the last synthesized plan: missing, stopped, changed, orphan, image moved (exit 0 none, 2 drift)')
    .argument('[stacks...]', 'stacks to check (default: all in the plans directory)')
    .option('-o, --output <dir>', 'directory of the plans (default: "output" in cdk-docker.json, else cdk.out)')
    .option('--json', 'print the findings as JSON')
    .action(async (stacks: string[], flags: { output?: string; json?: boolean }) => {
      const { renderDrift, driftToJson, hasDrift } = await import('../reconcile/drift');
      const drifts = await detectDrift({ stacks, output: flags.output });
      const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
      if (flags.json) process.stdout.write(`${JSON.stringify(drifts.map(driftToJson), undefined, 2)}\n`);
      else for (const d of drifts) process.stdout.write(`${drifts.length > 1 ? `Stack ${d.stack}\n` : ''}${renderDrift(d, { color })}`);
      if (drifts.some(hasDrift)) process.exitCode = 2;
    });
}
