import { execFileSync, spawnSync } from 'node:child_process';
import * as http from 'node:http';
import { CLI } from './cli';
import { DOCKER_2010, TestDockerd, startDockerd } from './dockerd';

/**
 * Issue 12 "Prove it": the Docker books' command sequences, run with the same argv through the
 * real Docker 20.10 client (Debian's, /usr/bin/docker — not the newer client first on PATH)
 * against a PRIVATE dockerd, and through `cdk-docker runtime`, compared after normalising.
 */

export interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The Debian docker.io 20.10 client; /usr/local/bin/docker (28.x) comes first on PATH. */

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, input?: string): Ran {
  // A command that hangs shows as such in the comparison (and the suite ends) instead of the test timing out.
  const r = spawnSync(cmd, args, { cwd, input, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 60_000, killSignal: 'SIGKILL' });
  if (r.error && !r.signal) throw r.error;
  if (r.signal) return { code: -1, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}<killed after 60 s: ${[cmd, ...args].join(' ')}>\n` };
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** One engine as a user drives it: a program, its environment, argv in, what they see out. */
export interface Engine {
  readonly name: 'docker' | 'ours';
  /** The command line a shell uses for this engine (`/usr/bin/docker` or `…/cdk-docker runtime`). */
  readonly prog: string;
  readonly env: NodeJS.ProcessEnv;
  run(args: string[], input?: string): Ran;
  /** A one-liner through bash with `$D` as the engine's program, e.g. `$D rm $($D ps -aq)`. */
  shell(line: string): Ran;
}

export function engine(name: 'docker' | 'ours', env: NodeJS.ProcessEnv, cwd: string): Engine {
  const [cmd, pre] = name === 'docker' ? [DOCKER_2010, []] : [CLI, ['runtime']];
  const prog = [cmd, ...pre].join(' ');
  return {
    name,
    prog,
    env,
    run: (args, input) => run(cmd, [...pre, ...args], env, cwd, input),
    shell: (line) => run('bash', ['-c', line], { ...env, D: prog }, cwd),
  };
}

/**
 * Replaces what differs between any two runs or engines: ids, digests, times, sizes, IPs,
 * random names, the program name; table columns compare as separated by 3+ blanks (their width
 * follows cells such as "1 second ago" that normalise to the same token).
 */
export function normalise(text: string, extra: [RegExp, string][] = []): string {
  let t = text;
  for (const [re, to] of extra) t = t.replace(re, to);
  return t
    // Docker's classic builder ends its progress line with carriage returns.
    .replace(/\r/g, '')
    .replace(/sha256:[0-9a-f]{64}/g, '<DIGEST>')
    .replace(/\b[0-9a-f]{64}\b/g, '<ID>')
    .replace(/\b[0-9a-f]{12}\b/g, '<ID>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/g, '<TIME>')
    .replace(/(Less than a second|About (a|an) (minute|hour)|\d+ (second|minute|hour)s?) ago/g, '<AGO>')
    .replace(/(Up|Restarting \(\d+\)) (Less than a second|About (a|an) (minute|hour)|\d+ (second|minute|hour)s?)/g, '$1 <AGO>')
    .replace(/\b\d+(\.\d+)?\s?(B|kB|KB|MB|GB)\b/g, '<SIZE>')
    .replace(/\b10\.\d+\.\d+\.\d+\b/g, '<IP>')
    .replace(/(\/usr\/bin\/docker|\S*\/bin\/cdk-docker runtime)/g, '<PROG>')
    // Docker's random names (adjective_surname), as in a legacy link's `DB_NAME=/NAME/db`.
    .replace(/\/[a-z]+_[a-z]+\//g, '/<NAME>/')
    // Column widths follow the (normalised) cell contents: columns are kept apart by 3+ blanks.
    .replace(/ {3,}/g, '   ');
}

/** GET http://127.0.0.1:PORT/PATH from this process (the books' `curl`), body and status. */
export function httpGet(port: number, urlPath = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

/** Retries `httpGet` until it answers (a server just started) for up to `ms`. */
export async function httpGetWhenUp(port: number, urlPath = '/', ms = 15_000): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await httpGet(port, urlPath);
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * A private dockerd WITH a default bridge (the books use `-p` and `--link` there): its own
 * bridge device on 10.197.0.1/24, user networks from 10.197.128.0/17, no iptables rules of its
 * own (docker-proxy forwards published ports).
 */
export type BooksDockerd = TestDockerd;

export function startBooksDockerd(bridge = 'cdkbooks197'): Promise<BooksDockerd> {
  return startDockerd({ label: 'books', bridge: { name: bridge, address: '10.197.0.1/24', pool: '10.197.128.0/17' } });
}

/**
 * `iptables-save` rule lines (no comments, no counters), all of them or those matching `only`:
 * other suites change the firewall at the same time, so a suite checks the lines of its subnets.
 */
export function iptablesLines(only?: RegExp): string[] {
  return execFileSync('iptables-save', { encoding: 'utf8' }).split('\n').filter((l) => l && !l.startsWith('#') && (!only || only.test(l)));
}
