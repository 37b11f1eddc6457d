/**
 * A Docker Engine API client on undici.
 *
 * Terms and lifecycle
 * - A `DockerClient` talks to one endpoint (see ./endpoint: unix socket, tcp with or without
 *   TLS, or ssh through `docker system dial-stdio`) over a pool of HTTP/1.1 connections, made on
 *   first use. `close()` ends them (and any ssh processes).
 * - *Negotiation*: the first call (or `negotiate()`) asks `GET /_ping` then `GET /version`, and
 *   from then on every path is prefixed with `/v<apiVersion>`: the engine's API version capped at
 *   `MAX_API_VERSION`. An engine below `MIN_API_VERSION` (1.41, Docker 20.10), or one whose own
 *   minimum is above `MAX_API_VERSION`, is refused with a DockerApiVersionError.
 * - Paths are given unversioned (`/containers/json`); `query` values are encoded as the engine
 *   expects (objects and maps as JSON — `filters`, `buildargs`, `labels` — arrays as repeated
 *   keys, booleans as 1/0, undefined left out).
 * - Answers: `request` parses JSON (or returns undefined for an empty body, 204 and 304);
 *   `stream` hands back the body to read (logs, export, get); `progress` reads a JSON-lines
 *   progress stream (pull, push, build, load) into a callback and throws the stream's error;
 *   `events` is an async iterator of `/events`; `hijack` upgrades the connection to a raw
 *   bidirectional stream (attach, exec start with stdin).
 * - Errors: transport failures become DockerUnreachableError, DockerPermissionError or
 *   DockerTlsError; the engine's `{"message": …}` answers become DockerNotFoundError (404),
 *   DockerConflictError (409), DockerInvalidArgumentError (400) or DockerEngineError — all one
 *   line naming the endpoint (see ./errors).
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { spawn } from 'node:child_process';
import type { IncomingHttpHeaders } from 'node:http';
import { Duplex, Readable } from 'node:stream';
import type { Dispatcher, Pool } from 'undici';
import { CdkDockerError } from '../../core/errors';
import type { DockerEndpoint, DockerEndpointOptions } from './endpoint';
import { resolveDockerEndpoint } from './endpoint';
import {
  DockerApiVersionError,
  DockerEngineError,
  DockerPermissionError,
  DockerTlsError,
  DockerUnreachableError,
  engineError,
} from './errors';
import type { DockerProgressMessage } from './stream';
import { jsonLines } from './stream';

/** The oldest Engine API this client speaks: Docker 20.10's. */
export const MIN_API_VERSION = '1.41';
/**
 * The newest Engine API this client asks for: a newer engine is spoken to at this version.
 * (Docker 29 refuses versions below 1.44, so the cap must reach past it.)
 */
export const MAX_API_VERSION = '1.52';

/** `GET /_ping`'s answer (its headers). */
export interface DockerPing {
  /** `API-Version`: the engine's newest API version. */
  readonly apiVersion: string;
  /** `OSType`: `linux` or `windows`. */
  readonly osType?: string;
  /** `Docker-Experimental`. */
  readonly experimental: boolean;
  /** `Builder-Version`: `1` (classic) or `2` (BuildKit). */
  readonly builderVersion?: string;
  /** `Swarm`: e.g. `inactive`, `active/manager`. */
  readonly swarm?: string;
}

/** `GET /version`'s answer (the fields used; the rest is kept as the engine sent it). */
export interface DockerVersion {
  readonly Version: string;
  readonly ApiVersion: string;
  readonly MinAPIVersion?: string;
  readonly Os: string;
  readonly Arch: string;
  readonly KernelVersion?: string;
  readonly GitCommit?: string;
  readonly GoVersion?: string;
  readonly BuildTime?: string;
  readonly Components?: ReadonlyArray<{ readonly Name: string; readonly Version: string; readonly Details?: { readonly [k: string]: string } }>;
  readonly [key: string]: unknown;
}

/** What negotiation found. */
export interface DockerNegotiation {
  readonly ping: DockerPing;
  readonly version: DockerVersion;
  /** The version every request uses: the engine's, capped at MAX_API_VERSION. */
  readonly apiVersion: string;
}

/** A query value: strings and numbers as they are, booleans as 1/0, arrays repeated, objects as JSON. */
export type DockerQueryValue = string | number | boolean | readonly string[] | { readonly [key: string]: unknown } | undefined;

