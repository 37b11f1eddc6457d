import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import type { Agent, Dispatcher } from 'undici';
import { CdkDockerError, NotFoundError } from '../../lib/core/errors';
import { parseDigest } from '../../lib/core/digest';
import { isTag } from '../../lib/core/reference';
import { MAX_MANIFEST_BYTES, MalformedImageError } from './documents';
import { Credentials, lookupCredentials } from './credentials';
import { MEDIA_TYPES } from './types';

/**
 * A client of the OCI distribution API (Docker Registry HTTP API v2) on undici.
 *
 * Terms
 * - *registry*: `host[:port]` as in a reference (`docker.io` means `registry-1.docker.io`).
 * - *repository*: the path inside it (`library/nginx`).
 * - *scope*: what a bearer token allows (`repository:library/nginx:pull,push`).
 *
 * Transport: HTTPS with certificate verification. A registry on localhost, 127.0.0.0/8 or ::1,
 * or listed in `insecureRegistries`, may also be reached over plain HTTP (HTTPS without
 * verification is tried first, then HTTP), as Docker does.
 *
 * Authentication: anonymous first; on a 401 the `WWW-Authenticate` challenge decides —
 * `Bearer` gets a token from the realm (with the user's credentials when there are any),
 * `Basic` sends the credentials. Tokens are cached per scope for the client's lifetime.
 */
export interface RegistryClientOptions {
  /** Extra registries (`host[:port]`) that may use plain HTTP. */
  readonly insecureRegistries?: string[];
  /** Where credentials come from. @default the Docker config (`~/.docker/config.json`) */
  readonly credentials?: (registry: string) => Credentials | undefined;
}

/** The registry refused the credentials (or asked for some and there were none). */
export class RegistryAuthError extends CdkDockerError {
  public override readonly code = 'UNAUTHORIZED';
}

/** The registry could not be reached. */
export class RegistryUnreachableError extends CdkDockerError {
  public override readonly code = 'UNREACHABLE';
}

/** A registry answered with an unexpected status. */
export class RegistryError extends CdkDockerError {
  public override readonly code = 'REGISTRY';
  constructor(message: string, public readonly status: number) {
    super(message);
  }
}

export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerManifestList,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerManifest,
].join(', ');

export interface FetchedManifest {
  readonly mediaType: string;
  /** Digest of the exact bytes. */
  readonly digest: string;
  readonly body: Buffer;
}

interface Challenge {
  readonly scheme: 'bearer' | 'basic';
  readonly params: { readonly [k: string]: string };
}

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH';

interface SendOptions {
  readonly method: Method;
  /** Path and query, starting with /v2/, or an absolute URL (upload locations). */
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: Buffer | Readable;
  /** Scope actions for a bearer token. */
  readonly actions: 'pull' | 'pull,push';
  readonly repository: string;
}

function undici(): typeof import('undici') {
  return require('undici') as typeof import('undici');
}

export class RegistryClient {
  private readonly insecure: Set<string>;
  private readonly credentials: (registry: string) => Credentials | undefined;
  private readonly tokens = new Map<string, string>();
  private readonly schemes = new Map<string, 'https' | 'http'>();
  private agents?: { verified: Agent; unverified: Agent };

  constructor(options: RegistryClientOptions = {}) {
    this.insecure = new Set(options.insecureRegistries ?? []);
    this.credentials = options.credentials ?? ((r) => lookupCredentials(r));
  }

  /** Closes the connection pools. */
  public async close(): Promise<void> {
    if (this.agents) await Promise.all([this.agents.verified.close(), this.agents.unverified.close()]);
  }

  /** The connection pools, made on first use (undici loads only for commands that talk to a registry). */
  private get verifiedAgent(): Agent {
    return this.pools().verified;
  }

  private get unverifiedAgent(): Agent {
    return this.pools().unverified;
  }

  private pools(): { verified: Agent; unverified: Agent } {
    const { Agent: AgentClass } = undici();
    this.agents ??= {
      verified: new AgentClass({ connections: 8, pipelining: 1 }),
      unverified: new AgentClass({ connections: 8, pipelining: 1, connect: { rejectUnauthorized: false } }),
    };
    return this.agents;
  }

  /** Whether plain HTTP is allowed for `registry`. */
  public isInsecure(registry: string): boolean {
    const host = hostOf(registry);
    return this.insecure.has(registry) || this.insecure.has(host) || host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1' || host === '[::1]';
  }

