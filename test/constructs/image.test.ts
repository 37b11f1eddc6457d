import * as path from 'node:path';
import { Container, Image, PullPolicy, Stack, Testing } from '../../lib';
import { hashBuildContext, hashFileContent } from '../../lib/plan';
import { FIXTURES, invalidArgument, portable, resourceAt, shop, synthProblems } from '../fixtures';

describe('Image from a registry (ref)', () => {
  test('defaults: a short reference is normalised and pulled when missing', () => {
    const stack = shop();
    const image = new Image(stack, 'nginx', { ref: 'nginx' });
    expect(image.imageName).toBe('docker.io/library/nginx:latest');

    const plan = Testing.synth(stack);
    expect(resourceAt(plan, 'nginx')).toEqual({
      logicalId: stack.getLogicalId(image),
      type: 'image',
      path: 'nginx',
      name: 'docker.io/library/nginx:latest',
      dependsOn: [],
      spec: { source: 'registry', ref: 'docker.io/library/nginx:latest', pullPolicy: 'missing' },
    });
    expect(portable(plan)).toMatchSnapshot();
  });

  test('custom: a private registry, a tag and a digest, always pulled', () => {
    const stack = shop();
    const digest = `sha256:${'ab'.repeat(32)}`;
    const image = new Image(stack, 'app', { ref: `registry.example.com:5000/team/app:1.2.3@${digest}`, pullPolicy: PullPolicy.ALWAYS });
    expect(image.imageName).toBe(`registry.example.com:5000/team/app:1.2.3@${digest}`);
    new Image(stack, 'hub', { ref: 'index.docker.io/bitnami/redis:7.2', pullPolicy: 'never' });

    const plan = Testing.synth(stack);
    expect(resourceAt(plan, 'app', 'image').spec).toEqual({ source: 'registry', ref: `registry.example.com:5000/team/app:1.2.3@${digest}`, pullPolicy: 'always' });
    expect(resourceAt(plan, 'hub', 'image')).toMatchObject({
      name: 'docker.io/bitnami/redis:7.2',
      spec: { source: 'registry', ref: 'docker.io/bitnami/redis:7.2', pullPolicy: 'never' },
    });
    expect(portable(plan)).toMatchSnapshot();
  });
});

describe('Image built from a Dockerfile (build)', () => {
  test('defaults: the Dockerfile in the context, no build args, the cache, a tag from the path', () => {
    const stack = shop();
    const image = new Image(stack, 'web', { build: { context: 'web' } });
    expect(image.imageName).toBe('docker.io/library/shop-web:latest');

    const plan = Testing.synth(stack);
    const context = path.join(FIXTURES, 'web');
    expect(resourceAt(plan, 'web')).toEqual({
      logicalId: stack.getLogicalId(image),
      type: 'image',
      path: 'web',
      name: 'docker.io/library/shop-web:latest',
      dependsOn: [],
      spec: { source: 'build', context, contextHash: hashBuildContext(context, 'Dockerfile'), dockerfile: 'Dockerfile', buildArgs: {}, noCache: false },
    });
    expect(portable(plan)).toMatchSnapshot();
  });

  test('custom: another Dockerfile, build args, a target stage, no cache and a tag', () => {
    const stack = shop();
    const image = new Image(stack, 'web', {
      build: { context: './web', dockerfile: 'Dockerfile.prod', buildArgs: { VERSION: '1.2.3', HTTP_PROXY: '' }, target: 'prod', noCache: true },
      tag: 'registry.example.com/shop/web:1.2.3',
    });
    expect(image.imageName).toBe('registry.example.com/shop/web:1.2.3');

    const plan = Testing.synth(stack);
    const context = path.join(FIXTURES, 'web');
    expect(resourceAt(plan, 'web', 'image').spec).toEqual({
      source: 'build',
      context,
      contextHash: hashBuildContext(context, 'Dockerfile.prod'),
      dockerfile: 'Dockerfile.prod',
      buildArgs: { HTTP_PROXY: '', VERSION: '1.2.3' },
      target: 'prod',
      noCache: true,
    });
    expect(portable(plan)).toMatchSnapshot();
  });

  test('an Image of the stack that a stage starts FROM (by name) is a dependency; other bases are not', () => {
    const stack = shop();
    // fixtures/web/Dockerfile starts FROM busybox:1.36.
    const base = new Image(stack, 'base', { archive: 'image.tar', tag: 'busybox:1.36' });
    new Image(stack, 'other', { ref: 'nginx' });
    const web = new Image(stack, 'web', { build: { context: 'web' } });
    const plan = Testing.synth(stack);
    expect(resourceAt(plan, 'web').dependsOn).toEqual([stack.getLogicalId(base)]);
    expect(web.imageName).toBe('docker.io/library/shop-web:latest');
    // Without such an Image, nothing.
    const alone = shop();
    new Image(alone, 'web', { build: { context: 'web' } });
    expect(resourceAt(Testing.synth(alone), 'web').dependsOn).toEqual([]);
  });

  test('a missing context or Dockerfile is reported at synth with the fix', () => {
    const stack = shop();
    new Image(stack, 'nodir', { build: { context: 'no-such-dir' } });
    new Image(stack, 'nofile', { build: { context: 'web', dockerfile: 'Dockerfile.dev' } });
    const missing = path.join(FIXTURES, 'no-such-dir');
    expect(synthProblems(stack)).toEqual([
      `[shop/nodir] build context: ${missing} does not exist; create it (mkdir -p ${missing}) or fix the path`,
      `[shop/nofile] Dockerfile ${path.join(FIXTURES, 'web', 'Dockerfile.dev')} does not exist; create it or set build.dockerfile`,
    ]);
  });
});

