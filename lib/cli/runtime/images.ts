import { Command, Option } from 'commander';
import * as fs from 'node:fs';
import type * as Runtime from '../../../runtime';
import { CdkDockerError, InvalidArgumentError } from '../../core/errors';
import { normalizeReference } from '../../core/reference';
import { parsePlatform, requireHostPlatform } from '../../core/platform';
import { collect } from '../options';
import { imageService, loadRuntime } from './services';
import { ago, eachName, goTimeString, printInspect, renderFormatted, renderTemplate, shortId, table } from './format';

function out(s: string): void {
  process.stdout.write(s);
}

/**
 * Prints `prompt` and reads one line from the terminal on stdin, in raw mode so that the
 * terminal does not echo it; `echo` shows what is typed (a username), else nothing (a password).
 * Backspace edits, Ctrl-C interrupts (exit 130), Ctrl-D or end of input ends the line.
 */
function promptLine(prompt: string, echo: boolean): Promise<string> {
  const stdin = process.stdin;
  // Raw before the prompt shows: what is typed as soon as it appears (a password too) must not
  // reach a terminal that still echoes.
  stdin.setRawMode(true);
  out(prompt);
  return new Promise((resolve, reject) => {
    let line = '';
    const finish = (err?: Error) => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.setRawMode(false);
      stdin.pause();
      if (err) reject(err);
      else resolve(line);
    };
    const onEnd = () => finish();
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') {
          out('\n');
          process.exitCode = 130;
          return finish(new InvalidArgumentError('login interrupted'));
        }
        if (ch === '\u007f' || ch === '\b') {
          if (line.length > 0) {
            line = [...line].slice(0, -1).join('');
            if (echo) out('\b \b');
          }
          continue;
        }
        if (ch < ' ') continue;
        line += ch;
        if (echo) out(ch);
      }
    };
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.resume();
  }).then((line) => {
    if (echo) out('\n');
    return line as string;
  });
}

/** Docker's last words of a login that stored a password in its config file. */
function loggedIn(svc: Runtime.Images.ImageService): void {
  process.stderr.write(
    `WARNING! Your password will be stored unencrypted in ${svc.credentialsFile()}.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/engine/reference/commandline/login/#credentials-store\n\n`,
  );
  out('Login Succeeded\n');
}

