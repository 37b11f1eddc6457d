import type Ajv2020 from 'ajv/dist/2020';
import type { ErrorObject, Options, ValidateFunction } from 'ajv/dist/2020';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PlanValidationError } from '../core/errors';
import { packageRoot } from '../core/package-info';
import type { Plan } from './types';

/**
 * The build writes the validator as code next to this file (`plan-validator.js`, by
 * precompile.ts), so that commands do not compile the schema each time: ajv's compile is
 * ~100 ms of every `synth`, `diff` and `apply`, in the app and in the CLI. Run from the sources,
 * or with a schema newer than the file, the schema is compiled as before.
 */
export const PRECOMPILED_FILE = 'plan-validator.js';

let compiled: ValidateFunction | undefined;

/** The plan JSON Schema's text (schema/plan.schema.json). */
function schemaText(): string {
  return fs.readFileSync(path.join(packageRoot(), 'schema', 'plan.schema.json'), 'utf8');
}

/** The plan JSON Schema (schema/plan.schema.json). */
export function planSchema(): object {
  return JSON.parse(schemaText());
}

/** sha256 of the schema's text: a precompiled validator is used only for the schema it was made from. */
export function planSchemaHash(): string {
  return createHash('sha256').update(schemaText()).digest('hex');
}

/** The one ajv set-up of the plan schema, for compiling here and for the precompiled code. */
export function planAjv(options: Options = {}): Ajv2020 {
  // Loaded here only: with the precompiled validator, commands never load ajv (~40 ms).
  const Ajv = (require('ajv/dist/2020') as typeof import('ajv/dist/2020')).default;
  const addFormats = (require('ajv-formats') as typeof import('ajv-formats')).default;
  const ajv = new Ajv({ allErrors: true, strict: true, strictTuples: false, discriminator: true, ...options });
  addFormats(ajv);
  return ajv;
}

function precompiled(): ValidateFunction | undefined {
  const file = path.join(__dirname, PRECOMPILED_FILE);
  if (!fs.existsSync(file)) return undefined;
  const v = require(file) as ValidateFunction & { schemaHash?: string };
  return v.schemaHash === planSchemaHash() ? v : undefined;
}

function validator(): ValidateFunction {
  compiled ??= precompiled() ?? planAjv().compile(planSchema());
  return compiled;
}

/**
 * Loads the validator and runs it over `samples` (plans of an earlier synth, say), keeping no
 * result and throwing nothing: V8 compiles the validator's functions on their first run, so a
 * later check of plans alike is ~20 ms faster. For a caller with time on its hands.
 */
export function warmUpValidator(samples: readonly unknown[]): void {
  try {
    const validate = validator();
    for (const sample of samples) validate(sample);
  } catch {
    // a warm-up only
  }
}

/**
 * Checks `data` against the plan schema and returns it typed, or throws PlanValidationError
 * listing each problem as `<path in the plan>: <what was expected>`. `source` names the file.
 */
export function validatePlan(data: unknown, source: string): Plan {
  const validate = validator();
  if (!validate(data)) {
    throw new PlanValidationError(source, describeErrors(validate.errors ?? []));
  }
  const problems = referenceProblems(data as Plan);
  if (problems.length) throw new PlanValidationError(source, problems);
  return data as Plan;
}

/**
 * What the schema cannot say: every logical id a resource names (`dependsOn`, a container's
 * `image`, `spec.dependsOn` and `spec.networkMode.container`) is a resource of the plan, of the right type, listed in the
 * resource's own `dependsOn`, and the dependencies have no cycle. Synth never writes such a plan;
 * a hand-edited one could make apply wait forever or act on a resource nobody declared.
 */
const A_TYPE: { readonly [type: string]: string } = { image: 'an image', container: 'a container', network: 'a network', volume: 'a volume' };

