import { Command, Option } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as Runtime from '../../../runtime';
import { InvalidArgumentError } from '../../core/errors';
import { FlagError, parseBool } from './flags';
import { parsePlatform, requireHostPlatform } from '../../core/platform';
import { collect } from '../options';
import { loadRuntime } from './services';

interface BuildFlags {
  tag?: string[];
  file?: string;
  buildArg?: string[];
  target?: string;
  cache: boolean;
  label?: string[];
  quiet?: boolean;
  network?: string;
  /** `--rm[=BOOL]`: a string when given a value. */
  rm?: string | boolean;
  forceRm?: boolean;
}

/** `K=V` flags as a map; `K` alone takes the value from the environment (undefined here). */
function keyValues(flag: string, values: string[] = [], bareAllowed: boolean): { [k: string]: string | undefined } {
  const out: { [k: string]: string | undefined } = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i === 0 || (i < 0 && !bareAllowed)) throw new InvalidArgumentError(`invalid ${flag} "${v}": expected KEY=VALUE`);
    if (i < 0) out[v] = undefined;
    else out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

/** The build's options from the command line (`-` reads the Dockerfile from stdin, without a context). */
export async function buildOptions(context: string, o: BuildFlags, output?: (t: string) => void): Promise<Runtime.Build.BuildOptions> {
  let dockerfileContent: string | undefined;
  let dir: string | undefined = context;
  if (context === '-') {
    dir = undefined;
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    dockerfileContent = Buffer.concat(chunks).toString('utf8');
  } else if (o.file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    dockerfileContent = Buffer.concat(chunks).toString('utf8');
  }
  const labels = keyValues('--label', o.label, false) as { [k: string]: string };
  return {
    context: dir,
    dockerfile: o.file && o.file !== '-' ? path.resolve(o.file) : undefined,
    dockerfileContent,
    tags: o.tag,
    buildArgs: keyValues('--build-arg', o.buildArg, true),
    target: o.target,
    noCache: !o.cache,
    labels,
    network: o.network,
    remove: removeFlag(o.rm),
    forceRemove: o.forceRm ?? false,
    output,
  };
}

/** `--rm[=BOOL]` (absent: true), Go's ParseBool as Docker's flag; a bad value fails as pflag's do. */
function removeFlag(value: string | boolean | undefined): boolean {
  if (value === undefined || typeof value === 'boolean') return value ?? true;
  const b = parseBool(value);
  if (b === undefined) throw new FlagError(`invalid argument "${value}" for "--rm" flag: strconv.ParseBool: parsing "${value}": invalid syntax`, 'cdk-docker runtime build');
  return b;
}

/** Registers `cdk-docker runtime build`. */
export function registerBuildCommand(runtime: Command): void {
  const build = (cmd: Command) =>
    cmd
      .description('build an image from a Dockerfile (CONTEXT is a directory, or - for a Dockerfile on stdin)')
      .argument('<context>', 'PATH | -')
      .addOption(new Option('-t, --tag <name>', 'NAME[:TAG] (repeatable)').argParser(collect))
      .option('-f, --file <path>', 'the Dockerfile (default: CONTEXT/Dockerfile; - for stdin)')
      .addOption(new Option('--build-arg <arg>', 'KEY=VALUE for an ARG (repeatable; KEY alone takes it from the environment)').argParser(collect))
      .option('--target <stage>', 'build up to this stage')
      .option('--no-cache', 'build every step again')
      .addOption(new Option('--label <label>', 'KEY=VALUE label on the image (repeatable)').argParser(collect))
      .option('-q, --quiet', 'print only the image id (and the build\'s output on stderr when it fails)')
      .option('--network <mode>', 'network for RUN steps: bridge (default), none, host or a network name')
      .option('--rm [bool]', 'remove intermediate containers after a successful build (default true; --rm=false keeps them)')
      .option('--force-rm', 'always remove intermediate containers, also those of a failed step')
      .option('--platform <platform>', 'os/arch[/variant]: this host\'s (the engine builds no other)')
      .action(async (context: string, o: BuildFlags & { platform?: string }) => {
        if (o.platform) requireHostPlatform(parsePlatform(o.platform));
        if (context !== '-' && !fs.existsSync(context)) throw new InvalidArgumentError(`unable to prepare context: path "${context}" not found`);
        const rt = loadRuntime();
        const { BuildService, BuildError, BuildInterruptedError } = rt.build();
        const svc = new BuildService(rt.runtimeConfig());
        // -q as Docker's client: the output is held back, and shown on stderr only if the build fails.
        let held = '';
        const output = o.quiet ? (t: string) => void (held += t) : (t: string) => void process.stdout.write(t);
        let result: Runtime.Build.BuildResult;
        try {
          result = await svc.build(await buildOptions(context, o, output));
        } catch (e) {
          if (held) process.stderr.write(held);
          // A RUN step failed: exit with the step's code and end with the line of Docker's classic
          // builder; before it, the Dockerfile line and the output's tail (for CI logs).
          if (e instanceof BuildError && e.dockerMessage !== undefined && e.exitCode !== undefined) {
            process.stderr.write(`Error: ${e.message}\n${e.dockerMessage}\n`);
            process.exitCode = e.exitCode;
            return;
          }
          // Stopped by SIGINT/SIGTERM/SIGHUP after cleaning up: the shell's 128+N, as docker build.
          if (!(e instanceof BuildInterruptedError)) throw e;
          process.stderr.write(`${e.message}\n`);
          process.exitCode = e.exitStatus;
          return;
        }
        if (o.quiet) process.stdout.write(`${result.imageId}\n`);
      });
  build(runtime.command('build'));
  const image = runtime.commands.find((c) => c.name() === 'image');
  if (image) build(image.command('build'));
}
