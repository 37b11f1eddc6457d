/**
 * Go's text/template as Docker's `--format` exposes it: the template language (actions,
 * pipelines, `if`/`with`/`range`/`else`, variables, literals, parenthesised pipelines, trim
 * markers, comments), Go's built-in functions and the ones Docker adds (`json`, `split`,
 * `join`, `title`, `lower`, `upper`, `pad`, `truncate`).
 *
 * The data is JSON-like (objects, arrays, strings, numbers, booleans, null), as the raw JSON
 * Docker falls back to. Objects are Go maps: `.Key` reads a key, a missing key is
 * `<no value>`, maps print as `map[k:v]` with sorted keys and `range` visits keys in order.
 * Where the Docker CLI's typed structs would print differently the typed behaviour is kept,
 * because that is what users of Docker see:
 * - integral numbers are ints (`1000000`, not float64's `1e+06`);
 * - a field of `null` is `<no value>` (a nil map), and `len null` is 0;
 * - `index` of a missing key in a map of strings is `""` (the zero of `map[string]string`).
 *
 * `compileTemplate` parses once; the function it returns executes per object. Both throw
 * InvalidArgumentError with Go's message behind Docker's `template parsing error: ` prefix.
 * Not supported: `define`/`template`/`block`, `call`, methods, complex numbers.
 */

import { InvalidArgumentError } from '../../core/errors';

// ---------------------------------------------------------------- AST

/** An operand of a command; `text` is Go's String() of the node (used in error context). */
type Operand =
  | { kind: 'field'; pos: number; path: string[] }
  | { kind: 'variable'; pos: number; name: string; path: string[] }
  | { kind: 'dot'; pos: number }
  | { kind: 'nil'; pos: number }
  | { kind: 'literal'; pos: number; value: string | number | boolean; text: string }
  | { kind: 'function'; pos: number; name: string }
  | { kind: 'pipe'; pos: number; pipe: Pipe }
  | { kind: 'chain'; pos: number; node: Operand; path: string[] };

interface Command { pos: number; args: Operand[] }
interface Pipe { pos: number; decl: string[]; assign: boolean; cmds: Command[] }

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipe }
  | Control
  | { kind: 'break' | 'continue' };

interface Control { kind: 'if' | 'with' | 'range'; pipe: Pipe; list: Node[]; elseList?: Node[] }

function operandText(o: Operand): string {
  switch (o.kind) {
    case 'field': return o.path.map((p) => `.${p}`).join('');
    case 'variable': return o.name + o.path.map((p) => `.${p}`).join('');
    case 'dot': return '.';
    case 'nil': return 'nil';
    case 'literal': return o.text;
    case 'function': return o.name;
    case 'pipe': return `(${pipeText(o.pipe)})`;
    case 'chain': return operandText(o.node) + o.path.map((p) => `.${p}`).join('');
  }
}
const commandText = (c: Command) => c.args.map(operandText).join(' ');
const pipeText = (p: Pipe) => (p.decl.length ? `${p.decl.join(', ')} ${p.assign ? '=' : ':='} ` : '') + p.cmds.map(commandText).join(' | ');
function nodeText(n: Node): string {
  switch (n.kind) {
    case 'text': return n.text;
    case 'action': return `{{${pipeText(n.pipe)}}}`;
    case 'break': case 'continue': return `{{${n.kind}}}`;
    default: return `{{${n.kind} ${pipeText(n.pipe)}}}${n.list.map(nodeText).join('')}${n.elseList ? `{{else}}${n.elseList.map(nodeText).join('')}` : ''}{{end}}`;
  }
}

// ---------------------------------------------------------------- lexer

type TokType = 'text' | 'open' | 'close' | 'field' | 'variable' | 'dot' | 'ident' | 'string' | 'number' | 'bool' | 'nil'
  | 'lparen' | 'rparen' | 'pipe' | 'declare' | 'assign' | 'comma' | 'eof';
interface Token { type: TokType; val: string; pos: number; space: boolean; value?: string | number }

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'break', 'continue', 'define', 'template', 'block']);
const SPACE = /[ \t\r\n]/;

function parseError(src: string, pos: number, msg: string): InvalidArgumentError {
  const line = src.slice(0, pos).split('\n').length;
  return new InvalidArgumentError(`template parsing error: template: :${line}: ${msg}`);
}

