import { Command, Option } from 'commander';
import type { Volumes } from '../../../runtime';
import { InvalidArgumentError } from '../../core/errors';
import { tmpfsOptionProblem } from '../../core/limits';
import { confirm, eachName, keyValues, printInspect, renderTemplate, table } from './format';
import { humanSize } from '../../../runtime';
import { collect } from '../options';
import { loadRuntime, volumeStore } from './services';

function out(s: string): void {
  process.stdout.write(s);
}

/** The fields of a `volume ls --format` template (Docker's names). */
function listFields(v: Volumes.Volume): { [field: string]: string } {
  return {
    Name: v.Name,
    Driver: v.Driver,
    Scope: v.Scope,
    Mountpoint: v.Mountpoint,
    Labels: Object.keys(v.Labels).sort().map((k) => `${k}=${v.Labels[k]}`).join(','),
    Links: 'N/A',
    Size: 'N/A',
  };
}

/** Registers `cdk-docker runtime volume …`. */
export function registerVolumeCommands(runtime: Command): void {
  const volume = runtime.command('volume').description('manage volumes (create, ls, inspect, rm, prune)');

  volume
    .command('create')
    .description('create a volume (a random name when none is given); prints its name')
    .argument('[name]', 'volume name')
    .option('--name <name>', 'volume name')
    .option('-d, --driver <driver>', 'volume driver (only "local")', 'local')
    .addOption(new Option('-o, --opt <key=value>', 'driver option: type, device, o (e.g. -o type=tmpfs -o device=tmpfs -o o=size=10m)').argParser(collect))
    .addOption(new Option('-l, --label <key=value>', 'set a label').argParser(collect))
    .action(async (positional: string | undefined, o: { name?: string; driver: string; opt?: string[]; label?: string[] }) => {
      if (positional !== undefined && o.name !== undefined && positional !== o.name) {
        throw new InvalidArgumentError('conflicting options: either specify --name or provide positional arg, not both');
      }
      const driverOpts = keyValues('--opt', o.opt);
      // A tmpfs volume's `o` reaches mount(8) only when a container starts: check it now.
      if (driverOpts?.type === 'tmpfs') {
        for (const opt of (driverOpts.o ?? '').split(',').filter(Boolean)) {
          const problem = tmpfsOptionProblem(opt);
          if (problem) throw new InvalidArgumentError(`invalid --opt o=${driverOpts.o}: ${problem}`);
        }
      }
      const record = await volumeStore().create(positional ?? o.name, {
        driver: o.driver,
        labels: keyValues('--label', o.label),
        driverOpts,
      });
      out(`${record.Name}\n`);
    });

  volume
    .command('ls')
    .alias('list')
    .description('list volumes')
    .option('-q, --quiet', 'only volume names')
    .addOption(new Option('-f, --filter <filter>', 'dangling=true|false, label=KEY[=VALUE], name=NAME, driver=local').argParser(collect))
    .option('--format <template>', 'a Go-template subset over .Name .Driver .Scope .Mountpoint .Labels')
    .action((o: { quiet?: boolean; filter?: string[]; format?: string }) => {
      const volumes = volumeStore().list(loadRuntime().volumes().parseListFilters(o.filter ?? []));
      if (o.quiet) {
        out(volumes.map((v) => `${v.Name}\n`).join(''));
      } else if (o.format) {
        if (/^\s*table\b/.test(o.format)) throw new InvalidArgumentError('"table" formats are not supported; drop "table" to print one line per volume');
        out(volumes.map((v) => `${renderTemplate(o.format!, listFields(v))}\n`).join(''));
      } else {
        out(table(['DRIVER', 'VOLUME NAME'], volumes.map((v) => [v.Driver, v.Name])));
      }
    });

  volume
    .command('inspect')
    .description('show volumes as Docker-like JSON')
    .argument('<names...>')
    .option('-f, --format <template>', 'a Go-template subset such as {{.Mountpoint}} or {{json .Labels}}')
    .action(async (names: string[], o: { format?: string }) => {
      const store = volumeStore();
      await printInspect(names, (n) => store.inspect(n), o.format);
    });

  volume
    .command('rm')
    .alias('remove')
    .description('remove volumes (never one a container uses)')
    .argument('<names...>')
    .option('-f, --force', 'no error for volumes that do not exist')
    .action(async (names: string[], o: { force?: boolean }) => {
      const store = volumeStore();
      await eachName(names, async (n) => {
        await store.remove(n, { force: o.force });
      });
    });

  volume
    .command('prune')
    .description('remove anonymous volumes no container uses (all unused ones, named too, with -a), as Docker 23+')
    .option('-a, --all', 'remove all unused volumes, named ones too, not just anonymous ones')
    .option('-f, --force', 'do not prompt for confirmation')
    .addOption(new Option('--filter <filter>', 'label=KEY[=VALUE], label!=KEY[=VALUE], all=true|false (all=true as -a)').argParser(collect))
    .action(async (o: { all?: boolean; force?: boolean; filter?: string[] }) => {
      const opts = loadRuntime().volumes().parsePruneFilters(o.filter ?? [], o.all);
      if (!o.force) {
        const what = opts.all ? 'all local volumes' : 'anonymous local volumes';
        // Declined: nothing printed, exit 0, as Docker's CLI does for a cancelled prune.
        if (!(await confirm(`WARNING! This will remove ${what} not used by at least one container.\nAre you sure you want to continue?`))) return;
      }
      const r = await volumeStore().prune(opts);
      if (r.deleted.length) out(`Deleted Volumes:\n${r.deleted.map((n) => `${n}\n`).join('')}\n`);
      out(`Total reclaimed space: ${humanSize(r.reclaimed)}\n`);
    });
}
