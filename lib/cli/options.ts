import { Command, Option } from 'commander';

/** Flags shared by the commands that run the app: --app and -o/--output. */
export function withAppOptions(cmd: Command): Command {
  return cmd
    .option('-a, --app <command>', 'command that runs the app (default: "app" in cdk-docker.json)')
    .option('-o, --output <dir>', 'directory for the plans (default: "output" in cdk-docker.json, else cdk.out)');
}

export function formatOption(choices: string[], dflt: string): Option {
  return new Option('--format <format>', 'output format').choices(choices).default(dflt);
}