/** Splits the template into text and action tokens; trim markers are applied to the text here. */
function lex(src: string): Token[] {
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

// ---------------------------------------------------------------- parser

class Parser {
  private i = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  constructor(private readonly src: string, private readonly toks: Token[]) {}

  parse(): Node[] {
    const { nodes, stop } = this.list();
    if (stop) throw this.error(stop, `unexpected {{${stop.val}}}`);
    return nodes;
  }

  private peek(): Token { return this.toks[this.i]; }
  private next(): Token { return this.toks[this.i++]; }
  private error(t: Token, msg: string) { return parseError(this.src, t.pos, msg); }
  /** Go's `unexpected ITEM in CONTEXT`, the item as Go prints it (keywords as <end>, others quoted). */
  private unexpected(t: Token, context: string) {
    const chars = [...t.val];
    const item = t.type === 'eof' ? 'EOF' : t.type === 'ident' && KEYWORDS.has(t.val) ? `<${t.val}>` : chars.length > 10 ? `${goQuote(chars.slice(0, 10).join(''))}...` : goQuote(t.val);
    return this.error(t, `unexpected ${item} in ${context}`);
  }
  private expectClose(context: string): void {
    const t = this.next();
    if (t.type !== 'close') throw this.unexpected(t, context);
  }

  /** Nodes up to EOF or an {{end}}/{{else}}, which is returned (its action not yet closed for else). */
  private list(): { nodes: Node[]; stop?: Token } {
    const nodes: Node[] = [];
    for (;;) {
      if (this.peek().type === 'eof') return { nodes };
      const t = this.next();
      if (t.type === 'text') {
        nodes.push({ kind: 'text', text: t.val });
        continue;
      }
      const k = this.peek();
      if (k.type === 'ident' && KEYWORDS.has(k.val)) {
        this.next();
        switch (k.val) {
          case 'end':
            this.expectClose('end');
            return { nodes, stop: k };
          case 'else':
            return { nodes, stop: k };
          case 'if': case 'with': case 'range':
            nodes.push(this.control(k.val));
            continue;
          case 'break': case 'continue':
            if (this.rangeDepth === 0) throw this.error(k, `{{${k.val}}} outside {{range}}`);
            this.expectClose(k.val);
            nodes.push({ kind: k.val });
            continue;
          default:
            throw this.error(k, `{{${k.val}}} is not supported in --format templates`);
        }
      }
      nodes.push({ kind: 'action', pipe: this.pipeline('command', 'close') });
      this.next();
    }
  }

  /** if/with/range after its keyword, through its {{end}}; `{{else if …}}` nests a control. */
  private control(kind: 'if' | 'with' | 'range'): Node {
    const mark = this.vars.length;
    const pipe = this.pipeline(kind, 'close');
    this.next();
    if (kind === 'range') this.rangeDepth++;
    const { nodes: list, stop } = this.list();
    if (kind === 'range') this.rangeDepth--;
    if (!stop) throw this.error(this.peek(), 'unexpected EOF');
    let elseList: Node[] | undefined;
    if (stop.val === 'else') {
      const k = this.peek();
      if (k.type === 'ident' && (k.val === 'if' || k.val === 'with')) {
        this.next();
        elseList = [this.control(k.val)];
      } else {
        this.expectClose('else');
        const rest = this.list();
        if (!rest.stop) throw this.error(this.peek(), 'unexpected EOF');
        if (rest.stop.val !== 'end') throw this.error(rest.stop, 'expected end; found {{else}}');
        elseList = rest.nodes;
      }
    }
    this.vars.length = mark;
    return { kind, pipe, list, elseList };
  }

  /** A pipeline up to (not including) a `close` or `rparen` token. */
  private pipeline(context: string, end: 'close' | 'rparen'): Pipe {
    const start = this.peek();
    const decl: string[] = [];
    let assign = false;
    // Declarations: `$x :=`, `$x =`, and in range `$i, $e :=`.
    if (start.type === 'variable') {
      const after = this.toks[this.i + 1];
      if (after.type === 'declare' || after.type === 'assign' || (after.type === 'comma' && context === 'range')) {
        decl.push(this.next().val);
        if (this.peek().type === 'comma') {
          this.next();
          const v = this.next();
          if (v.type !== 'variable') throw this.unexpected(v, 'range declaration');
          decl.push(v.val);
        }
        const op = this.next();
        if (op.type !== 'declare' && op.type !== 'assign') throw this.unexpected(op, 'declaration');
        assign = op.type === 'assign';
        if (assign && decl.length > 1) throw this.error(op, 'expected := in range declaration');
        if (assign) for (const v of decl) this.checkVar(op, v);
      }
    }
    const cmds: Command[] = [];
    for (;;) {
      const t = this.peek();
      if (t.type === (end === 'close' ? 'close' : 'rparen')) break;
      if (end === 'rparen' && t.type === 'close') throw this.error(t, 'unclosed left paren');
      if (t.type === 'eof') throw this.error(t, 'unclosed action');
      if (cmds.length > 0) {
        if (t.type !== 'pipe') throw this.unexpected(t, 'command');
        this.next();
      }
      cmds.push(this.command());
    }
    if (cmds.length === 0) throw this.error(this.peek(), `missing value for ${context}`);
    cmds.slice(1).forEach((c, n) => {
      if (['dot', 'nil', 'literal'].includes(c.args[0].kind)) throw this.error(start, `non executable command in pipeline stage ${n + 2}`);
    });
    if (!assign) this.vars.push(...decl);
    return { pos: start.pos, decl, assign, cmds };
  }

  private command(): Command {
    const args: Operand[] = [];
    const pos = this.peek().pos;
    for (;;) {
      const t = this.peek();
      if (t.type === 'close' || t.type === 'rparen' || t.type === 'pipe' || t.type === 'eof') break;
      if (args.length > 0 && !t.space) throw this.unexpected(t, 'operand');
      args.push(this.operand());
    }
    if (args.length === 0) throw this.error(this.peek(), 'missing command');
    return { pos, args };
  }

  private operand(): Operand {
    const t = this.next();
    let node: Operand;
    switch (t.type) {
      case 'field': node = { kind: 'field', pos: t.pos, path: [t.value as string] }; break;
      case 'variable': this.checkVar(t, t.val); node = { kind: 'variable', pos: t.pos, name: t.val, path: [] }; break;
      case 'dot': node = { kind: 'dot', pos: t.pos }; break;
      case 'nil': node = { kind: 'nil', pos: t.pos }; break;
      case 'bool': node = { kind: 'literal', pos: t.pos, value: t.val === 'true', text: t.val }; break;
      case 'number': case 'string': node = { kind: 'literal', pos: t.pos, value: t.value!, text: t.type === 'string' ? goQuote(t.value as string) : t.val }; break;
      case 'ident':
        if (KEYWORDS.has(t.val)) throw this.unexpected(t, 'operand');
        if (!(t.val in FUNCS)) throw this.error(t, `function "${t.val}" not defined`);
        node = { kind: 'function', pos: t.pos, name: t.val };
        break;
      case 'lparen': {
        const pipe = this.pipeline('parenthesized pipeline', 'rparen');
        this.next();
        node = { kind: 'pipe', pos: t.pos, pipe };
        break;
      }
      case 'rparen': throw this.error(t, 'unexpected right paren');
      default: throw this.unexpected(t, 'operand');
    }
    // `.A.B`, `$x.A`, `(pipeline).A`: fields written right after a term.
    const path: string[] = [];
    let chainPos = -1;
    while (this.peek().type === 'field' && !this.peek().space) {
      const f = this.next();
      if (chainPos < 0) chainPos = f.pos;
      path.push(f.value as string);
    }
    if (path.length === 0) return node;
    if (node.kind === 'field' || node.kind === 'variable') return { ...node, path: [...node.path, ...path] };
    if (node.kind === 'literal' || node.kind === 'dot' || node.kind === 'nil') throw parseError(this.src, chainPos, `unexpected . after term "${operandText(node)}"`);
    return { kind: 'chain', pos: chainPos, node, path };
  }

  private checkVar(t: Token, name: string): void {
    if (!this.vars.includes(name)) throw this.error(t, `undefined variable "${name}"`);
  }
}

// ---------------------------------------------------------------- values and printing

/** Go's type name for a JSON-like value, as in its error messages. */
function typeName(v: unknown): string {
  if (v === undefined || v === null) return '<nil>';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (Array.isArray(v)) return '[]interface {}';
  return 'map[string]interface {}';
}

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Go's strconv.FormatFloat(f, 'g', -1, 64); integral values print as ints (see the module doc). */
function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return n.toFixed(0);
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'NaN' : n > 0 ? '+Inf' : '-Inf';
  const [mant, e] = n.toExponential().split('e');
  const exp = Number(e);
  if (exp < -4 || exp >= 6) return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(n);
}

