import { Command } from 'commander';
import { registerBuildCommand } from './build';
import { registerContainerFileCommands } from './container-files';
import { registerContainerCommands } from './containers';
import { registerImageCommands } from './images';
import { registerNetworkCommands } from './networks';
import { registerVolumeCommands } from './volumes';
import { registerAttach } from './attach';
import { registerEvents } from './events';
import { registerSystemCommands } from './system';

/** `cdk-docker runtime …`: a Docker-like CLI over the built-in runtime. */
export function registerRuntime(program: Command): void {
  const runtime = program
    .command('runtime')
    .description('the built-in runtime, with Docker\'s commands (run, ps, exec, logs, pull, images, volume, …)')
    .enablePositionalOptions();
  registerImageCommands(runtime);
  registerBuildCommand(runtime);
  registerVolumeCommands(runtime);
  registerNetworkCommands(runtime);
  registerContainerCommands(runtime);
  registerContainerFileCommands(runtime);
  registerAttach(runtime);
  registerSystemCommands(runtime);
  registerEvents(runtime);
}
