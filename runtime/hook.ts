import { runtimeConfig } from './config';
import { ContainerService } from './containers/service';

/**
 * The engine's callbacks, run by what outlives a command: conmon's exit command when a container
 * ends (`exited ID`: record the exit, apply the restart policy, remove an `--rm` container) or a
 * detached exec ends (`exec-exited ID EXEC_ID`: Docker's `exec_die`), and a container's health
 * loop at each interval (`healthcheck ID`: run the probe, record the result). Not a user
 * command: the engine starts it (ContainerContext.hookCommand) as
 *
 *     <node> <package>/dist/runtime/hook.js :exited :<id>
 *
 * with an environment of PATH and the state roots only. As bin/cdk-docker does for the CLI,
 * every argument carries a ':' in front, so none can be read by Node's own option parser (Node
 * 20 reads `--env-file` anywhere in its argv); arguments without it are refused.
 */

type Hook = (svc: ContainerService, args: string[]) => Promise<void>;

const HOOKS: { readonly [name: string]: { readonly args: number; readonly run: Hook } } = {
  exited: { args: 1, run: (svc, [id]) => svc.exited(id) },
  'exec-exited': { args: 2, run: async (svc, [id, execId]) => svc.detachedExecExited(id, execId) },
  healthcheck: { args: 1, run: async (svc, [id]) => void (await svc.runHealthcheck(id)) },
};

/** Runs one hook; resolves with the process's exit code (2 for a call that did not come from the engine). */
export async function runHook(argv: readonly string[]): Promise<number> {
  if (!argv.every((a) => a.startsWith(':'))) {
    process.stderr.write('cdk-docker hook: the engine runs this file itself (every argument with a leading ":"); it is not a command\n');
    return 2;
  }
  const [name, ...args] = argv.map((a) => a.slice(1));
  const hook = Object.prototype.hasOwnProperty.call(HOOKS, name) ? HOOKS[name] : undefined;
  // Every argument is an id the engine made: 64 hex digits (never a path, never an option).
  if (!hook || args.length !== hook.args || !args.every((a) => /^[0-9a-f]{64}$/.test(a))) {
    process.stderr.write(`cdk-docker hook: unknown call ${JSON.stringify([name, ...args])}; the hooks are ${Object.keys(HOOKS).join(', ')}, each with 64-hex-digit ids\n`);
    return 2;
  }
  await hook.run(new ContainerService(runtimeConfig()), args);
  return 0;
}

if (require.main === module) {
  runHook(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`cdk-docker hook: ${(e as Error)?.message ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
