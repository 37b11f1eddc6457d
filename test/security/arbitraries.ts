import * as fc from 'fast-check';
import * as path from 'node:path';
import type { World } from './canary';
import type { EntryKind, TarOp, TarSpec } from './tar';

/**
 * fast-check arbitraries aimed at the classic ways hostile input escapes: `..`, absolute paths,
 * symlinks followed by entries through them (in either order), hardlinks out of the layer or to
 * missing targets, lone zero blocks, GNU longnames and PAX paths, `.wh.` variants and opaque
 * markers, device nodes, sizes beyond the data, truncated streams; and, for documents, digests
 * and paths that are not what they claim.
 *
 * Every escape aims at the canary tree of a World, and never higher than it: `up` is how many
 * `..` lead from the place the input is resolved against to the world's directory, so no case
 * can reach the host outside the world even when the code under test lets it through.
 */

/** Text that never contains what the message checks refuse on their own. */
export const safeText = (maxLength = 12): fc.Arbitrary<string> =>
  fc.string({ maxLength, unit: fc.constantFrom(...'abcXYZ019-_.:/=@ $"\'\\#\t'.split('')) }).map(clean);

export function clean(s: string): string {
  return s.replace(/undefined/g, 'undef').replace(/NaN/g, 'nan').replace(/object Object/g, 'obj');
}

/** `../` repeated 1..up times, then a canary name (relative to the world). */
export function escapeRel(world: World, up: number): fc.Arbitrary<string> {
  return fc.tuple(fc.integer({ min: 1, max: up }), fc.constantFrom(...world.relTargets)).map(([k, t]) => `${'../'.repeat(k)}${t}`);
}

/** An absolute canary path (or the world itself). */
export function absTarget(world: World): fc.Arbitrary<string> {
  return fc.constantFrom(world.dir, ...world.targets);
}

const PLAIN = ['a', 'b', 'a/b', 'etc', 'etc/passwd', 'usr/bin/sh', 'victim', 'lnk', 'd/e/f'];
const WHITEOUT_BASES = ['.wh.', '.wh..', '.wh...', '.wh..wh..opq', '.wh..wh.plnk', '.wh..wh..', '.wh.important', '.wh.secret', '.wh.victim', '.wh.a', '.wh..wh.x', '.wh.a/b'];

/** A whiteout name in some directory, including the malformed ones. */
export const whiteoutName: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom('', 'a/', 'lnk/', 'victim/', 'd/e/', './', 'a/./'), fc.constantFrom(...WHITEOUT_BASES))
  .map(([d, b]) => `${d}${b}`);

/** An entry name: plain, odd forms, whiteouts, escapes by `..` or absolute paths. */
export function entryName(world: World, up: number): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...PLAIN) },
    { weight: 1, arbitrary: fc.constantFrom('./a', 'a//b', 'a/./b', 'a/../a', '.', './', '', '/', '//a', 'a/', 'a\\..\\b', '-', '--x') },
    { weight: 3, arbitrary: whiteoutName },
    { weight: 3, arbitrary: escapeRel(world, up) },
    { weight: 2, arbitrary: absTarget(world) },
    { weight: 1, arbitrary: fc.constantFrom(...PLAIN).map((p) => `${p}/${'x'.repeat(120)}`) },
  );
}

/** A symlink or hardlink target. */
export function linkTarget(world: World, up: number): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: absTarget(world) },
    { weight: 3, arbitrary: escapeRel(world, up) },
    { weight: 2, arbitrary: fc.constantFrom('a', 'a/b', 'missing', 'lnk', '.', '/', '', 'etc/passwd', 'victim/important') },
  );
}

const kinds: EntryKind[] = ['file', 'directory', 'symlink', 'link', 'character-device', 'block-device', 'fifo'];

/** One tar op. */
export function tarOp(world: World, up: number): fc.Arbitrary<TarOp> {
  const name = entryName(world, up);
  const target = linkTarget(world, up);
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({ kind: fc.constantFrom(...kinds), name, target, content: safeText(), mode: fc.constantFrom(0o644, 0o755, 0o4755, 0o000, 0o7777), major: fc.constantFrom(0, 1, 8), minor: fc.constantFrom(0, 3, 5) }).map(
        (r): TarOp => ({ op: 'entry', ...r }),
      ),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('file' as const, 'symlink' as const, 'directory' as const), name, target, decoy: fc.constantFrom('decoy', 'a', 'ok/file') }).map((r): TarOp => ({ op: 'gnu-longname', ...r })) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('file' as const, 'symlink' as const, 'link' as const, 'directory' as const), name, target, decoy: fc.constantFrom('decoy', 'a', 'ok/file') }).map((r): TarOp => ({ op: 'pax', ...r })) },
    { weight: 1, arbitrary: fc.constant<TarOp>({ op: 'zero-block' }) },
    { weight: 1, arbitrary: name.map((n): TarOp => ({ op: 'huge', name: n })) },
  );
}

