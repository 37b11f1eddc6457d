/**
 * Docker's word processing of Dockerfile arguments (the `shell.Lex` of the builder): quote
 * removal, the escape character, and variable substitution — `$VAR`, `${VAR}`, `${VAR:-word}`,
 * `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`, `${VAR:?msg}`, `${VAR?msg}`.
 *
 * Rules, as Docker's:
 * - Outside quotes the escape character makes the next character literal (and is dropped).
 * - Single quotes are literal: no substitution, no escapes.
 * - Inside double quotes substitution happens; the escape character escapes only `"`, `$` and
 *   itself, any other pair is kept as written.
 * - An unset variable expands to nothing. `$` followed by something that is not a name stays `$`.
 * - `processWords` splits on unquoted whitespace, including whitespace that an unquoted
 *   substitution produced.
 */

/** Variable values: a lookup that returns undefined for unset variables. */
export type Vars = (name: string) => string | undefined;

/** A variable substitution that cannot be done (`${VAR:?message}` of an unset variable, a bad `${`). */
export class SubstitutionError extends Error {}

/** Looks variables up in `KEY=VALUE` lists, the later ones winning. */
export function varsOf(...lists: ReadonlyArray<readonly string[]>): Vars {
  const map = new Map<string, string>();
  for (const list of lists) {
    for (const kv of list) {
      const i = kv.indexOf('=');
      if (i > 0) map.set(kv.slice(0, i), kv.slice(i + 1));
    }
  }
  return (name) => map.get(name);
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

class Lexer {
  private i = 0;
  /** Words so far; `current === undefined` means no word has started (for word splitting). */
  private readonly words: string[] = [];
  private current: string | undefined;

  constructor(private readonly s: string, private readonly vars: Vars, private readonly escape: string, private readonly split: boolean) {}

  private add(text: string, quoted: boolean): void {
    if (!this.split || quoted) {
      this.current = (this.current ?? '') + text;
      return;
    }
    for (const ch of text) {
      if (/\s/.test(ch)) {
        if (this.current !== undefined) this.words.push(this.current);
        this.current = undefined;
      } else {
        this.current = (this.current ?? '') + ch;
      }
    }
  }

  /** Marks that a word exists even if empty (`""`). */
  private touch(): void {
    this.current ??= '';
  }

  public run(): string[] {
    const s = this.s;
    while (this.i < s.length) {
      const ch = s[this.i];
      if (ch === this.escape) {
        this.i++;
        if (this.i < s.length) this.add(s[this.i++], true);
        continue;
      }
      if (ch === '\'') {
        this.touch();
        const end = s.indexOf('\'', this.i + 1);
        if (end < 0) throw new SubstitutionError(`unexpected end of statement while looking for matching single-quote in ${s}`);
        this.add(s.slice(this.i + 1, end), true);
        this.i = end + 1;
        continue;
      }
      if (ch === '"') {
        this.touch();
        this.i++;
        this.doubleQuoted();
        continue;
      }
      if (ch === '$') {
        this.add(this.dollar(), false);
        continue;
      }
      this.add(ch, false);
      this.i++;
    }
    if (this.current !== undefined) this.words.push(this.current);
    return this.words;
  }

  private doubleQuoted(): void {
    const s = this.s;
    let text = '';
    for (;;) {
      if (this.i >= s.length) throw new SubstitutionError(`unexpected end of statement while looking for matching double-quote in ${s}`);
      const ch = s[this.i];
      if (ch === '"') {
        this.i++;
        break;
      }
      if (ch === '$') {
        text += this.dollar();
        continue;
      }
      if (ch === this.escape && this.i + 1 < s.length && ['"', '$', this.escape].includes(s[this.i + 1])) {
        text += s[this.i + 1];
        this.i += 2;
        continue;
      }
      text += ch;
      this.i++;
    }
    this.add(text, true);
  }

  /** At a `$`: the expansion (or `$` itself). */
  private dollar(): string {
    const s = this.s;
    this.i++;
    if (s[this.i] === '{') {
      this.i++;
      let name = '';
      while (this.i < s.length && NAME_CHAR.test(s[this.i])) name += s[this.i++];
      if (!name) throw new SubstitutionError(`bad substitution: \${${s.slice(this.i).split('}')[0]}} is not a variable name`);
      if (s[this.i] === '}') {
        this.i++;
        return this.vars(name) ?? '';
      }
      let op = s[this.i++] ?? '';
      if (op === ':') op += s[this.i++] ?? '';
      if (!['-', '+', '?', ':-', ':+', ':?'].includes(op)) throw new SubstitutionError(`unsupported modifier (${op}) in substitution of \${${name}}`);
      const word = this.nested();
      const value = this.vars(name);
      const set = op.startsWith(':') ? value !== undefined && value !== '' : value !== undefined;
      switch (op.replace(':', '')) {
        case '-':
          return set ? value! : word;
        case '+':
          return set ? word : '';
        default:
          if (!set) throw new SubstitutionError(`${name}: ${word || 'is not allowed to be unset'}`);
          return value!;
      }
    }
    if (this.i < s.length && NAME_START.test(s[this.i])) {
      let name = '';
      while (this.i < s.length && NAME_CHAR.test(s[this.i])) name += s[this.i++];
      return this.vars(name) ?? '';
    }
    return '$';
  }

  /** The word of a `${VAR:-word}` up to its `}`, itself expanded (quotes and escapes processed). */
  private nested(): string {
    const s = this.s;
    let depth = 0;
    const start = this.i;
    for (; this.i < s.length; this.i++) {
      const ch = s[this.i];
      if (ch === this.escape) {
        this.i++;
        continue;
      }
      if (ch === '{') depth++;
      if (ch === '}') {
        if (depth === 0) break;
        depth--;
      }
    }
    if (this.i >= s.length) throw new SubstitutionError(`syntax error: missing '}' in ${s}`);
    const inner = s.slice(start, this.i);
    this.i++;
    return new Lexer(inner, this.vars, this.escape, false).run().join('');
  }
}

/** One word: quotes removed, escapes and variables processed (no splitting). */
export function processWord(word: string, vars: Vars, escape = '\\'): string {
  return new Lexer(word, vars, escape, false).run().join('');
}

/** Words split on unquoted whitespace, each processed as `processWord` does. */
export function processWords(text: string, vars: Vars, escape = '\\'): string[] {
  return new Lexer(text, vars, escape, true).run();
}

/**
 * An instruction's argument text as Docker's parser sees it: each escape-newline continuation
 * joined, comment lines and empty lines inside the continuation dropped.
 */
export function foldContinuations(raw: string, escape = '\\'): string {
  const lines = raw.split(/\r?\n/);
  let out = '';
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (i > 0 && (/^\s*#/.test(line) || line.trim() === '')) continue;
    const trimmed = line.replace(/[ \t]+$/, '');
    if (i < lines.length - 1 && trimmed.endsWith(escape)) line = trimmed.slice(0, -escape.length);
    out += line;
  }
  return out.trim();
}
