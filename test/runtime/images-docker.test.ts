/**
 * Issue 12: what `push`, `rmi` and `image prune` print, side by side with a private Docker 20.10
 * daemon (test/helpers/dockerd.ts) and one docker-registry: the same archive or Dockerfile on both
 * engines, their outputs compared line by line once ids are named by what they are.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliResult, ok } from '../helpers/cli';
import { TestDockerd, startDockerd } from '../helpers/dockerd';
import { TestRegistry, startRegistry } from '../helpers/registry';
import { BASE_ARCHIVE, StackWorld, stackWorld, tearDownWorld } from '../helpers/stack';

jest.setTimeout(240_000);

let world: StackWorld;
let dockerd: TestDockerd | undefined;
let registry: TestRegistry | undefined;
/**
 * A second registry for the pushes Docker repeats: Docker mounts a layer from any repository of
 * the same registry it knows the layer in, so there it only knows ours.
 */
let again: TestRegistry | undefined;

type Engine = { readonly name: 'docker' | 'ours'; run(args: string[]): CliResult };
let engines: Engine[] = [];

beforeAll(async () => {
  world = stackWorld('cdk-docker-images-docker-', 186);
  ok(world.rt(['load', '-i', BASE_ARCHIVE]));
  dockerd = await startDockerd({ label: 'images' });
  dockerd.docker(['load', '-i', BASE_ARCHIVE]);
  [registry, again] = await Promise.all([startRegistry(), startRegistry()]);
  const docker = (args: string[]): CliResult => {
    try {
      return { code: 0, stdout: dockerd!.docker(args), stderr: '' };
    } catch (e) {
      const err = e as { status: number; stdout: string; stderr: string };
      return { code: err.status, stdout: err.stdout, stderr: err.stderr };
    }
  };
  engines = [{ name: 'docker', run: docker }, { name: 'ours', run: (args) => world.rt(args) }];
});

afterAll(async () => {
  await dockerd?.stop();
  await registry?.stop();
  await again?.stop();
  expect(await tearDownWorld(world)).toEqual([]);
});

/** `name:tag` in the engine's own repository of a registry. */
const repo = (e: Engine, name: string, reg = registry!) => `${reg.host}/${e.name}/${name}`;

/** Push output with the engine's repository written `<REG>/<ENGINE>`. */
function pushed(e: Engine, ref: string): string {
  return ok(e.run(['push', ref])).split(`${registry!.host}/${e.name}/`).join('<REG>/<ENGINE>/');
}

