import type { Driver } from '../drivers/types';
import type { StackDrift } from '../reconcile/drift';
import { Lazy, resolveLazy } from './engine';
import { observePlan } from './observe';
import { lastPlans, planDir } from './plans';

/**
 * `drift`: what the engine runs against the last synthesized plan (cdk.out). The app is not run:
 * drift answers "is the machine still what I applied?", not "what would apply change now?".
 */

export interface DriftOptions {
  /** Stacks to check (all in the plans directory when empty or absent). */
  readonly stacks?: string[];
  /** Project directory (where cdk-docker.json is). @default process.cwd() */
  readonly dir?: string;
  /** Plans directory (default: as synth resolves it). */
  readonly output?: string;
  /** The engine's driver. */
  readonly driver: Lazy<Driver>;
}

/** The drift of each stack of the last synth. */
export async function detectDrift(options: DriftOptions): Promise<StackDrift[]> {
  const plans = lastPlans(await planDir(options.output, options.dir), options.stacks ?? []);
  const [{ driftStack }, driver] = await Promise.all([import('../reconcile/drift'), resolveLazy(options.driver)]);
  const out: StackDrift[] = [];
  for (const plan of plans) {
    const { observed, images } = await observePlan(plan, driver);
    out.push(driftStack(plan, observed, images, driver.capabilities));
  }
  return out;
}

export interface DriftReportOptions extends DriftOptions {
  /** Where the findings go. @default process.stdout */
  readonly out?: NodeJS.WritableStream;
  /** Print the findings as JSON. */
  readonly json?: boolean;
  readonly color?: boolean;
}

/** Detects drift and prints it; `drifted` is true when any stack drifted (exit code 2 in CI). */
export async function drift(options: DriftReportOptions): Promise<{ drifts: StackDrift[]; drifted: boolean }> {
  const out = options.out ?? process.stdout;
  const drifts = await detectDrift(options);
  const { renderDrift, driftToJson, hasDrift } = await import('../reconcile/drift');
  if (options.json) out.write(`${JSON.stringify(drifts.map(driftToJson), undefined, 2)}\n`);
  else for (const d of drifts) out.write(`${drifts.length > 1 ? `Stack ${d.stack}\n` : ''}${renderDrift(d, { color: options.color ?? false })}`);
  return { drifts, drifted: drifts.some(hasDrift) };
}
