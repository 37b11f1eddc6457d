#!/usr/bin/env node
// bench/apply: the same stack of 1 / 10 / 30 containers on one user network, applied by
// cdk-docker on the built-in runtime, by cdk-docker on a Docker Engine (`--engine docker`) and
// brought up by docker-compose as a docker-compose.yml — the last two on the same private
// dockerd — same run, same image (the offline archive examples/base/busybox.tar, `docker load`ed
// on Docker's side). For each size, RUNS times (the three taking turns):
//   - cold `cdk-docker apply --auto-approve`   vs `docker-compose up -d`
//   - no-op `apply` (nothing changed)          vs no-op `up -d`
//   - `cdk-docker destroy --auto-approve`      vs `docker-compose down`
// and the medians, their ratios against docker-compose, the targets (issue 6, built-in engine: at
// least 4× faster on cold apply and on no-op; issue 14, Docker engine, same dockerd as compose:
// at least 2× on cold apply, 3× on no-op) and cdk-docker's peak memory: the max RSS of the apply
// process (GNU time %M; it also covers the synth child it waits for, npx and tsx included).
//
// The app is run the way users run it: the main.ts and the `"app": "npx tsx main.ts"` that
// `cdk-docker init` writes (templates/typescript-app), with cdk-docker and tsx linked into the
// app's node_modules as `npm link` would (no download). So cdk-docker's times include starting
// npx and tsx and compiling main.ts on every command; compose only parses YAML.
//
// Fairness: each container runs `sleep` with stop signal SIGKILL on every side, so neither
// `destroy` nor `down` waits out a stop timeout (sleep as PID 1 ignores SIGTERM). Every side
// creates and uses one user bridge network (`net`). The private dockerd (own data-root,
// exec-root, socket, pidfile) runs as installed — iptables NAT and filter rules, userland proxy —
// on a default bridge of its own (cdkbench0, 10.198.0.1/24, user networks from 10.199.0.0/16);
// bench/lib/services.js stops it by its pid and takes out what it added to iptables and the
// bridge. DOCKER_NETWORKING=0 runs it with --bridge=none --iptables=false instead (Docker then
// does no iptables work while netavark does, in Docker's favour against the built-in engine).
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startDockerd, median } = require('../lib/services');

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'bin', 'cdk-docker');
const ARCHIVE = path.join(ROOT, 'examples', 'base', 'busybox.tar');
const TEMPLATE = path.join(ROOT, 'templates', 'typescript-app');
const RUNS = Number(process.env.RUNS || 3);
const SIZES = (process.env.SIZES || '1,10,30').split(',').map(Number);
/** The targets against docker-compose: [cold, no-op], per engine. */
const TARGETS = { builtin: [4, 4], docker: [2, 3] };

/** The app as `cdk-docker init` makes it: main.ts, cdk-docker.json and package.json from the template, the packages linked. */
function cdkApp(dir, n) {
  const lines = [
    "import { App, Container, Image, Network, Stack } from 'cdk-docker';",
    '',
    'const app = new App();',
    `const stack = new Stack(app, 'cdk${n}');`,
    `const img = new Image(stack, 'busybox', { archive: ${JSON.stringify(ARCHIVE)}, tag: 'busybox:examples' });`,
    "const net = new Network(stack, 'net');",
    `for (let i = 1; i <= ${n}; i++) new Container(stack, \`svc\${i}\`, { image: img, command: ['sleep', '100000'], networks: [net], stopSignal: 'SIGKILL' });`,
    '',
    'app.synth();',
  ];
  fs.mkdirSync(path.join(dir, 'node_modules', '.bin'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'main.ts'), `${lines.join('\n')}\n`);
  fs.copyFileSync(path.join(TEMPLATE, 'cdk-docker.json'), path.join(dir, 'cdk-docker.json'));
  fs.copyFileSync(path.join(TEMPLATE, 'tsconfig.json'), path.join(dir, 'tsconfig.json'));
  const pkg = fs.readFileSync(path.join(TEMPLATE, 'package.json.tmpl'), 'utf8').replace(/\{\{name\}\}/g, `cdk${n}`).replace(/\{\{cdkDockerSpec\}\}/g, `file:${ROOT}`);
  fs.writeFileSync(path.join(dir, 'package.json'), pkg);
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'cdk-docker'));
  fs.symlinkSync(path.join(ROOT, 'node_modules', 'tsx'), path.join(dir, 'node_modules', 'tsx'));
  fs.symlinkSync(fs.realpathSync(path.join(ROOT, 'node_modules', '.bin', 'tsx')), path.join(dir, 'node_modules', '.bin', 'tsx'));
  if (JSON.parse(fs.readFileSync(path.join(dir, 'cdk-docker.json'), 'utf8')).app !== 'npx tsx main.ts') throw new Error('templates/typescript-app/cdk-docker.json no longer runs `npx tsx main.ts`: update this bench');
}