/** A `docker save` archive of one image with no layers (a config only), tagged `empty:1`. */
function emptyImageArchive(): string {
  const dir = path.join(world.work, 'empty-image');
  fs.mkdirSync(dir, { recursive: true });
  const config = JSON.stringify({ architecture: 'amd64', config: { Cmd: ['true'], Labels: { made: 'by <test> & "hand"' } }, created: '2026-01-01T00:00:00Z', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
  const hex = createHash('sha256').update(config).digest('hex');
  fs.writeFileSync(path.join(dir, `${hex}.json`), config);
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify([{ Config: `${hex}.json`, RepoTags: ['empty:1'], Layers: [] }]));
  const tar = path.join(world.work, 'empty-image.tar');
  execFileSync('tar', ['-C', dir, '-cf', tar, `${hex}.json`, 'manifest.json']);
  return tar;
}

describe('push writes the manifest as Docker does', () => {
  test('the same archive loaded into both engines pushes with the same digest and size', () => {
    const archive = emptyImageArchive();
    const lines = engines.map((e) => {
      ok(e.run(['load', '-i', archive]));
      ok(e.run(['tag', 'empty:1', repo(e, 'empty:1')]));
      return pushed(e, repo(e, 'empty:1'));
    });
    expect(lines[1]).toBe(lines[0]);
    expect(lines[1]).toMatch(/^The push refers to repository \[<REG>\/<ENGINE>\/empty\]\n1: digest: sha256:[0-9a-f]{64} size: \d+\n$/);
    for (const e of engines) ok(e.run(['rmi', 'empty:1', repo(e, 'empty:1')]));
  });

  test('a layered image loaded from an archive pushes a manifest of Docker\'s size (Docker gzips the layer itself)', () => {
    const [docker, ours] = engines.map((e) => {
      ok(e.run(['tag', 'busybox:examples', repo(e, 'bb:1')]));
      const out = pushed(e, repo(e, 'bb:1'));
      ok(e.run(['rmi', repo(e, 'bb:1')]));
      return out;
    });
    const size = (out: string) => /^1: digest: sha256:[0-9a-f]{64} (size: \d+)$/m.exec(out)?.[1];
    expect(size(ours)).toBe(size(docker));
    expect(ours.replace(/sha256:[0-9a-f]{64}/, '<DIGEST>').replace(/^[0-9a-f]{12}:/gm, '<LAYER>:')).toBe(docker.replace(/sha256:[0-9a-f]{64}/, '<DIGEST>').replace(/^[0-9a-f]{12}:/gm, '<LAYER>:'));
  });

  test('images made here (load, import, build) push as Docker pushes them again: the same digest and size', () => {
    const [docker, ours] = engines;
    const context = path.join(world.work, 'push-context');
    fs.mkdirSync(context, { recursive: true });
    fs.writeFileSync(path.join(context, 'Dockerfile'), 'FROM busybox:examples\nRUN echo one > /one\nRUN echo two > /two\nCMD ["cat", "/one"]\n');
    const ref = (e: Engine, name: string) => repo(e, name, again!);
    ok(ours.run(['build', '-t', ref(ours, 'built:1'), context]));
    const container = ok(ours.run(['create', '--network', 'none', 'busybox:examples'])).trim();
    ok(ours.run(['export', '-o', path.join(world.work, 'rootfs.tar'), container]));
    ok(ours.run(['rm', container]));
    ok(ours.run(['import', path.join(world.work, 'rootfs.tar'), ref(ours, 'imported:1')]));
    ok(ours.run(['tag', 'busybox:examples', ref(ours, 'loaded:1')]));
    for (const name of ['built:1', 'imported:1', 'loaded:1']) {
      const ourLine = /^1: digest: .*$/m.exec(ok(ours.run(['push', ref(ours, name)])))![0];
      // Docker takes the image as we pushed it and pushes it again under its own name: it writes
      // the manifest anew (distribution's MarshalIndent) around the same config and layer blobs.
      ok(docker.run(['pull', ref(ours, name)]));
      ok(docker.run(['tag', ref(ours, name), ref(docker, name)]));
      const dockerLine = /^1: digest: .*$/m.exec(ok(docker.run(['push', ref(docker, name)])))![0];
      expect({ name, ours: ourLine }).toEqual({ name, ours: dockerLine });
      ok(docker.run(['rmi', ref(ours, name), ref(docker, name)]));
      ok(ours.run(['rmi', ref(ours, name)]));
    }
  });
});

/**
 * The ids an engine shows for `ref` and the images it was built on, by role: `<ref>`, `<ref^1>`
 * (its parent) …, and the chain ids of its layers, `<layer 1>` (the bottom one) …
 */
function idNames(e: Engine, ref: string): Map<string, string> {
  const names = new Map<string, string>();
  const inspect = (what: string, format: string) => ok(e.run(['image', 'inspect', '--format', format, what])).trim();
  let id = inspect(ref, '{{.Id}}');
  for (let n = 0; id; n++) {
    names.set(id, n === 0 ? `<${ref}>` : `<${ref}^${n}>`);
    id = inspect(id, '{{.Parent}}');
  }
  const diffIds = JSON.parse(inspect(ref, '{{json .RootFS.Layers}}')) as string[];
  let chain = '';
  diffIds.forEach((d, i) => {
    chain = i === 0 ? d : `sha256:${createHash('sha256').update(`${chain} ${d}`).digest('hex')}`;
    names.set(chain, `<layer ${i + 1}>`);
  });
  return names;
}

function named(text: string, names: Map<string, string>): string {
  let out = text.replace(/^Total reclaimed space: .*$/m, 'Total reclaimed space: <SIZE>');
  for (const [id, name] of names) out = out.split(id).join(name);
  return out;
}

describe('rmi and image prune print each image and layer they delete, as Docker', () => {
  const dockerfile = (name: string, text: string) => {
    const dir = path.join(world.work, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'Dockerfile'), text);
    return dir;
  };
  const build = (e: Engine, tag: string, dir: string) => ok(e.run(['build', '-t', tag, dir]));

  test('rmi: the image, the layers it alone held (top first), then each untagged parent with its own', () => {
    const dir = dockerfile('rmi-context', 'FROM busybox:examples\nRUN echo a > /a\nRUN echo b > /b\nCMD ["cat", "/a"]\n');
    const seen = engines.map((e) => {
      build(e, 'multi', dir);
      const names = idNames(e, 'multi');
      return named(ok(e.run(['rmi', 'multi'])), names);
    });
    expect(seen[1]).toBe(seen[0]);
    // The CMD step's image shares its parent's layers: it releases none.
    expect(seen[1]).toBe(['Untagged: multi:latest', 'Deleted: <multi>', 'Deleted: <multi^1>', 'Deleted: <layer 3>', 'Deleted: <multi^2>', 'Deleted: <layer 2>', ''].join('\n'));
  });

  test('image prune: a dangling image with its untagged parents; -a untags each reference first', () => {
    const first = dockerfile('prune-context-1', 'FROM busybox:examples\nRUN echo a > /a\nRUN echo b > /b\nCMD ["cat", "/a"]\n');
    const second = dockerfile('prune-context-2', 'FROM busybox:examples\nRUN echo a > /a\nRUN echo c > /c\n');
    const seen = engines.map((e) => {
      build(e, 'multi', first);
      const old = idNames(e, 'multi');
      // The same first step (from the cache), then another: the old `multi` is dangling.
      build(e, 'multi', second);
      const dangling = named(ok(e.run(['image', 'prune', '-f'])), old);
      // Untagged, the base image stays for the images built on it, and goes with the last of them.
      const untag = ok(e.run(['rmi', 'busybox:examples']));
      ok(e.run(['tag', 'multi', 'other/multi:2']));
      const now = idNames(e, 'multi');
      const all = named(ok(e.run(['image', 'prune', '-a', '-f'])), now);
      const left = ok(e.run(['images', '-aq']));
      ok(e.run(['load', '-i', BASE_ARCHIVE]));
      return { dangling, untag, all, left };
    });
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[1]).toEqual({
      dangling: ['Deleted Images:', 'deleted: <multi>', 'deleted: <multi^1>', 'deleted: <layer 3>', '', 'Total reclaimed space: <SIZE>', ''].join('\n'),
      untag: 'Untagged: busybox:examples\n',
      all: [
        'Deleted Images:', 'untagged: multi:latest', 'untagged: other/multi:2',
        'deleted: <multi>', 'deleted: <layer 3>', 'deleted: <multi^1>', 'deleted: <layer 2>', 'deleted: <multi^2>', 'deleted: <layer 1>',
        '', 'Total reclaimed space: <SIZE>', '',
      ].join('\n'),
      left: '',
    });
  });
});
