import { DockerfileParser } from 'dockerfile-ast';
import { InvalidArgumentError } from '../../lib/core/errors';
import { foldContinuations } from './words';

/**
 * A Dockerfile read with `dockerfile-ast`, cut into what the builder dispatches: the meta ARGs
 * before the first FROM, then one stage per FROM with its instructions. Nothing is substituted
 * here (that needs the build's variables); arguments are kept as written, continuations joined.
 */

/** A Dockerfile is wrong: the message names the file, the line and the instruction. */
export class DockerfileError extends InvalidArgumentError {
  public override readonly code = 'INVALID_ARGUMENT';
  constructor(public readonly file: string, public readonly line: number, public readonly instruction: string, message: string) {
    super(`${file}:${line}: ${instruction}: ${message}`);
  }
}

export interface Instruction {
  /** Upper case: `RUN`, `COPY`, … */
  readonly keyword: string;
  /** 1-based line of the instruction's first line (0 for instructions that are not in the file). */
  readonly line: number;
  /** The instruction as one line: keyword and arguments, continuations joined. */
  readonly original: string;
  /** The arguments after the flags, continuations joined. */
  readonly args: string;
  /** Leading `--name=value` flags (`--from`, `--chown`, `--interval`, …). */
  readonly flags: { readonly [name: string]: string };
  /** The exec (JSON) form, when the arguments are a JSON array of strings. */
  readonly json?: string[];
  /** `ENV`, `LABEL`, `ARG`: the pairs, names and values as written (quotes kept). `value` undefined: `ARG NAME` without a default. */
  readonly pairs?: ReadonlyArray<{ readonly name: string; readonly value?: string }>;
}

export interface Stage {
  /** 0-based position among the FROMs. */
  readonly index: number;
  /** `AS name`, lower-cased as Docker does. */
  readonly name?: string;
  /** The FROM instruction (its args: the image as written, `AS name` removed). */
  readonly from: Instruction;
  readonly instructions: Instruction[];
}

export interface ParsedDockerfile {
  readonly file: string;
  readonly escape: string;
  readonly metaArgs: Instruction[];
  readonly stages: Stage[];
}

/** A range of the text, as dockerfile-ast gives it (0-based lines and characters). */
interface Range {
  readonly start: { readonly line: number; readonly character: number };
  readonly end: { readonly line: number; readonly character: number };
}

interface WithProperties {
  getProperties?: () => Array<{ getNameRange(): Range; getValueRange(): Range | null }>;
}

/** The text of a range (lines split as the parser splits them: \r\n, \r or \n). */
function textOf(lines: string[], r: Range): string {
  if (r.start.line === r.end.line) return lines[r.start.line].slice(r.start.character, r.end.character);
  return [lines[r.start.line].slice(r.start.character), ...lines.slice(r.start.line + 1, r.end.line), lines[r.end.line].slice(0, r.end.character)].join('\n');
}

/** Everything after the keyword, flags included (dockerfile-ast's argument text leaves flags out). */
function rawArguments(node: { getRange(): Range; getInstructionRange(): Range }, lines: string[]): string {
  return textOf(lines, { start: node.getInstructionRange().end, end: node.getRange().end }).trim();
}

/** ENV, LABEL and ARG pairs as written. */
function pairsOf(node: unknown, keyword: string, lines: string[], escape: string): Array<{ name: string; value?: string }> | undefined {
  const props = (node as WithProperties).getProperties;
  if (!['ENV', 'LABEL', 'ARG'].includes(keyword.toUpperCase()) || !props) return undefined;
  return props.call(node).map((p) => {
    const range = p.getValueRange();
    return { name: foldContinuations(textOf(lines, p.getNameRange()), escape), value: range ? foldContinuations(textOf(lines, range), escape) : undefined };
  });
}

