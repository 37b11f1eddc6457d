#!/usr/bin/env node
// bench/swarm: a 10-service stack (2 replicas each, one overlay network) converged on a
// three-node swarm by `cdk-docker apply --engine swarm` and by `docker stack deploy` of the
// equivalent compose file, same swarm, same run, same image, the two taking turns RUNS times:
//   - cold: `cdk-docker apply --auto-approve` (it returns once every service has converged)
//       vs `docker stack deploy` followed by polling `docker service ls` until every service
//       has all its replicas running (stack deploy returns as soon as the services exist)
//   - no-op: the same again, nothing changed
//   - destroy: `cdk-docker destroy --auto-approve` vs `docker stack rm` followed by polling
//       until no task container of the stack is left on any node
// and the medians, their ratios (stack deploy ÷ cdk-docker: above 1× cdk-docker is faster) and
// cdk-docker's peak memory (max RSS of the apply, GNU time %M; the synth child, npx and tsx
// included).
//
// The swarm is test/helpers/swarm.ts's (loaded through tsx, the one copy of that code): three
// dockerd 20.10 in network namespaces of their own on one bridge, one manager and two workers,
// started here and torn down with nothing left behind (it checks). The image is the offline
// archive examples/base/busybox.tar, loaded on every node beforehand; the stack deploy runs
// with `--resolve-image never` (no registry to ask, as the nodes have the image); the cdk-docker
// app names the same archive and tag, as users of an offline image would. Every task runs `sleep`
// with stop signal SIGKILL on both sides, so no side waits out a stop timeout. Polling is every
// 100 ms, so the stack-deploy side is measured to within ~0.1 s plus one `docker service ls`.
//
// The app is run the way users run it: the main.ts and `"app": "npx tsx main.ts"` that
// `cdk-docker init` writes (templates/typescript-app), cdk-docker and tsx linked into the app's
// node_modules as `npm link` would.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { median } = require('../lib/services');

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'bin', 'cdk-docker');
const ARCHIVE = path.join(ROOT, 'examples', 'base', 'busybox.tar');
const TEMPLATE = path.join(ROOT, 'templates', 'typescript-app');
const RUNS = Number(process.env.RUNS || 3);
const SERVICES = Number(process.env.SERVICES || 10);
const REPLICAS = Number(process.env.REPLICAS || 2);
const STACK = 'benchswarm';

/** The app as `cdk-docker init` makes it, with SERVICES services of REPLICAS replicas on one network. */
function cdkApp(dir) {
  const lines = [
    "import { App, Container, Image, Network, Stack } from 'cdk-docker';",
    '',
    'const app = new App();',
    `const stack = new Stack(app, '${STACK}');`,
    `const img = new Image(stack, 'busybox', { archive: ${JSON.stringify(ARCHIVE)}, tag: 'busybox:examples' });`,
    "const net = new Network(stack, 'net');",
    `for (let i = 1; i <= ${SERVICES}; i++) new Container(stack, \`svc\${i}\`, { image: img, command: ['sleep', '100000'], networks: [net], stopSignal: 'SIGKILL', replicas: ${REPLICAS} });`,
    '',
    'app.synth();',
  ];
  fs.mkdirSync(path.join(dir, 'node_modules', '.bin'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'main.ts'), `${lines.join('\n')}\n`);
  fs.copyFileSync(path.join(TEMPLATE, 'cdk-docker.json'), path.join(dir, 'cdk-docker.json'));
  fs.copyFileSync(path.join(TEMPLATE, 'tsconfig.json'), path.join(dir, 'tsconfig.json'));
  const pkg = fs.readFileSync(path.join(TEMPLATE, 'package.json.tmpl'), 'utf8').replace(/\{\{name\}\}/g, STACK).replace(/\{\{cdkDockerSpec\}\}/g, `file:${ROOT}`);
  fs.writeFileSync(path.join(dir, 'package.json'), pkg);
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'cdk-docker'));
  fs.symlinkSync(path.join(ROOT, 'node_modules', 'tsx'), path.join(dir, 'node_modules', 'tsx'));
  fs.symlinkSync(fs.realpathSync(path.join(ROOT, 'node_modules', '.bin', 'tsx')), path.join(dir, 'node_modules', '.bin', 'tsx'));
  if (JSON.parse(fs.readFileSync(path.join(dir, 'cdk-docker.json'), 'utf8')).app !== 'npx tsx main.ts') throw new Error('templates/typescript-app/cdk-docker.json no longer runs `npx tsx main.ts`: update this bench');
}

