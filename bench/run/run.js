#!/usr/bin/env node
// bench/run: starting containers with the built-in runtime (`cdk-docker runtime run`) and with
// Docker (a private dockerd, networking as installed: its own default bridge cdkbench0 with
// iptables NAT and filter rules and the userland proxy), same image, same run. Reports medians and
// ratios of
//   - a foreground `run --rm IMAGE true` on the default network, as users type it (RUNS times,
//     taking turns), and the same with `--network none`,
//   - `run -d -p PORT:80` of an httpd on the default network until the host gets an answer on
//     127.0.0.1:PORT (RUNS times),
//   - 20 `run -d --network none IMAGE sleep` in a row,
// the resident memory each running container costs (cdk-docker: its conmon; Docker: its
// containerd-shim), and an exec trace (strace -f) of one `run --rm` on the default network.
// Targets (issue 17): each `run` at least 1.5× faster than Docker's.
// The built-in engine's default network is 10.181.0.0/24; dockerd's bridge 10.183.0.1/24.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { startDockerd, median, timeMs, freePort, execTrace } = require('../lib/services');

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'bin', 'cdk-docker');
const RUNS = Number(process.env.RUNS || 10);
const DETACHED = Number(process.env.DETACHED || 20);
const TARGET = 1.5;

/** A busybox root filesystem tarball from the static busybox of busybox-static. */
function busyboxTar(dir) {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => fs.existsSync(p));
  if (!busybox) throw new Error('busybox is not installed: apt-get install busybox-static');
  const root = path.join(dir, 'rootfs');
  fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
  for (const d of ['etc', 'tmp', 'proc', 'sys', 'dev']) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.copyFileSync(busybox, path.join(root, 'bin', 'busybox'));
  for (const a of ['sh', 'true', 'sleep', 'httpd']) fs.symlinkSync('busybox', path.join(root, 'bin', a));
  fs.mkdirSync(path.join(root, 'www'));
  fs.writeFileSync(path.join(root, 'www', 'index.html'), 'bench\n');
  const tar = path.join(dir, 'rootfs.tar');
  execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tar, '.']);
  return tar;
}

/** Resident set size (bytes) of a process, from /proc. */
function rss(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Pids whose command line contains `needle`, with their argv[0]. */
function processesWith(needle) {
  const found = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmd.includes(needle)) found.push({ pid: Number(p), argv0: cmd.split('\0')[0] });
  }
  return found;
}

const mib = (b) => `${(b / 1024 / 1024).toFixed(1)} MiB`;

