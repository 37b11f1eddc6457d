/**
 * Docker's flag syntax for `cdk-docker runtime …`, in one place.
 *
 * Docker parses flags with spf13/pflag: `-t=v`, `-tv`, `-t v`, `--tag=v`, `--tag v`, bool groups
 * (`-itd`, `-dp 8080:80`), `--rm=false`, `--` ending the flags, and for `run`, `create`, `exec`
 * and `top` the first positional (the image, the container) ending them: what follows belongs to
 * the container's command. Commander reads only part of that (`-t=v` becomes the value "=v").
 * So before commander sees a runtime command's arguments, {@link normalizeRuntimeArgs} reads them
 * as pflag does, against the options the command declares to commander, and writes them back in
 * the one form commander reads unambiguously: `--long=value` / `--long` for each flag, then `--`,
 * then the positionals. Unknown flags fail as Docker's do (a {@link FlagError}, exit 125).
 */

import { Command, Option } from 'commander';
import { CdkDockerError } from '../../core/errors';

/** A flag Docker's parser would refuse: the CLI prints it with the command's usage and exits 125. */
export class FlagError extends CdkDockerError {
  /** Docker's exit status for a flag error. */
  public readonly exitCode = 125;
  constructor(
    message: string,
    /** `cdk-docker runtime run` */
    public readonly commandPath: string,
  ) {
    super(message);
    this.name = 'FlagError';
  }

  /**
   * What Docker 20.10's client prints for a flag error (cli.FlagErrorFunc: the error, then
   * `See 'docker run --help'.`), with our program's name. (Debian's docker.io 20.10.24 prints
   * the later form, a usage line and `Run '… --help' for more information`; the first line is
   * the same.)
   */
  public render(): string {
    return `${this.message}\nSee '${this.commandPath} --help'.\n`;
  }
}

/** Per-command settings the parser reads (set by the command files). */
interface FlagSettings {
  /** Flags end at the first positional (pflag's SetInterspersed(false)). */
  stopAtFirstPositional?: boolean;
  /** Other long names of declared flags (`net` → `network`), not shown in help, as Docker's hidden ones. */
  aliases?: { readonly [long: string]: string };
}
const settings = new WeakMap<Command, FlagSettings>();

/**
 * Declares that `cmd`'s flags end at its first positional argument: everything from there on
 * (`IMAGE cmd -f -h x`, `CONTAINER sh -c …`) is an argument, never a flag of ours.
 */
export function flagsEndAtFirstArgument(cmd: Command): Command {
  settings.set(cmd, { ...settings.get(cmd), stopAtFirstPositional: true });
  cmd.passThroughOptions();
  return cmd;
}

/** Declares long flag names that mean another declared flag (`--net` for `--network`). */
export function flagAliases(cmd: Command, aliases: { readonly [long: string]: string }): Command {
  settings.set(cmd, { ...settings.get(cmd), aliases: { ...settings.get(cmd)?.aliases, ...aliases } });
  return cmd;
}

/** Go's strconv.ParseBool, which pflag's bool flags use. */
export function parseBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

/** The command's full path as a user types it (`cdk-docker runtime network create`). */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Finds a subcommand by name or alias. */
function subcommand(cmd: Command, name: string): Command | undefined {
  return cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));
}

/**
 * Rewrites the arguments of a `runtime` command (the part of argv after the program's name) as
 * pflag reads them, in commander's unambiguous form. Arguments of other commands, and a `runtime`
 * command line that does not name a command, are returned unchanged.
 * Throws FlagError for what pflag refuses.
 */
export function normalizeRuntimeArgs(program: Command, args: readonly string[]): string[] {
  if (args[0] !== 'runtime') return [...args];
  let cmd = subcommand(program, 'runtime');
  if (!cmd) return [...args];
  let i = 1;
  while (i < args.length && cmd.commands.length > 0) {
    const next = subcommand(cmd, args[i]);
    if (!next) return [...args]; // `runtime --help`, `runtime nosuch`, `runtime network`: commander's own answer
    cmd = next;
    i++;
  }
  if (cmd.commands.length > 0) return [...args];
  return [...args.slice(0, i), ...parseFlags(cmd, args.slice(i))];
}

