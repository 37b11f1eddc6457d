#!/usr/bin/env node
// bench/apply: the same stack of 1 / 10 / 30 containers on one user network, applied by
// cdk-docker on the built-in runtime, by cdk-docker on a Docker Engine (`--engine docker`) and
// brought up by docker-compose as a docker-compose.yml — the last two on the same private
// dockerd — same run, same image (the offline archive examples/base/busybox.tar, `docker load`ed
// on Docker's side). For each size, RUNS times (the three taking turns):
//   - cold `cdk-docker apply --auto-approve`   vs `docker-compose up -d`
//   - no-op `apply` (nothing changed)          vs no-op `up -d`
//   - `cdk-docker destroy --auto-approve`      vs `docker-compose down`
// and the medians, their ratios against docker-compose and the targets: issue 17, built-in engine:
// at least 3× faster on cold apply, 4× on no-op, 2× on destroy; issue 14, Docker engine, same
// dockerd as compose: at least 2× on cold apply, 3× on no-op. Peak memory: the max RSS of the
// apply process (GNU time %M; the app runs in a thread of that process), for each size and for
// MEM_SIZES (default 300) containers on the built-in engine (one cold apply, no-op and destroy).
//
// The app is run the way users run it: the project is made by `cdk-docker init --no-install`
// (its cdk-docker.json, `"app": "npx tsx main.ts"`, package.json and tsconfig.json), with
// cdk-docker and tsx linked into its node_modules as `npm install` of a `file:` dependency would
// (no download), and main.ts replaced by the stack. So cdk-docker's times include running the app
// on every command; compose only parses YAML.
//
// Where the time goes is printed after the table: an exec trace (strace -f) of one no-op apply of
// the largest size per engine, and a CPU profile of the CLI's process (node --cpu-prof), self time
// per file.
//
// Fairness: each container runs `sleep` with stop signal SIGKILL on every side, so neither
// `destroy` nor `down` waits out a stop timeout (sleep as PID 1 ignores SIGTERM). Every side
// creates and uses one user bridge network (`net`). The private dockerd (own data-root,
// exec-root, socket, pidfile) runs as installed — iptables NAT and filter rules, userland proxy —
// on a default bridge of its own (cdkbench0, 10.183.0.1/24, user networks from 10.184.0.0/16);
// bench/lib/services.js stops it by its pid and takes out what it added to iptables and the
// bridge. The built-in engine's state root uses 10.181.0.0/24 and 10.182.0.0/16.
// The engine's floor: the same work sent straight to the same dockerd from this process, with
// no client program of any kind to start — network create, then every container's create and
// start all at once (cold), a list and every container's inspect (no-op), every container's
// forced removal and the network's (destroy). compose ÷ floor is the most any client could be
// faster than compose on this daemon: the bound for issue 14's Docker targets.
// DOCKER_NETWORKING=0 runs dockerd with --bridge=none --iptables=false instead (Docker then
// does no iptables work while netavark does, in Docker's favour against the built-in engine).
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { startDockerd, median, execTrace, cpuProfileSummary } = require('../lib/services');

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'bin', 'cdk-docker');
const ARCHIVE = path.join(ROOT, 'examples', 'base', 'busybox.tar');
const TEMPLATE = path.join(ROOT, 'templates', 'typescript-app');
const RUNS = Number(process.env.RUNS || 3);
const SIZES = (process.env.SIZES || '1,10,30').split(',').map(Number);
const MEM_SIZES = (process.env.MEM_SIZES ?? '300').split(',').filter(Boolean).map(Number);
/** The targets against docker-compose: [cold, no-op, destroy], per engine (undefined: none set). */
const TARGETS = { builtin: [3, 4, 2], docker: [2, 3, undefined] };

