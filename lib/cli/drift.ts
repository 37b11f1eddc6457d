import { Command } from 'commander';
import { stackDriver, StackFlags, terminal, withStackOptions } from './options';

/** `drift`: flags here, the check in lib/toolkit/drift (the app is not run: the last synth's plans are read). */

// The plans of the last synth, for `ps` (lib/cli/stack-commands.ts).
export { hasPlans, lastPlans, planDir } from '../toolkit/plans';

export function registerDrift(program: Command): void {
  withStackOptions(
    program
      .command('drift')
      .description('compare what the engine runs with the last synthesized plan: missing, stopped, changed, orphan, image moved (exit 0 none, 2 drift)')
      .argument('[stacks...]', 'stacks to check (default: all in the plans directory)'),
  )
    .option('--json', 'print the findings as JSON')
    .action(async (stacks: string[], flags: StackFlags & { json?: boolean }) => {
      const { drift } = await import('../toolkit/drift');
      const { out, color } = terminal();
      const { drifted } = await drift({ stacks, output: flags.output, driver: () => stackDriver(flags), json: flags.json, out, color });
      if (drifted) process.exitCode = 2;
    });
}