function composeFile(dir, n) {
  const services = [];
  for (let i = 1; i <= n; i++) services.push(`  svc${i}:\n    image: busybox:examples\n    command: [sleep, '100000']\n    stop_signal: SIGKILL\n    networks: [net]\n`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'docker-compose.yml'), `version: '2.4'\nservices:\n${services.join('')}networks:\n  net:\n    driver: bridge\n`);
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
  fs.writeFileSync(path.join(root, 'config.json'), JSON.stringify({ bip: '10.196.0.1/24', 'default-address-pools': [{ base: '10.197.0.0/16', size: 24 }] }));
  const dockerd = await startDockerd({ networking: process.env.DOCKER_NETWORKING !== '0', bridge: { name: 'cdkbench0', address: '10.198.0.1/24', pool: '10.199.0.0/16' } });
  const base = { ...process.env, NO_COLOR: '1' };
  delete base.CDK_DOCKER_ENGINE;
  const envs = {
    builtin: { ...base, CDK_DOCKER_ROOT: root, CDK_DOCKER_RUNROOT: path.join(work, 'run') },
    docker: { ...base, DOCKER_HOST: dockerd.host, DOCKER_CONFIG: path.join(work, 'docker-config') },
  };
  const composeEnv = { ...process.env, DOCKER_HOST: dockerd.host, DOCKER_CONFIG: path.join(work, 'docker-config'), COMPOSE_INTERACTIVE_NO_CLI: '1' };
  const rows = [];
  try {
    dockerd.docker(['load', '-i', ARCHIVE]);
    const composeVersion = execFileSync('docker-compose', ['version', '--short'], { encoding: 'utf8' }).trim();
    for (const n of SIZES) {
      const cdkDir = path.join(work, `cdk-${n}`);
      const composeDir = path.join(work, `compose-${n}`);
      cdkApp(cdkDir, n);
      composeFile(composeDir, n);
      const cdk = (engine, args) => measure(CLI, [...args, '--engine', engine], { cwd: cdkDir, env: envs[engine] });
      const compose = (args) => measure('docker-compose', ['-p', `bench${n}`, ...args], { cwd: composeDir, env: composeEnv });
      const m = { composeCold: [], composeNoop: [], composeDown: [] };
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
          m[`${engine}Destroy`].push(cdk(engine, ['destroy', '--auto-approve']).ms);
        }
        m.composeCold.push(compose(['up', '-d']).ms);
        m.composeNoop.push(compose(['up', '-d']).ms);
        m.composeDown.push(compose(['down']).ms);
      }
      rows.push({ n, m });
    }
    const w = [11, 9, 13, 13, 12, 22];
    const lines = [
      `bench/apply — ${os.cpus().length} CPUs; cdk-docker on the built-in runtime, cdk-docker --engine docker and docker-compose ${composeVersion}, both on one private Docker ${dockerd.version} (${dockerd.networking ? 'bridge + iptables, as installed' : 'no iptables'}); app: npx tsx main.ts; median of ${RUNS} runs`,
      '',
      `${pad('containers', w[0])}${pad('op', w[1])}${pad('cdk builtin', w[2])}${pad('cdk docker', w[3])}${pad('compose', w[4])}${pad(`builtin× (≥ ${TARGETS.builtin[0]}×)`, w[5])}docker× (≥ ${TARGETS.docker[0]}× cold, ${TARGETS.docker[1]}× no-op)`,
    ];
    const missed = { builtin: false, docker: false };
    for (const { n, m } of rows) {
      for (const [op, key, compose, target] of [
        ['cold', 'Cold', m.composeCold, 0],
        ['no-op', 'Noop', m.composeNoop, 1],
        ['destroy', 'Destroy', m.composeDown, undefined],
      ]) {
        const cells = ['builtin', 'docker'].map((engine) => {
          const ratio = median(compose) / median(m[`${engine}${key}`]);
          if (target === undefined) return `${ratio.toFixed(2)}×`;
          const goal = TARGETS[engine][target];
          if (ratio < goal) missed[engine] = true;
          return `${ratio.toFixed(2)}× ${ratio >= goal ? 'met' : 'MISSED'}`;
        });
        lines.push(`${pad(n, w[0])}${pad(op, w[1])}${pad(fmt(median(m[`builtin${key}`])), w[2])}${pad(fmt(median(m[`docker${key}`])), w[3])}${pad(fmt(median(compose)), w[4])}${pad(cells[0], w[5])}${cells[1]}`);
      }
      lines.push(`${pad(n, w[0])}${pad('peak mem', w[1])}${pad(`${(Math.max(...m.builtinRss) / 1024).toFixed(1)} MiB`, w[2])}${pad(`${(Math.max(...m.dockerRss) / 1024).toFixed(1)} MiB`, w[3])}(max RSS of cdk-docker apply, app included)`);
    }
    lines.push(
      '',
      `built-in engine (≥ ${TARGETS.builtin[0]}× faster than compose on cold apply and no-op): ${missed.builtin ? 'MISSED for some sizes' : 'met'}`,
      `Docker engine, same dockerd as compose (≥ ${TARGETS.docker[0]}× on cold apply, ≥ ${TARGETS.docker[1]}× on no-op): ${missed.docker ? 'MISSED for some sizes' : 'met'}`,
    );
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    for (const n of SIZES) {
      for (const engine of ['builtin', 'docker']) {
        spawnSync(CLI, ['destroy', '--auto-approve', '--engine', engine], { cwd: path.join(work, `cdk-${n}`), env: envs[engine], stdio: 'ignore' });
      }
      spawnSync('docker-compose', ['-p', `bench${n}`, 'down'], { cwd: path.join(work, `compose-${n}`), env: composeEnv, stdio: 'ignore' });
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

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${e.stack || e}\n`);
    process.exit(1);
  });
}