/** The project `cdk-docker init` makes, its packages linked, its main.ts the stack of `n` containers. */
function cdkApp(dir, n, env) {
  fs.mkdirSync(dir, { recursive: true });
  const init = spawnSync(CLI, ['init', '--no-install', '--name', `cdk${n}`], { cwd: dir, env, encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`cdk-docker init failed: ${init.stderr}`);
  const lines = [
    "import { App, Container, Image, Network, Stack } from 'cdk-docker';",
    '',
    'const app = new App();',
    `const stack = new Stack(app, 'cdk${n}');`,
    `const img = new Image(stack, 'busybox', { archive: ${JSON.stringify(ARCHIVE)}, tag: 'busybox:examples' });`,
    // Past 250 containers a /24 is too small: a /22 of this bench's own addresses.
    `const net = new Network(stack, 'net'${n > 250 ? ", { subnet: '10.182.128.0/22' }" : ''});`,
    `for (let i = 1; i <= ${n}; i++) new Container(stack, \`svc\${i}\`, { image: img, command: ['sleep', '100000'], networks: [net], stopSignal: 'SIGKILL' });`,
    '',
    'app.synth();',
  ];
  fs.writeFileSync(path.join(dir, 'main.ts'), `${lines.join('\n')}\n`);
  fs.mkdirSync(path.join(dir, 'node_modules', '.bin'), { recursive: true });
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'cdk-docker'));
  fs.symlinkSync(path.join(ROOT, 'node_modules', 'tsx'), path.join(dir, 'node_modules', 'tsx'));
  fs.symlinkSync(fs.realpathSync(path.join(ROOT, 'node_modules', '.bin', 'tsx')), path.join(dir, 'node_modules', '.bin', 'tsx'));
  const app = JSON.parse(fs.readFileSync(path.join(dir, 'cdk-docker.json'), 'utf8')).app;
  if (app !== 'npx tsx main.ts') throw new Error(`cdk-docker init no longer writes "app": "npx tsx main.ts" (it writes ${JSON.stringify(app)}): update this bench`);
  return app;
}

function composeFile(dir, n) {
  const services = [];
  for (let i = 1; i <= n; i++) services.push(`  svc${i}:\n    image: busybox:examples\n    command: [sleep, '100000']\n    stop_signal: SIGKILL\n    networks: [net]\n`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'docker-compose.yml'), `version: '2.4'\nservices:\n${services.join('')}networks:\n  net:\n    driver: bridge\n`);
}

