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

async function startDockerd() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-docker-bench-dockerd-'));
  const host = `unix://${dir}/docker.sock`;
  const child = spawn('dockerd', ['--data-root', `${dir}/data`, '--exec-root', `${dir}/exec`, '--pidfile', `${dir}/pid`, '-H', host,
    '--bridge=none', '--iptables=false', '--ip-masq=false', '--containerd-namespace', `cdk-bench-${process.pid}`, '--containerd-plugins-namespace', `cdk-bench-${process.pid}-p`], { stdio: 'ignore' });
  const docker = (args) => execFileSync('docker', args, { env: { ...process.env, DOCKER_HOST: host }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  await waitFor(() => docker(['version', '--format', '{{.Server.Version}}']).trim().length > 0, 'dockerd');
  return {
    host,
    docker,
    version: docker(['version', '--format', '{{.Server.Version}}']).trim(),
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      for (const m of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m && m.startsWith(dir)).reverse()) {
        try { execFileSync('umount', ['-l', m]); } catch { /* gone */ }
      }
      fs.rmSync(dir, { recursive: true, force: true });
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
