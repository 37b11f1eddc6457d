import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import pc from 'picocolors';
import { checkHost, fixCommands, HostCheck } from '../../runtime';
import { CdkDockerError } from '../core/errors';

interface DoctorOptions {
  fix?: boolean;
  json?: boolean;
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
function applyFixes(checks: HostCheck[]): void {
  const { packages, other } = fixCommands(checks);
  if (packages.length === 0 && !other.includes('modprobe overlay')) {
    process.stderr.write('Nothing that --fix can install.\n');
    return;
  }
  if (process.getuid?.() !== 0) {
    throw new CdkDockerError(`--fix installs packages with apt-get and must run as root; run \`sudo cdk-docker doctor --fix\` or \`apt-get install -y ${packages.join(' ')}\``);
  }
  const run = (cmd: string, args: string[]) => {
    process.stderr.write(`$ ${cmd} ${args.join(' ')}\n`);
    const r = spawnSync(cmd, args, { stdio: ['ignore', process.stderr, process.stderr], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.error) throw new CdkDockerError(`could not run ${cmd}: ${r.error.message}`);
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

export async function doctor(opts: DoctorOptions): Promise<number> {
  let checks = await checkHost();
  if (opts.fix && checks.some((c) => c.status !== 'ok')) {
    applyFixes(checks);
    checks = await checkHost();
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(checks, null, 2)}\n`);
  else process.stdout.write(renderDoctor(checks));
  return checks.some((c) => c.status === 'missing') ? 1 : 0;
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check the host components of the built-in runtime and say how to install what is missing')
    .option('--fix', 'install what is missing with apt-get (root)')
    .option('--json', 'print the checks as JSON')
    .action(async (opts: DoctorOptions) => {
      process.exitCode = await doctor(opts);
    });
}
