import { Command, CommanderError } from 'commander';
import pc from 'picocolors';
import { CdkDockerError } from '../core/errors';
import { packageVersion } from '../core/package-info';
import { FlagError, normalizeRuntimeArgs } from './runtime/flags';

/** Registers a file's commands; `args` are those after the command's name (the runtime CLI loads only the subcommand's file). */
type Register = (program: Command, args?: readonly string[]) => void;

/**
 * The commands, in help order: the names each file registers and how to load it. Only the
 * file of the command being run is loaded (the runtime CLI alone is ~40 modules; all of them
 * took ~40 ms of every start); help and unknown commands load them all.
 */
export const COMMAND_FILES: ReadonlyArray<{ readonly names: readonly string[]; readonly load: () => Register }> = [
  { names: ['synth'], load: () => (require('./synth') as typeof import('./synth')).registerSynth },
  { names: ['ls'], load: () => (require('./ls') as typeof import('./ls')).registerLs },
  { names: ['graph'], load: () => (require('./graph') as typeof import('./graph')).registerGraph },
  { names: ['diff', 'apply', 'destroy'], load: () => (require('./deploy') as typeof import('./deploy')).registerDeploy },
  { names: ['drift'], load: () => (require('./drift') as typeof import('./drift')).registerDrift },
  { names: ['ps', 'logs', 'exec'], load: () => (require('./stack-commands') as typeof import('./stack-commands')).registerStackCommands },
  { names: ['watch'], load: () => (require('./watch') as typeof import('./watch')).registerWatch },
  { names: ['init'], load: () => (require('./init') as typeof import('./init')).registerInit },
  { names: ['import'], load: () => (require('./import') as typeof import('./import')).registerImport },
  { names: ['export'], load: () => (require('./export') as typeof import('./export')).registerExport },
  { names: ['doctor'], load: () => (require('./doctor') as typeof import('./doctor')).registerDoctor },
  { names: ['runtime'], load: () => (require('./runtime') as typeof import('./runtime')).registerRuntime },
];

/**
 * Builds the `cdk-docker` command tree. Each command lives in its own file, parses its flags
 * and calls a function that takes an options object; none of them calls process.exit.
 * With `args` (the arguments after the program's name), only what they need: the command they
 * name, or none for `--version`; all for help, no command or an unknown one.
 */
export function buildProgram(args?: readonly string[]): Command {
  const program = new Command('cdk-docker')
    .description('Infrastructure as code for containers: synth, diff and apply typed stacks.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false })
    // `runtime run IMAGE CMD -c …`: options after the image belong to the command, as with Docker.
    .enablePositionalOptions()
    .exitOverride();
  const first = args?.[0];
  if (first === '-V' || first === '--version') return program;
  const named = COMMAND_FILES.find((f) => first !== undefined && f.names.includes(first));
  for (const file of named ? [named] : COMMAND_FILES) file.load()(program, named ? args?.slice(1) : undefined);
  return program;
}

/** Runs the CLI with `argv` (as process.argv) and resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram(argv.slice(2));
  try {
    // Runtime commands take Docker's flag syntax (-t=v, -itd, flags ending at the image).
    await program.parseAsync([...argv.slice(0, 2), ...normalizeRuntimeArgs(program, argv.slice(2))]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exitCode 0; usage errors were printed by commander.
      return err.exitCode;
    }
    if (err instanceof FlagError) {
      process.stderr.write(err.render());
      return err.exitCode;
    }
    if (err instanceof CdkDockerError) {
      process.stderr.write(`${pc.red('Error:')} ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