/** fmt's %v. */
function formatV(v: unknown): string {
  if (v === undefined || v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (Array.isArray(v)) return `[${v.map(formatV).join(' ')}]`;
  if (isMap(v)) return `map[${Object.keys(v).sort().map((k) => `${k}:${formatV(v[k])}`).join(' ')}]`;
  return String(v);
}

/** Go's strconv.Quote. */
function goQuote(s: string): string {
  const named: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '\\': '\\\\', '"': '\\"' };
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (named[ch]) out += named[ch];
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (/[\p{C}\p{Zl}\p{Zp}]/u.test(ch)) out += c > 0xffff ? `\\U${c.toString(16).padStart(8, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Go's truth: false, 0, nil, and empty strings, slices and maps are false. */
function truth(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string' || Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
}

// ---------------------------------------------------------------- fmt.Sprintf

interface Flags { minus: boolean; plus: boolean; sharp: boolean; space: boolean; zero: boolean; width?: number; prec?: number }

function pad(s: string, f: Flags, numeric = false): string {
  if (f.width === undefined || [...s].length >= f.width) return s;
  const fill = f.width - [...s].length;
  if (f.minus) return s + ' '.repeat(fill);
  if (f.zero) {
    const sign = numeric && /^[+\- ]/.test(s) ? s[0] : '';
    return sign + '0'.repeat(fill) + s.slice(sign.length);
  }
  return ' '.repeat(fill) + s;
}

function fmtInt(n: number, verb: string, f: Flags): string | undefined {
  const sign = n < 0 ? '-' : f.plus ? '+' : f.space ? ' ' : '';
  const a = Math.abs(n);
  switch (verb) {
    case 'v': case 'd': return sign + a.toFixed(0);
    case 'x': return sign + (f.sharp ? '0x' : '') + a.toString(16);
    case 'X': return sign + (f.sharp ? '0X' : '') + a.toString(16).toUpperCase();
    case 'o': return sign + (f.sharp ? '0' : '') + a.toString(8);
    case 'O': return `${sign}0o${a.toString(8)}`;
    case 'b': return sign + a.toString(2);
    case 'c': return String.fromCodePoint(n);
    case 'q': return `'${goQuote(String.fromCodePoint(n)).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`;
    case 'U': return `U+${n.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return undefined;
}

function fmtFloat(n: number, verb: string, f: Flags): string | undefined {
  const sign = n < 0 || Object.is(n, -0) ? '-' : f.plus ? '+' : f.space ? ' ' : '';
  const a = Math.abs(n);
  const expo = (s: string) => s.replace(/e([+-])(\d)$/, 'e$10$2');
  let s: string;
  switch (verb.toLowerCase()) {
    case 'v': s = formatNumber(a); break;
    case 'f': s = a.toFixed(f.prec ?? 6); break;
    case 'e': s = expo(a.toExponential(f.prec ?? 6)); break;
    case 'g': {
      if (f.prec === undefined) {
        s = formatNumber(a);
        break;
      }
      const p = Math.max(f.prec, 1);
      const exp = Number(a.toExponential(p - 1).split('e')[1]);
      s = exp < -4 || exp >= p ? expo(a.toExponential(p - 1).replace(/\.?0+e/, 'e')) : String(Number(a.toPrecision(p)));
      break;
    }
    default: return undefined;
  }
  return sign + (verb === 'E' || verb === 'G' ? s.toUpperCase() : s);
}

/** One operand of Sprintf; undefined for a verb that does not suit the value. */
function fmtArg(v: unknown, verb: string, f: Flags): string | undefined {
  if (verb === 'T') return pad(typeName(v), f);
  if (v === undefined || v === null) return verb === 'v' ? pad('<nil>', f) : undefined;
  if (typeof v === 'boolean') return verb === 'v' || verb === 't' ? pad(String(v), f) : undefined;
  if (typeof v === 'number') {
    const s = Number.isInteger(v) && !'eEfFgG'.includes(verb) ? fmtInt(v, verb, f) : fmtFloat(v, verb, f);
    return s === undefined ? undefined : pad(s, f, true);
  }
  if (typeof v === 'string') {
    const t = f.prec !== undefined ? [...v].slice(0, f.prec).join('') : v;
    if (verb === 'v' || verb === 's') return pad(t, f);
    if (verb === 'q') return pad(goQuote(t), f);
    if (verb === 'x' || verb === 'X') {
      const hex = Buffer.from(t, 'utf8').toString('hex');
      return pad(verb === 'X' ? hex.toUpperCase() : hex, f);
    }
    return undefined;
  }
  const item = (x: unknown) => fmtArg(x, verb, f) ?? badVerb(x, verb);
  if (Array.isArray(v)) return `[${v.map(item).join(' ')}]`;
  if (isMap(v)) return `map[${Object.keys(v).sort().map((k) => `${item(k)}:${item(v[k])}`).join(' ')}]`;
  return undefined;
}

const badVerb = (v: unknown, verb: string) => (v === undefined || v === null ? `%!${verb}(<nil>)` : `%!${verb}(${typeName(v)}=${formatV(v)})`);

/** fmt.Sprintf for the verbs %v %s %q %d %t %x %X %o %b %c %U %e %f %g (and %T), flags, width, precision. */
export function sprintf(format: string, args: unknown[]): string {
  let out = '';
  let a = 0;
  for (let i = 0; i < format.length;) {
    if (format[i] !== '%') {
      out += format[i++];
      continue;
    }
    i++;
    const f: Flags = { minus: false, plus: false, sharp: false, space: false, zero: false };
    for (; i < format.length && '-+# 0'.includes(format[i]); i++) {
      const c = format[i];
      if (c === '-') f.minus = true; else if (c === '+') f.plus = true; else if (c === '#') f.sharp = true; else if (c === ' ') f.space = true; else f.zero = true;
    }
    const num = (): number | undefined => {
      if (format[i] === '*') {
        i++;
        const n = args[a++];
        return typeof n === 'number' && Number.isInteger(n) ? n : undefined;
      }
      const m = /^\d+/.exec(format.slice(i));
      if (!m) return undefined;
      i += m[0].length;
      return Number(m[0]);
    };
    f.width = num();
    if (f.width !== undefined && f.width < 0) [f.minus, f.width] = [true, -f.width];
    if (format[i] === '.') {
      i++;
      f.prec = num() ?? 0;
    }
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (a >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const v = args[a++];
    out += fmtArg(v, verb, f) ?? badVerb(v, verb);
  }
  if (a < args.length) out += `%!(EXTRA ${args.slice(a).map((v) => (v === undefined || v === null ? '<nil>' : `${typeName(v)}=${formatV(v)}`)).join(', ')})`;
  return out;
}

/** fmt.Sprint: operands joined, with a space between two when neither is a string. */
function sprint(args: unknown[]): string {
  return args.map((v, i) => (i > 0 && typeof v !== 'string' && typeof args[i - 1] !== 'string' ? ' ' : '') + formatV(v)).join('');
}

// ---------------------------------------------------------------- functions

/** An error a function returns: reported as `error calling NAME: …`. */
class CallError extends Error {}
/** An error about an argument, reported as is. */
class ArgError extends Error {}

function str(v: unknown): string {
  if (typeof v !== 'string') throw new ArgError(v === undefined || v === null ? 'invalid value; expected string' : `wrong type for value; expected string; got ${typeName(v)}`);
  return v;
}
function int(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ArgError(v === undefined || v === null ? 'invalid value; expected int' : `wrong type for value; expected int; got ${typeName(v)}`);
  return v;
}
/** A slice/string index, as Go's indexArg. */
function indexArg(v: unknown, cap: number): number {
  if (v === undefined || v === null) throw new CallError('cannot index slice/array with nil');
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new CallError(`cannot index slice/array with type ${typeName(v)}`);
  if (v < 0 || v > cap) throw new CallError(`index out of range: ${v}`);
  return v;
}

type Kind = 'bool' | 'number' | 'string' | 'nil' | 'other';
const kindOf = (v: unknown): Kind => (v === undefined || v === null ? 'nil' : typeof v === 'boolean' ? 'bool' : typeof v === 'number' ? 'number' : typeof v === 'string' ? 'string' : 'other');

function eq(a: unknown, ...bs: unknown[]): boolean {
  if (bs.length === 0) throw new CallError('missing argument for comparison');
  const ka = kindOf(a);
  for (const b of bs) {
    const kb = kindOf(b);
    if (ka !== kb) {
      if (ka !== 'nil' && kb !== 'nil') throw new CallError('incompatible types for comparison');
      continue;
    }
    if (ka === 'other') throw new CallError(`non-comparable type ${formatV(b)}: ${typeName(b)}`);
    if (ka === 'nil' || a === b) return true;
  }
  return false;
}
function lt(a: unknown, b: unknown): boolean {
  const [ka, kb] = [kindOf(a), kindOf(b)];
  if (ka === 'nil' || ka === 'other' || kb === 'nil' || kb === 'other') throw new CallError('invalid type for comparison');
  if (ka !== kb) throw new CallError('incompatible types for comparison');
  if (ka === 'bool') throw new CallError('invalid type for comparison');
  return (a as number | string) < (b as number | string);
}

const escapeHtml = (s: string) => s.replace(/\0/g, '\uFFFD').replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&#39;', '"': '&#34;' })[c]!);
const escapeJs = (s: string) =>
  s.replace(/[\\'"<>&=\x00-\x1f]/g, (c) => (c === '\\' || c === "'" || c === '"' ? `\\${c}` : `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`));
const escapeQuery = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');
/** The text/template escapers' argument: a lone string as is, else fmt.Sprint of all. */
const escArg = (args: unknown[]) => (args.length === 1 && typeof args[0] === 'string' ? args[0] : sprint(args));

/** strings.Title: upper-cases letters that begin words. */
function title(s: string): string {
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    const sep = /[\x00-\x7f]/.test(prev) ? !/[A-Za-z0-9_]/.test(prev) : !/[\p{L}\p{Nd}]/u.test(prev) && /\s/u.test(prev);
    out += sep ? ch.toUpperCase() : ch;
    prev = ch;
  }
  return out;
}

interface Fn { min: number; max: number; call: (args: unknown[]) => unknown }
const fn = (min: number, max: number, call: (args: unknown[]) => unknown): Fn => ({ min, max, call });

/** Go's builtins and Docker's additions. `and`/`or` are evaluated lazily by the executor. */
const FUNCS: Record<string, Fn> = {
  and: fn(1, Infinity, () => undefined),
  or: fn(1, Infinity, () => undefined),
  not: fn(1, 1, ([v]) => !truth(v)),
  len: fn(1, 1, ([v]) => {
    if (v === undefined) throw new CallError('len of untyped nil');
    if (v === null) return 0;
    if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
    if (Array.isArray(v)) return v.length;
    if (isMap(v)) return Object.keys(v).length;
    throw new CallError(`len of type ${typeName(v)}`);
  }),
  index: fn(1, Infinity, ([item, ...indexes]) => {
    if (item === undefined || item === null) throw new CallError('index of untyped nil');
    for (const x of indexes) {
      if (item === undefined || item === null) throw new CallError('index of nil pointer');
      if (typeof item === 'string') item = Buffer.from(item, 'utf8')[indexArg(x, Buffer.byteLength(item, 'utf8') - 1)];
      else if (Array.isArray(item)) item = item[indexArg(x, item.length - 1)];
      else if (isMap(item)) {
        if (typeof x !== 'string') throw new CallError(x === undefined || x === null ? 'value is nil; should be of type string' : `value has type ${typeName(x)}; should be string`);
        const m: Record<string, unknown> = item;
        item = Object.prototype.hasOwnProperty.call(m, x) ? m[x] : Object.values(m).every((e) => typeof e === 'string') ? '' : undefined;
      } else throw new CallError(`can't index item of type ${typeName(item)}`);
    }
    return item;
  }),
  slice: fn(1, 4, ([item, ...indexes]) => {
    if (item === undefined || item === null) throw new CallError('slice of untyped nil');
    if (indexes.length > 3) throw new CallError(`too many slice indexes: ${indexes.length}`);
    if (typeof item !== 'string' && !Array.isArray(item)) throw new CallError(`can't slice item of type ${typeName(item)}`);
    if (typeof item === 'string' && indexes.length === 3) throw new CallError('cannot 3-index slice a string');
    const idx = [0, item.length, item.length];
    indexes.forEach((x, n) => (idx[n] = indexArg(x, item.length)));
    if (idx[0] > idx[1]) throw new CallError(`invalid slice index: ${idx[0]} > ${idx[1]}`);
    if (indexes.length === 3 && idx[1] > idx[2]) throw new CallError(`invalid slice index: ${idx[1]} > ${idx[2]}`);
    return item.slice(idx[0], idx[1]);
  }),
  print: fn(0, Infinity, sprint),
  printf: fn(1, Infinity, ([f, ...args]) => sprintf(str(f), args)),
  println: fn(0, Infinity, (args) => `${args.map(formatV).join(' ')}\n`),
  eq: fn(1, Infinity, ([a, ...bs]) => eq(a, ...bs)),
  ne: fn(2, 2, ([a, b]) => !eq(a, b)),
  lt: fn(2, 2, ([a, b]) => lt(a, b)),
  le: fn(2, 2, ([a, b]) => lt(a, b) || eq(a, b)),
  gt: fn(2, 2, ([a, b]) => !(lt(a, b) || eq(a, b))),
  ge: fn(2, 2, ([a, b]) => !lt(a, b)),
  html: fn(0, Infinity, (args) => escapeHtml(escArg(args))),
  js: fn(0, Infinity, (args) => escapeJs(escArg(args))),
  urlquery: fn(0, Infinity, (args) => escapeQuery(escArg(args))),
  // Docker's (docker/cli templates): Go's encoding/json, without HTML escaping.
  json: fn(1, 1, ([v]) => goJson(v)),
  split: fn(2, 2, ([s, sep]) => (str(sep) === '' ? [...str(s)] : str(s).split(sep as string))),
  join: fn(2, 2, ([a, sep]) => {
    if (!Array.isArray(a)) throw new ArgError(a === undefined || a === null ? 'invalid value; expected []string' : `wrong type for value; expected []string; got ${typeName(a)}`);
    return a.map(formatV).join(str(sep));
  }),
  title: fn(1, 1, ([s]) => title(str(s))),
  lower: fn(1, 1, ([s]) => str(s).toLowerCase()),
  upper: fn(1, 1, ([s]) => str(s).toUpperCase()),
  pad: fn(3, 3, ([s, pre, post]) => (str(s) === '' ? '' : ' '.repeat(Math.max(0, int(pre))) + s + ' '.repeat(Math.max(0, int(post))))),
  truncate: fn(2, 2, ([s, n]) => {
    const len = int(n);
    if (len < 0) throw new CallError(`runtime error: slice bounds out of range [:${len}]`);
    return str(s).slice(0, len);
  }),
};

