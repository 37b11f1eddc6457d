import * as path from 'node:path';
import { InvalidArgumentError } from '../../lib/core/errors';

/** A mount as the user asked for it, before volumes are created and paths resolved. */
export interface MountRequest {
  readonly type: 'volume' | 'bind' | 'tmpfs';
  /** Volume name (undefined: anonymous), host path for a bind; unused for tmpfs. */
  readonly source?: string;
  readonly target: string;
  readonly readOnly: boolean;
  /** tmpfs options (`size=64m,mode=1777`), bind propagation, `nocopy` for volumes. */
  readonly options: string[];
}

function checkTarget(target: string, flag: string, spec: string): string {
  if (!target.startsWith('/')) throw new InvalidArgumentError(`invalid ${flag} "${spec}": the container path "${target}" must be absolute`);
  if (path.posix.normalize(target) === '/') throw new InvalidArgumentError(`invalid ${flag} "${spec}": cannot mount over the container's root "/"`);
  return path.posix.normalize(target);
}

/** Parses `-v`: `/ctr`, `name:/ctr[:opts]`, `/host:/ctr[:opts]` (opts: ro, rw, z, Z, nocopy, propagation). */
export function parseVolumeFlag(spec: string): MountRequest {
  const parts = spec.split(':');
  if (parts.length === 1) return { type: 'volume', target: checkTarget(parts[0], '-v', spec), readOnly: false, options: [] };
  if (parts.length > 3) throw new InvalidArgumentError(`invalid -v "${spec}": use SOURCE:TARGET[:OPTIONS], e.g. data:/var/lib/data:ro`);
  const [source, target, opts = ''] = parts;
  if (!source) throw new InvalidArgumentError(`invalid -v "${spec}": the source is empty`);
  const options = opts ? opts.split(',') : [];
  for (const o of options) {
    if (!['ro', 'rw', 'z', 'Z', 'nocopy', 'private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'].includes(o)) {
      throw new InvalidArgumentError(`invalid -v "${spec}": unknown option "${o}" (ro, rw, nocopy, or a bind propagation)`);
    }
  }
  const readOnly = options.includes('ro');
  const rest = options.filter((o) => !['ro', 'rw', 'z', 'Z'].includes(o));
  if (source.startsWith('/') || source.startsWith('.')) {
    return { type: 'bind', source: path.resolve(source), target: checkTarget(target, '-v', spec), readOnly, options: rest };
  }
  return { type: 'volume', source, target: checkTarget(target, '-v', spec), readOnly, options: rest };
}

/** Parses `--mount type=volume|bind|tmpfs,source=…,target=…,readonly,…` (Docker's keys and aliases). */
export function parseMountFlag(spec: string): MountRequest {
  const kv = new Map<string, string>();
  for (const field of spec.split(',')) {
    const i = field.indexOf('=');
    const key = (i < 0 ? field : field.slice(0, i)).trim().toLowerCase();
    kv.set(key, i < 0 ? 'true' : field.slice(i + 1));
  }
  const type = kv.get('type') ?? 'volume';
  if (!['volume', 'bind', 'tmpfs'].includes(type)) throw new InvalidArgumentError(`invalid --mount "${spec}": type must be volume, bind or tmpfs`);
  const target = kv.get('target') ?? kv.get('destination') ?? kv.get('dst');
  if (!target) throw new InvalidArgumentError(`invalid --mount "${spec}": target is required (target=/path/in/container)`);
  const source = kv.get('source') ?? kv.get('src');
  const ro = kv.get('readonly') ?? kv.get('ro');
  const readOnly = ro !== undefined && ro !== 'false' && ro !== '0';
  const known = new Set(['type', 'target', 'destination', 'dst', 'source', 'src', 'readonly', 'ro', 'bind-propagation', 'volume-nocopy', 'tmpfs-size', 'tmpfs-mode', 'consistency']);
  for (const k of kv.keys()) if (!known.has(k)) throw new InvalidArgumentError(`invalid --mount "${spec}": unknown key "${k}"`);
  const options: string[] = [];
  if (type === 'tmpfs') {
    if (source) throw new InvalidArgumentError(`invalid --mount "${spec}": a tmpfs mount has no source`);
    if (kv.has('tmpfs-size')) options.push(`size=${kv.get('tmpfs-size')}`);
    if (kv.has('tmpfs-mode')) options.push(`mode=${kv.get('tmpfs-mode')}`);
    return { type: 'tmpfs', target: checkTarget(target, '--mount', spec), readOnly, options };
  }
  if (type === 'bind') {
    if (!source) throw new InvalidArgumentError(`invalid --mount "${spec}": a bind mount needs source=/host/path`);
    if (kv.has('bind-propagation')) options.push(kv.get('bind-propagation')!);
    return { type: 'bind', source: path.resolve(source), target: checkTarget(target, '--mount', spec), readOnly, options };
  }
  if (kv.get('volume-nocopy') === 'true') options.push('nocopy');
  return { type: 'volume', source, target: checkTarget(target, '--mount', spec), readOnly, options };
}

/** Parses `--tmpfs /path[:opts]`. */
export function parseTmpfsFlag(spec: string): MountRequest {
  const i = spec.indexOf(':');
  const target = i < 0 ? spec : spec.slice(0, i);
  const options = i < 0 ? [] : spec.slice(i + 1).split(',').filter(Boolean);
  return { type: 'tmpfs', target: checkTarget(target, '--tmpfs', spec), readOnly: options.includes('ro'), options: options.filter((o) => o !== 'ro' && o !== 'rw') };
}