/** One Engine API call over the unix socket of `host`; resolves the parsed JSON answer (or undefined). */
function api(host, method, urlPath, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request({ socketPath: host.replace(/^unix:\/\//, ''), method, path: `/v1.41${urlPath}`, headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode >= 300) reject(new Error(`${method} ${urlPath}: ${res.statusCode} ${text}`));
        else resolve(text ? JSON.parse(text) : undefined);
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** The engine's floor for `n` containers (see the header): wall times of cold, no-op and destroy, in ms. */
async function engineFloor(host, n) {
  const label = { 'bench.floor': String(n) };
  const time = async (work) => {
    const t = process.hrtime.bigint();
    await work();
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  const names = Array.from({ length: n }, (_, i) => `floor${n}-svc${i + 1}`);
  const cold = await time(async () => {
    await api(host, 'POST', '/networks/create', { Name: `floor${n}`, Driver: 'bridge', Labels: label, CheckDuplicate: true });
    await Promise.all(names.map(async (name) => {
      const { Id } = await api(host, 'POST', `/containers/create?name=${name}`, {
        Image: 'busybox:examples', Cmd: ['sleep', '100000'], StopSignal: 'SIGKILL', Labels: label,
        HostConfig: { NetworkMode: `floor${n}` }, NetworkingConfig: { EndpointsConfig: { [`floor${n}`]: { Aliases: [name] } } },
      });
      await api(host, 'POST', `/containers/${Id}/start`);
    }));
  });
  const noop = await time(async () => {
    const filters = encodeURIComponent(JSON.stringify({ label: [`bench.floor=${n}`] }));
    const rows = await api(host, 'GET', `/containers/json?all=1&filters=${filters}`);
    if (rows.length !== n) throw new Error(`the floor's list found ${rows.length} containers, not ${n}`);
    await Promise.all(rows.map((r) => api(host, 'GET', `/containers/${r.Id}/json`)));
  });
  const destroy = await time(async () => {
    await Promise.all(names.map((name) => api(host, 'DELETE', `/containers/${name}?force=1&v=1`)));
    await api(host, 'DELETE', `/networks/floor${n}`);
  });
  return { cold, noop, destroy };
}

/** Runs a command; returns its wall time (ms) and max RSS (KiB, from GNU time). */
function measure(cmd, args, opts) {
  const rssFile = path.join(opts.cwd, '.maxrss');
  const t = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', rssFile, cmd, ...args], { ...opts, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return { ms, rssKiB: Number(fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop()), stdout: r.stdout };
}

const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const pad = (s, n) => String(s).padEnd(n);

async function main() {
  execFileSync('bash', [path.join(ROOT, 'examples', 'base', 'make-busybox-archive.sh')], { stdio: 'inherit' });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-docker-bench-apply-'));
  const root = path.join(work, 'root');
  fs.mkdirSync(root, { recursive: true });
  // Addresses of its own, apart from any other cdk-docker state root on this machine.
  fs.writeFileSync(path.join(root, 'config.json'), JSON.stringify({ bip: '10.181.0.1/24', 'default-address-pools': [{ base: '10.182.0.0/16', size: 24 }] }));
  const dockerd = await startDockerd({ networking: process.env.DOCKER_NETWORKING !== '0', bridge: { name: 'cdkbench0', address: '10.183.0.1/24', pool: '10.184.0.0/16' } });
  const base = { ...process.env, NO_COLOR: '1' };
  delete base.CDK_DOCKER_ENGINE;
  delete base.NODE_OPTIONS;
  const envs = {
    builtin: { ...base, CDK_DOCKER_ROOT: root, CDK_DOCKER_RUNROOT: path.join(work, 'run') },
    docker: { ...base, DOCKER_HOST: dockerd.host, DOCKER_CONFIG: path.join(work, 'docker-config') },
  };
  const composeEnv = { ...process.env, DOCKER_HOST: dockerd.host, DOCKER_CONFIG: path.join(work, 'docker-config'), COMPOSE_INTERACTIVE_NO_CLI: '1' };
  const rows = [];
  const memRows = [];
  const made = [];
  let appCommand = '';
  let where = [];
  try {
    dockerd.docker(['load', '-i', ARCHIVE]);
    const composeVersion = execFileSync('docker-compose', ['version', '--short'], { encoding: 'utf8' }).trim();
    const cdkIn = (dir) => (engine, args, extraEnv = {}) => measure(CLI, [...args, '--engine', engine], { cwd: dir, env: { ...envs[engine], ...extraEnv } });
    for (const n of SIZES) {
      const cdkDir = path.join(work, `cdk-${n}`);
      const composeDir = path.join(work, `compose-${n}`);
      appCommand = cdkApp(cdkDir, n, envs.builtin);
      made.push(cdkDir);
      composeFile(composeDir, n);
      const cdk = cdkIn(cdkDir);
      const compose = (args) => measure('docker-compose', ['-p', `bench${n}`, ...args], { cwd: composeDir, env: composeEnv });
      const m = { composeCold: [], composeNoop: [], composeDown: [], floorCold: [], floorNoop: [], floorDestroy: [] };
      for (const engine of ['builtin', 'docker']) Object.assign(m, { [`${engine}Cold`]: [], [`${engine}Noop`]: [], [`${engine}Destroy`]: [], [`${engine}Rss`]: [] });
      for (let run = 0; run < RUNS; run++) {
        for (const engine of ['builtin', 'docker']) {
          const cold = cdk(engine, ['apply', '--auto-approve']);
          if ((cold.stdout.match(/: created and started/g) ?? []).length !== n) throw new Error(`the cold apply (${engine}) did not start ${n} containers:\n${cold.stdout}`);
          const noop = cdk(engine, ['apply', '--auto-approve']);
          if (!noop.stdout.includes('No changes')) throw new Error(`the second apply (${engine}) was not a no-op:\n${noop.stdout}`);
          m[`${engine}Cold`].push(cold.ms);
          m[`${engine}Noop`].push(noop.ms);
          m[`${engine}Rss`].push(cold.rssKiB, noop.rssKiB);
          if (run === RUNS - 1 && n === SIZES[SIZES.length - 1]) where.push(...whereTimeGoes(engine, n, cdkDir, { ...envs[engine] }, work));
          m[`${engine}Destroy`].push(cdk(engine, ['destroy', '--auto-approve']).ms);
        }
        m.composeCold.push(compose(['up', '-d']).ms);
        m.composeNoop.push(compose(['up', '-d']).ms);
        m.composeDown.push(compose(['down']).ms);
        const floor = await engineFloor(dockerd.host, n);
        m.floorCold.push(floor.cold);
        m.floorNoop.push(floor.noop);
        m.floorDestroy.push(floor.destroy);
      }
      rows.push({ n, m });
    }
    const w = [11, 9, 13, 13, 12, 12, 24, 24];
    const goalText = (engine, i) => (TARGETS[engine][i] === undefined ? '' : `≥ ${TARGETS[engine][i]}×`);
    const lines = [
      `bench/apply — ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; cdk-docker on the built-in runtime, cdk-docker --engine docker and docker-compose ${composeVersion}, both on one private Docker ${dockerd.version} (${dockerd.networking ? 'bridge + iptables, as installed' : 'no iptables'}); app: ${appCommand} (as cdk-docker init writes it); median of ${RUNS} runs`,
      '',
      `${pad('containers', w[0])}${pad('op', w[1])}${pad('cdk builtin', w[2])}${pad('cdk docker', w[3])}${pad('compose', w[4])}${pad('floor', w[5])}${pad('builtin×', w[6])}${pad('docker×', w[7])}compose÷floor`,
    ];
    const missed = { builtin: false, docker: false };
    for (const { n, m } of rows) {
      for (const [op, key, compose, target, floor] of [
        ['cold', 'Cold', m.composeCold, 0, m.floorCold],
        ['no-op', 'Noop', m.composeNoop, 1, m.floorNoop],
        ['destroy', 'Destroy', m.composeDown, 2, m.floorDestroy],
      ]) {
        const cells = ['builtin', 'docker'].map((engine) => {
          const ratio = median(compose) / median(m[`${engine}${key}`]);
          const goal = TARGETS[engine][target];
          if (goal === undefined) return `${ratio.toFixed(2)}×`;
          if (ratio < goal) missed[engine] = true;
          return `${ratio.toFixed(2)}× ${ratio >= goal ? 'met' : 'MISSED'} (${goalText(engine, target)})`;
        });
        const bound = `${(median(compose) / median(floor)).toFixed(2)}×`;
        lines.push(`${pad(n, w[0])}${pad(op, w[1])}${pad(fmt(median(m[`builtin${key}`])), w[2])}${pad(fmt(median(m[`docker${key}`])), w[3])}${pad(fmt(median(compose)), w[4])}${pad(fmt(median(floor)), w[5])}${pad(cells[0], w[6])}${pad(cells[1], w[7])}${bound}`);
      }
      lines.push(`${pad(n, w[0])}${pad('peak mem', w[1])}${pad(`${(Math.max(...m.builtinRss) / 1024).toFixed(1)} MiB`, w[2])}${pad(`${(Math.max(...m.dockerRss) / 1024).toFixed(1)} MiB`, w[3])}(max RSS of cdk-docker apply, app included)`);
    }
    lines.push(
      '',
      `built-in engine (≥ ${TARGETS.builtin[0]}× faster than compose on cold apply, ${TARGETS.builtin[1]}× on no-op, ${TARGETS.builtin[2]}× on destroy): ${missed.builtin ? 'MISSED for some sizes' : 'met'}`,
      `Docker engine, same dockerd as compose (≥ ${TARGETS.docker[0]}× on cold apply, ≥ ${TARGETS.docker[1]}× on no-op): ${missed.docker ? 'MISSED for some sizes' : 'met'}`,
      '',
      ...where,
    );
    process.stdout.write(`${lines.join('\n')}\n`);
    // Then peak memory at larger sizes, built-in engine only: one cold apply, no-op and destroy each.
    for (const n of MEM_SIZES) {
      const cdkDir = path.join(work, `cdk-${n}`);
      cdkApp(cdkDir, n, envs.builtin);
      made.push(cdkDir);
      const cdk = cdkIn(cdkDir);
      const cold = cdk('builtin', ['apply', '--auto-approve']);
      if ((cold.stdout.match(/: created and started/g) ?? []).length !== n) throw new Error(`the cold apply of ${n} did not start ${n} containers:\n${cold.stdout.slice(-2000)}`);
      const noop = cdk('builtin', ['apply', '--auto-approve']);
      const destroy = cdk('builtin', ['destroy', '--auto-approve']);
      memRows.push({ n, cold, noop, destroy });
    }
    for (const { n, cold, noop, destroy } of memRows) {
      process.stdout.write(`${pad(n, w[0])}${pad('builtin', w[1])}cold ${fmt(cold.ms)}, no-op ${fmt(noop.ms)}, destroy ${fmt(destroy.ms)}; peak mem ${(Math.max(cold.rssKiB, noop.rssKiB) / 1024).toFixed(1)} MiB (max RSS of cdk-docker apply, app included; one run each)\n`);
    }
  } finally {
    for (const dir of made) {
      for (const engine of ['builtin', 'docker']) {
        spawnSync(CLI, ['destroy', '--auto-approve', '--engine', engine], { cwd: dir, env: envs[engine], stdio: 'ignore' });
      }
    }
    for (const n of SIZES) spawnSync('docker-compose', ['-p', `bench${n}`, 'down'], { cwd: path.join(work, `compose-${n}`), env: composeEnv, stdio: 'ignore' });
    // What a failed floor measurement left (dockerd.stop() removes its state in any case).
    for (const n of SIZES) {
      const env = { ...process.env, DOCKER_HOST: dockerd.host };
      const left = spawnSync('docker', ['ps', '-aq', '--filter', `label=bench.floor=${n}`], { env, encoding: 'utf8' }).stdout ?? '';
      for (const id of left.split('\n').filter(Boolean)) spawnSync('docker', ['rm', '-f', '-v', id], { env, stdio: 'ignore' });
      spawnSync('docker', ['network', 'rm', `floor${n}`], { env, stdio: 'ignore' });
    }
    await dockerd.stop();
    // Let the monitors' exit commands finish, then unmount what is left before the state goes.
    await new Promise((r) => setTimeout(r, 1000));
    for (const m of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((x) => x && x.startsWith(work)).reverse()) {
      try {
        execFileSync('umount', ['-l', m]);
      } catch {
        // gone
      }
    }
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** An exec trace and a CPU profile of one no-op apply of `n` containers on `engine` (they are running). */
function whereTimeGoes(engine, n, dir, env, work) {
  const args = ['apply', '--auto-approve', '--engine', engine];
  const trace = execTrace(CLI, args, { cwd: dir, env });
  const profDir = path.join(work, `prof-${engine}-${n}`);
  // The CLI's own process, profiled through CDK_DOCKER_NODE (Node refuses --cpu-prof in NODE_OPTIONS).
  const node = path.join(work, 'node-cpu-prof');
  fs.writeFileSync(node, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} --cpu-prof --cpu-prof-dir=${JSON.stringify(profDir)} "$@"\n`, { mode: 0o755 });
  const r = spawnSync(CLI, args, { cwd: dir, env: { ...env, CDK_DOCKER_NODE: node }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the profiled no-op apply failed: ${r.stderr}`);
  const profile = cpuProfileSummary(profDir);
  return [
    `no-op apply of ${n}, --engine ${engine}: ${trace.total} programs executed (${trace.counts.map(([p, c]) => `${p} ${c}`).join(', ')}); CPU self time of the CLI by file: ${profile.map(([f, ms]) => `${f} ${ms.toFixed(0)} ms`).join(', ')}`,
  ];
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${e.stack || e}\n`);
    process.exit(1);
  });
}