// ---------------------------------------------------------------- executor

const MISSING = Symbol('missing');
type Final = unknown; // a value, or MISSING when a command is not fed by a previous one
class Break {}
class Continue {}

class ExecError extends Error {}

class Executor {
  private vars: Array<{ name: string; value: unknown }>;
  private out = '';
  constructor(private readonly src: string, root: unknown) {
    this.vars = [{ name: '$', value: root }];
  }

  run(nodes: Node[], dot: unknown): string {
    this.walk(nodes, dot);
    return this.out;
  }

  private fail(pos: number, context: string, msg: string): never {
    const before = this.src.slice(0, pos);
    const line = before.split('\n').length;
    const col = pos - (before.lastIndexOf('\n') + 1);
    const ctx = context.length > 20 ? `${context.slice(0, 20)}...` : context;
    throw new ExecError(`template: :${line}:${col}: executing "" at <${ctx}>: ${msg}`);
  }

  private walk(nodes: Node[], dot: unknown): void {
    for (const n of nodes) {
      switch (n.kind) {
        case 'text': this.out += n.text; break;
        case 'action': {
          const v = this.pipeline(n.pipe, dot);
          if (n.pipe.decl.length === 0) this.out += v === undefined || v === null ? '<no value>' : formatV(v);
          break;
        }
        case 'if': case 'with': {
          const mark = this.vars.length;
          const v = this.pipeline(n.pipe, dot);
          if (truth(v)) this.walk(n.list, n.kind === 'with' ? v : dot);
          else if (n.elseList) this.walk(n.elseList, dot);
          this.vars.length = mark;
          break;
        }
        case 'range': this.range(n, dot); break;
        case 'break': throw new Break();
        case 'continue': throw new Continue();
      }
    }
  }

