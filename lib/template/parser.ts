/** The parser: tokens to the parse tree, with Go's parse errors (scoped variables, keywords, pipelines). */

import { operandText, type Command, type Node, type Operand, type Pipe } from './ast';
import type { Fn } from './function';
import { KEYWORDS, parseError, type Token } from './lexer';
import { goQuote } from './values';

/** Parses the tokens of `src`; an identifier is a function when `funcs` has it. */
export class Parser {
  private i = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  constructor(private readonly src: string, private readonly toks: Token[], private readonly funcs: Readonly<Record<string, Fn>>) {}

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
        if (!Object.prototype.hasOwnProperty.call(this.funcs, t.val)) throw this.error(t, `function "${t.val}" not defined`);
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
