import { Command } from 'commander';
import type { Driver, ObservedContainer } from '../drivers/types';
import { LABELS } from '../drivers/types';
import type { Plan } from '../plan/types';
import { InvalidArgumentError, NotFoundError } from '../core/errors';
import { replicaOf } from '../reconcile/hash';
import { stackPathOf } from '../toolkit/observe';
import { hasPlans, lastPlans, planDir } from './drift';
import { commandDriver } from './engine';
import type { EngineChoice } from '../toolkit/engine';
import { interruptible, withStackOptions } from './options';
import { table } from './runtime/format';

/**
 * `ps`, `logs` and `exec` scoped to a stack: containers are named by construct path (`web`,
 * `db/primary`, replica N as `web:N`) or by container name, and found through their labels
 * (io.cdk-docker.stack, io.cdk-docker.path, io.cdk-docker.replica). Everything goes through the
 * engine's driver: the stacks it has (`listStacks`), their containers (`observe`), their output
 * (`logs`) and commands run in them (`exec`).
 */

export { stackPathOf };

/** The container of `stack` that `ref` names (construct path, `path:N`, or container name). */
export async function resolveStackContainer(stack: string, ref: string, driver?: Driver): Promise<ObservedContainer> {
  const containers = (await (driver ?? (await commandDriver())).observe(stack)).containers;
  if (containers.length === 0) {
    throw new NotFoundError(`stack ${stack} has no containers (none carries the label ${LABELS.stack}=${stack}); check the stack name, or create them with \`cdk-docker apply ${stack}\``);
  }
  const m = /^(.*):([1-9][0-9]*)$/.exec(ref);
  const [p, replica] = m ? [m[1], Number(m[2])] : [ref, 1];
  const found =
    containers.find((c) => c.labels[LABELS.path] === p && replicaOf(c) === replica) ??
    containers.find((c) => c.name === ref);
  if (found === undefined) {
    const known = containers.map((c) => `${stackPathOf(c)} (${c.name})`).sort();
    throw new NotFoundError(`stack ${stack} has no container "${ref}"; its containers: ${known.join(', ')}`);
  }
  return found;
}

function statusText(c: ObservedContainer): string {
  const base = c.status === 'exited' || c.status === 'dead' ? `${c.status} (${c.exitCode})` : c.status;
  return c.health !== undefined && c.status === 'running' ? `${base} (${c.health})` : base;
}

function portsText(c: ObservedContainer): string {
  return c.ports.map((p) => `${p.hostIp}:${p.hostPort}->${p.containerPort}/${p.protocol}`).join(', ');
}

export interface PsOptions {
  /** One stack, or every stack when absent. */
  readonly stack?: string;
  /** Plans directory (default: as synth resolves it). */
  readonly output?: string;
  readonly driver?: Driver;
}

/**
 * The rows of `ps`: each stack's containers (from the plans in the plans directory, so planned
 * containers not running show as `missing`; from labels when there are no plans).
 */
export async function stackPs(options: PsOptions): Promise<{ header: string[]; rows: string[][] }> {
  const driver = options.driver ?? (await commandDriver());
  const outdir = await planDir(options.output);
  const plans = new Map<string, Plan>();
  if (hasPlans(outdir)) {
    const { readManifest } = await import('../plan/io');
    const names = Object.keys(readManifest(outdir).stacks);
    const wanted = options.stack !== undefined ? names.filter((n) => n === options.stack) : names;
    for (const p of lastPlans(outdir, wanted)) plans.set(p.stack, p);
  }
  let stacks: string[];
  if (options.stack !== undefined) stacks = [options.stack];
  else if (plans.size > 0) stacks = [...plans.keys()].sort();
  else stacks = await driver.listStacks();
  const all = options.stack === undefined;
  const rows: string[][] = [];
  for (const stack of stacks) {
    const containers = (await driver.observe(stack)).containers;
    const plan = plans.get(stack);
    if (!all && containers.length === 0 && plan === undefined) {
      throw new NotFoundError(`no stack named "${stack}": no plan in ${outdir} has it and no container carries the label ${LABELS.stack}=${stack}`);
    }
    const seen = new Set<string>();
    const stackRows: string[][] = [];
    for (const c of containers) {
      seen.add(stackPathOf(c));
      stackRows.push([c.name, stackPathOf(c), statusText(c), portsText(c)]);
    }
    for (const r of Object.values(plan?.resources ?? {})) {
      if (r.type !== 'container') continue;
      for (let n = 1; n <= r.spec.replicas; n++) {
        const p = `${r.path}${n > 1 ? `:${n}` : ''}`;
        if (!seen.has(p)) stackRows.push([n > 1 ? `${r.name}-${n}` : r.name, p, 'missing', '']);
      }
    }
    stackRows.sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    for (const row of stackRows) rows.push(all ? [stack, ...row] : row);
  }
  return { header: [...(all ? ['STACK'] : []), 'NAME', 'PATH', 'STATUS', 'PORTS'], rows };
}