  private range(n: Control, dot: unknown): void {
    const mark = this.vars.length;
    const v = this.pipeline(n.pipe, dot);
    let items: Array<[unknown, unknown]>;
    if (v === undefined || v === null) items = [];
    else if (Array.isArray(v)) items = v.map((e, i) => [i, e]);
    else if (isMap(v)) items = Object.keys(v).sort().map((k) => [k, v[k]]);
    else if (typeof v === 'number' && Number.isInteger(v)) {
      if (n.pipe.decl.length > 1) this.fail(n.pipe.pos, nodeText(n), `can't use ${formatV(v)} to iterate over more than one variable`);
      items = Array.from({ length: Math.max(0, v) }, (_x, i) => [i, i]);
    } else this.fail(n.pipe.pos, nodeText(n), `range can't iterate over ${formatV(v)}`);
    // `$e :=` takes the element, `$k, $e :=` the key (or index) and the element. pipeline()
    // pushed (or, with `=`, set) them; they are set again for each element.
    const { decl, assign } = n.pipe;
    const base = this.vars.length - decl.length;
    const set = (i: number, value: unknown) => {
      if (assign) this.lookup(decl[i]).value = value;
      else this.vars[base + i].value = value;
    };
    for (const [key, elem] of items) {
      const iter = this.vars.length;
      if (decl.length === 1) set(0, elem);
      if (decl.length === 2) {
        set(0, key);
        set(1, elem);
      }
      try {
        this.walk(n.list, elem);
      } catch (e) {
        if (e instanceof Break) break;
        if (!(e instanceof Continue)) throw e;
      } finally {
        this.vars.length = iter;
      }
    }
    if (items.length === 0 && n.elseList) this.walk(n.elseList, dot);
    this.vars.length = mark;
  }

