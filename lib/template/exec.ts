/** The executor: walks the parse tree for one object, with Go's execution errors. */

import { commandText, nodeText, operandText, type Command, type Control, type Node, type Operand, type Pipe } from './ast';
import { ArgError, CallError, type Fn } from './function';
import { formatV, isMap, truth, typeName } from './values';

const MISSING = Symbol('missing');
type Final = unknown; // a value, or MISSING when a command is not fed by a previous one
class Break {}
class Continue {}

/** An execution error, with Go's message (`template: :LINE:COL: executing "" at <…>: …`). */
export class ExecError extends Error {}

/** Runs a parse tree for one object (`$`); a new one per object, as it collects the output. */
export class Executor {
  private vars: Array<{ name: string; value: unknown }>;
  private out = '';
  constructor(private readonly src: string, private readonly funcs: Readonly<Record<string, Fn>>, root: unknown) {
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
    const f = this.funcs[name];
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
