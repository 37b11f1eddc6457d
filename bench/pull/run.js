#!/usr/bin/env node
// bench/pull: pull of the same multi-layer image from a local docker-registry by
// `cdk-docker runtime pull` and by `docker pull` (a private dockerd), same run, fresh stores
// each time. Medians of RUNS runs and the ratio. Target (issue 3): cdk-docker no slower.
'use strict';
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const tarStream = require('tar-stream');
const { startRegistry, startDockerd, median, timeMs } = require('../lib/services');

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'bin', 'cdk-docker');
const RUNS = Number(process.env.RUNS || 5);
const LAYERS = Number(process.env.LAYERS || 5);
const LAYER_MB = Number(process.env.LAYER_MB || 8);

/** A docker-save archive with LAYERS layers of LAYER_MB each (half random, half text). */
async function makeArchive(file) {
  const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
  const layers = [];
  for (let i = 0; i < LAYERS; i++) {
    const pack = tarStream.pack();
    const chunks = [];
    pack.on('data', (c) => chunks.push(c));
    const done = new Promise((r) => pack.on('end', r));
    const half = (LAYER_MB * 1024 * 1024) / 2;
    pack.entry({ name: `layer${i}/random.bin` }, crypto.randomBytes(half));
    pack.entry({ name: `layer${i}/text.txt` }, Buffer.from(`line ${i} of a compressible file\n`.repeat(Math.ceil(half / 32))).subarray(0, half));
    pack.finalize();
    await done;
    layers.push(Buffer.concat(chunks));
  }
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${sha(l)}`) }, history: layers.map(() => ({ created_by: 'bench' })) }));
  const pack = tarStream.pack();
  const out = fs.createWriteStream(file);
  pack.pipe(out);
  const paths = layers.map((l) => `${sha(l)}/layer.tar`);
  layers.forEach((l, i) => pack.entry({ name: paths[i] }, l));
  pack.entry({ name: `${sha(config)}.json` }, config);
  pack.entry({ name: 'manifest.json' }, JSON.stringify([{ Config: `${sha(config)}.json`, RepoTags: ['bench/pull:1'], Layers: paths }]));
  pack.finalize();
  await new Promise((r) => out.on('close', r));
}

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-docker-bench-pull-'));
  const [registry, dockerd] = await Promise.all([startRegistry(), startDockerd()]);
  try {
    const archive = path.join(work, 'image.tar');
    await makeArchive(archive);
    const ref = `${registry.host}/bench/pull:1`;
    const env = (root) => ({ ...process.env, CDK_DOCKER_ROOT: root, CDK_DOCKER_RUNROOT: path.join(work, 'run') });
    const cdk = (root, args) => execFileSync(CLI, ['runtime', ...args], { env: env(root), stdio: ['ignore', 'ignore', 'pipe'] });
    const seed = path.join(work, 'seed');
    cdk(seed, ['load', '-i', archive, '-q']);
    cdk(seed, ['tag', 'bench/pull:1', ref]);
    cdk(seed, ['push', '-q', ref]);

    const ours = [];
    const theirs = [];
    for (let i = 0; i < RUNS; i++) {
      const root = path.join(work, `run${i}`);
      ours.push(timeMs(() => cdk(root, ['pull', '-q', ref])));
      fs.rmSync(root, { recursive: true, force: true });
      theirs.push(timeMs(() => dockerd.docker(['pull', '-q', ref])));
      dockerd.docker(['rmi', ref]);
    }
    const a = median(ours);
    const b = median(theirs);
    console.log(`bench/pull — ${LAYERS} layers × ${LAYER_MB} MB from docker-registry on ${registry.host}, medians of ${RUNS} runs (fresh store each run)`);
    console.log('tool                          median ms    runs');
    console.log(`cdk-docker runtime pull       ${a.toFixed(0).padStart(9)}    ${ours.map((x) => x.toFixed(0)).join(' ')}`);
    console.log(`docker pull (dockerd ${dockerd.version})  ${b.toFixed(0).padStart(9)}    ${theirs.map((x) => x.toFixed(0)).join(' ')}`);
    console.log(`ratio docker/cdk-docker: ${(b / a).toFixed(2)}× (target ≥ 1.0: ${b / a >= 1 ? 'met' : 'MISSED'})`);
  } finally {
    await Promise.all([registry.stop(), dockerd.stop()]);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) main().catch((e) => { console.error(e); process.exit(1); });
module.exports = { makeArchive };
