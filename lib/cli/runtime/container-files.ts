import { Command, Option } from 'commander';
import * as fs from 'node:fs';
import { InvalidArgumentError } from '../../core/errors';
import { collect } from '../options';
import { containerService as service, loadRuntime } from './services';

/** Docker's splitCpArg: `CONTAINER:PATH`, unless the argument is an absolute or `.`-relative local path. */
export function splitCpArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith('/')) return { path: arg };
  const i = arg.indexOf(':');
  if (i < 0 || arg.startsWith('.')) return { path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

const CP_HELP = `
Copies files and directories between a container and the host, as \`docker cp\`:
  a file to a missing path creates that file; to a directory, it goes in with its name;
  a directory to a missing path creates it with the source's content; to a directory, it goes
  in with its name, or only its content when SRC_PATH ends with "/.".
  "-" as SRC_PATH reads a tar stream from stdin (extracted into the directory DEST_PATH);
  "-" as DEST_PATH writes a tar stream to stdout.
Container paths are relative to the container's "/"; symlinks in them are followed inside the
container and never lead out of it. Works on running and stopped containers. Files copied in
are owned by root unless -a keeps the archive's uid/gid; files copied out are owned by you.
A copy to or from a path at or under a bind or volume mount uses the mount's files; a directory
copy does not descend into mounts below it (copy the mount's path itself), and tmpfs mounts of
a running container are not reachable.`;

/** cp, diff, export, commit. */
export function registerContainerFileCommands(runtime: Command): void {
  runtime
    .command('cp')
    .description('copy files/folders between a container and the host')
    .usage('[options] CONTAINER:SRC_PATH DEST_PATH|-\n       cdk-docker runtime cp [options] SRC_PATH|- CONTAINER:DEST_PATH')
    .argument('<src>', 'CONTAINER:SRC_PATH, a host path, or - (a tar on stdin)')
    .argument('<dest>', 'CONTAINER:DEST_PATH, a host path, or - (a tar on stdout)')
    .option('-a, --archive', 'archive mode: keep the uid/gid of what is copied into the container')
    .option('-L, --follow-link', 'always follow a symbolic link in SRC_PATH')
    .option('-q, --quiet', 'suppress the summary on a terminal')
    .addHelpText('after', CP_HELP)
    .action(async (srcArg: string, destArg: string, o: { archive?: boolean; followLink?: boolean; quiet?: boolean }) => {
      const src = splitCpArg(srcArg);
      const dst = splitCpArg(destArg);
      if (src.container !== undefined && dst.container !== undefined) throw new InvalidArgumentError('copying between containers is not supported; copy to the host first');
      if (src.container === undefined && dst.container === undefined) throw new InvalidArgumentError('must specify at least one container source, as CONTAINER:PATH');
      const m = loadRuntime().containers();
      const svc = service();
      if (src.container !== undefined) {
        if (!src.path) throw new InvalidArgumentError(`no path given after "${src.container}:"; give CONTAINER:SRC_PATH`);
        await m.copyFromContainer(svc, src.container, src.path, dst.path, process.stdout, o);
        if (dst.path !== '-' && !o.quiet && process.stderr.isTTY) process.stderr.write(`Successfully copied ${srcArg} to ${dst.path}\n`);
        return;
      }
      if (!dst.path) throw new InvalidArgumentError(`no path given after "${dst.container}:"; give CONTAINER:DEST_PATH`);
      await m.copyToContainer(svc, src.path, process.stdin, dst.container!, dst.path, o);
      if (!o.quiet && process.stderr.isTTY) process.stderr.write(`Successfully copied ${src.path} to ${destArg}\n`);
    });

  runtime
    .command('diff')
    .description('inspect changes to files or directories on a container\'s filesystem')
    .argument('<container>')
    .addHelpText('after', '\nLines are "A path" (added), "C path" (changed: a changed file, or a directory holding changes) and "D path" (deleted).\nMount points the runtime makes (/etc/hostname, /etc/hosts, /etc/resolv.conf) and the contents of volumes are not listed.')
    .action(async (c: string) => {
      const changes = await loadRuntime().containers().containerChanges(service(), c);
      process.stdout.write(changes.map((x) => `${x.kind} ${x.path}\n`).join(''));
    });

  runtime
    .command('export')
    .description('export a container\'s filesystem as a tar archive')
    .argument('<container>')
    .option('-o, --output <file>', 'write to a file, instead of STDOUT')
    .addHelpText('after', '\nThe tar holds the container\'s merged filesystem (image plus changes), not its volumes.')
    .action(async (c: string, o: { output?: string }) => {
      const m = loadRuntime().containers();
      if (!o.output) {
        if (process.stdout.isTTY) throw new InvalidArgumentError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
        await m.exportContainer(service(), c, process.stdout);
        return;
      }
      const tmp = `${o.output}.tmp-${process.pid}`;
      const file = fs.createWriteStream(tmp, { mode: 0o644 });
      try {
        await m.exportContainer(service(), c, file);
        await new Promise<void>((resolve, reject) => file.end((err?: Error | null) => (err ? reject(err) : resolve())));
        fs.renameSync(tmp, o.output);
      } catch (e) {
        file.destroy();
        fs.rmSync(tmp, { force: true });
        throw e;
      }
    });

  runtime
    .command('commit')
    .description('create a new image from a container\'s changes')
    .argument('<container>')
    .argument('[reference]', 'REPOSITORY[:TAG]')
    .option('-a, --author <author>', 'author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    .option('-m, --message <message>', 'commit message')
    .addOption(new Option('-c, --change <instruction>', 'apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, LABEL, WORKDIR, USER, STOPSIGNAL, EXPOSE, VOLUME)').argParser(collect))
    .addOption(
      new Option('-p, --pause [bool]', 'pause the container during commit (--pause=false to not)').default(true).argParser((v: string) => {
        if (!['true', 'false', '1', '0'].includes(v)) throw new InvalidArgumentError(`invalid --pause "${v}": use true or false`);
        return v === 'true' || v === '1';
      }),
    )
    .addHelpText('after', '\nThe image is the container\'s image plus one layer of its changes (volumes are not included),\nwith the container\'s Cmd, Entrypoint, Env, WorkingDir, User, Labels, ExposedPorts, Volumes and StopSignal.')
    .action(async (c: string, ref: string | undefined, o: { author?: string; message?: string; change?: string[]; pause: boolean }) => {
      const record = await service().commit(c, { ref, author: o.author, message: o.message, changes: o.change, pause: o.pause });
      process.stdout.write(`${record.id}\n`);
    });
}
