import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SeqpacketSocket } from 'node-unix-socket';
import { CdkDockerError, ConflictError, InvalidArgumentError } from '../../lib/core/errors';
import { type ContainerContext, contextOf } from './context';
import { currentState } from './exit';
import type { ContainerService } from './service';
import { startContainer, stdinOnce } from './start';

/**
 * Attaching to a container that conmon monitors, with podman's contract (libpod's
 * oci_conmon_attach): conmon listens on `<bundle>/attach`, a SOCK_SEQPACKET socket. Every packet
 * it sends is one read of the container's output with a stream-type byte in front (2 stdout,
 * 3 stderr); what a client sends is the container's stdin, as is. The client half-closes the
 * socket when its input ends; conmon then closes the container's stdin unless it was started with
 * `--leave-stdin-open`. conmon closes every attach socket when the container exits, just before
 * it writes the exit file. A terminal is resized through the `ctl` fifo in the bundle:
 * `1 <rows> <cols>\n`. Several clients may attach at once: each gets all the output.
 */

/** conmon's stream types (conmon src/utils.h stdpipe_t; libpod's AttachPipe*). */
const ATTACH_PIPE_STDOUT = 2;
const ATTACH_PIPE_STDERR = 3;
/** conmon reads at most CONN_SOCK_BUF_SIZE - 1 bytes of a client's packet; larger ones are cut. */
const STDIN_PACKET_MAX = 8192;

/** Docker's default detach keys. */
export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** moby/term's ASCII table: `ctrl-@` is 0, `ctrl-a` 1 … `ctrl-z` 26, then `[`, `\`, `]`, `^`, `_`. */
const CTRL_KEYS = ['@', ...'abcdefghijklmnopqrstuvwxyz', '[', '\\', ']', '^', '_'];

/**
 * Docker's `--detach-keys` (moby/term ToBytes): comma-separated keys, each a single character or
 * `ctrl-<value>` with `<value>` one of a-z, @, [, \, ], ^, _.
 */
export function parseDetachKeys(spec: string): Buffer {
  const bytes: number[] = [];
  for (const key of spec.split(',')) {
    if (Buffer.byteLength(key) === 1) {
      bytes.push(key.charCodeAt(0));
      continue;
    }
    const i = key.startsWith('ctrl-') ? CTRL_KEYS.indexOf(key.slice(5)) : -1;
    if (i < 0) {
      const shown = JSON.stringify(key);
      throw new InvalidArgumentError(
        `invalid --detach-keys "${spec}": unknown key ${shown}; use single characters or ctrl-<value> with a-z, @, [, \\, ], ^ or _, separated by commas (default ${DEFAULT_DETACH_KEYS})`,
      );
    }
    bytes.push(i);
  }
  return Buffer.from(bytes);
}

/**
 * Finds the detach sequence in a stream of input, as Docker's escape proxy: bytes that may start
 * the sequence are held back until it is complete (then they are dropped) or broken (then they
 * go through with the rest).
 */
export class DetachKeyScanner {
  private held = 0;

  constructor(private readonly keys: Buffer) {}

  /** The input to forward, and whether the sequence completed (nothing after it is forwarded). */
  public feed(chunk: Buffer): { forward: Buffer; detached: boolean } {
    if (this.keys.length === 0) return { forward: chunk, detached: false };
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.held]) {
        this.held++;
        if (this.held === this.keys.length) return { forward: Buffer.from(out), detached: true };
        continue;
      }
      // Broken: the held keys go through, and this byte may start the sequence again.
      for (let i = 0; i < this.held; i++) out.push(this.keys[i]);
      this.held = 0;
      if (b === this.keys[0]) this.held = 1;
      else out.push(b);
    }
    return { forward: Buffer.from(out), detached: false };
  }
}

/** How an attach ended. */
export type AttachEnd =
  /** The container exited with `exitCode`. */
  | { readonly how: 'exited'; readonly exitCode: number }
  /** The user typed the detach keys; the container runs on. */
  | { readonly how: 'detached' }
  /** The input ended and the container (its stdin left open) runs on. */
  | { readonly how: 'input-ended' }
  /** The output could not be written any more (a closed pipe); the container runs on. */
  | { readonly how: 'output-closed' };

export interface AttachStreams {
  /** The container's stdin comes from here; none: the container gets no input from this attach. */
  readonly stdin?: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

export interface AttachOptions {
  /** The detach sequence (see `parseDetachKeys`); empty: none. */
  readonly detachKeys: Buffer;
  /**
   * After the input ends (and the container's stdin stays open), output that follows within this
   * many quiet milliseconds still comes through (the reply to the last input line), then the
   * attach ends (Docker 20.10's attach keeps waiting there, and shows none of it). @default 500
   */
  readonly lingerMs?: number;
}

/** Socket errors that mean the monitor's end is gone (see `relay`). */
const PEER_GONE = /\b(EBADF|ECONNRESET|EPIPE)\b/;

/** An open attach connection to one container. */
export class AttachConnection {
  /** What arrived before `relay` (a `start -a` connects before the container starts): replayed in order. */
  private early: Array<Buffer | 'end' | Error> | undefined = [];