describe('Image loaded from an archive (archive)', () => {
  test('defaults: the archive is content-hashed and tagged from the path', () => {
    const stack = shop();
    const image = new Image(stack, 'base', { archive: 'image.tar' });
    expect(image.imageName).toBe('docker.io/library/shop-base:latest');

    const plan = Testing.synth(stack);
    const file = path.join(FIXTURES, 'image.tar');
    expect(resourceAt(plan, 'base')).toEqual({
      logicalId: stack.getLogicalId(image),
      type: 'image',
      path: 'base',
      name: 'docker.io/library/shop-base:latest',
      dependsOn: [],
      spec: { source: 'archive', path: file, sha256: hashFileContent(file) },
    });
    expect(portable(plan)).toMatchSnapshot();
  });

  test('custom: an absolute path and a tag', () => {
    const stack = shop();
    const file = path.join(FIXTURES, 'image.tar');
    const image = new Image(stack, 'base', { archive: file, tag: 'localhost:5000/base:v1' });
    expect(image.imageName).toBe('localhost:5000/base:v1');
    const plan = Testing.synth(stack);
    expect(resourceAt(plan, 'base', 'image')).toMatchObject({ name: 'localhost:5000/base:v1', spec: { source: 'archive', path: file, sha256: hashFileContent(file) } });
    expect(portable(plan)).toMatchSnapshot();
  });

  test('a missing archive is reported at synth', () => {
    const stack = shop();
    new Image(stack, 'base', { archive: 'missing.tar' });
    expect(synthProblems(stack)).toEqual([`[shop/base] archive ${path.join(FIXTURES, 'missing.tar')} cannot be read (ENOENT); create it or fix the path`]);
  });
});

describe('Image validation', () => {
  test.each<[object, string]>([
    [{ ref: 'nginx', build: { context: 'web' } }, 'an Image needs exactly one source — ref, build or archive — but got ref and build; split it into one Image per source'],
    [{ ref: 'nginx', build: { context: 'web' }, archive: 'image.tar' }, 'an Image needs exactly one source — ref, build or archive — but got ref and build and archive; split it into one Image per source'],
    [{}, 'an Image needs exactly one source — ref, build or archive — but got none; split it into one Image per source'],
    [{ build: { context: 'web' }, pullPolicy: 'always' }, 'pullPolicy applies to ref images only; remove it'],
    [{ ref: 'nginx', pullPolicy: 'sometimes' }, 'pullPolicy "sometimes" is not one of "missing", "always", "never"'],
    [{ ref: 'nginx', tag: 'web:1' }, 'tag applies to build and archive images; a ref image is already named by its ref'],
    [{ build: { context: '' } }, 'build.context is empty; give the directory to build from, such as "./app"'],
    [{ build: { context: 'web', target: '-prod' } }, 'build.target "-prod" is not a valid stage name'],
    [{ ref: 'nginx:latest tag' }, 'invalid image reference "nginx:latest tag": it contains whitespace'],
    [{ ref: 'nginx@sha256:abc' }, 'invalid image reference "nginx@sha256:abc": digest "sha256:abc" is not of the form sha256:<64 hex digits>'],
    [{ archive: 'image.tar', tag: 'Web:1' }, 'invalid image reference "Web:1": repository name must be lowercase'],
    [{ archive: '' }, 'archive is empty; give the path of a docker save or OCI archive, such as "./image.tar"'],
  ])('%j is rejected: %s', (props, message) => {
    expect(invalidArgument(() => new Image(shop(), 'img', props))).toBe(`[shop/img] ${message}`);
  });
});

