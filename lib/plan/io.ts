import * as fs from 'node:fs';
import * as path from 'node:path';
import { canonicalize, canonicalJson } from '../core/canonical';
import { InvalidArgumentError, NotFoundError, PlanValidationError } from '../core/errors';
import type { Plan } from './types';
import { validatePlan } from './validate';

/** The yaml module, loaded when a YAML plan is written or read (most commands use JSON only). */
const yaml = (): typeof import('yaml') => require('yaml') as typeof import('yaml');

export type PlanFormat = 'json' | 'yaml';

/** The manifest `synth` writes next to the plans: which stacks exist and where their plans are. */
export interface Manifest {
  readonly version: 1;
  readonly stacks: { readonly [stackName: string]: { readonly plan: string; readonly resources: number } };
}

export const MANIFEST_FILE = 'manifest.json';

/** `<stack>.plan.json` (or `.yaml`). */
export function planFileName(stack: string, format: PlanFormat = 'json'): string {
  return `${stack}.plan.${format}`;
}

/** The canonical bytes of a plan: sorted keys, 2-space indent, trailing newline. */
export function renderPlan(plan: Plan, format: PlanFormat = 'json'): string {
  if (format === 'yaml') {
    return yaml().stringify(canonicalize(plan), { sortMapEntries: true, lineWidth: 0 });
  }
  return `${canonicalJson(plan, 2)}\n`;
}

/** Writes a file atomically (temp file + rename) so readers never see half of it. */
export function writeFileAtomic(file: string, data: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/**
 * Validates and writes the plans of one synth into `outdir`, replacing plans left from an
 * earlier synth, and the manifest. Validation happens before anything is written; with
 * `validate: false` it is left to the reader (the cdk-docker CLI validates every plan it reads).
 */
export function writeAssembly(outdir: string, plans: Plan[], formats: PlanFormat[] = ['json'], options: { readonly validate?: boolean } = {}): Manifest {
  const rendered = plans.map((plan) => canonicalize(plan));
  if (options.validate !== false) for (const plan of rendered) validatePlan(plan, `plan of stack ${plan.stack}`);
  fs.mkdirSync(outdir, { recursive: true });
  for (const f of fs.readdirSync(outdir)) {
    if (/\.plan\.(json|yaml)$/.test(f)) fs.rmSync(path.join(outdir, f), { force: true });
  }
  const stacks: Record<string, { plan: string; resources: number }> = {};
  for (const plan of rendered) {
    for (const format of formats) {
      const text = format === 'json' ? `${JSON.stringify(plan, undefined, 2)}\n` : renderPlan(plan, format);
      writeFileAtomic(path.join(outdir, planFileName(plan.stack, format)), text);
    }
    stacks[plan.stack] = { plan: planFileName(plan.stack, 'json'), resources: Object.keys(plan.resources).length };
  }
  const manifest: Manifest = { version: 1, stacks };
  writeFileAtomic(path.join(outdir, MANIFEST_FILE), `${canonicalJson(manifest, 2)}\n`);
  return manifest;
}

/** Reads and validates a plan file (JSON or YAML by extension). */
export function readPlan(file: string): Plan {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`plan file ${file} does not exist; run \`cdk-docker synth\` first`);
    throw e;
  }
  let data: unknown;
  try {
    data = /\.ya?ml$/.test(file) ? yaml().parse(text) : JSON.parse(text);
  } catch (e) {
    throw new PlanValidationError(file, [`(file): not valid ${/\.ya?ml$/.test(file) ? 'YAML' : 'JSON'}: ${(e as Error).message}`]);
  }
  return validatePlan(data, file);
}

/** Reads `outdir/manifest.json`. */
export function readManifest(outdir: string): Manifest {
  const file = path.join(outdir, MANIFEST_FILE);
  let data: Manifest;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`${file} does not exist; run \`cdk-docker synth\` first`);
    throw new InvalidArgumentError(`${file} is not valid JSON: ${(e as Error).message}; run \`cdk-docker synth\` again`);
  }
  if (data?.version !== 1 || typeof data.stacks !== 'object' || data.stacks === null) {
    throw new InvalidArgumentError(`${file} is not a cdk-docker manifest (version 1); run \`cdk-docker synth\` again`);
  }
  return data;
}

/** Reads the plans of `stacks` (all when empty) from a synthesized `outdir`. */
export function readAssembly(outdir: string, stacks: string[] = []): Plan[] {
  const manifest = readManifest(outdir);
  const names = Object.keys(manifest.stacks).sort();
  for (const s of stacks) {
    if (!names.includes(s)) {
      throw new NotFoundError(`no stack named "${s}" in ${outdir}; stacks: ${names.join(', ') || '(none)'}`);
    }
  }
  return (stacks.length ? stacks : names).map((s) => readPlan(path.join(outdir, manifest.stacks[s].plan)));
}
