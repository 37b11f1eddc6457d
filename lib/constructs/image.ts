import { Construct, IConstruct } from 'constructs';
import type { ImageResource, ImageSpec } from '../plan/types';
import { InvalidArgumentError } from '../core/errors';
import { normalizeReference } from '../core/reference';
import { NO_CLAIMS, ResourceClaims } from './private/claims';
import { PlanRefs, StackResource, at } from './private/resource';
import type { SynthContext } from './private/synth-context';
import { Stack } from './stack';

const IMAGE_SYMBOL = Symbol.for('cdk-docker.Image');

/** An image a container can run. */
export interface IImage extends IConstruct {
  /** The fully qualified reference the image is known by, e.g. `docker.io/library/nginx:latest`. */
  readonly imageName: string;
}

/**
 * How to build an image from a Dockerfile. A stage that starts FROM another Image of the same
 * stack (by its name: `FROM busybox:examples` and an Image tagged `busybox:examples`) makes this
 * image depend on it: apply loads, pulls or builds that one first.
 */
export interface BuildOptions {
  /** Build context directory, relative to the app's directory. */
  readonly context: string;
  /**
   * Dockerfile path, relative to the context.
   * @default "Dockerfile"
   */
  readonly dockerfile?: string;
  /**
   * `ARG` values.
   * @default {}
   */
  readonly buildArgs?: { readonly [name: string]: string };
  /**
   * Stage to build.
   * @default - the last stage
   */
  readonly target?: string;
  /**
   * Build without the layer cache.
   * @default false
   */
  readonly noCache?: boolean;
}

/** Properties of an Image: exactly one of `ref`, `build` or `archive`. */
export interface ImageProps {
  /**
   * Pull this reference from a registry: `nginx`, `nginx:1.25`, `host:5000/team/app@sha256:…`.
   * @default - none; give exactly one of ref, build or archive
   * @see https://docs.docker.com/reference/cli/docker/image/pull/
   */
  readonly ref?: string;
  /**
   * When to pull a `ref` image.
   * @default PullPolicy.MISSING
   */
  readonly pullPolicy?: PullPolicy | `${PullPolicy}`;
  /**
   * Build from a Dockerfile.
   * @default - none; give exactly one of ref, build or archive
   * @see https://docs.docker.com/reference/dockerfile/
   */
  readonly build?: BuildOptions;
  /**
   * Load from a `docker save` or OCI layout archive (path relative to the app's directory).
   * @default - none; give exactly one of ref, build or archive
   * @see https://docs.docker.com/reference/cli/docker/image/load/
   */
  readonly archive?: string;
  /**
   * Tag for a built or loaded image.
   * @default - `<stack>-<path>:latest`
   */
  readonly tag?: string;
}

/** Options of `Image.fromRegistry`. */
export interface RegistryImageOptions {
  /**
   * When to pull the reference.
   * @default PullPolicy.MISSING
   */
  readonly pullPolicy?: PullPolicy | `${PullPolicy}`;
}

/** Options of `Image.fromBuild`: how to build (all but the context) and the tag. */
export interface BuildImageOptions extends Omit<BuildOptions, 'context'> {
  /**
   * Tag for the built image.
   * @default - `<stack>-<path>:latest`
   */
  readonly tag?: string;
}

/** Options of `Image.fromArchive`. */
export interface ArchiveImageOptions {
  /**
   * Tag for the loaded image.
   * @default - `<stack>-<path>:latest`
   */
  readonly tag?: string;
}

/**
 * A container image: pulled from a registry, built from a Dockerfile, or loaded from an archive.
 * Create it with the factory of its source — `Image.fromRegistry`, `Image.fromBuild`,
 * `Image.fromArchive` — or with `new Image(scope, id, props)` and exactly one of `ref`, `build`
 * or `archive`; both forms are checked alike.
 */
