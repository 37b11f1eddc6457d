import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import { InvalidArgumentError } from '../../core/errors';
import { containerService as service, loadRuntime } from './services';
import { parseBool } from './flags';

/** What `attach`, `start -a` and a foreground `run` pass to {@link attachToContainer}. */
export interface AttachToContainerOptions {
  /**
   * Connect this process's stdin to the container's (when it was created with `-i`).
   * @default true
   */
  readonly stdin?: boolean;
  /**
   * Treat the container as having a terminal: raw mode for this terminal, its size forwarded.
   * @default the container's own `Tty`
   */
  readonly tty?: boolean;
  /**
   * Docker's `--detach-keys`.
   * @default "ctrl-p,ctrl-q"
   */
  readonly detachKeys?: string;
  /**
   * Forward the signals this process receives to the container (not with a terminal, as Docker).
   * @default true
   */
  readonly sigProxy?: boolean;
  /** Start the container, attached before it runs (`start -a`, a foreground `run`). */
  readonly start?: boolean;
}

/** The signals `--sig-proxy` forwards (Docker forwards all but SIGCHLD, SIGPIPE, SIGURG, SIGWINCH; these are those Node can catch). */
const PROXIED_SIGNALS: readonly NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGCONT', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGVTALRM', 'SIGPROF', 'SIGIO', 'SIGPWR', 'SIGSYS'];

/**
 * Attaches this process's stdin, stdout and stderr to a container (Docker's `attach`): resolves
 * with the exit code the CLI should exit with: the container's when it exited, 0 when the user
 * detached (the detach keys; `read escape sequence` is printed) or the input ended and the
 * container runs on. `start: true` starts it first (`start -a`).
 */
export async function attachToContainer(nameOrId: string, o: AttachToContainerOptions = {}): Promise<number> {
  const m = loadRuntime().containers();
  const svc = service();
  const detachKeys = m.parseDetachKeys(o.detachKeys || m.DEFAULT_DETACH_KEYS);
  const id = svc.resolve(nameOrId);
  const record = svc.record(id);
  const tty = o.tty ?? record.Config.Tty;
  const wantsStdin = o.stdin !== false && record.Config.OpenStdin;
  if (tty && wantsStdin && !process.stdin.isTTY) throw new InvalidArgumentError('the input device is not a TTY; attach with --no-stdin, or from a terminal');
  const stdin = process.stdin;
  let restoreTerminal = () => {};
  const undo: Array<() => void> = [];
  try {
    const end = await m.attachContainer(
      svc,
      id,
      { stdin: wantsStdin ? stdin : undefined, stdout: process.stdout, stderr: process.stderr },
      {
        detachKeys,
        start: o.start,
        onAttached: ({ bundle }) => {
          if (tty && wantsStdin && stdin.isTTY) {
            // Raw as Docker's client makes it (cfmakeraw): libuv's raw mode keeps output
            // post-processing on, which would turn the container's CR LF into CR CR LF.
            stdin.setRawMode(true);
            spawnSync('stty', ['-opost'], { stdio: ['inherit', 'ignore', 'ignore'] });
            restoreTerminal = () => stdin.setRawMode(false);
          }
          if (tty && process.stdout.isTTY) {
            // conmon takes one message per read of its ctl fifo, so of two sizes written close
            // together (`stty rows 44 cols 88` changes the window twice) the second could be lost.
            // A change is sent once its burst is over, and again a moment later, alone.
            const send = () => m.resizeTerminal(bundle, process.stdout.rows, process.stdout.columns);
            let timers: NodeJS.Timeout[] = [];
            const resize = () => {
              for (const t of timers) clearTimeout(t);
              timers = [setTimeout(send, 20).unref(), setTimeout(send, 250).unref()];
            };
            send();
            process.stdout.on('resize', resize);
            undo.push(() => {
              process.stdout.off('resize', resize);
              for (const t of timers) clearTimeout(t);
            });
          }
          if (!tty && o.sigProxy !== false) {
            const forward = (sig: NodeJS.Signals) => {
              svc.kill(id, sig).catch(() => undefined);
            };
            for (const s of PROXIED_SIGNALS) process.on(s, forward);
            undo.push(() => PROXIED_SIGNALS.forEach((s) => process.off(s, forward)));
          }
        },
      },
    );
    restoreTerminal();
    restoreTerminal = () => {};
    if (end.how === 'detached') process.stderr.write('read escape sequence\n');
    if (end.how !== 'exited') return 0;
    // A start -a here holds the container's exit (its exit command stands aside): an --rm container goes now, as Docker's.
    await svc.removeIfAutoRemove(id);
    return end.exitCode;
  } finally {
    restoreTerminal();
    for (const u of undo) u();
    // Nothing more is read: let this process exit although stdin is open.
    stdin.pause();
    if (wantsStdin) stdin.destroy();
  }
}

/** `--sig-proxy[=BOOL]`: Go's ParseBool, as Docker's flag (absent: true). */
export function parseSigProxy(value: string | boolean | undefined): boolean {
  if (value === undefined || typeof value === 'boolean') return value ?? true;
  const b = parseBool(value);
  if (b !== undefined) return b;
  throw new InvalidArgumentError(`invalid argument "${value}" for "--sig-proxy" flag: use --sig-proxy=true or --sig-proxy=false`);
}

/** Registers `cdk-docker runtime attach`. */
export function registerAttach(runtime: Command): void {
  runtime
    .command('attach')
    .description("attach local standard input, output, and error streams to a running container")
    .argument('<container>')
    .option('--detach-keys <keys>', 'the key sequence that detaches from the container (ctrl-<value> with a-z, @, [, \\, ], ^, _, or a character)', 'ctrl-p,ctrl-q')
    .option('--no-stdin', 'do not attach stdin')
    .option('--sig-proxy [bool]', 'proxy received signals to the container (not with a TTY)', 'true')
    .action(async (container: string, o: { detachKeys: string; stdin: boolean; sigProxy: string | boolean }) => {
      process.exitCode = await attachToContainer(container, { stdin: o.stdin, detachKeys: o.detachKeys, sigProxy: parseSigProxy(o.sigProxy) });
    });
}