/**
 * The classic: a symlink `l` to a canary, then something through `l` (a file, a whiteout, an
 * opaque marker, a directory, a hardlink), in either order, optionally with a lone zero block or
 * a directory entry for `l` in between, or the symlink hidden in a longname or PAX record.
 */
export function throughSymlink(world: World, up: number): fc.Arbitrary<TarOp[]> {
  return fc
    .record({
      l: fc.constantFrom('a', 'lnk', 'd/e', 'victim'),
      target: fc.oneof(absTarget(world), escapeRel(world, up)),
      child: fc.constantFrom('.wh.important', '.wh..wh..opq', 'important', 'newfile', '.wh.secret', '.wh.layer.tar', 'sub/.wh.deep'),
      childKind: fc.constantFrom<EntryKind>('file', 'directory', 'symlink', 'link'),
      order: fc.constantFrom('link-first', 'child-first'),
      between: fc.constantFrom('nothing', 'zero-block', 'dir-again', 'zero-then-dir'),
      wrap: fc.constantFrom('plain', 'plain', 'gnu-longname', 'pax'),
    })
    .map((r) => {
      const link: TarOp =
        r.wrap === 'plain' ? { op: 'entry', kind: 'symlink', name: r.l, target: r.target } : { op: r.wrap as 'pax', kind: 'symlink', name: r.l, target: r.target, decoy: 'decoy' };
      const child: TarOp = { op: 'entry', kind: r.childKind, name: `${r.l}/${r.child}`, target: r.childKind === 'link' ? path.join(world.dir, 'secret') : 'x', content: 'pwned' };
      const between: TarOp[] =
        r.between === 'zero-block' ? [{ op: 'zero-block' }] : r.between === 'dir-again' ? [{ op: 'entry', kind: 'directory', name: `${r.l}/` }] : r.between === 'zero-then-dir' ? [{ op: 'zero-block' }, { op: 'entry', kind: 'directory', name: `${r.l}/` }] : [];
      return r.order === 'link-first' ? [link, ...between, child] : [child, ...between, link];
    });
}

/** A whole layer tar. */
export function tarSpec(world: World, up: number): fc.Arbitrary<TarSpec> {
  const piece = fc.oneof({ weight: 3, arbitrary: tarOp(world, up).map((o) => [o]) }, { weight: 2, arbitrary: throughSymlink(world, up) });
  return fc.record({
    ops: fc.array(piece, { minLength: 0, maxLength: 5 }).map((xs) => xs.flat()),
    endBlocks: fc.constantFrom<0 | 1 | 2>(2, 2, 2, 1, 0),
    cutAt: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { freq: 6 }).map((x) => x ?? undefined),
  });
}

/** A digest as found in a document: well formed or aimed somewhere. */
export function digestLike(world: World, up: number, valid: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: valid.length ? fc.constantFrom(...valid) : fc.constant(`sha256:${'a'.repeat(64)}`) },
    { weight: 2, arbitrary: escapeRel(world, up).map((p) => `sha256:${p}`) },
    { weight: 1, arbitrary: absTarget(world).map((p) => `sha256:${p}`) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        `sha256:${'A'.repeat(64)}`,
        `sha256:${'a'.repeat(63)}`,
        `sha256:${'a'.repeat(65)}`,
        `sha512:${'a'.repeat(128)}`,
        `sha256:${'a'.repeat(64)}/../x`,
        'sha256:',
        'sha256:..',
        '',
        `${'a'.repeat(64)}`,
        `sha256:${'a'.repeat(62)}/.`,
        `sha256:${'a'.repeat(64)}\n`,
      ),
    },
  );
}

/** A path inside an archive, as `manifest.json` names configs and layers. */
export function archivePath(world: World, up: number, valid: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: valid.length ? fc.constantFrom(...valid) : fc.constant('x.json') },
    { weight: 3, arbitrary: escapeRel(world, up) },
    { weight: 1, arbitrary: fc.constantFrom('../dev/zero', '/dev/null', '', '.', 'blobs', 'blobs/sha256/', 'missing.tar', './x/../layer.tar') },
    { weight: 1, arbitrary: absTarget(world) },
  );
}

/** Any JSON value, for fields that should have a type and may not. */
export const oddJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.constant(0),
  fc.constant(-1),
  fc.constant(1e308),
  fc.constant(true),
  fc.constant({}),
  fc.constant([]),
  fc.constant([null]),
  safeText(),
  fc.constant({ toString: 'x' }),
  fc.constant('__proto__'),
);
