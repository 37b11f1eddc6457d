/**
 * The Docker Engine client's errors. Each is one line that names the endpoint (as the user
 * would write it: `unix:///var/run/docker.sock`, `tcp://10.0.0.5:2376`, `ssh://root@host`) and
 * the fix. Callers test the class (or `code`), never the message.
 *
 * - Reaching the engine: `DockerUnreachableError` (nothing listens, no such socket, ssh failed),
 *   `DockerPermissionError` (the socket's mode), `DockerTlsError` (certificates, or TLS on one
 *   side only), `DockerApiVersionError` (an engine too old, or too new, for the API we speak).
 * - The engine's own answers (`{"message": …}` with an HTTP status): 404 → `DockerNotFoundError`,
 *   409 → `DockerConflictError`, 400 → `DockerInvalidArgumentError` — subclasses of the core
 *   `NotFoundError`/`ConflictError`/`InvalidArgumentError`, so a caller that only knows the core
 *   classes still matches them — and any other status → `DockerEngineError`.
 */
import { CdkDockerError, ConflictError, InvalidArgumentError, NotFoundError } from '../../core/errors';

/** The engine cannot be reached at the endpoint: no socket, nothing listening, a failed ssh. */
export class DockerUnreachableError extends CdkDockerError {
  public override readonly code = 'DOCKER_UNREACHABLE';
  constructor(public readonly endpoint: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The endpoint's unix socket exists but this user may not open it. */
export class DockerPermissionError extends CdkDockerError {
  public override readonly code = 'DOCKER_PERMISSION';
  constructor(public readonly endpoint: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * TLS between us and the engine failed: the server's certificate is not signed by our CA (or
 * does not name the host), the engine refused our client certificate (or we sent none), or one
 * side speaks TLS and the other plain HTTP.
 */
export class DockerTlsError extends CdkDockerError {
  public override readonly code = 'DOCKER_TLS';
  constructor(public readonly endpoint: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The engine's API version is outside what this client speaks (below 1.41, or a minimum above ours). */
export class DockerApiVersionError extends CdkDockerError {
  public override readonly code = 'DOCKER_API_VERSION';
  constructor(public readonly endpoint: string, public readonly engineVersion: string, message: string) {
    super(message);
  }
}

/** What every engine-answered error carries: the HTTP status and the engine's own message. */
export interface DockerEngineAnswer {
  readonly endpoint: string;
  /** The HTTP status of the engine's answer (0 for an error inside a progress stream). */
  readonly statusCode: number;
  /** The engine's `message`, verbatim. */
  readonly engineMessage: string;
}

/** The engine answered with an error other than 400/404/409 (or a progress stream reported one). */
export class DockerEngineError extends CdkDockerError implements DockerEngineAnswer {
  public override readonly code: string = 'DOCKER_ENGINE';
  constructor(public readonly endpoint: string, public readonly statusCode: number, public readonly engineMessage: string, message: string) {
    super(message);
  }
}

/** The engine answered 404: the container, image, network, volume or exec does not exist. */
export class DockerNotFoundError extends NotFoundError implements DockerEngineAnswer {
  public readonly statusCode = 404;
  constructor(public readonly endpoint: string, public readonly engineMessage: string, message: string) {
    super(message);
  }
}

/** The engine answered 409: a name in use, a container running, an object in use. */
export class DockerConflictError extends ConflictError implements DockerEngineAnswer {
  public readonly statusCode = 409;
  constructor(public readonly endpoint: string, public readonly engineMessage: string, message: string) {
    super(message);
  }
}

/** The engine answered 400: it refused the request's parameters. */
export class DockerInvalidArgumentError extends InvalidArgumentError implements DockerEngineAnswer {
  public readonly statusCode = 400;
  constructor(public readonly endpoint: string, public readonly engineMessage: string, message: string) {
    super(message);
  }
}

/** True for any error the engine itself answered (as opposed to a transport failure). */
export function isDockerEngineAnswer(e: unknown): e is Error & DockerEngineAnswer {
  return e instanceof DockerEngineError || e instanceof DockerNotFoundError || e instanceof DockerConflictError || e instanceof DockerInvalidArgumentError;
}

/**
 * The error for the engine's answer `status` with message `engineMessage` to `what`
 * (`GET /containers/x/json`): `Docker Engine at <endpoint>: <engine message>`.
 */
export function engineError(endpoint: string, status: number, engineMessage: string): Error & DockerEngineAnswer {
  const text = engineMessage.trim().split('\n')[0] || `HTTP ${status}`;
  const message = `Docker Engine at ${endpoint}: ${text}`;
  if (status === 404) return new DockerNotFoundError(endpoint, engineMessage, message);
  if (status === 409) return new DockerConflictError(endpoint, engineMessage, message);
  if (status === 400) return new DockerInvalidArgumentError(endpoint, engineMessage, message);
  return new DockerEngineError(endpoint, status, engineMessage, message);
}
