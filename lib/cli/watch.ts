import { Command } from 'commander';
import { interruptible, positiveInteger, stackEngine, StackFlags, terminal, withStackOptions } from './options';

/** `watch`: flags here, the flow in lib/toolkit/watch. */
export function registerWatch(program: Command): void {
  withStackOptions(
    program
      .command('watch')
      .description('apply, then apply each change of the app and its files as it is saved, sync develop.watch files into running containers, and stream the containers\' logs (Ctrl-C stops watching; the stack keeps running)')
      .argument('[stacks...]', 'stacks to watch (default: all)'),
  )
    .option('--no-logs', 'do not stream the containers\' logs')
    .option('--parallelism <n>', 'changes carried out at once by each apply (default: 4 on the built-in engine, 16 on Docker and Swarm)')
    .action(async (stacks: string[], flags: StackFlags & { logs: boolean; parallelism?: string }) => {
      const parallelism = flags.parallelism === undefined ? undefined : positiveInteger('--parallelism', flags.parallelism);
      const { watch } = await import('../toolkit/watch');
      // Ctrl-C ends the watch once the change in progress is carried out; a second one ends the process.
      const stop = new AbortController();
      const release = interruptible(stop, ['SIGINT', 'SIGTERM']);
      try {
        const { confirm: _none, ...term } = terminal();
        await watch({ ...term, inProcess: true, stacks, app: flags.app, output: flags.output, engine: () => stackEngine(flags), logs: flags.logs, parallelism, signal: stop.signal });
      } finally {
        release();
      }
    });
}