/** Registers the image commands of `cdk-docker runtime`. */
export function registerImageCommands(runtime: Command): void {
  runtime
    .command('pull')
    .description('download an image from a registry')
    .argument('<image>', 'NAME[:TAG|@DIGEST]')
    .option('-q, --quiet', 'print only the image reference')
    .option('--platform <platform>', 'os/arch[/variant]: this host\'s (the engine runs no other)')
    .action(async (ref: string, o: { quiet?: boolean; platform?: string }) => {
      if (o.platform) requireHostPlatform(parsePlatform(o.platform));
      await imageService().pull(ref, o.quiet ? loadRuntime().images().Progress.silent() : loadRuntime().images().Progress.to(process.stdout));
      out(`${normalizeReference(ref)}\n`);
    });

  runtime
    .command('push')
    .description('upload an image to a registry')
    .argument('<image>', 'NAME[:TAG]')
    .option('-q, --quiet', 'print nothing but errors')
    .action(async (ref: string, o: { quiet?: boolean }) => {
      await imageService().push(ref, o.quiet ? loadRuntime().images().Progress.silent() : loadRuntime().images().Progress.to(process.stdout));
    });

  runtime
    .command('tag')
    .description('create a tag TARGET that refers to SOURCE')
    .argument('<source>', 'SOURCE_IMAGE[:TAG]')
    .argument('<target>', 'TARGET_IMAGE[:TAG]')
    .action(async (source: string, target: string) => {
      await imageService().tag(source, target);
    });

  const IMAGE_HEADERS = { Containers: 'CONTAINERS', CreatedAt: 'CREATED AT', CreatedSince: 'CREATED', Digest: 'DIGEST', ID: 'IMAGE ID', Repository: 'REPOSITORY', SharedSize: 'SHARED SIZE', Size: 'SIZE', Tag: 'TAG', UniqueSize: 'UNIQUE SIZE', VirtualSize: 'VIRTUAL SIZE' };
  const images = (cmd: Command) =>
    cmd
      .description('list images')
      .argument('[reference]', 'REPOSITORY[:TAG]: only these images (a reference filter: every tag of a repository, one tag, or a pattern such as \'app:*\')')
      .option('-a, --all', 'show intermediate images too (a build\'s steps)')
      .option('-q, --quiet', 'only image IDs')
      .option('--digests', 'show digests')
      .option('--no-trunc', 'do not truncate IDs')
      .option('-f, --filter <filter>', 'reference=PATTERN, dangling=true|false, label=K[=V], before=IMAGE, since=IMAGE (repeatable)', collect)
      .option('--format <template>', 'a Go template per image: {{.ID}}, {{.Repository}}, {{.Tag}}, {{.Digest}}, {{.CreatedSince}}, {{.CreatedAt}}, {{.Size}}')
      .action((reference: string | undefined, o: { all?: boolean; quiet?: boolean; digests?: boolean; trunc: boolean; filter?: string[]; format?: string }) => {
        const filters = loadRuntime().images().parseImageListFilters([...(o.filter ?? []), ...(reference !== undefined ? [`reference=${reference}`] : [])]);
        const rows = imageService().list(o.all, filters);
        if (o.format !== undefined || o.quiet) {
          // As Docker's: one line per row (tag), -q too, so an image with two tags prints its id twice.
          const fmt = o.quiet ? '{{.ID}}' : o.format!;
          out(renderFormatted(fmt, rows.map((r) => ({ Containers: 'N/A', CreatedAt: goTimeString(r.created), CreatedSince: ago(r.created), Digest: r.digest, ID: o.trunc ? shortId(r.id) : r.id, Repository: r.repository, SharedSize: 'N/A', Size: loadRuntime().humanSize(r.size, 3), Tag: r.tag, UniqueSize: 'N/A', VirtualSize: loadRuntime().humanSize(r.size, 3) })), IMAGE_HEADERS));
          return;
        }
        const header = ['REPOSITORY', 'TAG', ...(o.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'];
        out(table(header, rows.map((r) => [r.repository, r.tag, ...(o.digests ? [r.digest] : []), o.trunc ? shortId(r.id) : r.id, ago(r.created), loadRuntime().humanSize(r.size, 3)])));
      });
  images(runtime.command('images'));

  const image = runtime.command('image').description('manage images');
  images(image.command('ls').alias('list'));
  image
    .command('inspect')
    .description('show images as Docker-like JSON')
    .argument('<images...>')
    .option('-f, --format <template>', 'a Go-template subset such as {{.Id}} or {{json .Config}}')
    .action(async (names: string[], o: { format?: string }) => {
      const svc = imageService();
      await printInspect(names, (n) => svc.inspect(n), o.format);
    });
  const rmi = (cmd: Command) =>
    cmd
      .description('remove images')
      .argument('<images...>')
      .option('-f, --force', 'remove even if a container uses it (it is only untagged then)')
      .action(async (names: string[], o: { force?: boolean }) => {
        const svc = imageService();
        await eachName(names, async (n) => (await svc.remove(n, o.force)).map((l) => `${l}\n`).join(''));
      });
  rmi(runtime.command('rmi'));
  rmi(image.command('rm'));
  image
    .command('prune')
    .description('remove dangling images (all unused ones with -a)')
    .option('-a, --all', 'remove all images no container uses, tagged ones too')
    .option('-f, --force', 'do not prompt')
    .action(async (o: { all?: boolean }) => {
      // Step containers of killed builds hold their images: they go first (see runtime/build/leftovers).
      const rt = loadRuntime();
      for (const p of (await new (rt.build().BuildService)(rt.runtimeConfig()).collectDeadBuilds()).problems) process.stderr.write(`[Warning] ${p}\n`);
      const r = await imageService().prune(o.all);
      // Docker's CLI: each reference taken off and each image and layer deleted, lower-cased.
      if (r.deletions.length) out(`Deleted Images:\n${r.deletions.map((d) => ('untagged' in d ? `untagged: ${d.untagged}\n` : `deleted: ${d.deleted}\n`)).join('')}\n`);
      out(`Total reclaimed space: ${loadRuntime().humanSize(r.reclaimed)}\n`);
    });

  const history = (cmd: Command) =>
    cmd
      .description('show the history of an image')
      .argument('<image>')
      .option('--no-trunc', 'do not truncate output')
      .option('-q, --quiet', 'only image IDs')
      .option('--format <template>', 'a Go-template subset per row: {{.ID}}, {{.CreatedSince}}, {{.CreatedAt}}, {{.CreatedBy}}, {{.Size}}, {{.Comment}}')
      .action((name: string, o: { trunc: boolean; quiet?: boolean; format?: string }) => {
        const rows = imageService().history(name);
        if (o.format) {
          const id = (r: { id: string }) => (r.id === '<missing>' || !o.trunc ? r.id : shortId(r.id));
          out(rows.map((r) => `${renderTemplate(o.format!, { ID: id(r), CreatedSince: ago(r.created), CreatedAt: r.created, CreatedBy: r.createdBy, Size: loadRuntime().humanSize(r.size, 3), Comment: r.comment })}\n`).join(''));
          return;
        }
        if (o.quiet) {
          out(rows.map((r) => `${r.id === '<missing>' ? r.id : o.trunc ? shortId(r.id) : r.id}\n`).join(''));
          return;
        }
        const trunc = (s: string) => (o.trunc && s.length > 45 ? `${s.slice(0, 44)}…` : s);
        out(table(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], rows.map((r) => [r.id === '<missing>' ? r.id : o.trunc ? shortId(r.id) : r.id, ago(r.created), trunc(r.createdBy), loadRuntime().humanSize(r.size, 3), r.comment])));
      });
  history(runtime.command('history'));
  history(image.command('history'));

  runtime
    .command('save')
    .description('write images to a tar archive (Docker archive + OCI layout), to stdout by default')
    .argument('<images...>')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .action(async (names: string[], o: { output?: string }) => {
      if (!o.output && process.stdout.isTTY) throw new InvalidArgumentError('cowardly refusing to save to a terminal: use -o FILE or redirect stdout');
      const svc = imageService();
      if (o.output) {
        const tmp = `${o.output}.tmp-${process.pid}`;
        try {
          await svc.save(names, fs.createWriteStream(tmp));
          fs.renameSync(tmp, o.output);
        } finally {
          fs.rmSync(tmp, { force: true });
        }
      } else {
        await svc.save(names, process.stdout);
      }
    });

  runtime
    .command('load')
    .description('load images from a tar archive (Docker or OCI), from stdin by default')
    .option('-i, --input <file>', 'read from a file instead of stdin')
    .option('-q, --quiet', 'print nothing')
    .action(async (o: { input?: string; quiet?: boolean }) => {
      const input = o.input ? fs.createReadStream(o.input) : process.stdin;
      const lines = await imageService().load(input, o.input ?? 'stdin');
      if (!o.quiet) out(lines.map((l) => `${l}\n`).join(''));
    });

  runtime
    .command('import')
    .description('make a one-layer image from a root filesystem tarball (FILE or - for stdin)')
    .argument('<file>')
    .argument('[reference]', 'REPOSITORY[:TAG]')
    .addOption(new Option('-c, --change <instruction>', 'apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, …)').argParser(collect))
    .option('-m, --message <message>', 'commit message')
    .action(async (file: string, ref: string | undefined, o: { change?: string[]; message?: string }) => {
      const input = file === '-' ? process.stdin : fs.createReadStream(file);
      const record = await imageService().import(input, ref, { changes: o.change, message: o.message ?? `Imported from ${file}` });
      out(`${record.id}\n`);
    });

  runtime
    .command('login')
    .description('log in to a registry (credentials go to ~/.docker/config.json, shared with docker)')
    .argument('[server]', 'registry host[:port]', 'docker.io')
    .option('-u, --username <user>')
    .option('-p, --password <password>', 'password (prefer --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .action(async (server: string, o: { username?: string; password?: string; passwordStdin?: boolean }) => {
      let password = o.password;
      let username = o.username?.trim();
      if (o.password !== undefined) process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
      if (o.passwordStdin) {
        if (o.password !== undefined) throw new InvalidArgumentError('--password and --password-stdin are mutually exclusive');
        if (!username) throw new InvalidArgumentError('Must provide --username with --password-stdin');
        const chunks: Buffer[] = [];
        for await (const c of process.stdin) chunks.push(c as Buffer);
        password = Buffer.concat(chunks).toString('utf8').replace(/\n$/, '').replace(/\r$/, '');
      }
      const svc = imageService();
      // As Docker: with neither a username nor a password, stored credentials are tried first.
      const stored = !username && !password ? svc.storedCredentials(server) : undefined;
      if (stored?.username && stored.password) {
        out('Authenticating with existing credentials...\n');
        try {
          await svc.login(server, stored);
          loggedIn(svc);
          return;
        } catch (e) {
          if (!(e instanceof CdkDockerError)) throw e;
          process.stderr.write(`Login did not succeed, error: ${e.message}\n`);
        }
      }
      // What is missing is asked for on a terminal, the password without echo.
      if ((!password || !username) && !process.stdin.isTTY) throw new InvalidArgumentError('Cannot perform an interactive login from a non TTY device');
      if (!username) {
        if (server === 'docker.io') out('Login with your Docker ID to push and pull images from Docker Hub. If you don\'t have a Docker ID, head over to https://hub.docker.com to create one.\n');
        username = (await promptLine(stored?.username ? `Username (${stored.username}): ` : 'Username: ', true)).trim() || stored?.username;
      }
      if (!username) throw new InvalidArgumentError('Non-null Username Required');
      if (!password) {
        password = await promptLine('Password: ', false);
        out('\n');
        if (!password) throw new InvalidArgumentError('Password Required');
      }
      await svc.login(server, { username, password });
      loggedIn(svc);
    });

  runtime
    .command('logout')
    .description('remove stored credentials for a registry')
    .argument('[server]', 'registry host[:port]', 'docker.io')
    .action((server: string) => {
      const removed = imageService().logout(server);
      out(removed ? `Removing login credentials for ${server}\n` : `Not logged in to ${server}\n`);
    });
}