export function referenceProblems(plan: Plan): string[] {
  const problems: string[] = [];
  const resources = plan.resources;
  const has = (id: string) => Object.prototype.hasOwnProperty.call(resources, id);
  for (const [id, r] of Object.entries(resources)) {
    for (const d of r.dependsOn) {
      if (d === id) problems.push(`resources.${id}.dependsOn: depends on itself`);
      else if (!has(d)) problems.push(`resources.${id}.dependsOn: "${d}" is not a resource of the plan`);
    }
    if (r.type !== 'container') continue;
    const needs = (field: string, target: string, type: string) => {
      if (!has(target)) problems.push(`resources.${id}.spec.${field}: "${target}" is not a resource of the plan`);
      else if (resources[target].type !== type) problems.push(`resources.${id}.spec.${field}: "${target}" is ${A_TYPE[resources[target].type]}, not ${A_TYPE[type]}`);
      else if (!r.dependsOn.includes(target)) problems.push(`resources.${id}.spec.${field}: "${target}" is missing from resources.${id}.dependsOn`);
    };
    needs('image', r.spec.image, 'image');
    r.spec.dependsOn.forEach((d, i) => needs(`dependsOn.${i}.container`, d.container, 'container'));
    const mode = r.spec.networkMode;
    if (typeof mode === 'object' && mode.container !== undefined) {
      if (mode.container === id) problems.push(`resources.${id}.spec.networkMode.container: shares its own network`);
      else needs('networkMode.container', mode.container, 'container');
    }
  }
  if (problems.length) return problems;
  // Cycles: depth-first, reporting the first loop found.
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, trail: string[]): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'visiting') return [...trail.slice(trail.indexOf(id)), id];
    state.set(id, 'visiting');
    for (const d of resources[id].dependsOn) {
      const loop = visit(d, [...trail, id]);
      if (loop) return loop;
    }
    state.set(id, 'done');
    return undefined;
  };
  for (const id of Object.keys(resources).sort()) {
    const loop = visit(id, []);
    if (loop) return [`resources: dependsOn cycle ${loop.join(' → ')}; remove one of these dependencies`];
  }
  return [];
}

/** Turns ajv errors into readable lines, one per problem, without oneOf noise. */
export function describeErrors(errors: ErrorObject[]): string[] {
  const lines = new Set<string>();
  // What a bad property name broke (reported by ajv as a separate error) joins the
  // propertyNames line about that name.
  const nameProblems = new Map<string, string>();
  for (const e of errors) {
    if (e.propertyName !== undefined && e.keyword !== 'propertyNames') nameProblems.set(`${e.instancePath}\0${e.propertyName}`, explain(e));
  }
  for (const e of errors) {
    if (e.keyword === 'oneOf' || e.keyword === 'if' || e.keyword === 'anyOf') continue;
    if (e.propertyName !== undefined && e.keyword !== 'propertyNames') continue;
    if (e.keyword === 'discriminator' && reportedElsewhere(e, errors)) continue;
    const where = e.instancePath === '' ? '(plan root)' : e.instancePath.slice(1).split('/').map(unescape).join('.');
    let line = `${where}: ${explain(e)}`;
    if (e.keyword === 'propertyNames') {
      const why = nameProblems.get(`${e.instancePath}\0${(e.params as { propertyName: string }).propertyName}`);
      if (why) line += ` (${why})`;
    }
    lines.add(line);
  }
  return [...lines];
}

/** A discriminator error is noise when the tag itself is reported (a wrong enum value, missing). */
function reportedElsewhere(e: ErrorObject, errors: ErrorObject[]): boolean {
  const tag = (e.params as { tag: string }).tag;
  return errors.some(
    (o) => o !== e && (o.instancePath === `${e.instancePath}/${tag}` || (o.keyword === 'required' && o.instancePath === e.instancePath && (o.params as { missingProperty: string }).missingProperty === tag)),
  );
}

function unescape(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

function explain(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `unknown property "${p.additionalProperty}" (not allowed here; check the spelling)`;
    case 'required':
      return `missing required property "${p.missingProperty}"`;
    case 'enum':
      return `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)}`;
    case 'type':
      return `must be of type ${p.type}`;
    case 'pattern':
      return `must match ${p.pattern}`;
    case 'propertyNames':
      return `invalid property name "${p.propertyName}"`;
    case 'discriminator':
      return p.error === 'mapping'
        ? `"${p.tag}" has an unknown value (${e.message})`
        : `"${p.tag}" must be a string naming the kind`;
    default:
      return e.message ?? e.keyword;
  }
}
