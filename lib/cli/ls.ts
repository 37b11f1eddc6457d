import { Command } from 'commander';
import { StackFlags, withStackOptions } from './options';

export function registerLs(program: Command): void {
  withStackOptions(
    program
      .command('ls')
      .alias('list')
      .description('list the stacks and their resources (TYPE PATH NAME)')
      .argument('[stacks...]', 'stacks to list (default: all)'),
  )
    .option('-q, --quiet', 'print stack names only')
    .action(async (stacks: string[], opts: StackFlags & { quiet?: boolean }) => {
      const [{ synthesize }, { renderStackList }] = await Promise.all([import('../toolkit/synth'), import('../toolkit/list')]);
      const result = await synthesize({ inProcess: true, app: opts.app, outdir: opts.output, stacks });
      process.stdout.write(renderStackList(result.plans, !opts.quiet));
    });
}
