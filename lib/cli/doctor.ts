import { Command } from 'commander';
import { InvalidArgumentError } from '../core/errors';
import { ENGINES } from '../toolkit/engine';

/** `doctor`: flags here, the checks and the fix in lib/toolkit/doctor. */

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check the chosen engine: the host components of the built-in runtime (and how to install what is missing), or the Docker Engine')
    .option('--engine <name>', `engine to check: ${ENGINES.join(', ')} (default: CDK_DOCKER_ENGINE, else "engine" in cdk-docker.json, else builtin)`)
    .option('--fix', 'install what the built-in runtime is missing with apt-get (root)')
    .option('--json', 'print the checks as JSON')
    .action(async (opts: { engine?: string; fix?: boolean; json?: boolean }) => {
      const { resolveEngine } = await import('../toolkit/engine');
      const engine = resolveEngine({ engine: opts.engine });
      const toolkit = await import('../toolkit/doctor');
      // A Swarm is checked through its manager, a Docker Engine (the report shows its swarm state).
      if (engine.name === 'docker' || engine.name === 'swarm') {
        if (opts.fix) throw new InvalidArgumentError(`--fix installs what the built-in runtime needs; for --engine ${engine.name}, do what the report says (without --fix)`);
        const result = await toolkit.dockerDoctor({ docker: engine.docker ?? engine.swarm });
        process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : toolkit.renderDockerDoctor(result));
        process.exitCode = result.ok ? 0 : 1;
        return;
      }
      const { checks, ok } = await toolkit.doctor({ fix: opts.fix });
      process.stdout.write(opts.json ? `${JSON.stringify(checks, null, 2)}\n` : toolkit.renderDoctor(checks));
      process.exitCode = ok ? 0 : 1;
    });
}
