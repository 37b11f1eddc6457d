import Ajv2020, { ErrorObject, ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PlanValidationError } from '../util/errors';
import { packageRoot } from '../util/package-info';
import type { Plan } from './types';

let compiled: ValidateFunction | undefined;

/** The plan JSON Schema (schema/plan.schema.json). */
export function planSchema(): object {
  return JSON.parse(fs.readFileSync(path.join(packageRoot(), 'schema', 'plan.schema.json'), 'utf8'));
}

function validator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv2020({ allErrors: true, strict: true, strictTuples: false, discriminator: true });
    addFormats(ajv);
    compiled = ajv.compile(planSchema());
  }
  return compiled;
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
  return data as Plan;
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
