import { Command } from 'commander';
import { registerBuildCommand } from './build';
import { registerContainerFileCommands } from './container-files';
import { registerContainerCommands } from './containers';
import { registerImageCommands } from './images';
import { registerNetworkCommands } from './networks';
import { registerVolumeCommands } from './volumes';

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
  require('./attach').registerAttach(runtime); // eslint-disable-line @typescript-eslint/no-require-imports
  require('./system').registerSystemCommands(runtime); // eslint-disable-line @typescript-eslint/no-require-imports
  require('./events').registerEvents(runtime); // eslint-disable-line @typescript-eslint/no-require-imports
}