  /**
   * Checks that the registry answers and that the credentials (if any) are accepted, as
   * `docker login` does. Throws RegistryAuthError on wrong credentials.
   */
  public async checkLogin(registry: string, creds: Credentials): Promise<void> {
    const res = await this.raw(registry, 'GET', '/v2/', {});
    await res.body.dump();
    if (res.statusCode === 200) return;
    if (res.statusCode !== 401) throw new RegistryError(`registry ${registry} answered ${res.statusCode} to GET /v2/`, res.statusCode);
    const challenge = parseChallenge(res.headers['www-authenticate']);
    if (!challenge) throw new RegistryAuthError(`registry ${registry} asks for authentication but sends no WWW-Authenticate challenge`);
    if (challenge.scheme === 'basic') {
      const again = await this.raw(registry, 'GET', '/v2/', { authorization: basic(creds) });
      await again.body.dump();
      if (again.statusCode !== 200) throw new RegistryAuthError(`login to ${registry} failed: the registry rejected the username or password (HTTP ${again.statusCode})`);
      return;
    }
    await this.fetchToken(registry, challenge, creds, undefined);
  }

  /** Fetches a manifest or index by tag or digest; verifies the digest when given one. */
  public async getManifest(registry: string, repository: string, reference: string): Promise<FetchedManifest> {
    checkReference(reference, `manifest reference for ${registry}/${repository}`);
    const res = await this.send(registry, { method: 'GET', path: `/v2/${repository}/manifests/${reference}`, headers: { accept: MANIFEST_ACCEPT }, actions: 'pull', repository });
    if (res.statusCode === 404) {
      const detail = await errorDetail(res);
      throw new NotFoundError(`manifest for ${registry}/${repository}:${reference} not found: registry ${registry} has no ${reference.startsWith('sha256:') ? 'manifest' : 'tag'} "${reference}" in repository ${repository}${detail ? ` (${detail})` : ''}`);
    }
    await expectStatus(res, [200], `GET manifest ${registry}/${repository}:${reference}`);
    const where = `manifest ${registry}/${repository}${reference.includes(':') ? '@' : ':'}${reference}`;
    const body = await readLimited(res, MAX_MANIFEST_BYTES, where);
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    if (reference.startsWith('sha256:') && reference !== digest) {
      throw new RegistryError(`manifest ${registry}/${repository}@${reference} has digest ${digest}: the registry sent other content than asked for`, 200);
    }
    const header = res.headers['docker-content-digest'];
    if (header !== undefined) {
      const said = parseDigest(Array.isArray(header) ? header[0] : header, `the Docker-Content-Digest header of ${where}`).text;
      if (said !== digest) throw new RegistryError(`${where}: the registry's Docker-Content-Digest ${said} is not the digest of what it sent (${digest})`, 200);
    }
    let mediaType = String(res.headers['content-type'] ?? '').split(';')[0].trim();
    try {
      const parsed = JSON.parse(body.toString('utf8')) as { mediaType?: string; manifests?: unknown; config?: unknown };
      if (parsed.mediaType) mediaType = parsed.mediaType;
      else if (!mediaType || mediaType === 'application/json') mediaType = parsed.manifests ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest;
    } catch {
      throw new RegistryError(`manifest ${registry}/${repository}:${reference} is not JSON`, 200);
    }
    return { mediaType, digest, body };
  }

