/**
 * The Engine API's stream formats.
 *
 * - *Multiplexed* (logs, attach and exec of a container without a TTY): frames of an 8-byte
 *   header — byte 0 the stream (0 stdin, 1 stdout, 2 stderr, 3 system error), bytes 4-7 the
 *   payload length, big-endian — then the payload. `demuxFrames` yields the frames,
 *   `demux` writes them to two sinks.
 * - *Raw* (a container with a TTY): the bytes as they are; nothing to do.
 * - *JSON lines* (pull, push, build, load, events): one JSON object per line; `jsonLines` yields
 *   them.
 */
import type { Readable, Writable } from 'node:stream';

/** The stream a multiplexed frame belongs to. */
export type DockerStreamName = 'stdin' | 'stdout' | 'stderr' | 'system';

/** One frame of a multiplexed stream. */
export interface DockerFrame {
  readonly stream: DockerStreamName;
  readonly data: Buffer;
}

const STREAMS: DockerStreamName[] = ['stdin', 'stdout', 'stderr', 'system'];

/**
 * The frames of a multiplexed stream, in order. A stream that ends inside a frame yields what
 * it has of that frame (the engine cut it); a header with an unknown stream byte throws (the
 * stream is not multiplexed: a TTY container's output is raw).
 */
export async function* demuxFrames(source: AsyncIterable<Buffer | string>): AsyncGenerator<DockerFrame> {
  let buf: Buffer = Buffer.alloc(0);
  for await (const chunk of source) {
    buf = buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([buf, Buffer.from(chunk)]);
    for (;;) {
      if (buf.length < 8) break;
      const kind = buf[0];
      if (kind > 3 || buf[1] !== 0 || buf[2] !== 0 || buf[3] !== 0) {
        throw new Error(`not a multiplexed Docker stream (header ${buf.subarray(0, 8).toString('hex')}); a container with a TTY sends raw output`);
      }
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      const data = buf.subarray(8, 8 + size);
      buf = buf.subarray(8 + size);
      if (size > 0) yield { stream: STREAMS[kind], data };
    }
  }
  if (buf.length > 8) yield { stream: STREAMS[buf[0]] ?? 'stdout', data: buf.subarray(8) };
}

/**
 * Writes a multiplexed stream's stdout frames to `stdout` and its stderr (and system) frames to
 * `stderr`, honouring back-pressure; resolves when the source ends. The sinks are not ended.
 */
export async function demux(source: AsyncIterable<Buffer | string>, stdout: Writable, stderr: Writable): Promise<void> {
  for await (const frame of demuxFrames(source)) {
    const sink = frame.stream === 'stdout' ? stdout : stderr;
    if (!sink.write(frame.data)) await new Promise<void>((r) => sink.once('drain', r));
  }
}

/** Collects a multiplexed stream into its stdout and stderr text (for short outputs). */
export async function demuxToStrings(source: AsyncIterable<Buffer | string>): Promise<{ stdout: string; stderr: string }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  for await (const frame of demuxFrames(source)) (frame.stream === 'stdout' ? out : err).push(frame.data);
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/**
 * The JSON objects of a JSON-lines stream. The engine may split an object over chunks or put
 * several in one; blank lines are skipped. A line that is not JSON throws, quoting it.
 */
export async function* jsonLines<T = unknown>(source: AsyncIterable<Buffer | string> | Readable): AsyncGenerator<T> {
  let rest = '';
  const decoder = new TextDecoder('utf-8');
  const parse = (line: string): T => {
    try {
      return JSON.parse(line) as T;
    } catch {
      throw new Error(`the Docker Engine sent a line that is not JSON: ${JSON.stringify(line.slice(0, 200))}`);
    }
  };
  for await (const chunk of source as AsyncIterable<Buffer | string>) {
    rest += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, nl).trim();
      rest = rest.slice(nl + 1);
      if (line) yield parse(line);
    }
  }
  rest += decoder.decode();
  if (rest.trim()) yield parse(rest.trim());
}

/**
 * One message of a pull, push, build or load progress stream, as the engine sends it (the
 * Docker CLI's `jsonmessage.JSONMessage`).
 */
export interface DockerProgressMessage {
  /** A status line: `Pulling fs layer`, `Downloading`, `Digest: sha256:…`. */
  readonly status?: string;
  /** The layer or image the status is about. */
  readonly id?: string;
  /** A rendered progress bar. */
  readonly progress?: string;
  readonly progressDetail?: { readonly current?: number; readonly total?: number };
  /** Build output (and load's `Loaded image: …`), newline-terminated. */
  readonly stream?: string;
  /** A failure: the operation stopped. */
  readonly error?: string;
  readonly errorDetail?: { readonly code?: number; readonly message?: string };
  /** Structured results: a build's `{ID}`, a push's `{Tag, Digest, Size}`. */
  readonly aux?: unknown;
}
