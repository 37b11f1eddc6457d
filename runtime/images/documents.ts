import type Ajv2020 from 'ajv/dist/2020';
import type { ValidateFunction } from 'ajv/dist/2020';
import { CdkDockerError } from '../../lib/core/errors';
import { parseDigest } from '../../lib/core/digest';
import { MEDIA_TYPES } from './types';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest, Platform } from './types';

/**
 * The JSON documents of an image (manifest, index, config) as they come from a registry or an
 * archive: hostile input. Each is size-checked before it is read into memory, shape-checked with
 * ajv (JSON Schema 2020-12), and every digest in it is parsed with the one digest parser
 * (lib/core/digest) before anything uses it as a path. A bad document is a one-line
 * MalformedImageError naming where it came from and the field.
 *
 * The manifests made here (load of a Docker archive, import, commit, build) are written as
 * Docker writes the ones it pushes (`manifestBytes`).
 */

/** An image document (manifest, index, config) is malformed, too large or has a bad field. */
export class MalformedImageError extends CdkDockerError {
  public override readonly code = 'MALFORMED_IMAGE';
}

/** Largest manifest or index read into memory (distribution's own limit is 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Largest image config read into memory. */
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

/** RFC 6838 media type (type/subtype with +suffixes). */
const MEDIA_TYPE = '^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$';
const PLATFORM_WORD = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';

const stringMap = { type: 'object', additionalProperties: { type: 'string' } };
const platform = {
  type: 'object',
  required: ['architecture', 'os'],
  properties: {
    architecture: { type: 'string', pattern: PLATFORM_WORD },
    os: { type: 'string', pattern: PLATFORM_WORD },
    variant: { type: 'string', pattern: PLATFORM_WORD },
    'os.version': { type: 'string', pattern: PLATFORM_WORD },
    'os.features': { type: 'array', items: { type: 'string', pattern: PLATFORM_WORD } },
  },
};
const descriptor = {
  type: 'object',
  required: ['mediaType', 'digest', 'size'],
  properties: {
    mediaType: { type: 'string', pattern: MEDIA_TYPE },
    digest: { type: 'string' },
    size: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    urls: { type: 'array', items: { type: 'string' } },
    annotations: stringMap,
    platform,
  },
};
const schemas = {
  manifest: {
    type: 'object',
    required: ['schemaVersion', 'config', 'layers'],
    properties: {
      schemaVersion: { const: 2 },
      mediaType: { type: 'string', pattern: MEDIA_TYPE },
      config: descriptor,
      layers: { type: 'array', maxItems: 1000, items: descriptor },
      annotations: stringMap,
    },
  },
  index: {
    type: 'object',
    required: ['schemaVersion', 'manifests'],
    properties: {
      schemaVersion: { const: 2 },
      mediaType: { type: 'string', pattern: MEDIA_TYPE },
      manifests: { type: 'array', maxItems: 10000, items: descriptor },
      annotations: stringMap,
    },
  },
  config: {
    type: 'object',
    required: ['rootfs'],
    properties: {
      architecture: { type: 'string' },
      os: { type: 'string' },
      variant: { type: 'string' },
      created: { type: 'string' },
      config: { type: ['object', 'null'] },
      rootfs: {
        type: 'object',
        required: ['type', 'diff_ids'],
        properties: { type: { const: 'layers' }, diff_ids: { type: 'array', maxItems: 1000, items: { type: 'string' } } },
      },
      history: { type: 'array', items: { type: 'object' } },
    },
  },
  /** `manifest.json` of a `docker save` archive. */
  archive: {
    type: 'array',
    maxItems: 10000,
    items: {
      type: 'object',
      required: ['Config', 'Layers'],
      properties: {
        Config: { type: 'string' },
        RepoTags: { type: ['array', 'null'], items: { type: 'string' } },
        Layers: { type: 'array', maxItems: 1000, items: { type: 'string' } },
      },
    },
  },
} as const;

type Kind = keyof typeof schemas;
let validators: { [K in Kind]: ValidateFunction } | undefined;