  /** Opens a blob for reading. The caller verifies the digest while storing it. */
  public async getBlob(registry: string, repository: string, digest: string): Promise<{ stream: Readable; size?: number }> {
    parseDigest(digest, `blob of ${registry}/${repository}`);
    const res = await this.send(registry, { method: 'GET', path: `/v2/${repository}/blobs/${digest}`, actions: 'pull', repository });
    if (res.statusCode === 404) {
      await res.body.dump();
      throw new NotFoundError(`blob ${digest} not found in ${registry}/${repository}`);
    }
    await expectStatus(res, [200], `GET blob ${registry}/${repository}@${digest}`);
    const len = res.headers['content-length'];
    const size = len !== undefined ? Number(len) : undefined;
    if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) {
      res.body.on('error', () => undefined).destroy();
      throw new RegistryError(`GET blob ${registry}/${repository}@${digest}: the registry sent an invalid Content-Length ${JSON.stringify(len)}`, res.statusCode);
    }
    // A connection that breaks mid-blob fails the reader with one line naming the blob, not
    // undici's SocketError; a reader that stops early closes the connection.
    const body = res.body as unknown as Readable;
    const stream = new PassThrough({ highWaterMark: 1 << 20 });
    body.on('error', (e: Error) =>
      stream.destroy(e instanceof CdkDockerError ? e : new RegistryError(`GET blob ${registry}/${repository}@${digest}: the connection broke (${String(e.message).split('\n')[0]}); pull again`, res.statusCode)),
    );
    stream.on('close', () => {
      if (!body.destroyed) body.destroy();
    });
    body.pipe(stream);
    return { stream, size };
  }

  /** Whether the repository already has the blob (HEAD). */
  public async hasBlob(registry: string, repository: string, digest: string): Promise<boolean> {
    parseDigest(digest, `blob for ${registry}/${repository}`);
    const res = await this.send(registry, { method: 'HEAD', path: `/v2/${repository}/blobs/${digest}`, actions: 'pull,push', repository });
    await res.body.dump();
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    throw new RegistryError(`HEAD blob ${registry}/${repository}@${digest}: HTTP ${res.statusCode}`, res.statusCode);
  }

  /**
   * Asks the registry to mount a blob from another repository (cross-repository mount).
   * Returns false when it started an ordinary upload instead (the upload is cancelled).
   */
  public async mountBlob(registry: string, repository: string, digest: string, from: string): Promise<boolean> {
    parseDigest(digest, `blob for ${registry}/${repository}`);
    const res = await this.send(registry, {
      method: 'POST',
      path: `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
      headers: { 'content-length': '0' },
      actions: 'pull,push',
      repository,
    });
    await res.body.dump();
    return res.statusCode === 201;
  }

  /**
   * Uploads a blob: monolithic (POST then one PUT) when it is at most `chunkSize` bytes,
   * chunked (PATCH per chunk, then PUT) otherwise. `open` returns the content from `start`.
   */
  public async uploadBlob(
    registry: string,
    repository: string,
    digest: string,
    size: number,
    open: () => Readable,
    chunkSize = 64 * 1024 * 1024,
  ): Promise<void> {
    parseDigest(digest, `blob for ${registry}/${repository}`);
    const start = await this.send(registry, { method: 'POST', path: `/v2/${repository}/blobs/uploads/`, headers: { 'content-length': '0' }, actions: 'pull,push', repository });
    await expectStatus(start, [202], `start upload to ${registry}/${repository}`);
    await start.body.dump();
    let location = this.absolute(registry, String(start.headers.location ?? ''));
    if (size <= chunkSize) {
      const put = await this.send(registry, {
        method: 'PUT',
        path: withQuery(location, 'digest', digest),
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
        body: open(),
        actions: 'pull,push',
        repository,
      });
      await expectStatus(put, [201], `upload ${digest} to ${registry}/${repository}`);
      await put.body.dump();
      return;
    }
    let offset = 0;
    for await (const chunk of chunks(open(), chunkSize)) {
      const patch = await this.send(registry, {
        method: 'PATCH',
        path: location,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(chunk.length), 'content-range': `${offset}-${offset + chunk.length - 1}` },
        body: chunk,
        actions: 'pull,push',
        repository,
      });
      await expectStatus(patch, [202], `upload chunk ${offset} of ${digest} to ${registry}/${repository}`);
      await patch.body.dump();
      location = this.absolute(registry, String(patch.headers.location ?? location));
      offset += chunk.length;
    }
    const put = await this.send(registry, { method: 'PUT', path: withQuery(location, 'digest', digest), headers: { 'content-length': '0' }, actions: 'pull,push', repository });
    await expectStatus(put, [201], `finish upload of ${digest} to ${registry}/${repository}`);
    await put.body.dump();
  }

  /** Puts a manifest under a tag or digest; returns the digest the registry reports. */
  public async putManifest(registry: string, repository: string, reference: string, mediaType: string, body: Buffer): Promise<string> {
    checkReference(reference, `manifest reference for ${registry}/${repository}`);
    const res = await this.send(registry, {
      method: 'PUT',
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { 'content-type': mediaType, 'content-length': String(body.length) },
      body,
      actions: 'pull,push',
      repository,
    });
    await expectStatus(res, [201, 200], `put manifest ${registry}/${repository}:${reference}`);
    await res.body.dump();
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    const header = res.headers['docker-content-digest'];
    if (header === undefined) return digest;
    const said = parseDigest(Array.isArray(header) ? header[0] : header, `the Docker-Content-Digest header of registry ${registry} for the pushed manifest of ${repository}`).text;
    if (said !== digest) throw new RegistryError(`registry ${registry} says the manifest pushed to ${repository} has digest ${said}, but its content has ${digest}`, res.statusCode);
    return said;
  }

  // -------------------------------------------------------------------------------------------

  /** Sends a request with authentication, answering a 401 challenge once. */
  private async send(registry: string, opts: SendOptions): Promise<Dispatcher.ResponseData> {
    const scope = `repository:${opts.repository}:${opts.actions}`;
    const cacheKey = `${registry} ${scope}`;
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const cached = this.tokens.get(cacheKey);
    if (cached) headers.authorization = cached;
    const replayable = !(opts.body instanceof Readable);
    let res = await this.raw(registry, opts.method, opts.path, headers, opts.body);
    if (res.statusCode !== 401) return res;

    const challenge = parseChallenge(res.headers['www-authenticate']);
    await res.body.dump();
    if (!challenge) throw new RegistryAuthError(`registry ${registry} refused ${opts.method} ${pathOnly(opts.path)} (401) without a WWW-Authenticate challenge`);
    const creds = this.credentials(registry);
    if (challenge.scheme === 'basic') {
      if (!creds) throw new RegistryAuthError(`registry ${registry} requires authentication: run \`cdk-docker runtime login ${registry}\``);
      this.tokens.set(cacheKey, basic(creds));
    } else {
      const token = await this.fetchToken(registry, challenge, creds, scope);
      this.tokens.set(cacheKey, `Bearer ${token}`);
    }
    if (!replayable) {
      throw new RegistryAuthError(`registry ${registry} asked for authentication in the middle of an upload; retry the push`);
    }
    res = await this.raw(registry, opts.method, opts.path, { ...headers, authorization: this.tokens.get(cacheKey)! }, opts.body);
    if (res.statusCode === 401) {
      await res.body.dump();
      throw new RegistryAuthError(
        creds
          ? `registry ${registry} rejected the credentials of user "${creds.username}" for ${opts.repository}: check them with \`cdk-docker runtime login ${registry}\``
          : `registry ${registry} requires authentication for ${opts.repository}: run \`cdk-docker runtime login ${registry}\``,
      );
    }
    if (res.statusCode === 403) {
      await res.body.dump();
      throw new RegistryAuthError(`registry ${registry} denied ${opts.actions} access to ${opts.repository}${creds ? ` for user "${creds.username}"` : ''}`);
    }
    return res;
  }

  private async fetchToken(registry: string, challenge: Challenge, creds: Credentials | undefined, scope: string | undefined): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm) throw new RegistryAuthError(`registry ${registry} sent a Bearer challenge without a realm`);
    const url = new URL(realm);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    const wanted = scope ?? challenge.params.scope;
    if (wanted) url.searchParams.set('scope', wanted);
    if (creds) url.searchParams.set('account', creds.username);
    let res: Dispatcher.ResponseData;
    try {
      res = await undici().request(url, {
        method: 'GET',
        headers: creds ? { authorization: basic(creds) } : {},
        dispatcher: url.protocol === 'https:' && this.isInsecure(registry) ? this.unverifiedAgent : this.verifiedAgent,
        maxRedirections: 3,
      });
    } catch (e) {
      throw new RegistryUnreachableError(`cannot reach the token service ${url.origin} of registry ${registry}: ${(e as Error).message}`);
    }
    if (res.statusCode === 401 || res.statusCode === 403) {
      await res.body.dump();
      throw new RegistryAuthError(
        creds
          ? `registry ${registry} rejected the credentials of user "${creds.username}" (token service answered ${res.statusCode}): check them with \`cdk-docker runtime login ${registry}\``
          : `registry ${registry} requires authentication: run \`cdk-docker runtime login ${registry}\``,
      );
    }
    await expectStatus(res, [200], `token from ${url.origin}`);
    const data = (await res.body.json()) as { token?: string; access_token?: string };
    const token = data.token ?? data.access_token;
    if (!token) throw new RegistryAuthError(`the token service of ${registry} answered without a token`);
    return token;
  }

  /** One HTTP request, choosing the scheme (and falling back to HTTP where that is allowed). */
  private async raw(registry: string, method: Method, pathOrUrl: string, headers: Record<string, string>, body?: Buffer | Readable): Promise<Dispatcher.ResponseData> {
    const host = registry === 'docker.io' ? 'registry-1.docker.io' : registry;
    const insecure = this.isInsecure(registry);
    const absolute = /^https?:\/\//.test(pathOrUrl);
    const schemes: Array<'https' | 'http'> = absolute ? [pathOrUrl.startsWith('http:') ? 'http' : 'https'] : this.schemes.has(registry) ? [this.schemes.get(registry)!] : insecure ? ['https', 'http'] : ['https'];
    let lastError: Error | undefined;
    for (const scheme of schemes) {
      const url = absolute ? pathOrUrl : `${scheme}://${host}${pathOrUrl}`;
      try {
        const res = await undici().request(url, {
          method,
          headers: { 'user-agent': 'cdk-docker', ...headers },
          body,
          dispatcher: scheme === 'https' && insecure ? this.unverifiedAgent : this.verifiedAgent,
          maxRedirections: method === 'GET' || method === 'HEAD' ? 5 : 0,
          headersTimeout: 60_000,
          bodyTimeout: 300_000,
        });
        if (!absolute) this.schemes.set(registry, scheme);
        return res;
      } catch (e) {
        lastError = e as Error;
        if (body instanceof Readable) break;
      }
    }
    const cause = lastError as (Error & { code?: string; cause?: { code?: string } }) | undefined;
    const code = cause?.code ?? cause?.cause?.code ?? cause?.message;
    throw new RegistryUnreachableError(`cannot reach registry ${registry} (${code}): check the address and that it is running${insecure ? '' : '; plain HTTP is allowed only for localhost, 127.0.0.0/8 and insecure registries'}`);
  }

  private absolute(registry: string, location: string): string {
    if (!location) throw new RegistryError(`registry ${registry} started an upload without a Location header`, 202);
    if (/^https?:\/\//.test(location)) return location;
    const scheme = this.schemes.get(registry) ?? 'https';
    return `${scheme}://${registry === 'docker.io' ? 'registry-1.docker.io' : registry}${location}`;
  }
}