/** pflag's parseArgs over one command's declared options; returns `[flags…, '--', positionals…]`. */
function parseFlags(cmd: Command, args: readonly string[]): string[] {
  const path = commandPath(cmd);
  const fail = (message: string): never => {
    throw new FlagError(message, path);
  };
  const conf = settings.get(cmd) ?? {};
  const options = cmd.options as readonly Option[];
  const byLong = new Map<string, Option>();
  const byShort = new Map<string, Option>();
  for (const o of options) {
    if (o.long) byLong.set(o.long.slice(2), o);
    if (o.short) byShort.set(o.short.slice(1), o);
  }
  for (const [alias, target] of Object.entries(conf.aliases ?? {})) {
    const o = byLong.get(target);
    if (o && !byLong.has(alias)) byLong.set(alias, o);
  }
  // A bool's last setting wins, as in pflag; values of other flags keep their order.
  const bools = new Map<Option, boolean>();
  const values: string[] = [];
  const set = (o: Option, value: string | undefined, shownAs: string) => {
    if (o.required || (o.optional && value !== undefined)) {
      values.push(o.long ? `${o.long}=${value}` : o.short!, ...(o.long ? [] : [value!]));
      return;
    }
    if (o.optional) {
      values.push(o.long ?? o.short!);
      return;
    }
    const b = value === undefined ? true : parseBool(value);
    if (b === undefined) fail(`invalid argument "${value}" for "${shownAs}" flag: strconv.ParseBool: parsing "${value}": invalid syntax`);
    bools.set(o, b!);
  };
  const flagName = (o: Option) => (o.short && o.long ? `${o.short}, ${o.long}` : (o.long ?? o.short!));
  const help = () => ['--help'];
  const positionals: string[] = [];
  let i = 0;
  while (i < args.length) {
    const s = args[i++];
    if (s.length < 2 || s[0] !== '-') {
      if (conf.stopAtFirstPositional) {
        positionals.push(s, ...args.slice(i));
        break;
      }
      positionals.push(s);
      continue;
    }
    if (s === '--') {
      positionals.push(...args.slice(i));
      break;
    }
    if (s[1] === '-') {
      const body = s.slice(2);
      if (body[0] === '-' || body[0] === '=') fail(`bad flag syntax: ${s}`);
      const eq = body.indexOf('=');
      const name = eq < 0 ? body : body.slice(0, eq);
      const o = byLong.get(name);
      if (!o) {
        if (name === 'help') return help();
        fail(`unknown flag: --${name}`);
      }
      let value: string | undefined = eq < 0 ? undefined : body.slice(eq + 1);
      if (value === undefined && o!.required) {
        if (i >= args.length) fail(`flag needs an argument: --${name}`);
        value = args[i++];
      }
      set(o!, value, flagName(o!));
      continue;
    }
    // A group of shorthands: bools, possibly ending in one that takes a value.
    let shorts = s.slice(1);
    while (shorts.length > 0) {
      const c = shorts[0];
      const o = byShort.get(c);
      if (!o) {
        if (c === 'h') return help();
        fail(`unknown shorthand flag: '${c}' in -${shorts}`);
      }
      let value: string | undefined;
      if (shorts.length > 2 && shorts[1] === '=') {
        value = shorts.slice(2);
        shorts = '';
      } else if (!o!.required) {
        shorts = shorts.slice(1);
      } else if (shorts.length > 1) {
        value = shorts.slice(1);
        shorts = '';
      } else if (i < args.length) {
        value = args[i++];
        shorts = '';
      } else {
        fail(`flag needs an argument: '${c}' in -${shorts}`);
      }
      set(o!, value, flagName(o!));
    }
  }
  const flags = [...values];
  for (const [o, b] of bools) if (b) flags.push(o.long ?? o.short!);
  return positionals.length ? [...flags, '--', ...positionals] : flags;
}
