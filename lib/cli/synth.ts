import { Command } from 'commander';
import { formatOption, StackFlags, withStackOptions } from './options';

export function registerSynth(program: Command): void {
  withStackOptions(
    program
      .command('synth')
      .description('run the app and write one validated plan per stack (cdk.out/<stack>.plan.json)')
      .argument('[stacks...]', 'stacks to report (all are synthesized)'),
  )
    .addOption(formatOption(['json', 'yaml'], 'json'))
    .action(async (stacks: string[], opts: StackFlags & { format: 'json' | 'yaml' }) => {
      const { synthesize } = await import('../toolkit/synth');
      const result = await synthesize({ inProcess: true, app: opts.app, outdir: opts.output, stacks, format: opts.format });
      for (const plan of result.plans) {
        const n = Object.keys(plan.resources).length;
        process.stdout.write(`${plan.stack}: ${result.files[plan.stack].join(', ')} (${n} resource${n === 1 ? '' : 's'})\n`);
      }
    });
}
