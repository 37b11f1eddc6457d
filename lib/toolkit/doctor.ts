import { spawnSync } from 'node:child_process';
import pc from 'picocolors';
import { checkHost, fixCommands, HostCheck } from '../../runtime';
import { CdkDockerError } from '../core/errors';

/**
 * `doctor`: checks the host components of the built-in runtime, says how to install what is
 * missing, and with `fix` installs it with apt-get (and loads overlay when the kernel lacks it).
 */

export interface DoctorOptions extends NonNullable<Parameters<typeof checkHost>[0]> {
  /** Install what is missing with apt-get (as root), then check again. */
  readonly fix?: boolean;
  /** Where the commands `fix` runs, and their output, go. @default process.stderr */
  readonly log?: NodeJS.WritableStream & { readonly fd?: number };
}

export interface DoctorResult {
  readonly checks: HostCheck[];
  /** No required component is missing. */
  readonly ok: boolean;
}

/** Checks the host (after fixing what it can, with `fix`). */
export async function doctor(options: DoctorOptions = {}): Promise<DoctorResult> {
  let checks = await checkHost(options);
  if (options.fix && checks.some((c) => c.status !== 'ok')) {
    applyFixes(checks, options);
    checks = await checkHost(options);
  }
  return { checks, ok: !checks.some((c) => c.status === 'missing') };
}

const MARK: Record<HostCheck['status'], string> = { ok: pc.green('ok'), missing: pc.red('MISSING'), warning: pc.yellow('optional') };

/** The report a user reads: one line per component, then what to run. */
export function renderDoctor(checks: HostCheck[]): string {
  const w = Math.max(...checks.map((c) => c.name.length));
  const lines = ['Host components of the built-in runtime:', ''];
  for (const c of checks) {
    lines.push(`  ${c.name.padEnd(w)}  ${MARK[c.status].padEnd(pc.isColorSupported ? 17 : 8)}  ${c.status === 'ok' ? c.detail : `${c.detail} (needed for: ${c.role})`}`);
  }
  const missing = checks.filter((c) => c.status === 'missing');
  const optional = checks.filter((c) => c.status === 'warning');
  lines.push('');
  if (missing.length === 0 && optional.length === 0) {
    lines.push('Everything the built-in runtime needs is in place.');
  } else {
    const { packages, other } = fixCommands([...missing, ...optional]);
    if (missing.length > 0) lines.push(`${missing.length} required component${missing.length === 1 ? ' is' : 's are'} missing: ${missing.map((c) => c.name).join(', ')}.`);
    if (optional.length > 0) lines.push(`Optional, for some features: ${optional.map((c) => `${c.name} (${c.role})`).join(', ')}.`);
    lines.push('To fix:');
    if (packages.length > 0) lines.push(`  apt-get update && apt-get install -y ${packages.join(' ')}`);
    for (const o of other) lines.push(`  ${o}`);
    if (packages.length > 0) lines.push('or run `cdk-docker doctor --fix`.');
  }
  return `${lines.join('\n')}\n`;
}

/** Installs the missing packages with apt-get (as root), and loads overlay when the kernel lacks it. */
function applyFixes(checks: HostCheck[], options: DoctorOptions): void {
  const log = options.log ?? process.stderr;
  const { packages, other } = fixCommands(checks);
  if (packages.length === 0 && !other.includes('modprobe overlay')) {
    log.write('Nothing that --fix can install.\n');
    return;
  }
  if ((options.uid ?? process.getuid?.()) !== 0) {
    throw new CdkDockerError(`--fix installs packages with apt-get and must run as root; run \`sudo cdk-docker doctor --fix\` or \`apt-get install -y ${packages.join(' ')}\``);
  }
  const run = (cmd: string, args: string[]) => {
    log.write(`$ ${cmd} ${args.join(' ')}\n`);
    // The command's output goes to the log as it comes when the log is a file descriptor (apt-get takes minutes).
    const live = typeof log.fd === 'number';
    const r = spawnSync(cmd, args, { stdio: ['ignore', live ? log.fd! : 'pipe', live ? log.fd! : 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.error) throw new CdkDockerError(`could not run ${cmd}: ${r.error.message}`);
    if (!live) log.write(Buffer.concat([r.stdout ?? Buffer.alloc(0), r.stderr ?? Buffer.alloc(0)]));
    return r.status ?? 1;
  };
  if (packages.length > 0) {
    if (run('apt-get', ['update', '-q']) !== 0) throw new CdkDockerError('apt-get update failed (see above); fix the apt sources, then run `cdk-docker doctor --fix` again');
    if (run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages]) !== 0) {
      throw new CdkDockerError(`apt-get install ${packages.join(' ')} failed (see above)`);
    }
  }
  if (other.includes('modprobe overlay') && run('modprobe', ['overlay']) !== 0) {
    throw new CdkDockerError('modprobe overlay failed: this kernel has no overlayfs module; the built-in runtime cannot run here');
  }
}
