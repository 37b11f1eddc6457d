import { Command } from 'commander';

export function registerExport(program: Command): void {
  const cmd = program.command('export').description('write what a stack is in another tool\'s format');
  cmd
    .command('compose [stack]')
    .description('write the stack\'s plan as a compose file that docker-compose brings up the same way (secrets as references, never values)')
    .option('-o, --output <file>', 'compose file to write (default: standard output)')
    .option('-a, --app <command>', 'command that runs the app (default: "app" in cdk-docker.json)')
    .option('--plans <dir>', 'directory of the plans (default: "output" in cdk-docker.json, else cdk.out)')
    .action(async (stack: string | undefined, o: { output?: string; app?: string; plans?: string }) => {
      const { exportCompose } = await import('../toolkit/export');
      const r = await exportCompose({ stack, file: o.output, app: o.app, plans: o.plans });
      for (const w of r.warnings) process.stderr.write(`Warning: ${w}\n`);
      if (r.file !== undefined) process.stdout.write(`Wrote ${r.file}\n`);
    });
}