/** Options of every request. */
export interface DockerRequestOptions {
  /** Query parameters (see DockerQueryValue). */
  readonly query?: { readonly [key: string]: DockerQueryValue };
  /** A JSON body (sent as application/json). Exclusive with `input`. */
  readonly body?: unknown;
  /** A raw body (a tar for build, load, put archive), sent as `contentType`. Exclusive with `body`. */
  readonly input?: Buffer | Readable;
  /** @default 'application/x-tar' when `input` is given */
  readonly contentType?: string;
  /** Extra headers (X-Registry-Auth, X-Registry-Config). */
  readonly headers?: { readonly [name: string]: string };
  /** Aborts the request (and the body being read). */
  readonly signal?: AbortSignal;
  /**
   * Milliseconds to wait for the answer's headers, and between body chunks; 0 waits forever.
   * @default 300000 for `request`; 0 (forever) for `stream`, `progress`, `events` and `hijack`
   */
  readonly timeout?: number;
}

/** An answer whose body is read by the caller. */
export interface DockerResponse {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  /** The body; read it to the end or destroy it, or the connection stays busy. */
  readonly body: Readable;
}

/** Options of `progress`. */
export interface DockerProgressOptions extends DockerRequestOptions {
  /** Called with each message as it arrives (to drive a progress display). */
  readonly onMessage?: (message: DockerProgressMessage) => void;
}

/** What a progress stream left: its `aux` values in order (a build's `{ID}`, a push's `{Tag, Digest, Size}`). */
export interface DockerProgressResult {
  readonly aux: unknown[];
  /** Every `stream` text joined (build output; load's `Loaded image: …`). */
  readonly output: string;
}

/** One `/events` message. */
export interface DockerEvent {
  /** `container`, `image`, `network`, `volume`, `daemon`, … */
  readonly Type: string;
  /** `create`, `start`, `die`, `health_status: healthy`, `exec_die`, … */
  readonly Action: string;
  readonly Actor: { readonly ID: string; readonly Attributes: { readonly [key: string]: string } };
  /** `local` or `swarm`. */
  readonly scope?: string;
  /** Seconds since the epoch. */
  readonly time: number;
  /** Nanoseconds since the epoch. */
  readonly timeNano: number;
  /** Deprecated duplicates the engine still sends for containers. */
  readonly status?: string;
  readonly id?: string;
  readonly from?: string;
}

/** Options of `events`. */
export interface DockerEventsOptions {
  /** Filters, as the engine takes them: `{ type: ['container'], label: ['io.cdk-docker.stack=web'] }`. */
  readonly filters?: { readonly [key: string]: readonly string[] };
  /** Events from this time: a Date, seconds since the epoch, or a duration the engine parses (`10m`). */
  readonly since?: Date | number | string;
  /** Events up to this time; without it the stream waits for new events until cancelled. */
  readonly until?: Date | number | string;
  /** Ends the iteration (the iterator returns; no error). Breaking out of `for await` does too. */
  readonly signal?: AbortSignal;
}

/** Options of `hijack`. */
export interface DockerHijackOptions {
  readonly query?: { readonly [key: string]: DockerQueryValue };
  /** A JSON body (exec start's `{Detach, Tty}`). */
  readonly body?: unknown;
  readonly headers?: { readonly [name: string]: string };
  readonly signal?: AbortSignal;
}

/** Options of the client. */
export interface DockerClientOptions {
  /** The `User-Agent` header. @default 'cdk-docker' */
  readonly userAgent?: string;
  /** Milliseconds to wait for a connection (an ssh connection has its own 30 s). @default 10000 */
  readonly connectTimeout?: number;
  /** The program run for `ssh://` endpoints. @default 'ssh' */
  readonly sshCommand?: string;
}

/** How long a request to a TLS endpoint waits for its answer before the connection is probed (see dispatch). */
const STALL_PROBE_MS = 1_000;

