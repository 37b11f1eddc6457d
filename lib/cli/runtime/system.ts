import { Command } from 'commander';
import type { Info } from '../../../runtime';
import { renderTemplate } from './format';
import { containerService, imageService, loadRuntime } from './services';
import { packageVersion } from '../../core/package-info';

/** `info`'s data: the engine's (Docker's types.Info) with the client's, as `docker info --format` sees it. */
export async function infoData(): Promise<Info.EngineInfo & { ClientInfo: { Debug: boolean; Context: string; Version: string } }> {  const info = (require('../../../runtime') as typeof import('../../../runtime')).info();
  const config = loadRuntime().runtimeConfig();
  let running = 0;
  let paused = 0;
  let stopped = 0;
  for (const c of await containerService().list(true)) {
    if (c.state.Status === 'paused') paused++;
    else if (c.state.Status === 'running' || c.state.Status === 'restarting') running++;
    else stopped++;
  }
  const images = imageService().store.list(true).length;
  const data = info.engineInfo(config, { containers: { running, paused, stopped }, images });
  return { ...data, ClientInfo: { Debug: false, Context: 'default', Version: packageVersion() } };
}

/** Docker's `info` text: a Client and a Server section. */
export function formatInfo(i: Awaited<ReturnType<typeof infoData>>, bytesSize: (n: number) => string): string {
  const lines = ['Client:', ` Context:    ${i.ClientInfo.Context}`, ` Debug Mode: ${i.ClientInfo.Debug}`, '', 'Server:'];
  const add = (indent: number, key: string, value: string | number | boolean = '') => lines.push(`${' '.repeat(indent)}${key}:${value === '' ? '' : ` ${value}`}`);
  add(1, 'Containers', i.Containers);
  add(2, 'Running', i.ContainersRunning);
  add(2, 'Paused', i.ContainersPaused);
  add(2, 'Stopped', i.ContainersStopped);
  add(1, 'Images', i.Images);
  add(1, 'Server Version', i.ServerVersion);
  add(1, 'Storage Driver', i.Driver);
  for (const [k, v] of i.DriverStatus) add(2, k, v);
  add(1, 'Logging Driver', i.LoggingDriver);
  add(1, 'Cgroup Driver', i.CgroupDriver);
  add(1, 'Cgroup Version', i.CgroupVersion);
  add(1, 'Plugins');
  add(2, 'Volume', i.Plugins.Volume.join(' '));
  add(2, 'Network', i.Plugins.Network.join(' '));
  add(2, 'Log', i.Plugins.Log.join(' '));
  add(1, 'Swarm', i.Swarm.LocalNodeState);
  add(1, 'Runtimes', Object.keys(i.Runtimes).sort().join(' '));
  add(1, 'Default Runtime', i.DefaultRuntime);
  add(1, 'Init Binary', i.InitBinary);
  add(1, 'runc version', i.RuncCommit.ID);
  add(1, 'Security Options');
  for (const o of i.SecurityOptions) {
    const fields = new Map(o.split(',').map((kv) => kv.split('=', 2) as [string, string]));
    lines.push(`  ${fields.get('name') ?? o}`);
    for (const [k, v] of fields) if (k !== 'name') add(3, k.charAt(0).toUpperCase() + k.slice(1), v);
  }
  add(1, 'Kernel Version', i.KernelVersion);
  add(1, 'Operating System', i.OperatingSystem);
  add(1, 'OSType', i.OSType);
  add(1, 'Architecture', i.Architecture);
  add(1, 'CPUs', i.NCPU);
  add(1, 'Total Memory', bytesSize(i.MemTotal));
  add(1, 'Name', i.Name);
  add(1, 'ID', i.ID);
  add(1, 'Docker Root Dir', i.DockerRootDir);
  add(1, 'Debug Mode', i.Debug);
  if (i.HttpProxy) add(1, 'HTTP Proxy', i.HttpProxy);
  if (i.HttpsProxy) add(1, 'HTTPS Proxy', i.HttpsProxy);
  if (i.NoProxy) add(1, 'No Proxy', i.NoProxy);
  add(1, 'Experimental', i.ExperimentalBuild);
  add(1, 'Insecure Registries');
  for (const c of Object.values(i.RegistryConfig.IndexConfigs)) if (!c.Secure) lines.push(`  ${c.Name}`);
  for (const cidr of i.RegistryConfig.InsecureRegistryCIDRs) lines.push(`  ${cidr}`);
  add(1, 'Live Restore Enabled', i.LiveRestoreEnabled);
  return `${lines.join('\n')}\n\n`;
}

/** Registers `info` and `system info`. */
export function registerSystemCommands(runtime: Command): void {
  const info = (cmd: Command) =>
    cmd
      .description('show what the built-in engine is and holds (as docker info)')
      .option('-f, --format <template>', 'a Go template over Docker\'s info structure, e.g. {{.NCPU}} or {{json .}}')
      .action(async (o: { format?: string }) => {
        const data = await infoData();
        if (o.format !== undefined) {
          process.stdout.write(`${renderTemplate(o.format, data)}\n`);
          return;
        }
        process.stdout.write(formatInfo(data, loadRuntime().bytesSize));
        for (const w of data.Warnings ?? []) process.stderr.write(`${w}\n`);
      });
  info(runtime.command('info'));
  const system = runtime.commands.find((c) => c.name() === 'system') ?? runtime.command('system').description('manage the engine');
  info(system.command('info'));
}
