import { isDigest } from './digest';
import { InvalidArgumentError } from './errors';

/**
 * Image references, as Docker parses them (distribution/reference):
 * `[registry[:port]/]repository[:tag][@sha256:digest]`, with Docker Hub defaults —
 * `nginx` is `docker.io/library/nginx:latest`.
 */
export interface ImageReference {
  /** Registry host, with port if any: `docker.io`, `127.0.0.1:5000`. */
  readonly registry: string;
  /** Repository path inside the registry: `library/nginx`. */
  readonly repository: string;
  /** Tag; absent when only a digest was given. */
  readonly tag?: string;
  /** `sha256:…`; absent unless given. */
  readonly digest?: string;
}

export const DEFAULT_REGISTRY = 'docker.io';
export const DEFAULT_TAG = 'latest';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:]+\])(?::[0-9]+)?$/;

/** Whether `tag` is a valid tag (up to 128 letters, digits, `_`, `.`, `-`, not starting with `.` or `-`). */
export function isTag(tag: unknown): boolean {
  return typeof tag === 'string' && TAG.test(tag);
}

/** Parses and normalises `ref`, adding Docker Hub's defaults. Throws InvalidArgumentError. */
export function parseReference(ref: string): ImageReference {
  const bad = (why: string): never => {
    // JSON quoting: a reference from an archive or a registry may hold newlines or escapes.
    throw new InvalidArgumentError(`invalid image reference ${JSON.stringify(ref)}: ${why}`);
  };
  if (typeof ref !== 'string' || ref.length === 0) bad('it is empty');
  if (/\s/.test(ref)) bad('it contains whitespace');

  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) bad(`digest "${digest}" is not of the form sha256:<64 hex digits>`);
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) bad(`tag "${tag}" must be up to 128 letters, digits, "_", "." or "-", not starting with "." or "-"`);
  }

  let registry = DEFAULT_REGISTRY;
  const firstSlash = rest.indexOf('/');
  if (firstSlash >= 0) {
    const first = rest.slice(0, firstSlash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      if (!HOST.test(first)) bad(`registry host "${first}" is not a valid host[:port]`);
      registry = first;
      rest = rest.slice(firstSlash + 1);
    }
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DEFAULT_REGISTRY;
  if (rest.length === 0) bad('the repository name is missing');
  if (rest !== rest.toLowerCase()) bad('repository name must be lowercase');
  const components = rest.split('/');
  for (const c of components) {
    if (!COMPONENT.test(c)) bad(`repository path component "${c}" must be lowercase letters and digits, separated by ".", "_", "__" or "-"`);
  }
  if (registry === DEFAULT_REGISTRY && components.length === 1) rest = `library/${rest}`;
  if (rest.length > 255) bad('the repository name is longer than 255 characters');
  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG;
  return { registry, repository: rest, tag, digest };
}

/** The fully qualified form: `docker.io/library/nginx:latest`. */
export function formatReference(r: ImageReference): string {
  return `${r.registry}/${r.repository}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** The short form Docker prints: `nginx:latest`, `127.0.0.1:5000/app:1`. */
export function familiarReference(r: ImageReference): string {
  let repo = `${r.registry}/${r.repository}`;
  if (r.registry === DEFAULT_REGISTRY) {
    repo = r.repository.startsWith('library/') ? r.repository.slice('library/'.length) : r.repository;
  }
  return `${repo}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** Parses `ref` and returns its fully qualified form. */
export function normalizeReference(ref: string): string {
  return formatReference(parseReference(ref));
}
