/**
 * A tiny printer of TypeScript values for generated code: literals, object and array literals
 * (one entry a line when they do not fit in one), with `Code` for expressions and comments
 * carried before a property. The result is then formatted by ts-morph.
 */

/** An expression written as it is (a variable, a call). */
export class Code {
  constructor(public readonly text: string) {}
}

/** A property with comment lines before it. */
export class Commented {
  constructor(public readonly value: unknown, public readonly comments: string[]) {}
}

export function code(text: string): Code {
  return new Code(text);
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export function quote(s: string): string {
  // A lone surrogate has no UTF-8 form: written raw it would become U+FFFD in main.ts, so escaped.
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t').replace(/[\u0000-\u001f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}'`;
}

export function propertyKey(k: string): string {
  // `__proto__: v` (quoted or not) in an object literal sets the prototype; a computed key is a property.
  if (k === '__proto__') return `[${quote(k)}]`;
  return IDENT.test(k) ? k : quote(k);
}

/**
 * Text safe inside a `//` comment: a line break of any kind (also U+2028/U+2029, which end a
 * line in JavaScript) would let text from the compose file out of the comment, into the code.
 */
export function commentText(s: string): string {
  return s.replace(/[\r\n\u2028\u2029]/g, ' ');
}

/** Prints `value` at indentation `indent` (in levels of two spaces). */
export function print(value: unknown, indent = 0, width = 100): string {
  if (value instanceof Code) return value.text;
  if (value instanceof Commented) return print(value.value, indent, width);
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return 'undefined';
  const pad = '  '.repeat(indent + 1);
  const end = '  '.repeat(indent);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.map((v) => print(v, indent + 1, width));
    const oneLine = `[${items.join(', ')}]`;
    if (!items.some((i) => i.includes('\n')) && oneLine.length + indent * 2 <= width) return oneLine;
    return `[\n${items.map((i) => `${pad}${i},`).join('\n')}\n${end}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return '{}';
  const hasComments = entries.some(([, v]) => v instanceof Commented && v.comments.length > 0);
  const items = entries.map(([k, v]) => `${propertyKey(k)}: ${print(v, indent + 1, width)}`);
  const oneLine = `{ ${items.join(', ')} }`;
  if (!hasComments && !items.some((i) => i.includes('\n')) && oneLine.length + indent * 2 <= width) return oneLine;
  const lines = entries.map(([, v], i) => {
    const comments = v instanceof Commented ? v.comments.flatMap((c) => c.split('\n')).map((c) => `${pad}// ${commentText(c)}`.trimEnd()) : [];
    return [...comments, `${pad}${items[i]},`].join('\n');
  });
  return `{\n${lines.join('\n')}\n${end}}`;
}

/** A camelCase identifier from a compose name (`my-db_1` → `myDb1`). */
export function identifier(name: string): string {
  const parts = name.split(/[^A-Za-z0-9]+/).filter(Boolean);
  let id = parts.map((p, i) => (i === 0 ? p.charAt(0).toLowerCase() + p.slice(1) : p.charAt(0).toUpperCase() + p.slice(1))).join('');
  if (id === '' || /^[0-9]/.test(id)) id = `_${id}`;
  return id;
}

/** A PascalCase class name from a project name. */
export function className(name: string): string {
  const id = identifier(name);
  return id.charAt(0).toUpperCase() + id.slice(1);
}

export const RESERVED = new Set(
  ('break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface package private protected public await ' +
    'App Stack Container Image Network Volume Secret Config Restart Testing process require module exports undefined NaN Infinity ' +
    // Not bindable in strict code (a class body), and the generated constructor's own parameters.
    'arguments eval scope id')
    .split(' '),
);
