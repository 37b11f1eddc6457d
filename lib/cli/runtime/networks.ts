import { Command, Option } from 'commander';
import type { Networks } from '../../../runtime';
import { InvalidArgumentError } from '../../core/errors';
import { collect } from '../options';
import { containerService, loadRuntime, networkStore } from './services';
import { confirm, eachName, keyValues, printInspect, renderTemplate, shortId, table } from './format';

function out(s: string): void {
  process.stdout.write(s);
}

/** The fields of a `network ls --format` template (Docker's names). */
function listFields(n: Networks.Network, noTrunc: boolean): { [field: string]: string } {
  return {
    ID: noTrunc ? n.Id : shortId(n.Id),
    Name: n.Name,
    Driver: n.Driver,
    Scope: n.Scope,
    IPv6: String(n.EnableIPv6),
    Internal: String(n.Internal),
    Labels: Object.keys(n.Labels).sort().map((k) => `${k}=${n.Labels[k]}`).join(','),
    CreatedAt: n.Created,
  };
}

/** Registers `cdk-docker runtime network …`. */
export function registerNetworkCommands(runtime: Command): void {
  const network = runtime.command('network').description('manage networks (create, ls, inspect, rm, prune)');

  network
    .command('create')
    .description('create a bridge network; prints its id')
    .argument('<name>', 'network name')
    .option('-d, --driver <driver>', 'network driver (only "bridge")', 'bridge')
    .addOption(new Option('--subnet <cidr>', 'IPv4 subnet, e.g. 10.1.0.0/16 (default: the next free one)').argParser(collect))
    .addOption(new Option('--gateway <ip>', 'gateway address in the subnet (default: its first address)').argParser(collect))
    .addOption(new Option('--ip-range <cidr>', 'allocate container addresses from this part of the subnet').argParser(collect))
    .option('--internal', 'no access to or from outside the network')
    .option('--attachable', 'recorded for Docker compatibility')
    .option('--ipv6', 'IPv6 (not supported by the built-in runtime)')
    .addOption(new Option('-l, --label <key=value>', 'set a label').argParser(collect))
    .addOption(new Option('-o, --opt <key=value>', `driver option: com.docker.network.bridge.name, com.docker.network.driver.mtu`).argParser(collect))
    .action(async (name: string, o: { driver: string; subnet?: string[]; gateway?: string[]; ipRange?: string[]; internal?: boolean; attachable?: boolean; ipv6?: boolean; label?: string[]; opt?: string[] }) => {
      if (o.ipv6) throw new InvalidArgumentError(`create ${name}: IPv6 networks are not supported by the built-in runtime yet; drop --ipv6`);
      const one = (flag: string, values: string[] | undefined): string | undefined => {
        if (values && values.length > 1) throw new InvalidArgumentError(`create ${name}: ${flag} given ${values.length} times; the built-in runtime supports one IPv4 subnet per network`);
        return values?.[0];
      };
      const record = await networkStore().create(name, {
        driver: o.driver,
        subnet: one('--subnet', o.subnet),
        gateway: one('--gateway', o.gateway),
        ipRange: one('--ip-range', o.ipRange),
        internal: o.internal,
        attachable: o.attachable,
        labels: keyValues('--label', o.label),
        options: keyValues('--opt', o.opt),
      });
      out(`${record.Id}\n`);
    });

  network
    .command('ls')
    .alias('list')
    .description('list networks')
    .option('-q, --quiet', 'only network ids')
    .option('--no-trunc', 'full network ids')
    .addOption(new Option('-f, --filter <filter>', 'name=NAME, label=KEY[=VALUE], driver=bridge|host|null, id=ID, type=builtin|custom').argParser(collect))
    .option('--format <template>', 'a Go-template subset over .ID .Name .Driver .Scope .Internal .Labels .CreatedAt')
    .action(async (o: { quiet?: boolean; trunc: boolean; filter?: string[]; format?: string }) => {
      const nets = await networkStore().list(loadRuntime().networks().parseNetworkListFilters(o.filter ?? []));
      const noTrunc = o.trunc === false;
      const id = (n: Networks.Network) => (noTrunc ? n.Id : shortId(n.Id));
      if (o.quiet) {
        out(nets.map((n) => `${id(n)}\n`).join(''));
      } else if (o.format) {
        if (/^\s*table\b/.test(o.format)) throw new InvalidArgumentError('"table" formats are not supported; drop "table" to print one line per network');
        out(nets.map((n) => `${renderTemplate(o.format!, listFields(n, noTrunc))}\n`).join(''));
      } else {
        out(table(['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'], nets.map((n) => [id(n), n.Name, n.Driver, n.Scope])));
      }
    });

  network
    .command('inspect')
    .description('show networks as Docker-like JSON')
    .argument('<networks...>')
    .option('-f, --format <template>', 'a Go-template subset such as {{.IPAM.Config}} or {{json .Containers}}')
    .action(async (refs: string[], o: { format?: string }) => {
      const store = networkStore();
      await printInspect(refs, (ref) => store.inspect(ref), o.format);
    });

  network
    .command('connect')
    .description('connect a container to a network (at once when it runs)')
    .argument('<network>')
    .argument('<container>')
    .option('--alias <alias>', 'a DNS name on the network (repeatable)', collect)
    .option('--ip <address>', 'IPv4 address on the network')
    .action(async (net: string, c: string, o: { alias?: string[]; ip?: string }) => {
      await containerService().connect(net, c, { aliases: o.alias, ip: o.ip });
    });

  network
    .command('disconnect')
    .description('disconnect a container from a network')
    .argument('<network>')
    .argument('<container>')
    .option('-f, --force', 'accepted for Docker compatibility')
    .action(async (net: string, c: string) => {
      await containerService().disconnect(net, c);
    });

  network
    .command('rm')
    .alias('remove')
    .description('remove networks (never one a container is attached to)')
    .argument('<networks...>')
    .option('-f, --force', 'no error for networks that do not exist')
    .action(async (refs: string[], o: { force?: boolean }) => {
      const store = networkStore();
      await eachName(refs, async (ref) => {
        await store.remove(ref, { force: o.force });
      });
    });

  network
    .command('prune')
    .description('remove all networks no container is attached to')
    .option('-f, --force', 'do not prompt for confirmation')
    .addOption(new Option('--filter <filter>', 'label=KEY[=VALUE], label!=KEY[=VALUE]').argParser(collect))
    .action(async (o: { force?: boolean; filter?: string[] }) => {
      const opts = loadRuntime().networks().parseNetworkPruneFilters(o.filter ?? []);
      if (!o.force) {
        // Declined: nothing printed, exit 0, as Docker's CLI does for a cancelled prune.
        if (!(await confirm('WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?'))) return;
      }
      const r = await networkStore().prune(opts);
      if (r.deleted.length) out(`Deleted Networks:\n${r.deleted.map((n) => `${n}\n`).join('')}\n`);
    });
}
