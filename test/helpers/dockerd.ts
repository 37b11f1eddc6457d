import { ChildProcess, execFileSync, spawnSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './cli';
import { daemonLog, requireCommand } from './prereq';

/**
 * A real dockerd started by a test with private roots, socket, pidfile and containerd namespace,
 * and no iptables rules of its own, for interoperability checks. By default it has no bridge;
 * `bridge` gives it a default bridge device of its own (made here, deleted on stop) and a pool for
 * user networks. `stop()` stops it by its pid, unmounts what it left and removes its state.
 */
export interface TestDockerd {
  readonly host: string;
  readonly pid: number;
  /** Runs the docker CLI (Debian's 20.10 client) against this daemon and returns stdout. */
  docker(args: string[], input?: Buffer | string): string;
  stop(): Promise<void>;
}

export interface DockerdOptions {
  /** A default bridge: the device to create, its gateway address with prefix, the user-network pool. */
  readonly bridge?: { readonly name: string; readonly address: string; readonly pool: string };
  /** Names its state directory and containerd namespace. @default 'test' */
  readonly label?: string;
  /**
   * Also listen on tcp://127.0.0.1:`port` — with `--tlsverify` (clients need a certificate signed
   * by `ca`) when `tls` gives the CA and the server's certificate and key (PEM files).
   */
  readonly tcp?: { readonly port: number; readonly tls?: { readonly ca: string; readonly cert: string; readonly key: string } };
}

/** Debian's docker.io client (20.10); another `docker` first on PATH (a newer client) is not used. */
export const DOCKER_2010 = '/usr/bin/docker';

export async function startDockerd(options: DockerdOptions = {}): Promise<TestDockerd> {
  const dockerd = requireCommand('dockerd', 'docker.io');
  const docker = fs.existsSync(DOCKER_2010) ? DOCKER_2010 : requireCommand('docker', 'docker.io');
  const label = options.label ?? 'test';
  const bridge = options.bridge;
  if (bridge) {
    requireCommand('docker-proxy', 'docker.io');
    requireCommand('ip', 'iproute2');
  }
  const dir = tempDir(`cdk-docker-${label}-dockerd-`);
  const sock = path.join(dir, 'docker.sock');
  const host = `unix://${sock}`;
  if (bridge) {
    spawnSync('ip', ['link', 'del', bridge.name]);
    execFileSync('ip', ['link', 'add', 'name', bridge.name, 'type', 'bridge']);
    execFileSync('ip', ['addr', 'add', bridge.address, 'dev', bridge.name]);
    execFileSync('ip', ['link', 'set', bridge.name, 'up']);
  }
  const log = daemonLog(path.join(dir, 'dockerd.log'));
  const child: ChildProcess = spawn(
    dockerd,
    [
      '--data-root', path.join(dir, 'data'),
      '--exec-root', path.join(dir, 'exec'),
      '--pidfile', path.join(dir, 'docker.pid'),
      '-H', host,
      ...(options.tcp ? ['-H', `tcp://127.0.0.1:${options.tcp.port}`] : []),
      // Plain tcp says --tls=false, or dockerd 20.10 waits 15 s to show its warning.
      ...(options.tcp?.tls ? ['--tlsverify', '--tlscacert', options.tcp.tls.ca, '--tlscert', options.tcp.tls.cert, '--tlskey', options.tcp.tls.key] : options.tcp ? ['--tls=false'] : []),
      ...(bridge ? [`--bridge=${bridge.name}`, '--default-address-pool', `base=${bridge.pool},size=24`] : ['--bridge=none']),
      '--iptables=false', '--ip-masq=false', '--ip-forward=false',
      '--containerd-namespace', `cdk-docker-${label}-${process.pid}`,
      '--containerd-plugins-namespace', `cdk-docker-${label}-${process.pid}-plugins`,
    ],
    { stdio: ['ignore', 'ignore', log.fd] },
  );
  fs.closeSync(log.fd);
  // Bounded: a daemon that stops answering fails the test that waits, not the whole run.
  const run = (args: string[], input?: Buffer | string) =>
    execFileSync(docker, args, { env: { ...process.env, DOCKER_HOST: host }, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 180_000, killSignal: 'SIGKILL' });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(child.pid!, 'SIGTERM');
      await exited;
    }
    // dockerd unmounts its layers on shutdown; anything left is unmounted before removal.
    const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m && m.startsWith(dir));
    for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
    fs.rmSync(dir, { recursive: true, force: true });
    if (bridge) spawnSync('ip', ['link', 'del', bridge.name]);
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`dockerd exited (${child.exitCode}): ${log.tail()}`);
    }
    try {
      run(['version', '--format', '{{.Server.Version}}']);
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`dockerd did not start within 30 s: ${log.tail()}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { host, pid: child.pid!, docker: run, stop };
}

/**
 * The environment that points cdk-docker and the docker CLI at `dockerd` and nothing of this
 * machine's: no context, TLS setting or engine choice from outside, a private Docker config and
 * private built-in roots under `work`.
 */
export function dockerEnv(dockerd: TestDockerd, work: string): NodeJS.ProcessEnv {
  return {
    DOCKER_HOST: dockerd.host,
    DOCKER_CONTEXT: '',
    DOCKER_TLS_VERIFY: '',
    DOCKER_CONFIG: path.join(work, 'docker-config'),
    CDK_DOCKER_ENGINE: '',
    CDK_DOCKER_ROOT: path.join(work, 'root'),
    CDK_DOCKER_RUNROOT: path.join(work, 'run'),
  };
}
