// Shared by the benchmarks: a private docker-registry and a private dockerd, started and
// stopped by the benchmark itself.
'use strict';
const { execFileSync, spawn } = require('node:child_process');
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

/** Undoes what was added to iptables since `before`: rules, chains and changed policies. */
function restoreIptables(before) {
  const after = iptablesState();
  for (const t of IPTABLES_TABLES) {
    const had = new Set(before[t].rules);
    for (const rule of after[t].rules.filter((r) => !had.has(r)).reverse()) {
      try { execFileSync('iptables', ['-t', t, ...ruleArgs(rule.replace(/^-A /, '-D '))], { stdio: 'ignore' }); } catch { /* gone */ }
    }
    for (const [chain, policy] of after[t].chains) {
      const old = before[t].chains.get(chain);
      if (old === undefined) {
        try { execFileSync('iptables', ['-t', t, '-F', chain], { stdio: 'ignore' }); execFileSync('iptables', ['-t', t, '-X', chain], { stdio: 'ignore' }); } catch { /* in use or gone */ }
      } else if (old !== '-' && old !== policy) {
        execFileSync('iptables', ['-t', t, '-P', chain, old], { stdio: 'ignore' });
      }
    }
  }
}

/**
 * A private dockerd for the benchmarks. By default without networking of its own (no bridge,
 * no iptables); with `{ networking: true }` as installed (docker0, iptables NAT and filter
 * rules, userland proxy), which is how users run it — `stop()` then takes out the rules,
 * chains, policy and bridge it added, so the host is left as it was.
 */
async function startDockerd(opts = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-docker-bench-dockerd-'));
  const host = `unix://${dir}/docker.sock`;
  const networking = opts.networking === true;
  if (networking && fs.existsSync('/sys/class/net/docker0')) throw new Error('docker0 exists already (another dockerd?): stop it, or run the bench without Docker networking');
  const iptablesBefore = networking ? iptablesState() : undefined;
  const netArgs = networking ? [] : ['--bridge=none', '--iptables=false', '--ip-masq=false'];
  const child = spawn('dockerd', ['--data-root', `${dir}/data`, '--exec-root', `${dir}/exec`, '--pidfile', `${dir}/pid`, '-H', host,
    ...netArgs, '--containerd-namespace', `cdk-bench-${process.pid}`, '--containerd-plugins-namespace', `cdk-bench-${process.pid}-p`], { stdio: 'ignore' });
  const docker = (args) => execFileSync('docker', args, { env: { ...process.env, DOCKER_HOST: host }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  await waitFor(() => docker(['version', '--format', '{{.Server.Version}}']).trim().length > 0, 'dockerd');
  return {
    host,
    docker,
    version: docker(['version', '--format', '{{.Server.Version}}']).trim(),
    networking,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      for (const m of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m && m.startsWith(dir)).reverse()) {
        try { execFileSync('umount', ['-l', m]); } catch { /* gone */ }
      }
      fs.rmSync(dir, { recursive: true, force: true });
      if (networking) {
        restoreIptables(iptablesBefore);
        try { execFileSync('ip', ['link', 'delete', 'docker0'], { stdio: 'ignore' }); } catch { /* gone */ }
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

module.exports = { startRegistry, startDockerd, median, timeMs, freePort };
