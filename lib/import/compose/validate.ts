import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
// The Compose Specification's own schema, vendored unchanged from compose-spec/compose-spec
// (schema/compose-spec.json, Apache-2.0; see lib/import/compose/README.md for the commit).
import composeSpec from './compose-spec.json';

let validator: ValidateFunction | undefined;

function compile(): ValidateFunction {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, strict: false, validateSchema: false, verbose: true });
    validator = ajv.compile(composeSpec as object);
  }
  return validator;
}

/**
 * Checks one interpolated compose file against the Compose Specification. Returns undefined when
 * it conforms, else one line in Compose's manner: where (service and key) and what was expected.
 */
export function composeSchemaProblem(doc: unknown): string | undefined {
  const validate = compile();
  if (validate(doc)) return undefined;
  return describe(validate.errors ?? []);
}

/** The most telling error: the deepest one, with the types a `oneOf` would have taken merged. */
function describe(errors: ErrorObject[]): string {
  const depth = (e: ErrorObject) => (e.keyword === 'additionalProperties' ? e.instancePath.split('/').length + 1 : e.instancePath.split('/').length);
  const relevant = errors.filter((e) => !['oneOf', 'anyOf', 'if', 'not', 'allOf'].includes(e.keyword));
  const pool = relevant.length > 0 ? relevant : errors;
  const max = Math.max(...pool.map(depth));
  const deepest = pool.filter((e) => depth(e) === max);
  const first = deepest.find((e) => e.keyword === 'additionalProperties') ?? deepest.find((e) => e.keyword === 'enum') ?? deepest[0];
  const where = located(first.instancePath);
  switch (first.keyword) {
    case 'additionalProperties': {
      const key = (first.params as { additionalProperty: string }).additionalProperty;
      const inside = located(`${first.instancePath}/${key}`);
      return `${inside.prefix}${inside.key ? `key "${inside.key}"` : `"${key}"`} is not allowed here${suggest(key, first)}`;
    }
    case 'type': {
      const types = new Set<string>();
      for (const e of deepest) if (e.keyword === 'type' && e.instancePath === first.instancePath) for (const t of String((e.params as { type: string | string[] }).type).split(',')) types.add(t);
      return `${where.prefix}${where.key ? `"${where.key}" ` : ''}must be ${[...types].map(article).join(' or ')}`;
    }
    case 'enum':
      return `${where.prefix}${where.key ? `"${where.key}" ` : ''}must be one of ${((first.params as { allowedValues: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'required':
      return `${where.prefix}${where.key ? `"${where.key}" ` : ''}needs "${(first.params as { missingProperty: string }).missingProperty}"`;
    case 'pattern':
      return `${where.prefix}${where.key ? `"${where.key}" ` : ''}does not match the pattern ${(first.params as { pattern: string }).pattern}`;
    case 'uniqueItems':
      return `${where.prefix}${where.key ? `"${where.key}" ` : ''}has duplicate items`;
    default:
      return `${where.prefix}${where.key ? `"${where.key}" ` : ''}${first.message ?? 'is invalid'}`;
  }
}

/** `service "web": ` and the key path inside it, or the top-level path. */
function located(pointer: string): { prefix: string; key: string } {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (parts[0] === 'services' && parts.length >= 2) return { prefix: `service "${parts[1]}": `, key: parts.slice(2).join('.') };
  if (['networks', 'volumes', 'secrets', 'configs'].includes(parts[0]) && parts.length >= 2) {
    return { prefix: `${parts[0].replace(/s$/, '')} "${parts[1]}": `, key: parts.slice(2).join('.') };
  }
  return { prefix: '', key: parts.join('.') };
}

function article(t: string): string {
  if (t === 'array' || t === 'object' || t === 'integer') return `an ${t === 'object' ? 'mapping' : t}`.replace('an mapping', 'a mapping');
  if (t === 'null') return 'null';
  return `a ${t}`;
}

/** ` (did you mean "image"?)` for a key one or two edits from an allowed one. */
function suggest(key: string, e: ErrorObject): string {
  const schema = e.parentSchema as { properties?: Record<string, unknown> } | undefined;
  const known = Object.keys(schema?.properties ?? {});
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const d = distance(key, k);
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  return best ? ` (did you mean "${best}"?)` : '';
}

function distance(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) dp[i][j] = Math.min(dp[i - 1][j] + 1, dp[i][j - 1] + 1, dp[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return dp[a.length][b.length];
}
