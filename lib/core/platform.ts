import { InvalidArgumentError } from './errors';

/**
 * Image platforms (`--platform linux/amd64`), read as Docker 20.10 reads them (containerd's
 * platforms.Parse): `os`, `arch`, `os/arch` or `os/arch/variant`, any case, with the
 * architecture's aliases (`x86_64` is amd64, `aarch64` arm64 …).
 */

/** An OCI platform. */
export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

/** The operating systems and architectures Go knows (containerd's isKnownOS/isKnownArch). */
const KNOWN_OS = new Set(['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl', 'netbsd', 'openbsd', 'plan9', 'solaris', 'windows', 'zos']);
const KNOWN_ARCH = new Set([
  '386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'ppc64', 'ppc64le', 'loong64', 'mips', 'mipsle', 'mips64', 'mips64le', 'mips64p32', 'mips64p32le', 'ppc',
  'riscv', 'riscv64', 's390', 's390x', 'sparc', 'sparc64', 'wasm',
]);
const COMPONENT = /^[a-z0-9_-]+$/;

/** Node's `process.arch` as OCI names it. */
const NODE_ARCH: { readonly [arch: string]: string } = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64' };

/** This host's platform (what the built-in engine runs: it has no emulation). */
export function hostPlatform(): Platform {
  return { os: 'linux', architecture: NODE_ARCH[process.arch] ?? process.arch };
}

/** An architecture and variant as Docker 20.10 normalises them (measured: `aarch64` is linux/arm64, `linux/arm64/8` linux/arm64/v8, `armhf` linux/arm). */
function normalizeArch(arch: string, variant: string | undefined): { architecture: string; variant?: string } {
  const v = variant ?? '';
  const numbered = /^[5-8]$/.test(v) ? `v${v}` : v;
  switch (arch) {
    case 'i386':
      return { architecture: '386' };
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return { architecture: 'amd64', ...(v ? { variant: v } : {}) };
    case 'aarch64':
    case 'arm64':
      return { architecture: 'arm64', ...(numbered ? { variant: numbered } : {}) };
    case 'armhf':
    case 'armel':
      return { architecture: 'arm' };
    case 'arm':
      return { architecture: 'arm', ...(numbered ? { variant: numbered } : {}) };
    default:
      return { architecture: arch, ...(v ? { variant: v } : {}) };
  }
}

/**
 * Parses a platform specifier as Docker does; throws Docker's message (`"foo": unknown operating
 * system or architecture: invalid argument`) for one it cannot read.
 */
export function parsePlatform(text: string): Platform {
  const parts = text.toLowerCase().split('/');
  for (const p of parts) {
    if (!COMPONENT.test(p)) throw new InvalidArgumentError(`${JSON.stringify(text)}: invalid platform component ${JSON.stringify(p)}: use os/arch[/variant], for example linux/amd64`);
  }
  const os = (o: string) => (o === 'macos' ? 'darwin' : o);
  switch (parts.length) {
    case 1: {
      const [one] = parts;
      if (KNOWN_OS.has(os(one))) return { os: os(one), ...normalizeArch(hostPlatform().architecture, undefined) };
      if (KNOWN_ARCH.has(normalizeArch(one, undefined).architecture)) return { os: 'linux', ...normalizeArch(one, undefined) };
      throw new InvalidArgumentError(`${JSON.stringify(text)}: unknown operating system or architecture: invalid argument`);
    }
    case 2:
      return { os: os(parts[0]), ...normalizeArch(parts[1], undefined) };
    case 3:
      return { os: os(parts[0]), ...normalizeArch(parts[1], parts[2]) };
    default:
      throw new InvalidArgumentError(`${JSON.stringify(text)}: cannot parse platform specifier: invalid argument`);
  }
}

/** `os/arch[/variant]`. */
export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** Whether an image built for `have` serves `want` (the same OS and architecture; a variant asked for must be the image's, when it names one). */
export function platformMatches(want: Platform, have: Platform): boolean {
  const a = normalizeArch(want.architecture, want.variant);
  const b = normalizeArch(have.architecture, have.variant);
  return want.os === have.os && a.architecture === b.architecture && (a.variant === undefined || b.variant === undefined || a.variant === b.variant);
}

/**
 * `--platform` of run, create and pull on an engine without emulation: this host's platform (any
 * variant of its architecture) is taken, any other refused with the fix.
 */
export function requireHostPlatform(wanted: Platform, flag = '--platform'): void {
  const host = hostPlatform();
  if (wanted.os === host.os && normalizeArch(wanted.architecture, wanted.variant).architecture === host.architecture) return;
  throw new InvalidArgumentError(
    `${flag} ${formatPlatform(wanted)} is not supported: the built-in engine runs images of this host's platform, ${formatPlatform(host)}, and has no emulation; drop ${flag} or give ${formatPlatform(host)}`,
  );
}