/** The same stack as a compose file for `docker stack deploy`. */
function composeFile(dir) {
  const services = [];
  for (let i = 1; i <= SERVICES; i++) {
    services.push(`  svc${i}:\n    image: busybox:examples\n    command: [sleep, '100000']\n    stop_signal: SIGKILL\n    networks: [net]\n    deploy:\n      replicas: ${REPLICAS}\n`);
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'docker-compose.yml'), `version: '3.8'\nservices:\n${services.join('')}networks:\n  net:\n    driver: overlay\n`);
}

/** Runs a command; returns its wall time (ms), max RSS (KiB, from GNU time) and stdout. */
function measure(cmd, args, opts) {
  const rssFile = path.join(opts.cwd, '.maxrss');
  const t = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', rssFile, cmd, ...args], { ...opts, encoding: 'utf8', timeout: 600_000 });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}\n${r.stdout}\n${r.stderr}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return { ms, rssKiB: Number(fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop()), stdout: r.stdout };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const pad = (s, n) => String(s).padEnd(n);

/** `{{.Name}} {{.Replicas}}` of the services labelled as `label=value`. */
function services(swarm, label, value) {
  return swarm.manager.docker(['service', 'ls', '--filter', `label=${label}=${value}`, '--format', '{{.Name}} {{.Replicas}}']).split('\n').filter(Boolean);
}

/** Whether every one of the SERVICES services has REPLICAS of REPLICAS running. */
function converged(lines) {
  return lines.length === SERVICES && lines.every((l) => l.endsWith(` ${REPLICAS}/${REPLICAS}`));
}

/** Task containers of the stack still on any node (running or not). */
function containersLeft(swarm, label, value) {
  return swarm.nodes.reduce((sum, n) => sum + n.docker(['ps', '-aq', '--filter', `label=${label}=${value}`]).split('\n').filter(Boolean).length, 0);
}

async function poll(check, what, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function main() {
  execFileSync('bash', [path.join(ROOT, 'examples', 'base', 'make-busybox-archive.sh')], { stdio: 'inherit' });
  const { startSwarm } = require('tsx/cjs/api').require('../../test/helpers/swarm.ts', __filename);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-docker-bench-swarm-'));
  const cdkDir = path.join(work, 'cdk');
  const composeDir = path.join(work, 'compose');
  cdkApp(cdkDir);
  composeFile(composeDir);
  const swarm = await startSwarm({ nodes: 3, label: 'cluster-bench' });
  // Interrupted (Ctrl-C, a timeout): the swarm still goes, with everything it made.
  let stopping;
  const stopSwarm = () => (stopping ??= swarm.stop().finally(() => fs.rmSync(work, { recursive: true, force: true })));
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      process.stderr.write(`${signal}: stopping the swarm\n`);
      stopSwarm().then(() => process.exit(130), (e) => { process.stderr.write(`${e.message}\n`); process.exit(1); });
    });
  }
  const step = (what) => process.stderr.write(`${what}\n`);
  const base = { ...process.env, NO_COLOR: '1', DOCKER_HOST: swarm.host, DOCKER_CONFIG: path.join(work, 'docker-config') };
  delete base.CDK_DOCKER_ENGINE;
  const cdk = (args) => measure(CLI, [...args, '--engine', 'swarm'], { cwd: cdkDir, env: base });
  const stack = (args) => measure('/usr/bin/docker', ['stack', ...args], { cwd: composeDir, env: base });
  // What cdk-docker labels its services with, and what docker stack deploy labels its own with.
  const CDK = ['io.cdk-docker.stack', STACK];
  const COMPOSE = ['com.docker.stack.namespace', STACK];
  const m = { cdkCold: [], cdkNoop: [], cdkDestroy: [], cdkRss: [], stackCold: [], stackNoop: [], stackRm: [] };
  try {
    swarm.loadImage(ARCHIVE);
    const version = swarm.manager.docker(['version', '--format', '{{.Server.Version}}']).trim();
    for (let run = 0; run < RUNS; run++) {
      step(`run ${run + 1}/${RUNS}: cdk-docker apply, no-op apply, destroy`);
      const cold = cdk(['apply', '--auto-approve']);
      // apply says it converged: the swarm must agree at once, with no polling.
      if (!converged(services(swarm, ...CDK))) throw new Error(`cdk-docker apply returned before the services converged:\n${services(swarm, ...CDK).join('\n')}\n${cold.stdout}`);
      const noop = cdk(['apply', '--auto-approve']);
      if (!noop.stdout.includes('No changes')) throw new Error(`the second apply was not a no-op:\n${noop.stdout}`);
      m.cdkCold.push(cold.ms);
      m.cdkNoop.push(noop.ms);
      m.cdkRss.push(cold.rssKiB, noop.rssKiB);
      const destroy = cdk(['destroy', '--auto-approve']);
      const t = process.hrtime.bigint();
      await poll(() => containersLeft(swarm, ...CDK) === 0, 'the task containers of the cdk-docker stack to go');
      m.cdkDestroy.push(destroy.ms + Number(process.hrtime.bigint() - t) / 1e6);

      step(`run ${run + 1}/${RUNS}: docker stack deploy twice, docker stack rm`);
      for (const [key, extra] of [['stackCold', 0], ['stackNoop', 1]]) {
        const t0 = process.hrtime.bigint();
        const out = stack(['deploy', '--resolve-image', 'never', '-c', 'docker-compose.yml', STACK]);
        await poll(() => converged(services(swarm, ...COMPOSE)), 'the stack-deployed services to converge');
        m[key].push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (extra && /Creating service/.test(out.stdout)) throw new Error(`the second stack deploy created services:\n${out.stdout}`);
      }
      const t1 = process.hrtime.bigint();
      stack(['rm', STACK]);
      await poll(() => containersLeft(swarm, ...COMPOSE) === 0, 'the task containers of the deployed stack to go');
      m.stackRm.push(Number(process.hrtime.bigint() - t1) / 1e6);
      // The overlay goes last: the next round starts from nothing on both sides.
      await poll(() => !swarm.manager.docker(['network', 'ls', '--format', '{{.Name}}']).split('\n').some((n) => n.includes('net') && n !== 'ingress'), 'the stacks\' networks to go');
    }
    const w = [10, 14, 16, 22];
    const lines = [
      `bench/swarm — ${os.cpus().length} CPUs; a three-node swarm of Docker ${version} on this machine (test/helpers/swarm.ts); ${SERVICES} services × ${REPLICAS} replicas on one overlay; app: npx tsx main.ts; median of ${RUNS} runs`,
      '',
      `${pad('op', w[0])}${pad('cdk-docker', w[1])}${pad('stack deploy', w[2])}${pad('ratio (stack ÷ cdk)', w[3])}`,
    ];
    for (const [op, a, b] of [
      ['cold', m.cdkCold, m.stackCold],
      ['no-op', m.cdkNoop, m.stackNoop],
      ['destroy', m.cdkDestroy, m.stackRm],
    ]) {
      lines.push(`${pad(op, w[0])}${pad(fmt(median(a)), w[1])}${pad(fmt(median(b)), w[2])}${(median(b) / median(a)).toFixed(2)}×`);
    }
    lines.push(
      `${pad('peak mem', w[0])}${pad(`${(Math.max(...m.cdkRss) / 1024).toFixed(1)} MiB`, w[1])}(max RSS of cdk-docker apply, app included)`,
      '',
      'cold/no-op: until every service has all its replicas running (cdk-docker apply waits itself; stack deploy + polling `docker service ls` every 100 ms)',
      'destroy: until no task container of the stack is left on any node (both sides polled)',
    );
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    spawnSync(CLI, ['destroy', '--auto-approve', '--engine', 'swarm'], { cwd: cdkDir, env: base, stdio: 'ignore', timeout: 300_000 });
    spawnSync('/usr/bin/docker', ['stack', 'rm', STACK], { env: base, stdio: 'ignore', timeout: 60_000 });
    await stopSwarm();
  }
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${e.stack || e}\n`);
    process.exit(1);
  });
}