  private pipeline(p: Pipe, dot: unknown): unknown {
    let value: Final = MISSING;
    for (const c of p.cmds) value = this.command(c, dot, value);
    for (const name of p.decl) {
      if (p.assign) this.lookup(name).value = value;
      else this.vars.push({ name, value });
    }
    return value;
  }

  private lookup(name: string): { name: string; value: unknown } {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i].name === name) return this.vars[i];
    throw new ExecError(`undefined variable: ${name}`);
  }

  private command(c: Command, dot: unknown, final: Final): unknown {
    const first = c.args[0];
    const hasArgs = c.args.length > 1 || final !== MISSING;
    const notAFunction = () => {
      if (hasArgs) this.fail(first.pos, operandText(first), `can't give argument to non-function ${operandText(first)}`);
    };
    switch (first.kind) {
      case 'field': {
        // A method of the object (Docker's `.Label "key"` of `ps`): called with the arguments.
        const owner = first.path.length > 0 ? this.fields(dot, first.path.slice(0, -1), first, false) : undefined;
        const method = isMap(owner) && Object.prototype.hasOwnProperty.call(owner, first.path[first.path.length - 1]) ? owner[first.path[first.path.length - 1]] : undefined;
        if (typeof method === 'function') {
          const args = c.args.slice(1).map((a) => this.arg(a, dot));
          if (final !== MISSING) args.push(final);
          return (method as (...a: unknown[]) => unknown).apply(owner, args);
        }
        return this.fields(dot, first.path, first, hasArgs);
      }
      case 'chain': return this.fields(this.arg(first.node, dot), first.path, first, hasArgs);
      case 'variable':
        if (first.path.length === 0) notAFunction();
        return this.fields(this.lookup(first.name).value, first.path, first, hasArgs);
      case 'function': return this.call(first.name, c, c.args.slice(1), dot, final);
      case 'pipe': notAFunction(); return this.pipeline(first.pipe, dot);
      case 'nil': return this.fail(first.pos, 'nil', 'nil is not a command');
      case 'dot': notAFunction(); return dot;
      case 'literal': notAFunction(); return first.value;
    }
  }

  /** `.A.B` on a value: map keys; a missing key (or anything of nil) is undefined. */
  private fields(v: unknown, path: string[], node: Operand, hasArgs: boolean): unknown {
    path.forEach((name, i) => {
      if (v === undefined || v === null) {
        v = undefined;
        return;
      }
      if (!isMap(v)) this.fail(node.pos, operandText(node), `can't evaluate field ${name} in type ${typeName(v)}`);
      if (hasArgs && i === path.length - 1) this.fail(node.pos, operandText(node), `${name} is not a method but has arguments`);
      v = Object.prototype.hasOwnProperty.call(v, name) ? v[name] : undefined;
    });
    return v;
  }

  private arg(o: Operand, dot: unknown): unknown {
    switch (o.kind) {
      case 'field': return this.fields(dot, o.path, o, false);
      case 'chain': return this.fields(this.arg(o.node, dot), o.path, o, false);
      case 'variable': return this.fields(this.lookup(o.name).value, o.path, o, false);
      case 'dot': return dot;
      case 'nil': return null;
      case 'literal': return o.value;
      case 'pipe': return this.pipeline(o.pipe, dot);
      case 'function': return this.call(o.name, { pos: o.pos, args: [o] }, [], dot, MISSING);
    }
  }

  private call(name: string, c: Command, argNodes: Operand[], dot: unknown, final: Final): unknown {
    const f = FUNCS[name];
    const n = argNodes.length + (final === MISSING ? 0 : 1);
    if (n < f.min || n > f.max) {
      const want = f.min === f.max ? `${f.min}` : `at least ${f.min}`;
      this.fail(c.pos, commandText(c), `wrong number of args for ${name}: want ${want} got ${n}`);
    }
    if (name === 'and' || name === 'or') {
      let v: unknown;
      for (const a of argNodes) {
        v = this.arg(a, dot);
        if (truth(v) === (name === 'or')) return v;
      }
      return final === MISSING ? v : final;
    }
    const args = argNodes.map((a) => this.arg(a, dot));
    if (final !== MISSING) args.push(final);
    try {
      return f.call(args);
    } catch (e) {
      if (e instanceof CallError) this.fail(c.pos, commandText(c), `error calling ${name}: ${e.message}`);
      if (e instanceof ArgError) this.fail(c.pos, commandText(c), e.message);
      throw e;
    }
  }
}