export class Image extends StackResource implements IImage {
  /** True when `x` is an Image, even from another copy of this library. */
  public static isImage(x: unknown): x is Image {
    return x !== null && typeof x === 'object' && IMAGE_SYMBOL in x;
  }

  /**
   * An image pulled from a registry, as `docker pull` does:
   * `Image.fromRegistry(stack, 'web', 'nginx:1.25')`. The same as `new Image(scope, id, { ref, ...options })`.
   * @param ref the reference: `nginx`, `nginx:1.25`, `host:5000/team/app@sha256:…`
   * @see https://docs.docker.com/reference/cli/docker/image/pull/
   */
  public static fromRegistry(scope: Construct, id: string, ref: string, options: RegistryImageOptions = {}): Image {
    return new Image(scope, id, { ...options, ref });
  }

  /**
   * An image built from a Dockerfile, as `docker build` does:
   * `Image.fromBuild(stack, 'web', './web', { target: 'prod' })`. The same as
   * `new Image(scope, id, { build: { context, ... }, tag })`.
   * @param contextDir the build context directory, relative to the app's directory
   * @see https://docs.docker.com/reference/dockerfile/
   */
  public static fromBuild(scope: Construct, id: string, contextDir: string, options: BuildImageOptions = {}): Image {
    const { tag, dockerfile, buildArgs, target, noCache, ...rest } = options;
    return new Image(scope, id, { ...rest, build: { context: contextDir, dockerfile, buildArgs, target, noCache }, tag });
  }

  /**
   * An image loaded from a `docker save` or OCI layout archive, as `docker load` does:
   * `Image.fromArchive(stack, 'base', './base.tar')`. The same as `new Image(scope, id, { archive: file, ...options })`.
   * @param file the archive, relative to the app's directory; its content is part of the spec
   * @see https://docs.docker.com/reference/cli/docker/image/load/
   */
  public static fromArchive(scope: Construct, id: string, file: string, options: ArchiveImageOptions = {}): Image {
    return new Image(scope, id, { ...options, archive: file });
  }

  public readonly resourceType = 'image' as const;
  public readonly imageName: string;
  /** Where the image comes from, checked and with its defaults, parsed once. */
  private readonly source: ImageSource;

  constructor(scope: Construct, id: string, props: ImageProps) {
    super(scope, id);
    Object.defineProperty(this, IMAGE_SYMBOL, { value: true });
    const sources = (['ref', 'build', 'archive'] as const).filter((k) => props[k] !== undefined);
    if (sources.length !== 1) {
      const got = sources.length === 0 ? 'none' : sources.join(' and ');
      throw new InvalidArgumentError(at(this, `an Image needs exactly one source — ref, build or archive — but got ${got}; split it into one Image per source`));
    }
    if (props.pullPolicy !== undefined && props.ref === undefined) {
      throw new InvalidArgumentError(at(this, 'pullPolicy applies to ref images only; remove it'));
    }
    if (props.pullPolicy !== undefined && !Object.values(PullPolicy).includes(props.pullPolicy as PullPolicy)) {
      throw new InvalidArgumentError(at(this, `pullPolicy "${props.pullPolicy}" is not one of "missing", "always", "never"`));
    }
    if (props.tag !== undefined && props.ref !== undefined) {
      throw new InvalidArgumentError(at(this, 'tag applies to build and archive images; a ref image is already named by its ref'));
    }
    if (props.build && (typeof props.build.context !== 'string' || props.build.context === '')) {
      throw new InvalidArgumentError(at(this, 'build.context is empty; give the directory to build from, such as "./app"'));
    }
    if (props.archive !== undefined && (typeof props.archive !== 'string' || props.archive === '')) {
      throw new InvalidArgumentError(at(this, 'archive is empty; give the path of a docker save or OCI archive, such as "./image.tar"'));
    }
    if (props.build?.target !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(props.build.target)) {
      throw new InvalidArgumentError(at(this, `build.target "${props.build.target}" is not a valid stage name`));
    }
    try {
      if (props.ref !== undefined) {
        this.imageName = normalizeReference(props.ref);
      } else {
        this.imageName = normalizeReference(props.tag ?? defaultTag(this));
      }
    } catch (e) {
      throw new InvalidArgumentError(at(this, (e as Error).message));
    }
    if (props.ref !== undefined) {
      this.source = { kind: 'registry', pullPolicy: (props.pullPolicy ?? PullPolicy.MISSING) as PullPolicy };
    } else if (props.build !== undefined) {
      const b = props.build;
      this.source = { kind: 'build', context: b.context, dockerfile: b.dockerfile ?? 'Dockerfile', buildArgs: { ...(b.buildArgs ?? {}) }, target: b.target, noCache: b.noCache ?? false };
    } else {
      this.source = { kind: 'archive', file: props.archive! };
    }
  }

