/**
 * Variable interpolation as the Compose Specification defines it (12-interpolation.md):
 * `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
 * `${VAR:+replacement}`, `${VAR+replacement}`, nesting inside the default or message, and `$$`
 * for a literal `$`. Applied to values only, never to keys, before files are merged.
 */

/** Variables as Compose sees them: the process environment over the `.env` file. */
export type Variables = { readonly [name: string]: string | undefined };

/** A `${VAR:?message}` whose variable is missing, or text that is not valid interpolation. */
export class InterpolationError extends Error {}

const NAME = /^[_A-Za-z][_A-Za-z0-9]*/;

/** Text quoted in a message, its line breaks escaped: a message is one line. */
function oneLine(text: string): string {
  return text.replace(/[\r\n\u2028\u2029]/g, (c) => ({ '\r': '\\r', '\n': '\\n', '\u2028': '\\u2028', '\u2029': '\\u2029' })[c]!);
}

/**
 * Interpolates one string. `missing` is told of every variable that was unset with no default
 * (Compose warns and substitutes the empty string).
 */
export function interpolate(text: string, vars: Variables, missing: (name: string) => void = () => undefined): string {
  const [out, end] = scan(text, 0, vars, missing, false);
  if (end !== text.length) throw new InterpolationError(`invalid interpolation format in "${oneLine(text)}"`);
  return out;
}

/** Scans from `i` until the end (or, inside a braced expression, the closing `}`). */
function scan(text: string, i: number, vars: Variables, missing: (name: string) => void, nested: boolean): [string, number] {
  let out = '';
  while (i < text.length) {
    const c = text[i];
    if (nested && c === '}') return [out, i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      const [value, end] = braced(text, i + 2, vars, missing);
      out += value;
      i = end;
      continue;
    }
    const m = NAME.exec(text.slice(i + 1));
    if (m) {
      out += lookup(m[0], vars, missing);
      i += 1 + m[0].length;
      continue;
    }
    // A "$" not followed by a name or "{" is kept as it is.
    out += c;
    i++;
  }
  if (nested) throw new InterpolationError(`invalid interpolation format in "${oneLine(text)}": a "\${" is not closed by "}"`);
  return [out, i];
}

/** `${…}` starting after the brace; returns the value and the index after the closing brace. */
function braced(text: string, i: number, vars: Variables, missing: (name: string) => void): [string, number] {
  const m = NAME.exec(text.slice(i));
  if (!m) throw new InterpolationError(`invalid interpolation format in "${oneLine(text)}": "\${" must be followed by a variable name`);
  const name = m[0];
  let j = i + name.length;
  if (text[j] === '}') return [lookup(name, vars, missing), j + 1];
  if (j >= text.length) throw new InterpolationError(`invalid interpolation format in "${oneLine(text)}": a "\${" is not closed by "}"`);
  let op: string;
  if (text.startsWith(':-', j) || text.startsWith(':?', j) || text.startsWith(':+', j)) op = text.slice(j, j + 2);
  else if (text[j] === '-' || text[j] === '?' || text[j] === '+') op = text[j];
  else throw new InterpolationError(`invalid interpolation format in "${oneLine(text)}": unexpected "${oneLine(text[j] ?? 'end of text')}" after \${${name}`);
  j += op.length;
  const value = vars[name];
  const set = value !== undefined;
  const nonEmpty = set && value !== '';
  // The word after the operator is interpolated only when it is used (as a shell does).
  const [word, end] = scan(text, j, vars, missing, true);
  const after = end + 1;
  switch (op) {
    case ':-':
      return [nonEmpty ? value! : word, after];
    case '-':
      return [set ? value! : word, after];
    case ':+':
      return [nonEmpty ? word : '', after];
    case '+':
      return [set ? word : '', after];
    case ':?':
      if (!nonEmpty) throw new InterpolationError(`required variable ${name} is missing a value: ${oneLine(word)}`);
      return [value!, after];
    default:
      if (!set) throw new InterpolationError(`required variable ${name} is missing a value: ${oneLine(word)}`);
      return [value!, after];
  }
}

function lookup(name: string, vars: Variables, missing: (name: string) => void): string {
  const v = vars[name];
  if (v === undefined) {
    missing(name);
    return '';
  }
  return v;
}

/** Interpolates every string value of a parsed YAML tree (keys stay as they are). */
export function interpolateTree(node: unknown, vars: Variables, where: (path: string[], message: string) => never, missing: (name: string) => void, path: string[] = []): unknown {
  if (typeof node === 'string') {
    try {
      return interpolate(node, vars, missing);
    } catch (e) {
      if (e instanceof InterpolationError) return where(path, e.message);
      throw e;
    }
  }
  if (Array.isArray(node)) return node.map((v, i) => interpolateTree(v, vars, where, missing, [...path, String(i)]));
  if (node !== null && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      // Assigned, `__proto__` would set the prototype and the entry would be lost.
      if (k === '__proto__') return where([...path, k], 'the key __proto__ cannot be used (it would be lost); rename it');
      out[k] = interpolateTree(v, vars, where, missing, [...path, k]);
    }
    return out;
  }
  return node;
}

/**
 * Parses a `.env` file as Compose does: `KEY=VALUE` lines, `#` comments, an optional `export `,
 * values in single quotes taken literally, in double quotes with `\n`-style escapes, unquoted
 * values trimmed with a trailing ` #comment` removed. Unquoted and double-quoted values are
 * interpolated with the variables defined so far.
 */
export function parseDotEnv(text: string, vars: Variables, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  // The variables a value sees: `vars` with the lines so far over them, kept up to date (one copy
  // per line made an 8 MiB file take hours).
  const scope: Record<string, string | undefined> = { ...vars };
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n].trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('export ')) line = line.slice(7).trim();
    const eq = line.indexOf('=');
    const key = (eq < 0 ? line : line.slice(0, eq)).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key) || key === '__proto__') throw new InterpolationError(`${file}:${n + 1}: "${key}" is not a variable name`);
    if (eq < 0) {
      // A bare name takes its value from the environment, if it is set there.
      if (vars[key] !== undefined) out[key] = scope[key] = vars[key]!;
      continue;
    }
    let value = line.slice(eq + 1).trim();
    if (value.startsWith("'")) {
      const close = value.indexOf("'", 1);
      if (close < 0) throw new InterpolationError(`${file}:${n + 1}: the single quote of ${key} is not closed`);
      value = value.slice(1, close);
    } else if (value.startsWith('"')) {
      // A double-quoted value may span lines.
      let body = value.slice(1);
      while (!/(^|[^\\])(\\\\)*"/.test(body) && n + 1 < lines.length) body += `\n${lines[++n]}`;
      const m = /^((?:[^"\\]|\\.)*)"/s.exec(body);
      if (!m) throw new InterpolationError(`${file}:${n + 1}: the double quote of ${key} is not closed`);
      value = interpolate(m[1].replace(/\\([nrt"\\$])/g, (_, ch: string) => ({ n: '\n', r: '\r', t: '\t' })[ch] ?? ch), scope);
    } else {
      value = interpolate(value.replace(/\s+#.*$/, ''), scope);
    }
    out[key] = scope[key] = value;
  }
  return out;
}