/** The two parts of undici the client uses: its connection Pool and its `request` API. */
export interface UndiciParts {
  readonly Pool: typeof Pool;
  readonly request: (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
}

let undiciParts: UndiciParts | undefined;

/**
 * undici's Pool and `request`, loaded from their own modules: ~20 ms against ~60 ms for undici's
 * index, which loads fetch, WebSocket, caches … as well, on every command that talks to Docker.
 * undici has no `exports` map, so the files are reachable; should a release move them, the index serves.
 */
function undici(): UndiciParts {
  undiciParts ??= loadUndici();
  return undiciParts;
}

/** The loading of `undici()`; `load` is `require`, a parameter for the test of the fallback. */
export function loadUndici(load: (id: string) => unknown = require): UndiciParts {
  try {
    return { Pool: load('undici/lib/dispatcher/pool') as typeof Pool, request: load('undici/lib/api/api-request') as UndiciParts['request'] };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
    const { Pool: IndexPool } = load('undici') as typeof import('undici');
    return { Pool: IndexPool, request: IndexPool.prototype.request as UndiciParts['request'] };
  }
}

/** Compares two `major.minor` API versions. */
export function compareApiVersions(a: string, b: string): number {
  const pa = a.split('.').map((n) => Number(n) || 0);
  const pb = b.split('.').map((n) => Number(n) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** Encodes a query as the Engine API expects (see DockerQueryValue). */
export function encodeQuery(query: { readonly [key: string]: DockerQueryValue } | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (typeof value === 'boolean') params.append(key, value ? '1' : '0');
    else if (typeof value === 'string' || typeof value === 'number') params.append(key, String(value));
    else if (Array.isArray(value)) for (const v of value as readonly string[]) params.append(key, v);
    else params.append(key, JSON.stringify(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

function timeArg(t: Date | number | string | undefined): string | undefined {
  if (t === undefined) return undefined;
  if (t instanceof Date) return (t.getTime() / 1000).toFixed(9);
  return String(t);
}

/**
 * A child process's stdin/stdout as one socket-like stream for undici: `ssh … docker system
 * dial-stdio`. The readable side ends only once the process has exited; a failed ssh (non-zero
 * exit before any byte came back) destroys the stream with ssh's last stderr line.
 */
class ProcessSocket extends Duplex {
  private stderr = '';
  private received = false;
  private stdoutEnded = false;
  private exited = false;

  constructor(private readonly child: ChildProcessWithoutNullStreams, private readonly onFailure: (stderr: string, cause?: Error) => Error) {
    super({ allowHalfOpen: true });
    child.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString('utf8')).slice(-4000)));
    child.stdout.on('data', (d: Buffer) => {
      this.received = true;
      if (!this.push(d)) child.stdout.pause();
    });
    child.stdout.on('end', () => {
      this.stdoutEnded = true;
      this.maybeEnd();
    });
    child.stdin.on('error', () => undefined); // EPIPE after ssh died: reported through exit
    child.on('error', (e) => this.destroy(this.onFailure('', e)));
    child.on('exit', (code) => {
      this.exited = true;
      if (code !== 0 && !this.received) this.destroy(this.onFailure(this.stderr));
      else this.maybeEnd();
    });
  }

  private maybeEnd(): void {
    if (this.stdoutEnded && this.exited && !this.destroyed) this.push(null);
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.child.stdin.destroyed) return cb();
    this.child.stdin.write(chunk, () => cb());
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.child.stdin.end(() => cb());
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    cb(err);
  }

  /** undici unrefs an idle connection so that it does not keep the process alive. */
  ref(): this {
    this.child.ref();
    (this.child.stdout as unknown as { ref?: () => void }).ref?.();
    (this.child.stdin as unknown as { ref?: () => void }).ref?.();
    (this.child.stderr as unknown as { ref?: () => void }).ref?.();
    return this;
  }

  unref(): this {
    this.child.unref();
    (this.child.stdout as unknown as { unref?: () => void }).unref?.();
    (this.child.stdin as unknown as { unref?: () => void }).unref?.();
    (this.child.stderr as unknown as { unref?: () => void }).unref?.();
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setTimeout(): this {
    return this;
  }
}

/** A client of one Docker Engine. See the module comment for its terms and lifecycle. */
export class DockerClient {
  /**
   * A client for the endpoint resolved from `options` (cdk-docker.json's `engine.docker`) and
   * `env`, negotiated (so an unreachable or too-old engine throws here).
   */
  public static async connect(options: DockerEndpointOptions | DockerEndpoint = {}, env: NodeJS.ProcessEnv = process.env, clientOptions: DockerClientOptions = {}): Promise<DockerClient> {
    const endpoint = 'kind' in options ? options : resolveDockerEndpoint(options, env);
    const client = new DockerClient(endpoint, clientOptions);
    try {
      await client.negotiate();
    } catch (e) {
      await client.close();
      throw e;
    }
    return client;
  }

  private pool?: Pool;
  private negotiation?: Promise<DockerNegotiation>;
  private negotiated?: DockerNegotiation;
  private readonly ssh = new Set<ChildProcessWithoutNullStreams>();
  private closed = false;

  constructor(public readonly endpoint: DockerEndpoint, private readonly options: DockerClientOptions = {}) {}

  /** The API version in use (after negotiation; MIN_API_VERSION before). */
  public get apiVersion(): string {
    return this.negotiated?.apiVersion ?? MIN_API_VERSION;
  }

  /** The engine's `/version` answer (after negotiation). */
  public get engineVersion(): DockerVersion | undefined {
    return this.negotiated?.version;
  }

  /**
   * Pings the engine, reads its version and fixes the API version of every later request.
   * Done once; later calls return the same result. Throws DockerApiVersionError for an engine
   * outside MIN_API_VERSION..MAX_API_VERSION, and the transport errors for an unreachable one.
   */
  public negotiate(): Promise<DockerNegotiation> {
    if (!this.negotiation) {
      this.negotiation = this.doNegotiate().then(
        (n) => (this.negotiated = n),
        (e) => {
          this.negotiation = undefined;
          throw e;
        },
      );
    }
    return this.negotiation;
  }

  private async doNegotiate(): Promise<DockerNegotiation> {
    // Both at once: on a remote engine each is a round trip.
    const [ping, version] = await Promise.all([this.ping(), this.send<DockerVersion>('GET', '/version', {}, false)]);
    const engine = version.ApiVersion || ping.apiVersion;
    const where = `the Docker Engine at ${this.endpoint.host}`;
    if (!engine || compareApiVersions(engine, MIN_API_VERSION) < 0) {
      throw new DockerApiVersionError(
        this.endpoint.host,
        engine,
        `${where} speaks API ${engine || '(unknown)'} (Docker ${version.Version ?? '?'}); cdk-docker needs API ${MIN_API_VERSION} or newer (Docker 20.10+): upgrade the engine`,
      );
    }
    if (version.MinAPIVersion && compareApiVersions(version.MinAPIVersion, MAX_API_VERSION) > 0) {
      throw new DockerApiVersionError(
        this.endpoint.host,
        engine,
        `${where} (Docker ${version.Version}) needs API ${version.MinAPIVersion} or newer, and this cdk-docker speaks up to ${MAX_API_VERSION}: upgrade cdk-docker`,
      );
    }
    const apiVersion = compareApiVersions(engine, MAX_API_VERSION) > 0 ? MAX_API_VERSION : engine;
    return { ping, version, apiVersion };
  }

  /** `GET /_ping` (unversioned): whether the engine answers, and its headers. */
  public async ping(options: { readonly signal?: AbortSignal; readonly timeout?: number } = {}): Promise<DockerPing> {
    const res = await this.dispatch('GET', '/_ping', { ...options, timeout: options.timeout ?? 30_000 });
    const text = await this.readText(res.body);
    if (res.statusCode !== 200) throw this.answerError(res.statusCode, text, res.headers);
    const h = (name: string) => {
      const v = res.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    return {
      apiVersion: h('api-version') ?? '',
      osType: h('ostype'),
      experimental: h('docker-experimental') === 'true',
      builderVersion: h('builder-version'),
      swarm: h('swarm'),
    };
  }

  /** `GET /version`. */
  public async version(): Promise<DockerVersion> {
    return (await this.negotiate()).version;
  }

  /**
   * A request whose answer is JSON (or empty): the parsed body, `undefined` for 204, 304 or an
   * empty body. A non-2xx answer throws the engine's error (see ./errors).
   */
  public async request<T = unknown>(method: string, path: string, options: DockerRequestOptions = {}): Promise<T> {
    return this.send<T>(method, path, options, true);
  }

  private async send<T>(method: string, path: string, options: DockerRequestOptions, versioned: boolean): Promise<T> {
    const res = await this.dispatch(method, versioned ? await this.versioned(path) : path, { ...options, timeout: options.timeout ?? 300_000 });
    const text = await this.readText(res.body);
    if (res.statusCode >= 300 && res.statusCode !== 304) throw this.answerError(res.statusCode, text, res.headers);
    if (!text.trim()) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new DockerEngineError(this.endpoint.host, res.statusCode, text, `the Docker Engine at ${this.endpoint.host} answered ${method} ${path} with something that is not JSON: ${JSON.stringify(text.slice(0, 120))}`);
    }
  }

  /**
   * A request whose body the caller reads (logs, container export, image get, archive): the
   * answer with its open body. A non-2xx answer throws the engine's error (the body is read).
   */
  public async stream(method: string, path: string, options: DockerRequestOptions = {}): Promise<DockerResponse> {
    const res = await this.dispatch(method, await this.versioned(path), { ...options, timeout: options.timeout ?? 0 });
    if (res.statusCode >= 300 && res.statusCode !== 304) throw this.answerError(res.statusCode, await this.readText(res.body), res.headers);
    return res;
  }

  /**
   * A request answered by a JSON-lines progress stream (`POST /images/create`, `/images/{name}/push`,
   * `/build`, `/images/load`): each message goes to `onMessage` as it arrives; the first message
   * with an `error` stops the stream and throws it as a DockerEngineError (status 0 for an error
   * inside the stream).
   */
  public async progress(method: string, path: string, options: DockerProgressOptions = {}): Promise<DockerProgressResult> {
    const res = await this.stream(method, path, options);
    const aux: unknown[] = [];
    let output = '';
    try {
      for await (const message of jsonLines<DockerProgressMessage>(res.body)) {
        options.onMessage?.(message);
        if (message.error || message.errorDetail?.message) {
          const text = (message.errorDetail?.message || message.error || '').trim();
          throw new DockerEngineError(this.endpoint.host, 0, text, `Docker Engine at ${this.endpoint.host}: ${text.split('\n')[0]}`);
        }
        if (message.aux !== undefined) aux.push(message.aux);
        if (typeof message.stream === 'string') output += message.stream;
      }
    } catch (e) {
      res.body.destroy();
      throw this.translate(e);
    }
    return { aux, output };
  }

  /**
   * `GET /events` as an async iterator: past events from `since` (if given), then new ones as
   * they happen, until `until`, the signal, or the caller breaking out of the loop.
   */
  public async *events(options: DockerEventsOptions = {}): AsyncGenerator<DockerEvent, void, undefined> {
    if (options.signal?.aborted) return;
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let res: DockerResponse | undefined;
    try {
      res = await this.stream('GET', '/events', {
        query: { filters: options.filters, since: timeArg(options.since), until: timeArg(options.until) },
        signal: controller.signal,
      });
      for await (const event of jsonLines<DockerEvent>(res.body)) yield event;
    } catch (e) {
      if (controller.signal.aborted) return;
      throw this.translate(e);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      controller.abort();
      res?.body.destroy();
    }
  }

  /**
   * Upgrades a request to a raw stream (`Upgrade: tcp`, as the Docker CLI does for
   * `POST /containers/{id}/attach` and `POST /exec/{id}/start`): resolves with the connection
   * once the engine answers 101. What the engine sends is multiplexed (see ./stream `demux`)
   * unless the container or exec has a TTY; `end()` closes our side (stdin EOF) while the
   * engine's output keeps coming. A non-101 answer throws the engine's error.
   */
  public async hijack(method: string, path: string, options: DockerHijackOptions = {}): Promise<Duplex> {
    const full = `${await this.versioned(path)}${encodeQuery(options.query)}`;
    const pool = this.getPool();
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string> = { 'user-agent': this.options.userAgent ?? 'cdk-docker', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(options.headers ?? {}) };
    return new Promise<Duplex>((resolve, reject) => {
      let status = 0;
      let resHeaders: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      let settled = false;
      let onAbort: (() => void) | undefined;
      const settle = () => {
        settled = true;
        if (onAbort) options.signal?.removeEventListener('abort', onAbort);
      };
      const fail = (e: unknown) => {
        if (settled) return;
        settle();
        void this.diagnose(e).then(reject);
      };
      const handler: Dispatcher.DispatchHandlers = {
        onConnect: (abort) => {
          if (options.signal?.aborted) return abort(options.signal.reason);
          if (onAbort) options.signal?.removeEventListener('abort', onAbort);
          onAbort = () => abort(options.signal?.reason);
          options.signal?.addEventListener('abort', onAbort, { once: true });
        },
        onError: fail,
        onUpgrade: (_statusCode, _rawHeaders, socket) => {
          settle();
          resolve(socket as unknown as Duplex);
        },
        onHeaders: (statusCode, rawHeaders) => {
          status = statusCode;
          resHeaders = parseRawHeaders(rawHeaders);
          return true;
        },
        onData: (chunk) => {
          chunks.push(Buffer.from(chunk));
          return true;
        },
        onComplete: () => {
          if (settled) return;
          settle();
          const text = Buffer.concat(chunks).toString('utf8');
          reject(status >= 300 || status < 200 ? this.answerError(status, text, resHeaders) : new DockerEngineError(this.endpoint.host, status, text, `the Docker Engine at ${this.endpoint.host} answered ${method} ${path} with ${status} instead of upgrading the connection; it may be behind a proxy that does not pass upgrades`));
        },
      };
      try {
        pool.dispatch({ origin: this.origin(), path: full, method: method as Dispatcher.HttpMethod, headers, body, upgrade: 'tcp', headersTimeout: 0, bodyTimeout: 0 }, handler);
      } catch (e) {
        fail(e);
      }
    });
  }

  /** Ends every connection (and ssh process). The client cannot be used afterwards. */
  public async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await pool.destroy().catch(() => undefined);
    // ssh processes end with their connections; wait for them (SIGKILL after 5 s).
    await Promise.all(
      [...this.ssh].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    this.ssh.clear();
  }

  private async versioned(path: string): Promise<string> {
    const n = await this.negotiate();
    return `/v${n.apiVersion}${path.startsWith('/') ? path : `/${path}`}`;
  }

  private origin(): string {
    const ep = this.endpoint;
    if (ep.kind === 'tcp') {
      const host = ep.hostname!.includes(':') ? `[${ep.hostname}]` : ep.hostname;
      return `${ep.tls ? 'https' : 'http'}://${host}:${ep.port}`;
    }
    return 'http://docker.invalid';
  }

  private getPool(): Pool {
    if (this.closed) throw new CdkDockerError(`the Docker client of ${this.endpoint.host} is closed`);
    if (this.pool) return this.pool;
    const PoolClass = undici().Pool;
    const ep = this.endpoint;
    const connectTimeout = this.options.connectTimeout ?? 10_000;
    let connect: Pool.Options['connect'];
    if (ep.kind === 'unix') connect = { socketPath: ep.socketPath, timeout: connectTimeout };
    else if (ep.kind === 'tcp' && ep.tls) {
      connect = {
        timeout: connectTimeout,
        ca: ep.tls.ca,
        cert: ep.tls.cert,
        key: ep.tls.key,
        rejectUnauthorized: ep.tls.verify,
        servername: /^[\d.]+$|:/.test(ep.hostname!) ? undefined : ep.hostname,
      };
    } else if (ep.kind === 'tcp') connect = { timeout: connectTimeout };
    else connect = (_opts, cb) => {
      try {
        cb(null, this.spawnSsh() as never);
      } catch (e) {
        cb(e as Error, null);
      }
    };
    this.pool = new PoolClass(this.origin(), { connect, keepAliveTimeout: 4_000, pipelining: 1 });
    return this.pool;
  }

  private spawnSsh(): ProcessSocket {
    const ssh = this.endpoint.ssh!;
    const program = this.options.sshCommand ?? 'ssh';
    const child = spawn(program, [...ssh.args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.ssh.add(child);
    child.on('exit', () => this.ssh.delete(child));
    return new ProcessSocket(child, (stderr, cause) => {
      if (cause && (cause as NodeJS.ErrnoException).code === 'ENOENT') {
        return new DockerUnreachableError(this.endpoint.host, `cannot reach the Docker Engine at ${this.endpoint.host}: the ssh client "${program}" is not installed; install it (apt-get install openssh-client)`, { cause });
      }
      const line = stderr.trim().split('\n').filter((l) => l.trim()).pop() ?? (cause ? cause.message : 'ssh exited');
      const remote = /failed to open the raw stream connection|Cannot connect to the Docker daemon|dial unix/.test(stderr)
        ? `; start dockerd on ${ssh.hostname}${ssh.socketPath ? ` at ${ssh.socketPath}` : ''}, or name its socket in the address (ssh://host/path/to/docker.sock)`
        : /docker: (command )?not found|No such file or directory.*docker|unknown command "dial-stdio"|is not a docker command/.test(stderr)
        ? `; ${ssh.destination} needs the docker CLI (18.09+) on its PATH for \`docker system dial-stdio\``
        : /Permission denied|Host key verification failed|Could not resolve|Connection refused|timed out/i.test(line)
          ? '; check that `ssh ' + ssh.destination + (ssh.port ? ` -p ${ssh.port}` : '') + ' docker version` works (keys, known_hosts, address)'
          : '';
      return new DockerUnreachableError(this.endpoint.host, `cannot reach the Docker Engine at ${this.endpoint.host} over ssh: ${line}${remote}`, { cause });
    });
  }

  private async dispatch(method: string, path: string, options: DockerRequestOptions & { timeout: number }): Promise<DockerResponse> {
    if (options.body !== undefined && options.input !== undefined) throw new CdkDockerError(`a Docker request (${method} ${path}) takes either a JSON body or an input stream, not both`);
    const headers: Record<string, string> = { 'user-agent': this.options.userAgent ?? 'cdk-docker' };
    let body: string | Buffer | Readable | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    } else if (options.input !== undefined) {
      body = options.input;
      headers['content-type'] = options.contentType ?? 'application/x-tar';
    }
    Object.assign(headers, options.headers ?? {});
    // Until the answer's headers arrive, a timer of ours holds the event loop and bounds the wait:
    // undici can lose a request whose TLS connection the engine closes right after the handshake
    // (a refused client certificate under TLS 1.3), and a lost request with nothing else pending
    // let the process end with status 0 having done nothing. On a TLS endpoint a request still
    // unanswered after STALL_PROBE_MS is probed with Node's tls, which names the engine's alert.
    const controller = new AbortController();
    let failure: Error | undefined;
    const abort = (e: Error) => {
      failure ??= e;
      controller.abort(e);
    };
    const onOuterAbort = () => controller.abort(options.signal?.reason);
    if (options.signal?.aborted) onOuterAbort();
    options.signal?.addEventListener('abort', onOuterAbort, { once: true });
    const ep = this.endpoint;
    const deadline = options.timeout > 0
      ? setTimeout(() => abort(transportError(ep, Object.assign(new Error(`no answer to ${method} ${path}`), { code: 'UND_ERR_HEADERS_TIMEOUT' }))), options.timeout)
      : undefined;
    const stall = ep.kind === 'tcp' && ep.tls
      ? setTimeout(() => void probeTls(ep).then((refused) => refused && abort(transportError(ep, refused))), STALL_PROBE_MS)
      : undefined;
    // undici does not settle a request it lost, even when aborted: the abort settles it here.
    const aborted = new Promise<never>((_resolve, reject) => {
      if (controller.signal.aborted) reject(controller.signal.reason);
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    aborted.catch(() => undefined);
    try {
      const pending = undici().request.call(this.getPool(), {
        path: `${path}${encodeQuery(options.query)}`,
        method: method as Dispatcher.HttpMethod,
        headers,
        body,
        signal: controller.signal,
        headersTimeout: options.timeout,
        bodyTimeout: options.timeout,
      });
      pending.then((late) => controller.signal.aborted && late.body.destroy(), () => undefined);
      const res = await Promise.race([pending, aborted]);
      // The caller's signal keeps aborting the body being read.
      res.body.once('close', () => options.signal?.removeEventListener('abort', onOuterAbort));
      return { statusCode: res.statusCode, headers: res.headers as IncomingHttpHeaders, body: res.body };
    } catch (e) {
      options.signal?.removeEventListener('abort', onOuterAbort);
      throw failure ?? (await this.diagnose(e));
    } finally {
      clearTimeout(deadline);
      clearTimeout(stall);
    }
  }

  /**
   * The error for a failed request. A TLS connection the engine closed before answering (how it
   * refuses a client certificate under TLS 1.3: its alert comes after the handshake, and undici
   * reports only the close) is probed again with Node's tls, to name the engine's alert.
   */
  private async diagnose(e: unknown): Promise<Error> {
    const ep = this.endpoint;
    const err = e as { code?: string; socket?: { bytesRead?: number } };
    if (ep.kind !== 'tcp' || !ep.tls || !['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE'].includes(String(err?.code)) || (err.socket?.bytesRead ?? 0) > 0) return this.translate(e);
    const probed = await probeTls(ep);
    return this.translate(probed ?? e);
  }

  private async readText(body: Readable): Promise<string> {
    try {
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(Buffer.from(c as Buffer));
      return Buffer.concat(chunks).toString('utf8');
    } catch (e) {
      throw this.translate(e);
    }
  }

  /** The error for an engine's non-2xx answer (its `{"message"}`, or the text it sent). */
  private answerError(status: number, text: string, headers: IncomingHttpHeaders): Error {
    const ep = this.endpoint;
    if (status === 400 && /Client sent an HTTP request to an HTTPS server/i.test(text)) {
      return new DockerTlsError(ep.host, `the Docker Engine at ${ep.host} speaks TLS and cdk-docker spoke plain HTTP to it; set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to the directory of ca.pem, cert.pem and key.pem (or "tlsVerify"/"certPath" in cdk-docker.json)`);
    }
    let message = text;
    const type = String(headers['content-type'] ?? '');
    if (type.includes('json') || text.trim().startsWith('{')) {
      try {
        const parsed = JSON.parse(text) as { message?: unknown };
        if (typeof parsed.message === 'string') message = parsed.message;
      } catch {
        // not JSON: keep the text
      }
    }
    return engineError(ep.host, status, message);
  }

  /** Maps undici's and Node's transport errors to the errors of ./errors (others pass through). */
  private translate(e: unknown): Error {
    if (e instanceof CdkDockerError) return e;
    return transportError(this.endpoint, e);
  }
}

/**
 * Connects to a TLS endpoint with Node's tls, sends a ping and returns the error the connection
 * ends with (the engine's TLS alert), or undefined when the engine answers.
 */
function probeTls(ep: DockerEndpoint): Promise<Error | undefined> {
  const tls = require('node:tls') as typeof import('node:tls');
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: ep.hostname,
      port: ep.port,
      ca: ep.tls!.ca,
      cert: ep.tls!.cert,
      key: ep.tls!.key,
      rejectUnauthorized: ep.tls!.verify,
      servername: /^[\d.]+$|:/.test(ep.hostname!) ? undefined : ep.hostname,
    });
    const done = (v: Error | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), 5_000);
    socket.on('secureConnect', () => socket.write('GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n'));
    socket.on('data', () => done(undefined));
    socket.on('error', (e) => done(e));
    socket.on('close', () => done(undefined));
  });
}

function parseRawHeaders(raw: Buffer[] | string[] | null | undefined): IncomingHttpHeaders {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (let i = 0; i + 1 < raw.length; i += 2) out[String(raw[i]).toLowerCase()] = String(raw[i + 1]);
  return out;
}

/** The setting that names the endpoint, for fixes: where to change the address. */
function settingHint(ep: DockerEndpoint): string {
  if (ep.source === 'DOCKER_HOST') return 'DOCKER_HOST';
  if (ep.source === 'cdk-docker.json') return 'cdk-docker.json\'s "engine"';
  if (ep.source.startsWith('context') || ep.source.startsWith('currentContext')) return `the Docker context "${ep.context}"`;
  return 'DOCKER_HOST (or cdk-docker.json\'s "engine")';
}

const TLS_UNKNOWN_CA = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

/** The error for a failure to talk to `ep` at all (connection, TLS, ssh). Others pass through. */
export function transportError(ep: DockerEndpoint, e: unknown): Error {
  if (e instanceof CdkDockerError) return e;
  const err = e as NodeJS.ErrnoException & { cause?: unknown };
  const inner = (err?.cause ?? {}) as NodeJS.ErrnoException;
  const code = String(err?.code ?? '');
  const innerCode = String(inner.code ?? '');
  const codes = [code, innerCode];
  const text = `${err?.message ?? ''} ${inner.message ?? ''}`;
  const where = `the Docker Engine at ${ep.host}`;
  const setting = settingHint(ep);
  const has = (...cs: string[]) => cs.some((c) => codes.includes(c));
  if (has('ENOENT') && ep.kind === 'unix') {
    return new DockerUnreachableError(ep.host, `cannot reach ${where}: no such socket; start dockerd (or point ${setting} at a running engine)`, { cause: e });
  }
  if (has('ECONNREFUSED')) {
    return new DockerUnreachableError(ep.host, `cannot reach ${where}: connection refused (is dockerd running and listening there?); start it, or point ${setting} at a running engine`, { cause: e });
  }
  if (has('EACCES', 'EPERM') && ep.kind === 'unix') {
    return new DockerPermissionError(ep.host, `permission denied on ${ep.socketPath} (${ep.host}); run as root, or add this user to the socket's group (usually "docker": sudo usermod -aG docker $USER, then log in again)`, { cause: e });
  }
  if (has('ENOTFOUND', 'EAI_AGAIN')) {
    return new DockerUnreachableError(ep.host, `cannot reach ${where}: the host name does not resolve; fix ${setting}`, { cause: e });
  }
  if (has('UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH')) {
    return new DockerUnreachableError(ep.host, `cannot reach ${where}: the connection timed out or the host is unreachable; check the address in ${setting} and the firewall`, { cause: e });
  }
  if (ep.kind === 'tcp' && ep.tls) {
    const certs = ep.tls.source;
    if (codes.some((c) => TLS_UNKNOWN_CA.has(c))) {
      return new DockerTlsError(ep.host, `${where} presented a certificate not signed by the CA in ${certs} (ca.pem); put the CA that signed the engine's certificate there (DOCKER_CERT_PATH)`, { cause: e });
    }
    if (has('ERR_TLS_CERT_ALTNAME_INVALID')) {
      return new DockerTlsError(ep.host, `${where} presented a certificate that does not name ${ep.hostname}; connect by a name or address in the certificate's subjectAltName, or reissue it with this one`, { cause: e });
    }
    if (has('CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID')) {
      return new DockerTlsError(ep.host, `${where} presented a certificate that is ${code === 'CERT_NOT_YET_VALID' ? 'not yet valid' : 'expired'}; reissue the engine's certificate`, { cause: e });
    }
    if (/WRONG_VERSION_NUMBER|wrong version number|packet length too long|unknown protocol|record layer failure/i.test(`${code} ${innerCode} ${text}`)) {
      return new DockerTlsError(ep.host, `${where} does not speak TLS; unset DOCKER_TLS_VERIFY (or "tlsVerify" in cdk-docker.json), or use the engine's TLS port (usually 2376)`, { cause: e });
    }
    if (/CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|alert (certificate required|bad certificate|unknown ca)/i.test(`${code} ${innerCode} ${text}`)) {
      return new DockerTlsError(
        ep.host,
        ep.tls.cert
          ? `${where} refused our client certificate (${certs}/cert.pem); use a client certificate signed by the CA the engine trusts (its --tlscacert)`
          : `${where} requires a client certificate and ${certs} has no cert.pem and key.pem; put the client certificate and key there (DOCKER_CERT_PATH)`,
        { cause: e },
      );
    }
    if (has('ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE')) {
      return new DockerTlsError(
        ep.host,
        `${where} closed the TLS connection (${codes.filter(Boolean).join('/')}); ${ep.tls.cert ? `check that its --tlscacert signed ${certs}/cert.pem` : `it may require a client certificate: put cert.pem and key.pem in ${certs}`}`,
        { cause: e },
      );
    }
  }
  if (ep.kind === 'tcp' && !ep.tls && has('UND_ERR_SOCKET', 'ECONNRESET', 'HPE_INVALID_CONSTANT', 'HPE_INVALID_VERSION') && /\x15\x03|HPE_INVALID/.test(text + code)) {
    return new DockerTlsError(ep.host, `${where} speaks TLS and cdk-docker spoke plain HTTP to it; set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH`, { cause: e });
  }
  if (has('ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE')) {
    return new DockerUnreachableError(ep.host, `${where} closed the connection (${text.trim()}); check that ${setting} names a Docker Engine and that it is running`, { cause: e });
  }
  if (has('UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT')) {
    return new DockerUnreachableError(ep.host, `${where} did not answer in time; check that it is responsive (\`docker info\`)`, { cause: e });
  }
  return e instanceof Error ? e : new Error(String(e));
}