function validator(kind: Kind): ValidateFunction {
  if (!validators) {
    // Loaded on first use: commands that do not read image documents do not compile schemas.
    const AjvClass = (require('ajv/dist/2020') as { default: typeof Ajv2020 }).default;
    const ajv = new AjvClass({ allErrors: false, strict: true });
    validators = { manifest: ajv.compile(schemas.manifest), index: ajv.compile(schemas.index), config: ajv.compile(schemas.config), archive: ajv.compile(schemas.archive) };
  }
  return validators[kind];
}

/** Refuses a document whose (declared or actual) size is over the limit, before it is read. */
export function checkDocumentSize(size: number, kind: Kind, where: string): void {
  const max = kind === 'config' ? MAX_CONFIG_BYTES : MAX_MANIFEST_BYTES;
  const what = kind === 'archive' ? 'manifest.json' : kind;
  if (!Number.isSafeInteger(size) || size < 0) throw new MalformedImageError(`${where}: the ${what} has an invalid size ${JSON.stringify(size)}`);
  if (size > max) throw new MalformedImageError(`${where}: the ${what} is ${size} bytes, over the limit of ${max} bytes for an image ${what}; refusing to read it`);
}

function parse<T>(bytes: Buffer, kind: Kind, where: string): T {
  checkDocumentSize(bytes.length, kind, where);
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new MalformedImageError(`${where}: the ${kind === 'archive' ? 'manifest.json' : kind} is not JSON (${(e as Error).message})`);
  }
  const validate = validator(kind);
  if (!validate(doc)) {
    const err = validate.errors![0];
    throw new MalformedImageError(`${where}: the ${kind === 'archive' ? 'manifest.json' : kind} is malformed: ${err.instancePath || '(top level)'} ${err.message}`);
  }
  return doc as T;
}

function checkDescriptor(d: Descriptor, where: string, field: string): void {
  parseDigest(d.digest, `${where}: ${field}.digest`);
}

/** Parses and validates an image manifest (Docker v2 schema 2 or OCI). */
export function parseManifest(bytes: Buffer, where: string): ImageManifest {
  const m = parse<ImageManifest>(bytes, 'manifest', where);
  checkDescriptor(m.config, where, 'config');
  m.layers.forEach((l, i) => checkDescriptor(l, where, `layers[${i}]`));
  return m;
}

/** Parses and validates an image index (manifest list). */
export function parseIndex(bytes: Buffer, where: string): ImageIndex {
  const x = parse<ImageIndex>(bytes, 'index', where);
  x.manifests.forEach((m, i) => checkDescriptor(m, where, `manifests[${i}]`));
  return x;
}

/** Parses and validates an image config; every diff id is a valid digest. */
export function parseConfig(bytes: Buffer, where: string): ImageConfig {
  const c = parse<ImageConfig>(bytes, 'config', where);
  c.rootfs.diff_ids.forEach((d, i) => parseDigest(d, `${where}: config rootfs.diff_ids[${i}]`));
  return c;
}

/** One image of a `docker save` archive's `manifest.json`. */
export interface ArchiveManifestEntry {
  readonly Config: string;
  readonly RepoTags?: string[] | null;
  readonly Layers: string[];
}

/** Parses and validates the `manifest.json` of a Docker-format archive. */
export function parseArchiveManifest(bytes: Buffer, where: string): ArchiveManifestEntry[] {
  return parse<ArchiveManifestEntry[]>(bytes, 'archive', where);
}

/** Whether a manifest's layer count matches its config's diff ids (else a one-line error). */
export function checkLayerCount(manifest: ImageManifest, config: ImageConfig, where: string): void {
  if (manifest.layers.length !== config.rootfs.diff_ids.length) {
    throw new MalformedImageError(`${where}: the manifest has ${manifest.layers.length} layers but the config lists ${config.rootfs.diff_ids.length} diff ids`);
  }
}

// --- writing ------------------------------------------------------------------------------------