  /** The build context as given (relative to the app's directory), for a built image. @internal */
  public get _buildContext(): string | undefined {
    return this.source.kind === 'build' ? this.source.context : undefined;
  }

  /** An image takes no name of its own kind: two Images may carry one tag (the last applied wins). @internal */
  public _claims(): ResourceClaims {
    return NO_CLAIMS;
  }

  /** @internal */
  public _toPlan(ctx: SynthContext, refs: PlanRefs): ImageResource {
    const src = this.source;
    const dependsOn = new Set<string>();
    let spec: ImageSpec;
    if (src.kind === 'registry') {
      spec = { source: 'registry', ref: this.imageName, pullPolicy: src.pullPolicy };
    } else if (src.kind === 'build') {
      const context = ctx.resolvePath(src.context);
      const bases = new Set(ctx.dockerfileBaseImages(context, src.dockerfile).map(safeNormalize));
      for (const other of Stack.of(this).node.findAll()) {
        if (other !== this && Image.isImage(other) && bases.has(other.imageName)) {
          const id = refs.logicalIdOf(this, other, 'base image');
          if (id) dependsOn.add(id);
        }
      }
      spec = {
        source: 'build',
        context,
        contextHash: ctx.hashBuildContext(this, context, src.dockerfile) ?? `sha256:${'0'.repeat(64)}`,
        dockerfile: src.dockerfile,
        buildArgs: { ...src.buildArgs },
        target: src.target,
        noCache: src.noCache,
      };
    } else {
      const path = ctx.resolvePath(src.file);
      spec = { source: 'archive', path, sha256: ctx.hashFile(this, 'archive', path) ?? `sha256:${'0'.repeat(64)}` };
    }
    return { type: 'image', path: refs.pathOf(this), name: this.imageName, dependsOn: [...dependsOn].sort(), spec };
  }
}

/** An Image's source as parsed from its props: paths stay relative until synth resolves them. */
type ImageSource =
  | { readonly kind: 'registry'; readonly pullPolicy: PullPolicy }
  | {
      readonly kind: 'build';
      readonly context: string;
      readonly dockerfile: string;
      readonly buildArgs: { readonly [name: string]: string };
      readonly target?: string;
      readonly noCache: boolean;
    }
  | { readonly kind: 'archive'; readonly file: string };

function defaultTag(image: Image): string {
  const stack = Stack.of(image);
  const repo = `${stack.stackName}-${stack.relativePath(image).replace(/\//g, '-')}`
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/[._-]{2,}/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return `${repo}:latest`;
}

/** When to pull an image from its registry. */
export enum PullPolicy {
  /** Pull only when the image is not present. */
  MISSING = 'missing',
  /** Pull on every apply (a moved tag replaces the containers using it). */
  ALWAYS = 'always',
  /** Never pull; fail when the image is not present. */
  NEVER = 'never',
}

/** A FROM reference normalised like image names; one that is not a valid reference matches nothing. */
function safeNormalize(ref: string): string {
  try {
    return normalizeReference(ref);
  } catch {
    return '';
  }
}
