import { Command, Option } from 'commander';
import type { Driver } from '../drivers/types';
import { InvalidArgumentError } from '../core/errors';
import type { Engine } from './engine';
import { EngineChoice, ENGINES, resolveEngine } from '../toolkit/engine';

/**
 * The options every stack command takes (synth, ls, graph, diff, apply, destroy, drift, ps, logs,
 * exec), declared once here: which app, where its plans go, which engine.
 */
export interface StackFlags {
  /** -a/--app: command that runs the app. */
  readonly app?: string;
  /** -o/--output: the plans directory. */
  readonly output?: string;
  /**
   * --engine, resolved before the command's action runs: the flag, else CDK_DOCKER_ENGINE, else
   * "engine" in cdk-docker.json, else "builtin"; an unknown name has been refused. For Docker it
   * carries cdk-docker.json's endpoint settings.
   */
  readonly engine: EngineChoice;
}

/** Adds -a/--app, -o/--output and --engine to a stack command, and resolves the engine before its action. */
export function withStackOptions(cmd: Command): Command {
  return cmd
    .option('-a, --app <command>', 'command that runs the app (default: "app" in cdk-docker.json)')
    .option('-o, --output <dir>', 'directory of the plans (default: "output" in cdk-docker.json, else cdk.out)')
    .option('--engine <name>', `engine to talk to: ${ENGINES.join(', ')} (default: CDK_DOCKER_ENGINE, else "engine" in cdk-docker.json, else builtin)`)
    .hook('preAction', (self) => {
      self.setOptionValue('engine', resolveEngine({ engine: self.getOptionValue('engine') as string | undefined }));
    });
}

/** The engine of a stack command (driver, stack lock, plan key), loaded on first use. */
export async function stackEngine(flags: StackFlags): Promise<Engine> {
  return (await import('./engine')).engine(flags.engine);
}

/** The driver of a stack command that only reads (drift). */
export async function stackDriver(flags: StackFlags): Promise<Driver> {
  return (await import('./engine')).commandDriver(flags.engine);
}

/** What the stack commands print to and ask on: this terminal. */
export function terminal(): { out: NodeJS.WriteStream; color: boolean; confirm?: (question: string) => Promise<boolean> } {
  return {
    out: process.stdout,
    color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
    // Without a terminal to answer on, nothing is asked: the command says to pass --auto-approve.
    confirm: process.stdin.isTTY ? async (q) => (await import('./runtime/format')).confirm(q) : undefined,
  };
}

/** A flag's value as a whole number of at least 1. */
export function positiveInteger(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} ${value}: give a whole number of at least 1`);
  return n;
}

export function formatOption(choices: string[], dflt: string): Option {
  return new Option('--format <format>', 'output format').choices(choices).default(dflt);
}

/** Commander's collector for a repeatable option (`-e A -e B`). */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/**
 * Ctrl-C (and the `signals` given) aborts `stop`; a second one ends the process at once with the
 * shell's 128 + N. Returns the function that takes the handlers off again. The handlers stay on
 * until then (not `once`): proper-lockfile's signal-exit re-raises a signal that finds no other
 * listener, which would end the process before what `stop` ends could finish.
 */
export function interruptible(stop: AbortController, signals: readonly NodeJS.Signals[] = ['SIGINT']): () => void {
  const codes: { readonly [s: string]: number } = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
  const handler = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) process.exit(codes[signal] ?? 1);
    stop.abort();
  };
  for (const s of signals) process.on(s, handler);
  return () => {
    for (const s of signals) process.off(s, handler);
  };
}