/** A manifest reference is a tag or a digest; anything else never reaches a URL. */
function checkReference(reference: string, where: string): void {
  if (reference.includes(':')) parseDigest(reference, where);
  else if (!isTag(reference)) throw new MalformedImageError(`${where}: ${JSON.stringify(reference.slice(0, 80))} is neither a tag nor a digest`);
}

/**
 * Reads a response body of at most `max` bytes: a larger Content-Length is refused before
 * reading, and a body that goes on past `max` is cut off.
 */
async function readLimited(res: Dispatcher.ResponseData, max: number, where: string): Promise<Buffer> {
  const len = Number(res.headers['content-length'] ?? NaN);
  const tooLarge = (n: number | string) => new MalformedImageError(`${where}: the registry sent ${n} bytes, over the limit of ${max} bytes for a manifest; refusing to read it`);
  if (Number.isFinite(len) && len > max) {
    res.body.on('error', () => undefined).destroy();
    throw tooLarge(len);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length;
    if (size > max) {
      res.body.on('error', () => undefined).destroy();
      throw tooLarge(`more than ${max}`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function hostOf(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(0, registry.indexOf(']') + 1);
  return registry.replace(/:\d+$/, '');
}

function basic(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

function withQuery(url: string, key: string, value: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${key}=${encodeURIComponent(value)}`;
}

function pathOnly(p: string): string {
  return p.replace(/^https?:\/\/[^/]+/, '').replace(/\?.*$/, '');
}

/** Parses `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`. */
export function parseChallenge(header: string | string[] | undefined): Challenge | undefined {
  const h = Array.isArray(header) ? header[0] : header;
  if (!h) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/.exec(h);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'basic') return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2])) !== null) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  return { scheme, params };
}

async function errorDetail(res: Dispatcher.ResponseData): Promise<string> {
  try {
    const data = (await res.body.json()) as { errors?: Array<{ code?: string; message?: string }> };
    return (data.errors ?? []).map((e) => `${e.code}: ${e.message}`).join('; ');
  } catch {
    return '';
  }
}

async function expectStatus(res: Dispatcher.ResponseData, ok: number[], what: string): Promise<void> {
  if (ok.includes(res.statusCode)) return;
  const detail = await errorDetail(res);
  throw new RegistryError(`${what} failed: HTTP ${res.statusCode}${detail ? ` (${detail})` : ''}`, res.statusCode);
}

async function* chunks(stream: Readable, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let length = 0;
  for await (const data of stream) {
    let buf = data as Buffer;
    while (buf.length > 0) {
      const take = Math.min(size - length, buf.length);
      pending.push(buf.subarray(0, take));
      length += take;
      buf = buf.subarray(take);
      if (length === size) {
        yield Buffer.concat(pending);
        pending = [];
        length = 0;
      }
    }
  }
  if (length > 0) yield Buffer.concat(pending);
}

