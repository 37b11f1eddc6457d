import { Command } from 'commander';

type Register = (runtime: Command) => void;

/**
 * The runtime's commands by file, in help order: only the file of the command being run is
 * loaded (the whole runtime CLI is 64 modules, `run` alone needs 36); help and unknown commands
 * load them all.
 */
export const RUNTIME_COMMAND_FILES: ReadonlyArray<{ readonly names: readonly string[]; readonly load: () => Register }> = [
  { names: ['pull', 'push', 'tag', 'images', 'image', 'rmi', 'history', 'save', 'load', 'import', 'login', 'logout'], load: () => (require('./images') as typeof import('./images')).registerImageCommands },
  { names: ['build'], load: () => (require('./build') as typeof import('./build')).registerBuildCommand },
  { names: ['volume'], load: () => (require('./volumes') as typeof import('./volumes')).registerVolumeCommands },
  { names: ['network'], load: () => (require('./networks') as typeof import('./networks')).registerNetworkCommands },
  {
    names: ['run', 'create', 'start', 'ps', 'inspect', 'logs', 'stop', 'restart', 'kill', 'pause', 'unpause', 'rm', 'wait', 'update', 'rename', 'top', 'port', 'stats', 'exec', 'healthcheck', 'restore'],
    load: () => (require('./containers') as typeof import('./containers')).registerContainerCommands,
  },
  { names: ['cp', 'diff', 'export', 'commit'], load: () => (require('./container-files') as typeof import('./container-files')).registerContainerFileCommands },
  { names: ['attach'], load: () => (require('./attach') as typeof import('./attach')).registerAttach },
  { names: ['info', 'system'], load: () => (require('./system') as typeof import('./system')).registerSystemCommands },
  { names: ['events'], load: () => (require('./events') as typeof import('./events')).registerEvents },
];

/**
 * `cdk-docker runtime …`: a Docker-like CLI over the built-in runtime.
 */
export function registerRuntime(program: Command, args?: readonly string[]): void {
  const runtime = program
    .command('runtime')
    .description('the built-in runtime, with Docker\'s commands (run, ps, exec, logs, pull, images, volume, …)')
    .enablePositionalOptions();
  // With `args` (those after `runtime`), only the file of the command they name.
  const named = RUNTIME_COMMAND_FILES.find((f) => args?.[0] !== undefined && f.names.includes(args[0]));
  for (const file of named ? [named] : RUNTIME_COMMAND_FILES) file.load()(runtime);
}