/**
 * The bytes of a manifest made here. A Docker schema-2 manifest is written as Docker 20.10 writes
 * the one it pushes (distribution's schema2.FromStruct: Go's `json.MarshalIndent(m, "", "   ")`):
 * the Go structs' field order (a descriptor's mediaType, size, digest, urls, annotations,
 * platform; empty ones left out), three-blank indent, no final newline, Go's string escapes. So
 * an image pushed by us and by Docker has the same manifest, digest and size. An OCI manifest
 * (made on an OCI base) stays compact JSON: Docker 20.10 never pushes one. Never for a manifest
 * that came from elsewhere: a pulled or loaded manifest keeps its bytes, its digest is of them.
 */
export function manifestBytes(m: ImageManifest): Buffer {
  if (m.mediaType !== MEDIA_TYPES.dockerManifest) return Buffer.from(JSON.stringify(m));
  const doc: GoValue = goFields([
    ['schemaVersion', m.schemaVersion],
    ['mediaType', m.mediaType],
    ['config', goDescriptor(m.config)],
    ['layers', m.layers.map(goDescriptor)],
  ]);
  return Buffer.from(marshalIndent(doc, ''));
}

/** A JSON value with objects as ordered fields, as Go's encoder writes structs and maps. */
type GoValue = string | number | boolean | GoValue[] | Map<string, GoValue>;

/** A struct: its fields in order, those undefined left out (`omitempty`). */
function goFields(fields: [string, GoValue | undefined][]): Map<string, GoValue> {
  return new Map(fields.filter((f): f is [string, GoValue] => f[1] !== undefined));
}

/** A Go map: keys sorted by their bytes, as encoding/json sorts them. */
function goMap(m: { readonly [k: string]: string } | undefined): Map<string, GoValue> | undefined {
  if (!m || Object.keys(m).length === 0) return undefined;
  return new Map(Object.keys(m).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))).map((k) => [k, m[k]]));
}

/** distribution.Descriptor. */
function goDescriptor(d: Descriptor): Map<string, GoValue> {
  return goFields([
    ['mediaType', d.mediaType || undefined],
    ['size', d.size || undefined],
    ['digest', d.digest || undefined],
    ['urls', d.urls?.length ? d.urls : undefined],
    ['annotations', goMap(d.annotations)],
    ['platform', d.platform ? goPlatform(d.platform) : undefined],
  ]);
}

/** image-spec v1.Platform. */
function goPlatform(p: Platform & { readonly 'os.features'?: string[] }): Map<string, GoValue> {
  return goFields([
    ['architecture', p.architecture],
    ['os', p.os],
    ['os.version', p['os.version'] || undefined],
    ['os.features', p['os.features']?.length ? p['os.features'] : undefined],
    ['variant', p.variant || undefined],
  ]);
}

const INDENT = '   ';

/** Go's json.MarshalIndent(v, "", "   "). */
function marshalIndent(v: GoValue, at: string): string {
  const inner = at + INDENT;
  if (Array.isArray(v)) {
    return v.length === 0 ? '[]' : `[\n${v.map((x) => inner + marshalIndent(x, inner)).join(',\n')}\n${at}]`;
  }
  if (v instanceof Map) {
    return v.size === 0 ? '{}' : `{\n${[...v].map(([k, x]) => `${inner}${goString(k)}: ${marshalIndent(x, inner)}`).join(',\n')}\n${at}}`;
  }
  return typeof v === 'string' ? goString(v) : JSON.stringify(v);
}

/**
 * A JSON string as Go's encoder writes it: `<`, `>`, `&`, U+2028 and U+2029 escaped, backspace and
 * form feed as `\u0008`/`\u000c`, a lone surrogate as U+FFFD.
 */
function goString(s: string): string {
  return JSON.stringify(s).replace(/\\(ud[89a-f][0-9a-f]{2}|.)|[<>&\u2028\u2029]/g, (m, escaped: string | undefined) => {
    if (escaped === undefined) return `\\u${m.charCodeAt(0).toString(16).padStart(4, '0')}`;
    if (escaped === 'b') return '\\u0008';
    if (escaped === 'f') return '\\u000c';
    if (escaped.length === 5) return '\\ufffd';
    return m;
  });
}
