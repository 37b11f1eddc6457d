// Shared by the benchmarks: a private docker-registry and a private dockerd, started and
// stopped by the benchmark itself.
'use strict';
const { execFileSync, spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
    srv.on('error', reject);
  });
}

async function waitFor(check, what, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try { if (await check()) return; } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`${what} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startRegistry() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-docker-bench-registry-'));
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'config.yml'), `version: 0.1\nlog: { level: error }\nstorage:\n  filesystem: { rootdirectory: ${dir}/data }\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const child = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: 'ignore' });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/v2/`)).ok, 'docker-registry');
  return {
    host: `127.0.0.1:${port}`,
    async stop() { child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

const IPTABLES_TABLES = ['filter', 'nat'];

/** The chains (with policies) and rules of the iptables tables Docker touches. */
function iptablesState() {
  const out = {};
  for (const t of IPTABLES_TABLES) {
    const lines = execFileSync('iptables-save', ['-t', t], { encoding: 'utf8' }).split('\n');
    out[t] = { chains: new Map(lines.filter((l) => l.startsWith(':')).map((l) => { const [name, policy] = l.slice(1).split(' '); return [name, policy]; })), rules: lines.filter((l) => l.startsWith('-A ')) };
  }
  return out;
}

/** iptables-save's rule text as arguments (double-quoted words kept whole). */
function ruleArgs(line) {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]));
}

/**
 * Undoes what a dockerd on bridge `device` added to iptables since `before`: its rules (those of
 * its DOCKER* chains, its bridge and its user networks' br-* bridges), its chains and the
 * policies it changed. Rules others added meanwhile (netavark's, for tests running at the same
 * time) stay.
 */
function restoreIptables(before, device) {
  const after = iptablesState();
  const docker = (rule) => /DOCKER/.test(rule) || ruleArgs(rule).some((w) => w === device || w.startsWith('br-'));
  for (const t of IPTABLES_TABLES) {
    const had = new Set(before[t].rules);
    for (const rule of after[t].rules.filter((r) => !had.has(r) && docker(r)).reverse()) {
      try { execFileSync('iptables', ['-t', t, ...ruleArgs(rule.replace(/^-A /, '-D '))], { stdio: 'ignore' }); } catch { /* gone */ }
    }
    for (const [chain, policy] of after[t].chains) {
      const old = before[t].chains.get(chain);
      if (old === undefined && chain.startsWith('DOCKER')) {
        try { execFileSync('iptables', ['-t', t, '-F', chain], { stdio: 'ignore' }); execFileSync('iptables', ['-t', t, '-X', chain], { stdio: 'ignore' }); } catch { /* in use or gone */ }
      } else if (old !== undefined && old !== '-' && old !== policy) {
        execFileSync('iptables', ['-t', t, '-P', chain, old], { stdio: 'ignore' });
      }
    }
  }
}

/**
 * A private dockerd for the benchmarks (own data-root, exec-root, socket, pidfile, containerd
 * namespaces; stopped through its own pid). By default without networking of its own (no
 * bridge, no iptables); with `{ networking: true }` as installed (iptables NAT and filter rules,
 * userland proxy), which is how users run it — on docker0, or with `bridge: { name, address,
 * pool }` on a default bridge of its own (made here) and user networks from `pool`. `stop()`
 * then takes out the rules, chains, policies and the bridge it added, so the host is left as it
 * was.
 */
async function startDockerd(opts = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-docker-bench-dockerd-'));
  const host = `unix://${dir}/docker.sock`;
  const networking = opts.networking === true;
  const bridge = networking ? opts.bridge : undefined;
  const device = bridge ? bridge.name : 'docker0';
  if (networking && fs.existsSync(`/sys/class/net/${device}`)) throw new Error(`${device} exists already (another dockerd?): stop it, or run the bench without Docker networking`);
  const iptablesBefore = networking ? iptablesState() : undefined;
  if (bridge) {
    execFileSync('ip', ['link', 'add', 'name', bridge.name, 'type', 'bridge']);
    execFileSync('ip', ['addr', 'add', bridge.address, 'dev', bridge.name]);
    execFileSync('ip', ['link', 'set', bridge.name, 'up']);
  }
  const netArgs = !networking ? ['--bridge=none', '--iptables=false', '--ip-masq=false'] : bridge ? [`--bridge=${bridge.name}`, '--default-address-pool', `base=${bridge.pool},size=24`] : [];
  const child = spawn('dockerd', ['--data-root', `${dir}/data`, '--exec-root', `${dir}/exec`, '--pidfile', `${dir}/pid`, '-H', host,
    ...netArgs, '--containerd-namespace', `cdk-bench-${process.pid}`, '--containerd-plugins-namespace', `cdk-bench-${process.pid}-p`], { stdio: 'ignore' });
  const docker = (args) => execFileSync('docker', args, { env: { ...process.env, DOCKER_HOST: host }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await waitFor(() => docker(['version', '--format', '{{.Server.Version}}']).trim().length > 0, 'dockerd');
  } catch (e) {
    const exited = new Promise((r) => child.once('exit', r));
    if (child.exitCode === null && child.signalCode === null) { process.kill(child.pid, 'SIGTERM'); await exited; }
    if (iptablesBefore) restoreIptables(iptablesBefore, device);
    if (bridge) { try { execFileSync('ip', ['link', 'delete', bridge.name], { stdio: 'ignore' }); } catch { /* gone */ } }
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    host,
    docker,
    version: docker(['version', '--format', '{{.Server.Version}}']).trim(),
    networking,
    pid: child.pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(child.pid, 'SIGTERM');
        await exited;
      }
      for (const m of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m && m.startsWith(dir)).reverse()) {
        try { execFileSync('umount', ['-l', m]); } catch { /* gone */ }
      }
      fs.rmSync(dir, { recursive: true, force: true });
      if (networking) {
        restoreIptables(iptablesBefore, device);
        try { execFileSync('ip', ['link', 'delete', device], { stdio: 'ignore' }); } catch { /* gone */ }
      }
    },
  };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

