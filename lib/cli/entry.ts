import type { main as Main } from './main';

/**
 * The process entry of the CLI, run by bin/cdk-docker. Every argument arrives with a ':' in front
 * (so that Node's own option parser never sees one of ours, see bin/cdk-docker); the prefix is
 * taken off here. Arguments without it did not come through the shim: undefined.
 */
export function unescapeArgs(args: readonly string[]): string[] | undefined {
  return args.every((a) => a.startsWith(':')) ? args.map((a) => a.slice(1)) : undefined;
}

/** The commands that run the app: each starts the app's thread before anything else loads (see lib/toolkit/app-thread). */
const APP_COMMANDS = new Set(['synth', 'diff', 'plan', 'apply', 'destroy', 'ls', 'graph', 'watch']);

/**
 * Whether `args` is a command that will run the app in `dir` in a thread: one of the commands
 * above, no CDK_DOCKER_APP_RUNNER that keeps the app out of a thread, and cdk-docker.json's app
 * a TypeScript entry the CLI runs itself (or an app given by `--app`, which is not looked into).
 * A guess on the safe side: a wrong one costs a thread's start.
 */
export function runsApp(args: readonly string[], env: NodeJS.ProcessEnv = process.env, dir: string = process.cwd()): boolean {
  const runner = env.CDK_DOCKER_APP_RUNNER;
  if (!APP_COMMANDS.has(args[0]) || runner === 'node' || runner === 'shell' || args.some((a) => /^(?:-h|--help|--plan(?:=.*)?)$/.test(a))) return false;
  if (args.some((a) => /^(?:-a|--app)(?:=|$)/.test(a))) return true;
  try {
    const { loadConfig } = require('../toolkit/config') as typeof import('../toolkit/config');
    const { directTsApp } = require('../toolkit/ts-app') as typeof import('../toolkit/ts-app');
    const app = loadConfig(dir).app;
    return app !== undefined && directTsApp(app, dir, env) !== undefined;
  } catch {
    return false; // the command says what is wrong with cdk-docker.json
  }
}

function run(): void {
  const args = unescapeArgs(process.argv.slice(2));
  if (!args) {
    process.stderr.write('cdk-docker: run bin/cdk-docker, not its entry file: arguments given to Node directly could change how it starts\n');
    process.exitCode = 2;
    return;
  }
  if (runsApp(args)) (require('../toolkit/app-thread') as typeof import('../toolkit/app-thread')).startAppThread();
  const { main } = require('./main') as { main: typeof Main };
  main([process.argv[0], process.argv[1], ...args]).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      const e = err as Error | undefined;
      const stack = process.env.CDK_DOCKER_DEBUG ? `\n${e?.stack ?? ''}` : ' (set CDK_DOCKER_DEBUG=1 for the stack, and please report it)';
      process.stderr.write(`cdk-docker: internal error: ${e?.message ?? String(err)}${stack}\n`);
      process.exitCode = 1;
    },
  );
}

if (require.main === module) run();
