import { Command, CommanderError } from 'commander';
import pc from 'picocolors';
import { CdkDockerError } from '../core/errors';
import { packageVersion } from '../core/package-info';
import { registerDeploy } from './deploy';
import { registerDoctor } from './doctor';
import { registerDrift } from './drift';
import { registerGraph } from './graph';
import { registerExport } from './export';
import { registerImport } from './import';
import { registerInit } from './init';
import { registerLs } from './ls';
import { registerRuntime } from './runtime';
import { FlagError, normalizeRuntimeArgs } from './runtime/flags';
import { registerStackCommands } from './stack-commands';
import { registerSynth } from './synth';
import { registerWatch } from './watch';

/**
 * Builds the `cdk-docker` command tree. Each command lives in its own file, parses its flags
 * and calls a function that takes an options object; none of them calls process.exit.
 */
export function buildProgram(): Command {
  const program = new Command('cdk-docker')
    .description('Infrastructure as code for containers: synth, diff and apply typed stacks.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false })
    // `runtime run IMAGE CMD -c …`: options after the image belong to the command, as with Docker.
    .enablePositionalOptions()
    .exitOverride();
  registerSynth(program);
  registerLs(program);
  registerGraph(program);
  registerDeploy(program);
  registerDrift(program);
  registerStackCommands(program);
  registerWatch(program);
  registerInit(program);
  registerImport(program);
  registerExport(program);
  registerDoctor(program);
  registerRuntime(program);
  return program;
}

/** Runs the CLI with `argv` (as process.argv) and resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
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
