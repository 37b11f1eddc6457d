import { Command } from 'commander';
import { collect } from './options';
import { ENGINES, resolveEngine } from '../toolkit/engine';

interface ImportComposeFlags {
  file?: string[];
  envFile?: string[];
  profile?: string[];
  output?: string;
  stack?: string;
  cdkDocker?: string;
}

/** Exit code of an import whose stack is not equivalent to the compose file (keys not imported). */
export const NOT_EQUIVALENT_EXIT_CODE = 3;

export function registerImport(program: Command): void {
  const cmd = program.command('import').description('write typed code for what you already have');
  cmd
    .command('compose')
    .description('write a TypeScript project (main.ts, one construct per service) from compose files; exit 3 if some keys could not be imported')
    .option('-f, --file <file>', 'compose file (repeat to merge several, as docker compose -f)', collect)
    .option('--env-file <file>', 'env file for ${VAR} interpolation (default: .env of the project directory)', collect)
    .option('--profile <profile>', 'enable services of this profile (repeatable)', collect)
    .option('-o, --output <dir>', 'project directory to write (default: the current directory)')
    .option('--stack <name>', 'stack name (default: the compose project name)')
    .option('--cdk-docker <spec>', 'version spec of the cdk-docker dependency of a new project')
    .action(async (o: ImportComposeFlags) => {
      const { importCompose } = await import('../toolkit/import');
      const r = importCompose({ files: o.file, envFiles: o.envFile, profiles: o.profile, outDir: o.output, stack: o.stack, librarySpec: o.cdkDocker });
      for (const w of r.warnings) process.stderr.write(`Warning: ${w}\n`);
      for (const n of r.notImported) process.stderr.write(`Warning: not imported: ${n.service ? `service "${n.service}": ` : ''}${n.key} — ${n.why}\n`);
      process.stdout.write(`Wrote ${r.written.join(', ')} to ${r.dir} (stack "${r.stack}")\n`);
      if (r.newProject) process.stdout.write('Next: npm install, then npx cdk-docker diff\n');
      if (r.notImported.length > 0) {
        process.stdout.write(`Not equivalent: ${r.notImported.length} key${r.notImported.length === 1 ? '' : 's'} not imported (see the warnings and the "not imported" comments in main.ts)\n`);
        process.exitCode = NOT_EQUIVALENT_EXIT_CODE;
      }
    });
  cmd
    .command('containers [names...]')
    .description('write a TypeScript project describing existing containers (their networks and volumes, names kept) that `apply` adopts; exit 3 if some settings could not be imported')
    .option('--filter <filter>', 'only containers with this label: label=KEY or label=KEY=VALUE (repeatable, all must match)', collect)
    .option('--compose-project <project>', 'the containers of this Compose project (com.docker.compose.project)')
    .option('--engine <name>', `engine to read: ${ENGINES.join(', ')} (default: CDK_DOCKER_ENGINE, else "engine" in cdk-docker.json, else builtin)`)
    .option('-o, --output <dir>', 'project directory to write (default: the current directory)')
    .option('--stack <name>', 'stack name (default: the compose project, else "containers")')
    .option('--cdk-docker <spec>', 'version spec of the cdk-docker dependency of a new project')
    .action(async (names: string[], o: { filter?: string[]; composeProject?: string; engine?: string; output?: string; stack?: string; cdkDocker?: string }) => {
      const [{ importContainers }, { commandDriver }] = await Promise.all([import('../toolkit/import-containers'), import('./engine')]);
      const driver = await commandDriver(resolveEngine({ engine: o.engine }));
      const r = await importContainers({ driver, names, filters: o.filter, composeProject: o.composeProject, outDir: o.output, stack: o.stack, librarySpec: o.cdkDocker });
      for (const w of r.warnings) process.stderr.write(`Warning: ${w}\n`);
      for (const n of r.notImported) process.stderr.write(`Warning: not imported: ${n.service ? `container "${n.service}": ` : ''}${n.key} — ${n.why}\n`);
      process.stdout.write(`Wrote ${r.written.join(', ')} to ${r.dir} (stack "${r.stack}": ${r.containers.join(', ')})\n`);
      process.stdout.write(r.newProject ? 'Next: npm install, then npx cdk-docker diff (it shows what apply adopts)\n' : 'Next: cdk-docker diff shows what apply adopts\n');
      if (r.notImported.length > 0) process.exitCode = NOT_EQUIVALENT_EXIT_CODE;
    });
}
