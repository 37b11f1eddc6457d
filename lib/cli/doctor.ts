import { Command } from 'commander';

/** `doctor`: flags here, the checks and the fix in lib/toolkit/doctor. */

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check the host components of the built-in runtime and say how to install what is missing')
    .option('--fix', 'install what is missing with apt-get (root)')
    .option('--json', 'print the checks as JSON')
    .action(async (opts: { fix?: boolean; json?: boolean }) => {
      const { doctor, renderDoctor } = await import('../toolkit/doctor');
      const { checks, ok } = await doctor({ fix: opts.fix });
      process.stdout.write(opts.json ? `${JSON.stringify(checks, null, 2)}\n` : renderDoctor(checks));
      process.exitCode = ok ? 0 : 1;
    });
}
