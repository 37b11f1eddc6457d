/** The lexer: template text to tokens, with trim markers and comments applied. */

import { InvalidArgumentError } from '../core/errors';

export type TokType = 'text' | 'open' | 'close' | 'field' | 'variable' | 'dot' | 'ident' | 'string' | 'number' | 'bool' | 'nil'
  | 'lparen' | 'rparen' | 'pipe' | 'declare' | 'assign' | 'comma' | 'eof';
export interface Token { type: TokType; val: string; pos: number; space: boolean; value?: string | number }

export const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'break', 'continue', 'define', 'template', 'block']);
const SPACE = /[ \t\r\n]/;

/** A parse error as Docker reports it: Go's message, its line, behind `template parsing error: `. */
export function parseError(src: string, pos: number, msg: string): InvalidArgumentError {
  const line = src.slice(0, pos).split('\n').length;
  return new InvalidArgumentError(`template parsing error: template: :${line}: ${msg}`);
}

/** Splits the template into text and action tokens; trim markers are applied to the text here. */
export function lex(src: string): Token[] {
  const toks: Token[] = [];
  let i = 0;
  let trimNext = false;
  const err = (pos: number, msg: string) => parseError(src, pos, msg);
  while (i < src.length) {
    let open = src.indexOf('{{', i);
    if (open < 0) open = src.length;
    let text = src.slice(i, open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    trimNext = false;
    if (open === src.length) {
      if (text) toks.push({ type: 'text', val: text, pos: i, space: false });
      break;
    }
    let j = open + 2;
    if (src[j] === '-' && SPACE.test(src[j + 1] ?? '')) {
      text = text.replace(/[ \t\r\n]+$/, '');
      j += 2;
    }
    if (text) toks.push({ type: 'text', val: text, pos: i, space: false });
    const atClose = (k: number): number => (src.startsWith('}}', k) ? 2 : SPACE.test(src[k] ?? '') && src.startsWith('-}}', k + 1) ? 4 : 0);
    // A comment is a whole action: {{/* … */}}, right after the delimiter (and trim marker).
    if (src.startsWith('/*', j)) {
      const end = src.indexOf('*/', j + 2);
      if (end < 0) throw err(j, 'unclosed comment');
      const k = end + 2;
      const c = atClose(k);
      if (!c) throw err(k, 'comment ends before closing delimiter');
      trimNext = c === 4;
      i = k + c;
      continue;
    }
    toks.push({ type: 'open', val: '{{', pos: open, space: false });
    let space = false;
    let parens = 0;
    for (;;) {
      const c = atClose(j);
      if (c && parens > 0) throw err(j, 'unclosed left paren');
      if (c) {
        toks.push({ type: 'close', val: '}}', pos: j, space });
        trimNext = c === 4;
        i = j + c;
        break;
      }
      if (j >= src.length) throw err(j, 'unclosed action');
      const ch = src[j];
      if (SPACE.test(ch)) {
        space = true;
        j++;
        continue;
      }
      const push = (type: TokType, len: number, value?: string | number) => {
        toks.push({ type, val: src.slice(j, j + len), pos: j, space, value });
        j += len;
        space = false;
      };
      const rest = src.slice(j);
      let m: RegExpExecArray | null;
      if (ch === '(') {
        parens++;
        push('lparen', 1);
      } else if (ch === ')') {
        if (--parens < 0) throw err(j, 'unexpected right paren');
        push('rparen', 1);
      }
      else if (ch === '|') push('pipe', 1);
      else if (ch === ',') push('comma', 1);
      else if (rest.startsWith(':=')) push('declare', 2);
      else if (ch === '=') push('assign', 1);
      else if (ch === '"') {
        m = /^"(?:[^"\\\n]|\\.)*"/.exec(rest);
        if (!m) throw err(j, 'unterminated quoted string');
        push('string', m[0].length, unquote(m[0].slice(1, -1), () => err(j, `invalid syntax: ${m![0]}`)));
      } else if (ch === '`') {
        const end = src.indexOf('`', j + 1);
        if (end < 0) throw err(j, 'unterminated raw quoted string');
        push('string', end + 1 - j, src.slice(j + 1, end));
      } else if (ch === "'") {
        m = /^'(?:[^'\\\n]|\\[^\n]+?)'/.exec(rest);
        const s = m && unquote(m[0].slice(1, -1), () => err(j, 'invalid syntax'));
        if (!m || [...s!].length !== 1) throw err(j, 'unterminated character constant');
        push('number', m[0].length, s!.codePointAt(0));
      } else if ((m = /^\.[A-Za-z0-9_]+/.exec(rest)) && !/^\.\d/.test(rest)) push('field', m[0].length, m[0].slice(1));
      else if ((m = /^\$[A-Za-z0-9_]*/.exec(rest))) push('variable', m[0].length);
      else if ((m = /^[+-]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)/.exec(rest))) {
        if (/^[A-Za-z0-9_.]/.test(rest.slice(m[0].length))) throw err(j, `bad number syntax: "${/^[^\s()|}]+/.exec(rest)![0]}"`);
        const body = m[0].replace(/_/g, '').replace(/^[+-]/, '');
        const v = (m[0][0] === '-' ? -1 : 1) * (/^0\d+$/.test(body) ? parseInt(body, 8) : Number(body));
        if (Number.isNaN(v)) throw err(j, `bad number syntax: "${m[0]}"`);
        push('number', m[0].length, v);
      } else if (ch === '.') push('dot', 1);
      else if ((m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest))) {
        const w = m[0];
        push(w === 'true' || w === 'false' ? 'bool' : w === 'nil' ? 'nil' : 'ident', w.length);
      } else throw err(j, `unrecognized character in action: U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} '${ch}'`);
    }
  }
  toks.push({ type: 'eof', val: '', pos: src.length, space: false });
  return toks;
}

/** Go's strconv.Unquote of the inside of a double-quoted string or character literal. */
function unquote(s: string, bad: () => Error): string {
  const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };
  return s.replace(/\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-7]{3})|(.))/g, (_m, x, u, U, o, c: string | undefined) => {
    if (x || u || U || o) return String.fromCodePoint(parseInt(x ?? u ?? U ?? o, o ? 8 : 16));
    if (c !== undefined && c in simple) return simple[c];
    throw bad();
  });
}
