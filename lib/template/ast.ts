/** The parse tree of a template, and Go's String() of its nodes (quoted in execution errors). */

/** An operand of a command; `text` is Go's String() of the node (used in error context). */
export type Operand =
  | { kind: 'field'; pos: number; path: string[] }
  | { kind: 'variable'; pos: number; name: string; path: string[] }
  | { kind: 'dot'; pos: number }
  | { kind: 'nil'; pos: number }
  | { kind: 'literal'; pos: number; value: string | number | boolean; text: string }
  | { kind: 'function'; pos: number; name: string }
  | { kind: 'pipe'; pos: number; pipe: Pipe }
  | { kind: 'chain'; pos: number; node: Operand; path: string[] };

export interface Command { pos: number; args: Operand[] }
export interface Pipe { pos: number; decl: string[]; assign: boolean; cmds: Command[] }

export type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipe }
  | Control
  | { kind: 'break' | 'continue' };

export interface Control { kind: 'if' | 'with' | 'range'; pipe: Pipe; list: Node[]; elseList?: Node[] }

export function operandText(o: Operand): string {
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
export const commandText = (c: Command) => c.args.map(operandText).join(' ');
export const pipeText = (p: Pipe) => (p.decl.length ? `${p.decl.join(', ')} ${p.assign ? '=' : ':='} ` : '') + p.cmds.map(commandText).join(' | ');
export function nodeText(n: Node): string {
  switch (n.kind) {
    case 'text': return n.text;
    case 'action': return `{{${pipeText(n.pipe)}}}`;
    case 'break': case 'continue': return `{{${n.kind}}}`;
    default: return `{{${n.kind} ${pipeText(n.pipe)}}}${n.list.map(nodeText).join('')}${n.elseList ? `{{else}}${n.elseList.map(nodeText).join('')}` : ''}{{end}}`;
  }
}