export function registerStackCommands(program: Command): void {
  withStackOptions(program.command('ps'))
    .description('list a stack\'s containers by construct path: NAME, PATH, STATUS, PORTS (every stack when none is given)')
    .argument('[stack]', 'the stack (default: all)')
    .action(async (stack: string | undefined, flags: { output?: string; engine?: EngineChoice }) => {
      const { header, rows } = await stackPs({ stack, output: flags.output, driver: await commandDriver(flags.engine) });
      process.stdout.write(table(header, rows));
    });

  withStackOptions(program.command('logs'))
    .description('show the output of a stack\'s container, named by construct path (replica N as path:N) or container name')
    .argument('<stack>')
    .argument('<container>', 'construct path, path:N, or container name')
    .option('-f, --follow', 'keep following the output')
    .option('-t, --timestamps', 'show timestamps')
    .option('-n, --tail <n>', 'number of lines from the end ("all" for all)', 'all')
    .action(async (stack: string, ref: string, flags: { follow?: boolean; timestamps?: boolean; tail: string; engine?: EngineChoice }) => {
      const tail = tailFlag(flags.tail);
      const driver = await commandDriver(flags.engine);
      const c = await resolveStackContainer(stack, ref, driver);
      // Ctrl-C ends a follow, as it ends `docker logs -f`.
      const stop = new AbortController();
      const release = interruptible(stop);
      try {
        await driver.logs(c.id, { tail, follow: flags.follow, timestamps: flags.timestamps, signal: stop.signal }, (l) =>
          (l.stream === 'stdout' ? process.stdout : process.stderr).write(flags.timestamps ? `${l.time} ${l.text}` : l.text),
        );
      } finally {
        release();
      }
    });

  withStackOptions(program.command('exec'))
    .description('run a command in a stack\'s running container, named by construct path (replica N as path:N) or container name')
    .passThroughOptions()
    .argument('<stack>')
    .argument('<container>', 'construct path, path:N, or container name')
    .argument('<command...>')
    .option('-i, --interactive', 'keep stdin open')
    .option('-t, --tty', 'allocate a pseudo-TTY')
    .option('-e, --env <K=V>', 'set an environment variable (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('-w, --workdir <dir>', 'working directory')
    .option('-u, --user <user[:group]>', 'user name or uid')
    .action(async (stack: string, ref: string, command: string[], flags: { interactive?: boolean; tty?: boolean; env?: string[]; workdir?: string; user?: string; engine?: EngineChoice }) => {
      const env = envFlags(flags.env);
      const driver = await commandDriver(flags.engine);
      const c = await resolveStackContainer(stack, ref, driver);
      const result = await driver.exec(c.name, command, {
        env,
        workdir: flags.workdir,
        user: flags.user,
        tty: flags.tty,
        stdin: flags.interactive || flags.tty ? process.stdin : undefined,
        stdout: process.stdout,
        stderr: process.stderr,
      });
      if (result.error !== undefined) process.stderr.write(`Error: ${result.error}\n`);
      process.exitCode = result.exitCode;
    });
}

/** `--tail`: a number of lines, or `all` (a negative number is all too, as Docker's). */
function tailFlag(text: string): number | undefined {
  if (text === 'all') return undefined;
  if (!/^-?\d+$/.test(text)) throw new InvalidArgumentError(`invalid --tail "${text}": not a whole number`);
  const n = Number(text);
  return n < 0 ? undefined : n;
}

/** `-e K=V` / `-e K` (the value of K here, as Docker's client): a name is required. */
function envFlags(values: readonly string[] | undefined): { [name: string]: string } {
  const out: { [name: string]: string } = {};
  for (const v of values ?? []) {
    const i = v.indexOf('=');
    const name = i < 0 ? v : v.slice(0, i);
    if (name === '') throw new InvalidArgumentError(`invalid argument "${v}" for "-e, --env" flag: invalid environment variable: ${v}`);
    out[name] = i < 0 ? (process.env[v] ?? '') : v.slice(i + 1);
  }
  return out;
}