/** Resolves once GET http://127.0.0.1:port/ answers. */
async function reachable(port) {
  for (;;) {
    const ok = await new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/index.html', timeout: 1000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function timeAsync(fn) {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}
const ms = (x) => `${x.toFixed(0)} ms`;

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-docker-bench-run-'));
  const dockerd = await startDockerd({ networking: true, bridge: { name: 'cdkbench0', address: '10.183.0.1/24', pool: '10.184.0.0/16' } });
  const env = { ...process.env, CDK_DOCKER_ROOT: path.join(work, 'root'), CDK_DOCKER_RUNROOT: path.join(work, 'run') };
  const cdk = (args) => execFileSync(CLI, ['runtime', ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const image = 'bench/busybox:run';
  // A default network of its own, apart from any other cdk-docker state root on this machine.
  fs.mkdirSync(env.CDK_DOCKER_ROOT, { recursive: true });
  fs.writeFileSync(path.join(env.CDK_DOCKER_ROOT, 'config.json'), JSON.stringify({ bip: '10.181.0.1/24', 'default-address-pools': [{ base: '10.182.0.0/16', size: 24 }] }));
  const cdkIds = [];
  const dockerIds = [];
  try {
    const tar = busyboxTar(work);
    cdk(['import', '-c', 'CMD ["sh"]', tar, image]);
    dockerd.docker(['import', '-c', 'CMD ["sh"]', tar, image]);

    // Warm caches on both sides.
    cdk(['run', '--rm', image, 'true']);
    dockerd.docker(['run', '--rm', image, 'true']);

    const fg = { cdk: [], docker: [] };
    const fgNone = { cdk: [], docker: [] };
    for (let i = 0; i < RUNS; i++) {
      fg.cdk.push(timeMs(() => cdk(['run', '--rm', image, 'true'])));
      fg.docker.push(timeMs(() => dockerd.docker(['run', '--rm', image, 'true'])));
      fgNone.cdk.push(timeMs(() => cdk(['run', '--rm', '--network', 'none', image, 'true'])));
      fgNone.docker.push(timeMs(() => dockerd.docker(['run', '--rm', '--network', 'none', image, 'true'])));
    }
    const trace = execTrace(CLI, ['runtime', 'run', '--rm', image, 'true'], { env });

    const bg = { cdk: 0, docker: 0 };
    bg.cdk = timeMs(() => {
      for (let i = 0; i < DETACHED; i++) cdkIds.push(cdk(['run', '-d', '--network', 'none', image, 'sleep', '100000']).trim());
    });
    bg.docker = timeMs(() => {
      for (let i = 0; i < DETACHED; i++) dockerIds.push(dockerd.docker(['run', '-d', '--network', 'none', image, 'sleep', '100000']).trim());
    });

    // Networked: run -d -p PORT:80 httpd until the host gets an answer, both on the default network.
    const netRuns = { cdk: [], docker: [] };
    const httpd = ['httpd', '-f', '-p', '80', '-h', '/www'];
    for (let i = 0; i < RUNS; i++) {
      let port = await freePort();
      netRuns.cdk.push(await timeAsync(async () => {
        cdkIds.push(cdk(['run', '-d', '-p', `${port}:80`, image, ...httpd]).trim());
        await reachable(port);
      }));
      cdk(['rm', '-f', cdkIds.pop()]);
      port = await freePort();
      netRuns.docker.push(await timeAsync(async () => {
        dockerIds.push(dockerd.docker(['run', '-d', '-p', `${port}:80`, image, ...httpd]).trim());
        await reachable(port);
      }));
      dockerd.docker(['rm', '-f', dockerIds.pop()]);
    }

    // What each running container keeps resident on the host.
    const cdkMonitors = cdkIds.flatMap((id) => processesWith(id).filter((p) => p.argv0.endsWith('conmon')));
    const dockerShims = dockerIds.flatMap((id) => processesWith(id).filter((p) => p.argv0.includes('containerd-shim')));
    const perCdk = cdkMonitors.reduce((a, p) => a + rss(p.pid), 0) / DETACHED;
    const perDocker = dockerShims.reduce((a, p) => a + rss(p.pid), 0) / DETACHED;
    const nodeLeft = cdkIds.flatMap((id) => processesWith(id).filter((p) => p.argv0.endsWith('node')));

    const row = (label, c, d) => {
      const ratio = median(d) / median(c);
      return [
        label,
        `  cdk-docker runtime run   ${ms(median(c))}   (min ${ms(Math.min(...c))}, max ${ms(Math.max(...c))})`,
        `  docker run               ${ms(median(d))}   (min ${ms(Math.min(...d))}, max ${ms(Math.max(...d))})`,
        `  ratio                    ${ratio.toFixed(2)}× faster   (target ≥ ${TARGET}×: ${ratio >= TARGET ? 'met' : 'MISSED'})`,
        '',
      ];
    };
    const lines = [
      `bench/run — ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, Docker ${dockerd.version} (bridge + iptables, as installed), runc ${execFileSync('runc', ['--version'], { encoding: 'utf8' }).split('\n')[0].split(' ').pop()}`,
      '',
      ...row(`run --rm IMAGE true, default network (median of ${RUNS})`, fg.cdk, fg.docker),
      ...row(`run --rm --network none IMAGE true (median of ${RUNS})`, fgNone.cdk, fgNone.docker),
      ...row(`run -d -p PORT:80 httpd until it answers on the host, default network (median of ${RUNS})`, netRuns.cdk, netRuns.docker),
      `${DETACHED} × run -d --network none IMAGE sleep, in a row`,
      `  cdk-docker runtime run   ${ms(bg.cdk)}   (${ms(bg.cdk / DETACHED)} each)`,
      `  docker run               ${ms(bg.docker)}   (${ms(bg.docker / DETACHED)} each)`,
      `  ratio                    ${(bg.docker / bg.cdk).toFixed(2)}× faster`,
      '',
      `resident memory per running container (${DETACHED} running)`,
      `  cdk-docker (conmon)      ${mib(perCdk)}   (${cdkMonitors.length} monitors; Node processes left running: ${nodeLeft.length})`,
      `  docker (containerd-shim) ${mib(perDocker)}   (${dockerShims.length} shims; plus dockerd and containerd themselves)`,
      '',
      `exec trace of one cdk-docker runtime run --rm IMAGE true (default network): ${trace.total} programs (${trace.counts.map(([p, c]) => `${p} ${c}`).join(', ')})`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (nodeLeft.length) process.exitCode = 1;
  } finally {
    if (cdkIds.length) {
      try {
        cdk(['rm', '-f', ...cdkIds]);
      } catch (e) {
        process.stderr.write(`cleanup: ${e.message}\n`);
      }
    }
    if (dockerIds.length) dockerd.docker(['rm', '-f', ...dockerIds]);
    await dockerd.stop();
    // Let the monitors' exit commands finish before the state goes.
    const deadline = Date.now() + 15_000;
    while (processesWith(work).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const m of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m && m.startsWith(work)).reverse()) {
      execFileSync('umount', ['-l', m]);
    }
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${e.stack || e}\n`);
    process.exit(1);
  });
}