const KNOWN = new Set(['FROM', 'RUN', 'CMD', 'LABEL', 'MAINTAINER', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL']);
const WITH_FLAGS = new Set(['FROM', 'ADD', 'COPY', 'HEALTHCHECK', 'RUN']);
const FLAGS: { readonly [k: string]: readonly string[] } = {
  FROM: ['platform'],
  ADD: ['chown', 'chmod', 'checksum', 'link', 'keep-git-dir'],
  COPY: ['from', 'chown', 'chmod', 'link', 'parents', 'exclude'],
  HEALTHCHECK: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'],
  RUN: [],
};

/** The exec form of an argument string, if it is a JSON array of strings. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  try {
    const v = JSON.parse(args) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    // shell form
  }
  return undefined;
}

/** Splits leading `--name=value` flags off an argument string. */
function splitFlags(file: string, line: number, keyword: string, args: string): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {};
  let rest = args;
  for (;;) {
    const m = /^--([A-Za-z][A-Za-z0-9-]*)(?:=(\S*))?(?:\s+|$)/.exec(rest);
    if (!m) break;
    const name = m[1].toLowerCase();
    if (!FLAGS[keyword]?.includes(name)) throw new DockerfileError(file, line, keyword, `unknown flag: --${name}`);
    if (m[2] === undefined) throw new DockerfileError(file, line, keyword, `--${name} needs a value (--${name}=VALUE)`);
    flags[name] = m[2];
    rest = rest.slice(m[0].length);
  }
  return { flags, rest };
}

/**
 * Builds one instruction from its keyword and raw argument text. Exported for ONBUILD triggers,
 * which are stored as text in the parent image and dispatched in the child.
 */
export function makeInstruction(file: string, line: number, keyword: string, rawArgs: string, escape: string, pairs?: Array<{ name: string; value?: string }>): Instruction {
  const upper = keyword.toUpperCase();
  const folded = foldContinuations(rawArgs, escape);
  if (!KNOWN.has(upper)) throw new DockerfileError(file, line, keyword, `unknown instruction: ${keyword}`);
  const { flags, rest } = WITH_FLAGS.has(upper) ? splitFlags(file, line, upper, folded) : { flags: {}, rest: folded };
  if (rest === '' && !['RUN'].includes(upper)) throw new DockerfileError(file, line, upper, `${upper} requires at least one argument`);
  return { keyword: upper, line, original: `${upper} ${folded}`, args: rest, flags, json: execForm(rest), pairs };
}

/** Parses a Dockerfile's text; `file` names it in errors. */
export function parseDockerfile(text: string, file = 'Dockerfile'): ParsedDockerfile {
  const df = DockerfileParser.parse(text);
  const lines = text.split(/\r\n|\r|\n/);
  const escape = df.getEscapeCharacter();
  const metaArgs: Instruction[] = [];
  const stages: Array<{ index: number; name?: string; from: Instruction; instructions: Instruction[] }> = [];
  for (const node of df.getInstructions()) {
    const line = node.getRange().start.line + 1;
    const keyword = node.getInstruction();
    const raw = rawArguments(node, lines);
    const ins = makeInstruction(file, line, keyword, raw, escape, pairsOf(node, keyword, lines, escape));
    if (ins.keyword === 'FROM') {
      const words = ins.args.split(/\s+/);
      let name: string | undefined;
      if (words.length === 3 && words[1].toUpperCase() === 'AS') name = words[2].toLowerCase();
      else if (words.length !== 1) throw new DockerfileError(file, line, 'FROM', `expected "FROM IMAGE" or "FROM IMAGE AS NAME", got "FROM ${ins.args}"`);
      if (name && !/^[a-z][a-z0-9-_.]*$/.test(name)) throw new DockerfileError(file, line, 'FROM', `invalid name for build stage: "${name}", name can't start with a number or contain symbols`);
      if (name && stages.some((s) => s.name === name)) throw new DockerfileError(file, line, 'FROM', `duplicate name for build stage: "${name}"`);
      stages.push({ index: stages.length, name, from: { ...ins, args: words[0] }, instructions: [] });
      continue;
    }
    if (stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new DockerfileError(file, line, ins.keyword, 'no build stage in current context: the Dockerfile must begin with FROM (only ARG may come before it)');
      metaArgs.push(ins);
      continue;
    }
    stages[stages.length - 1].instructions.push(ins);
  }
  if (stages.length === 0) throw new DockerfileError(file, 1, 'FROM', 'the Dockerfile has no FROM instruction');
  return { file, escape, metaArgs, stages };
}

/** Parses one ONBUILD trigger (`RUN echo hi`) as an instruction. */
export function parseTrigger(trigger: string, file: string, line: number): Instruction {
  return parseInstruction(trigger, file, line, 'ONBUILD', 'trigger');
}

/**
 * One instruction given on its own (an ONBUILD trigger, a `commit`/`import --change`); `keyword`
 * and `what` name it in the error when the text is not exactly one instruction.
 */
export function parseInstruction(text: string, file: string, line: number, keyword = 'INSTRUCTION', what = 'instruction'): Instruction {
  const full = `FROM scratch\n${text}\n`;
  const nodes = DockerfileParser.parse(full).getInstructions();
  if (nodes.length !== 2) throw new DockerfileError(file, line, keyword, `invalid ${what} "${text}"`);
  const node = nodes[1];
  const lines = full.split('\n');
  return makeInstruction(file, line, node.getInstruction(), rawArguments(node, lines), '\\', pairsOf(node, node.getInstruction(), lines, '\\'));
}