function timeMs(fn) {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/**
 * Runs `cmd args` under `strace -f -e trace=execve` and counts the programs it (and every child)
 * executed, failed PATH lookups left out: `{ total, counts: [[program, n], …] }`, most first.
 * Only for commands that leave no process behind (strace waits for every traced descendant).
 */
function execTrace(cmd, args, opts) {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-docker-bench-strace-')), 'trace');
  try {
    const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=execve', '-o', out, cmd, ...args], { ...opts, encoding: 'utf8', timeout: 120_000 });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`strace ${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    const counts = new Map();
    for (const line of fs.readFileSync(out, 'utf8').split('\n')) {
      const m = /execve\("([^"]+)".*\) = 0$/.exec(line);
      // netavark's iptables calls answered by cdk-docker's no-op (runtime/networks/firewall.ts) are
      // counted apart from the real iptables.
      const name = m && (m[1].includes('/no-firewall/') ? `${path.basename(m[1])} (no-op)` : path.basename(m[1]));
      if (m) counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    return { total: [...counts.values()].reduce((a, b) => a + b, 0), counts: [...counts].sort((a, b) => b[1] - a[1]) };
  } finally {
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  }
}

/**
 * Self time per source file of the V8 CPU profiles in `dir` (written by `--cpu-prof`), the
 * `top` largest: `[[file, ms], …]`, Node's own modules as `node:…`, idle and GC as `(idle)`, `(gc)`.
 */
function cpuProfileSummary(dir, top = 8) {
  const byFile = new Map();
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) {
    const p = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    const nodes = new Map(p.nodes.map((n) => [n.id, n]));
    p.samples.forEach((id, i) => {
      const { url, functionName } = nodes.get(id).callFrame;
      const key = url ? url.replace(/^file:\/\//, '').replace(/.*\/(node_modules|dist)\//, '$1/') : functionName === '(garbage collector)' ? '(gc)' : `(${functionName.replace(/[()]/g, '')})`;
      byFile.set(key, (byFile.get(key) ?? 0) + p.timeDeltas[i] / 1000);
    });
  }
  return [...byFile].sort((a, b) => b[1] - a[1]).slice(0, top);
}

module.exports = { startRegistry, startDockerd, median, timeMs, freePort, execTrace, cpuProfileSummary };
