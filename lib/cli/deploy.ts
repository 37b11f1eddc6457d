import { Command } from 'commander';
import { collect, positiveInteger, stackEngine, StackFlags, terminal, withStackOptions } from './options';

/** `diff`, `apply` and `destroy`: flags here, the flow in lib/toolkit/deploy. */


export function registerDeploy(program: Command): void {
  withStackOptions(
    program
      .command('diff')
      .alias('plan')
      .description('show what apply would change: each resource as create, update in place, replace or delete, with the field and the reason')
      .argument('[stacks...]', 'stacks to compare (default: all)'),
  )
    .option('--json', 'print the changes as JSON')
    .option('--detailed-exitcode', 'exit 0 without changes, 2 with changes, 1 on error')
    .option('--out <file>', 'save the plan for `apply --plan FILE` (Terraform\'s -out)')
    .option('--target <path>', 'only this resource (a construct path) and what it depends on (repeatable)', collect)
    .action(async (stacks: string[], flags: StackFlags & { json?: boolean; detailedExitcode?: boolean; out?: string; target?: string[] }) => {
      const { diff } = await import('../toolkit/deploy');
      const { changed } = await diff({ ...terminal(), inProcess: true, stacks, app: flags.app, output: flags.output, engine: () => stackEngine(flags), json: flags.json, save: flags.out, targets: flags.target });
      if (flags.detailedExitcode && changed) process.exitCode = 2;
    });

  withStackOptions(
    program
      .command('apply')
      .description('converge the machine to the stacks: show the diff, ask, then create, update, replace and delete in dependency order')
      .argument('[stacks...]', 'stacks to apply (default: all)'),
  )
    .option('--auto-approve', 'do not ask before applying')
    .option('--parallelism <n>', 'changes carried out at once (default: 4 on the built-in engine, 16 on Docker and Swarm)')
    .option('--allow-data-loss', 'accept changes that recreate a volume')
    .option('--plan <file>', 'carry out a plan saved by `diff --out FILE` (refused when the stack changed since)')
    .option('--target <path>', 'only this resource (a construct path) and what it depends on (repeatable)', collect)
    .action(async (stacks: string[], flags: StackFlags & { autoApprove?: boolean; parallelism?: string; allowDataLoss?: boolean; plan?: string; target?: string[] }) => {
      const parallelism = flags.parallelism === undefined ? undefined : positiveInteger('--parallelism', flags.parallelism);
      const { apply } = await import('../toolkit/deploy');
      await apply({
        ...terminal(),
        inProcess: true,
        stacks,
        app: flags.app,
        output: flags.output,
        engine: () => stackEngine(flags),
        autoApprove: flags.autoApprove,
        parallelism,
        allowDataLoss: flags.allowDataLoss,
        plan: flags.plan,
        targets: flags.target,
      });
    });

  withStackOptions(
    program
      .command('destroy')
      .description('remove the stacks\' containers and networks (volumes only with removalPolicy destroy or --volumes)')
      .argument('[stacks...]', 'stacks to destroy (default: all)'),
  )
    .option('--auto-approve', 'do not ask before destroying')
    .option('--volumes', 'remove the stacks\' volumes too')
    .action(async (stacks: string[], flags: StackFlags & { autoApprove?: boolean; volumes?: boolean }) => {
      const { destroy } = await import('../toolkit/deploy');
      await destroy({ ...terminal(), inProcess: true, stacks, app: flags.app, output: flags.output, engine: () => stackEngine(flags), autoApprove: flags.autoApprove, volumes: flags.volumes });
    });
}