describe('Image factories: fromRegistry, fromBuild, fromArchive', () => {
  /** The plan of a stack holding one image, made by `make`. */
  const planOf = (make: (stack: Stack) => Image) => {
    const stack = shop();
    const image = make(stack);
    return { image, plan: Testing.synth(stack) };
  };

  test('defaults: each factory gives the image and the plan of the props form', () => {
    const registry = planOf((s) => Image.fromRegistry(s, 'nginx', 'nginx'));
    expect(Image.isImage(registry.image)).toBe(true);
    expect(registry.image.imageName).toBe('docker.io/library/nginx:latest');
    expect(resourceAt(registry.plan, 'nginx').spec).toEqual({ source: 'registry', ref: 'docker.io/library/nginx:latest', pullPolicy: 'missing' });
    expect(registry.plan).toEqual(planOf((s) => new Image(s, 'nginx', { ref: 'nginx' })).plan);

    const built = planOf((s) => Image.fromBuild(s, 'web', 'web'));
    const context = path.join(FIXTURES, 'web');
    expect(built.image.imageName).toBe('docker.io/library/shop-web:latest');
    expect(resourceAt(built.plan, 'web').spec).toEqual({ source: 'build', context, contextHash: hashBuildContext(context, 'Dockerfile'), dockerfile: 'Dockerfile', buildArgs: {}, noCache: false });
    expect(built.plan).toEqual(planOf((s) => new Image(s, 'web', { build: { context: 'web' } })).plan);

    const loaded = planOf((s) => Image.fromArchive(s, 'base', 'image.tar'));
    const file = path.join(FIXTURES, 'image.tar');
    expect(loaded.image.imageName).toBe('docker.io/library/shop-base:latest');
    expect(resourceAt(loaded.plan, 'base').spec).toEqual({ source: 'archive', path: file, sha256: hashFileContent(file) });
    expect(loaded.plan).toEqual(planOf((s) => new Image(s, 'base', { archive: 'image.tar' })).plan);
  });

  test('custom: a pull policy; a Dockerfile, build args, target, no cache and tag; an archive tag', () => {
    const registry = planOf((s) => Image.fromRegistry(s, 'app', 'registry.example.com:5000/team/app:1.2.3', { pullPolicy: PullPolicy.ALWAYS }));
    expect(resourceAt(registry.plan, 'app').spec).toEqual({ source: 'registry', ref: 'registry.example.com:5000/team/app:1.2.3', pullPolicy: 'always' });
    expect(registry.plan).toEqual(planOf((s) => new Image(s, 'app', { ref: 'registry.example.com:5000/team/app:1.2.3', pullPolicy: 'always' })).plan);

    const build = { dockerfile: 'Dockerfile.prod', buildArgs: { VERSION: '1.2.3' }, target: 'prod', noCache: true };
    const built = planOf((s) => Image.fromBuild(s, 'web', './web', { ...build, tag: 'registry.example.com/shop/web:1.2.3' }));
    expect(built.image.imageName).toBe('registry.example.com/shop/web:1.2.3');
    expect(resourceAt(built.plan, 'web').spec).toMatchObject({ source: 'build', dockerfile: 'Dockerfile.prod', buildArgs: { VERSION: '1.2.3' }, target: 'prod', noCache: true });
    expect(built.plan).toEqual(planOf((s) => new Image(s, 'web', { build: { context: './web', ...build }, tag: 'registry.example.com/shop/web:1.2.3' })).plan);

    const loaded = planOf((s) => Image.fromArchive(s, 'base', 'image.tar', { tag: 'localhost:5000/base:v1' }));
    expect(loaded.image.imageName).toBe('localhost:5000/base:v1');
    expect(loaded.plan).toEqual(planOf((s) => new Image(s, 'base', { archive: 'image.tar', tag: 'localhost:5000/base:v1' })).plan);
  });

  test('a factory image is used by containers and found as a base image like any other', () => {
    const stack = shop();
    // fixtures/web/Dockerfile starts FROM busybox:1.36.
    const base = Image.fromArchive(stack, 'base', 'image.tar', { tag: 'busybox:1.36' });
    const web = Image.fromBuild(stack, 'web', 'web');
    const app = new Container(stack, 'app', { image: web });
    const plan = Testing.synth(stack);
    expect(resourceAt(plan, 'web').dependsOn).toEqual([stack.getLogicalId(base)]);
    expect(resourceAt(plan, 'app', 'container').spec.image).toBe(stack.getLogicalId(web));
    expect(app.image).toBe(web);
  });

  test.each<[string, (stack: Stack) => Image, string]>([
    ['fromRegistry: a reference with whitespace', (s) => Image.fromRegistry(s, 'img', 'nginx:latest tag'), 'invalid image reference "nginx:latest tag": it contains whitespace'],
    ['fromRegistry: an empty reference', (s) => Image.fromRegistry(s, 'img', ''), 'invalid image reference "": it is empty'],
    ['fromRegistry: an unknown pull policy', (s) => Image.fromRegistry(s, 'img', 'nginx', { pullPolicy: 'sometimes' as PullPolicy }), 'pullPolicy "sometimes" is not one of "missing", "always", "never"'],
    ['fromRegistry: a tag (from JavaScript)', (s) => Image.fromRegistry(s, 'img', 'nginx', { tag: 'web:1' } as object), 'tag applies to build and archive images; a ref image is already named by its ref'],
    ['fromBuild: an empty context', (s) => Image.fromBuild(s, 'img', ''), 'build.context is empty; give the directory to build from, such as "./app"'],
    ['fromBuild: a bad target', (s) => Image.fromBuild(s, 'img', 'web', { target: '-prod' }), 'build.target "-prod" is not a valid stage name'],
    ['fromBuild: a pull policy (from JavaScript)', (s) => Image.fromBuild(s, 'img', 'web', { pullPolicy: 'always' } as object), 'pullPolicy applies to ref images only; remove it'],
    ['fromBuild: a second source (from JavaScript)', (s) => Image.fromBuild(s, 'img', 'web', { ref: 'nginx' } as object), 'an Image needs exactly one source — ref, build or archive — but got ref and build; split it into one Image per source'],
    ['fromArchive: an empty path', (s) => Image.fromArchive(s, 'img', ''), 'archive is empty; give the path of a docker save or OCI archive, such as "./image.tar"'],
    ['fromArchive: an upper-case tag', (s) => Image.fromArchive(s, 'img', 'image.tar', { tag: 'Web:1' }), 'invalid image reference "Web:1": repository name must be lowercase'],
  ])('%s is rejected as the props form rejects it', (_what, make, message) => {
    expect(invalidArgument(() => make(shop()))).toBe(`[shop/img] ${message}`);
  });

  test('a missing archive or context is reported at synth, as for the props form', () => {
    const stack = shop();
    Image.fromArchive(stack, 'base', 'missing.tar');
    Image.fromBuild(stack, 'nodir', 'no-such-dir');
    const missing = path.join(FIXTURES, 'no-such-dir');
    expect(synthProblems(stack)).toEqual([
      `[shop/base] archive ${path.join(FIXTURES, 'missing.tar')} cannot be read (ENOENT); create it or fix the path`,
      `[shop/nodir] build context: ${missing} does not exist; create it (mkdir -p ${missing}) or fix the path`,
    ]);
  });
});

