import * as fs from 'node:fs';
import * as path from 'node:path';
import { MANIFEST_FILE, readAssembly } from '../plan/io';
import type { Plan } from '../plan/types';
import { NotFoundError } from '../core/errors';
import { loadConfig } from './config';

/**
 * The plans of the last synth, for the commands that read them without running the app
 * (`drift`, `ps`).
 */

/** The plans directory: -o DIR, else cdk-docker.json's "output", else cdk.out (as synth resolves it). */
export async function planDir(output: string | undefined, dir = process.cwd()): Promise<string> {
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