/**
 * Parses a Go template once; the returned function renders it for one object. Both throw
 * InvalidArgumentError (`template parsing error: template: :1: …`) for a bad template.
 */
export function compileTemplate(template: string): (data: unknown) => string {
  const nodes = new Parser(template, lex(template)).parse();
  return (data) => {
    try {
      return new Executor(template, data).run(nodes, data);
    } catch (e) {
      if (e instanceof ExecError) throw new InvalidArgumentError(`template parsing error: ${e.message}`);
      throw e;
    }
  };
}

/** A Go struct's JSON field names are exported identifiers; any other key makes the object a map. */
const GO_FIELD = /^[A-Z][A-Za-z0-9]*$/;
/** Fields of Docker's inspect structs that are Go maps (sorted even when their keys look like field names). */
const GO_MAP_FIELDS = new Set(['Labels', 'Networks', 'Ports', 'PortBindings', 'ExposedPorts', 'Volumes', 'Options', 'DriverOpts', 'Data', 'Sysctls', 'Tmpfs', 'StorageOpt', 'Annotations', 'Containers']);

/**
 * JSON as Go's encoding/json writes it: a struct (an object whose keys are all exported Go
 * field names, as every inspect object is) keeps its field order; a map (labels, networks,
 * ports, options…) has its keys sorted by bytes, at every depth.
 */
export function goJson(v: unknown): string {
  const order = (x: unknown, field?: string): unknown => {
    if (Array.isArray(x)) return x.map((e) => order(e));
    if (x === null || typeof x !== 'object' || typeof (x as { toJSON?: unknown }).toJSON === 'function') return x;
    const keys = Object.keys(x);
    if ((field !== undefined && GO_MAP_FIELDS.has(field)) || !keys.every((k) => GO_FIELD.test(k))) keys.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const o: { [k: string]: unknown } = {};
    for (const k of keys) o[k] = order((x as { [k: string]: unknown })[k], k);
    return o;
  };
  return JSON.stringify(order(v) ?? null).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}