describe('Images named by reference in a Container', () => {
  test('containers using the same reference share one image resource', () => {
    const stack = shop();
    const a = new Container(stack, 'a', { image: 'nginx' });
    const b = new Container(stack, 'b', { image: 'docker.io/library/nginx:latest' });
    const c = new Container(stack, 'c', { image: 'nginx:1.25' });
    expect(a.image).toBe(b.image);
    expect(c.image).not.toBe(a.image);
    const plan = Testing.synth(stack);
    const images = Object.values(plan.resources).filter((r) => r.type === 'image');
    expect(images.map((r) => [r.path, r.name]).sort()).toEqual([
      ['image-nginx-1.25', 'docker.io/library/nginx:1.25'],
      ['image-nginx-latest', 'docker.io/library/nginx:latest'],
    ]);
  });

  test('two references that read the same as an id still get ids that do not depend on other images', () => {
    const build = (extra: string[]) => {
      const stack = shop();
      for (const [i, ref] of extra.entries()) new Container(stack, `extra${i}`, { image: ref });
      new Container(stack, 'x', { image: 'a/b:c' });
      new Container(stack, 'y', { image: 'a-b:c' });
      const plan = Testing.synth(stack);
      return Object.values(plan.resources).filter((r) => r.type === 'image' && r.name.includes('/a')).map((r) => [r.path, r.name]).sort();
    };
    const alone = build([]);
    expect(alone).toEqual([
      ['image-a-b-c', 'docker.io/a/b:c'],
      [expect.stringMatching(/^image-a-b-c-[0-9a-f]{8}$/), 'docker.io/library/a-b:c'],
    ]);
    expect(build(['redis', 'postgres', 'busybox'])).toEqual(alone);
  });
});