  private constructor(
    private readonly socket: SeqpacketSocket,
    /** The container's bundle directory (attach socket, ctl fifo). */
    public readonly bundle: string,
  ) {
    socket.on('data', (packet: Buffer) => this.early?.push(packet));
    socket.once('end', () => this.early?.push('end'));
    // An error with no listener would end the process: kept until relay, or ignored after close().
    socket.on('error', (e: Error) => this.early?.push(e));
  }

  /**
   * Connects to conmon's attach socket in `bundle`. The socket's path is longer than a unix
   * socket address may be, so it is reached through a descriptor of its directory
   * (`/proc/self/fd/N/attach`), as podman does.
   */
  public static async connect(bundle: string, name: string): Promise<AttachConnection> {
    let dir: number;
    try {
      dir = fs.openSync(bundle, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    } catch {
      throw new ConflictError(`cannot attach to container ${name}: it is not running under its monitor (no ${path.join(bundle, 'attach')}); start it first`);
    }
    // Loaded here: the native addon costs ~10 ms, which only an attach should pay.
    const socket = new (require('node-unix-socket') as typeof import('node-unix-socket')).SeqpacketSocket();
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.connect(`/proc/self/fd/${dir}/attach`, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      socket.destroy();
      const missing = /no such file/i.test((e as Error).message);
      throw new ConflictError(
        missing
          ? `cannot attach to container ${name}: it has no attach socket (a foreground \`runtime run -i/-t\` owns its input and output); attach to containers started with \`run -d\` or \`start\``
          : `cannot attach to container ${name}: its monitor's attach socket does not answer (${(e as Error).message}); restart the container`,
      );
    } finally {
      fs.closeSync(dir);
    }
    return new AttachConnection(socket, bundle);
  }

  /**
   * Relays the container's output to `io.stdout`/`io.stderr` and `io.stdin` to the container
   * until the container exits, the detach keys are typed, or the input ends (then, after
   * `lingerMs` of quiet, when the container's stdin stays open). Resolves with how it ended;
   * `exitCode` asks for the exit code once the socket closed (the container exited).
   */
  public relay(io: AttachStreams, opts: AttachOptions & { readonly stdinStaysOpen: boolean }, exitCode: () => Promise<number>): Promise<AttachEnd> {
    const socket = this.socket;
    const scanner = new DetachKeyScanner(opts.detachKeys);
    const linger = opts.lingerMs ?? 500;
    return new Promise<AttachEnd>((resolve, reject) => {
      let done = false;
      let lingerTimer: NodeJS.Timeout | undefined;
      const armLinger = () => {
        clearTimeout(lingerTimer);
        lingerTimer = setTimeout(() => finish({ how: 'input-ended' }), linger);
      };
      let inputEnded = false;
      const onData = (packet: Buffer) => {
        if (packet.length === 0) return;
        const body = packet.subarray(1);
        if (packet[0] === ATTACH_PIPE_STDERR) io.stderr.write(body);
        else if (packet[0] === ATTACH_PIPE_STDOUT) io.stdout.write(body);
        if (inputEnded && opts.stdinStaysOpen) armLinger();
      };
      const onInput = (chunk: Buffer | string) => {
        const { forward, detached } = scanner.feed(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
        for (let i = 0; i < forward.length; i += STDIN_PACKET_MAX) socket.write(forward.subarray(i, i + STDIN_PACKET_MAX));
        if (detached) finish({ how: 'detached' });
      };
      const onInputEnd = () => {
        if (done) return;
        inputEnded = true;
        socket.end();
        if (opts.stdinStaysOpen) armLinger();
      };
      const onClosed = () => {
        if (done) return;
        cleanup();
        exitCode().then((code) => resolve({ how: 'exited', exitCode: code }), reject);
      };
      const onError = (e: Error) => {
        if (done) return;
        // The monitor closing its end as the container exits can come as an error rather than an
        // end: libuv reports a POLLERR on the socket as EBADF (seen under load, with unread input
        // at the peer); a reset or a broken pipe are the same. The container's exit code says the rest.
        if (PEER_GONE.test(e.message)) return onClosed();
        cleanup();
        reject(new CdkDockerError(`attach: the connection to the container's monitor failed: ${e.message}`));
      };
      const cleanup = () => {
        done = true;
        clearTimeout(lingerTimer);
        socket.off('data', onData);
        io.stdin?.off('data', onInput);
        io.stdin?.off('end', onInputEnd);
        io.stdin?.pause();
        io.stdout.off('error', onOutputGone);
        io.stderr.off('error', onOutputGone);
        socket.destroy();
      };
      // Whoever reads the output went away (`attach c | head -1`): the attach ends, the container runs on.
      const onOutputGone = () => finish({ how: 'output-closed' });
      const finish = (end: AttachEnd) => {
        if (done) return;
        cleanup();
        resolve(end);
      };
      const early = this.early ?? [];
      this.early = undefined;
      socket.on('data', onData);
      socket.once('end', onClosed);
      socket.once('close', onClosed);
      socket.on('error', onError);
      io.stdout.on('error', onOutputGone);
      io.stderr.on('error', onOutputGone);
      for (const e of early) {
        if (e === 'end') onClosed();
        else if (e instanceof Error) onError(e);
        else onData(e);
      }
      if (done) return;
      if (io.stdin) {
        io.stdin.on('data', onInput);
        io.stdin.once('end', onInputEnd);
        io.stdin.resume();
      }
    });
  }

  /** Closes the connection without relaying (a start that failed after connecting). */
  public close(): void {
    this.socket.destroy();
  }
}

/**
 * Resizes the container's terminal: a line on conmon's `ctl` fifo. Opened without blocking, so a
 * monitor that is gone makes no resize and no hang.
 */
export function resizeTerminal(bundle: string, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows <= 0 || cols <= 0) return;
  let fd: number | undefined;
  try {
    fd = fs.openSync(path.join(bundle, 'ctl'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    fs.writeSync(fd, `1 ${rows} ${cols}\n`);
  } catch {
    // the monitor is gone: nothing to resize
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** What `attachContainer` is asked to do. */
export interface AttachRequest extends AttachOptions {
  /**
   * Start the container first (`start -a`), connected before it runs so that none of its output
   * is missed. A running container is attached to as it is.
   */
  readonly start?: boolean;
  /** Called once attached, before any output: the caller sets up its terminal, resizes, signals. */
  readonly onAttached?: (session: { readonly id: string; readonly bundle: string; readonly tty: boolean }) => void;
}

/**
 * `attach` (and `start -a`): connects the caller's streams to a container that conmon monitors.
 * Output of the container before the attach is not replayed (it is in its log). Resolves with how
 * the attach ended; the container's exit code when it exited.
 */
export async function attachContainer(svc: ContainerService, nameOrId: string, io: AttachStreams, req: AttachRequest): Promise<AttachEnd> {
  const ctx = contextOf(svc);
  const id = ctx.store.resolve(nameOrId);
  const record = ctx.store.record(id);
  const bundle = ctx.store.bundleDir(id);
  // Docker: input goes to a container only when it was created with -i.
  const stdin = record.Config.OpenStdin ? io.stdin : undefined;
  let connection: AttachConnection | undefined;
  if (req.start) {
    try {
      await startContainer(ctx, id, {
        attachedBy: process.pid,
        beforeStart: async (b) => {
          connection = await AttachConnection.connect(b, record.Name);
        },
      });
    } catch (e) {
      connection?.close();
      throw e;
    }
  }
  if (!connection) {
    const state = await currentState(ctx, id);
    if (state.Status === 'paused') throw new ConflictError(`You cannot attach to a paused container, unpause it first: runtime unpause ${record.Name}`);
    if (state.Status !== 'running') throw new ConflictError(`You cannot attach to a stopped container, start it first: runtime start -a ${record.Name}`);
    connection = await AttachConnection.connect(bundle, record.Name);
    ctx.event('attach', record);
  }
  const run = ctx.store.state(id).StartedAt;
  req.onAttached?.({ id, bundle, tty: record.Config.Tty });
  // Docker's StdinOnce (create -i, run -i): the container's stdin closed when this input ended, so
  // the attach waits for the container to exit; otherwise it ends soon after the input does.
  return connection.relay({ ...io, stdin }, { ...req, stdinStaysOpen: !stdinOnce(record) }, () => exitCodeOfRun(ctx, id, run));
}

/**
 * The exit code of the run that started at `startedAt`, once it is over. Not `wait`: a container
 * that restarts (`--restart always`) is running again soon, and the attach ends with the run it
 * saw, as Docker's. A container removed meanwhile (`--rm`) counts as 0, as `wait` does.
 */
async function exitCodeOfRun(ctx: ContainerContext, id: string, startedAt: string): Promise<number> {
  for (;;) {
    if (!ctx.store.tryRecord(id)) return 0;
    const state = await currentState(ctx, id);
    const sameRun = state.StartedAt === startedAt;
    if ((state.Status !== 'running' && state.Status !== 'paused') || !sameRun) return sameRun || state.Status === 'restarting' ? state.ExitCode : 0;
    await new Promise((r) => setTimeout(r, 50));
  }
}
