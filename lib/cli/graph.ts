import { Command } from 'commander';
import type { GraphFormat } from '../toolkit/graph';
import { formatOption, StackFlags, withStackOptions } from './options';

export function registerGraph(program: Command): void {
  withStackOptions(
    program
      .command('graph')
      .description('print the dependency graph of the stacks (Graphviz dot or Mermaid)')
      .argument('[stacks...]', 'stacks to draw (default: all)'),
  )
    .addOption(formatOption(['dot', 'mermaid'], 'dot'))
    .action(async (stacks: string[], opts: StackFlags & { format: GraphFormat }) => {
      const [{ synthesize }, { renderGraph }] = await Promise.all([import('../toolkit/synth'), import('../toolkit/graph')]);
      const result = await synthesize({ inProcess: true, app: opts.app, outdir: opts.output, stacks });
      process.stdout.write(renderGraph(result.plans, opts.format));
    });
}
