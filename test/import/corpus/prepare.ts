/**
 * Makes the import corpus from public compose files (run once, by hand; its output is committed):
 *   npx tsx test/import/corpus/prepare.ts <git dir of docker/awesome-compose> <git dir of docker/compose>
 * Each file is copied with its comments and changed only so that it runs here, offline and beside
 * other tests: every `image:` of a service without `build` becomes the local busybox image, build
 * contexts become small local ones (FROM that image, with the stages `target:` names), fixed host
 * ports move into this suite's range 19300-19399, fixed names (`container_name`, network and volume
 * `name:`) get the prefix `cdkim-`, host paths outside the project become local ones, and files the
 * project refers to (env files, secrets, bind sources) are created when the repository has none.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMap, isPair, isScalar, isSeq, parseDocument, Scalar, YAMLMap, YAMLSeq } from 'yaml';

export const CORPUS_IMAGE = 'cdkim-busybox:1';
const OUT = __dirname;
let nextPort = 19300;

interface Source {
  readonly repo: string;
  readonly gitDir: string;
  readonly path: string;
  readonly slug: string;
  readonly licence: string;
}

function git(gitDir: string, args: string[]): string {
  return execFileSync('git', ['--git-dir', gitDir, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
}

function main(): void {
  const [awesome, compose] = process.argv.slice(2);
  const sources: Source[] = [];
  for (const p of git(awesome, ['ls-tree', '-r', '--name-only', 'HEAD']).split('\n').filter((f) => /^[^/]+\/compose\.ya?ml$/.test(f))) {
    sources.push({ repo: 'docker/awesome-compose', gitDir: awesome, path: p, slug: `ac-${p.split('/')[0].toLowerCase()}`, licence: 'CC0-1.0' });
  }
  const fixtures = [
    'attach-restart/compose.yaml', 'cascade/compose.yaml', 'config_hash/compose.yaml', 'dotenv/development/compose.yaml', 'network-test/compose.yaml',
    'ps-test/compose.yaml', 'restart-test/compose-depends-on.yaml', 'sentences/compose.yaml', 'simple-composefile/compose.yaml', 'start-stop/compose.yaml',
    'volume-test/compose.yaml', 'wait/compose.yaml', 'ups-deps-stop/compose.yaml', 'network-recreate/compose.yaml', 'build-test/compose.yaml', 'logs-test/compose.yaml',
  ];
  for (const f of fixtures) {
    sources.push({ repo: 'docker/compose', gitDir: compose, path: `pkg/e2e/fixtures/${f}`, slug: `dc-${f.replace(/\/compose\.yaml$/, '').replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`, licence: 'Apache-2.0' });
  }
  const origins: string[] = [
    '# Origins of the import corpus',
    '',
    'Each directory holds one compose file from a public project, prepared by `prepare.ts` (see its',
    'header for what it changes: images, build contexts, host ports, fixed names, host paths).',
    '',
    '| directory | repository | path | commit | licence |',
    '|---|---|---|---|---|',
  ];
  for (const s of sources) {
    const commit = git(s.gitDir, ['rev-parse', 'HEAD']).trim();
    const text = git(s.gitDir, ['show', `HEAD:${s.path}`]);
    const dir = path.join(OUT, s.slug);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    // Small companion files of the same directory (env files, configs), as the project has them.
    const srcDir = path.dirname(s.path);
    for (const line of git(s.gitDir, ['ls-tree', '-r', '-l', 'HEAD', `${srcDir}/`]).split('\n').filter(Boolean)) {
      const [meta, file] = line.split('\t');
      const size = Number(meta.split(/\s+/)[3]);
      const relName = file.slice(srcDir.length + 1);
      if (/\.(env|txt|cnf)$|(^|\/)\.env$|password/.test(relName) && !/(^|\/)(requirements|package)/.test(relName) && size < 20_000 && !relName.includes('node_modules')) {
        fs.mkdirSync(path.dirname(path.join(dir, relName)), { recursive: true });
        fs.writeFileSync(path.join(dir, relName), git(s.gitDir, ['show', `HEAD:${file}`]));
      }
    }
    fs.writeFileSync(path.join(dir, 'compose.yaml'), prepare(text, dir));
    origins.push(`| ${s.slug} | ${s.repo} | ${s.path} | ${commit.slice(0, 12)} | ${s.licence} |`);
  }
  origins.push('', 'docker/awesome-compose is CC0-1.0 (public domain dedication); docker/compose is Apache License 2.0.', '');
  fs.writeFileSync(path.join(OUT, 'ORIGINS.md'), origins.join('\n'));
}

function prepare(text: string, dir: string): string {
  const doc = parseDocument(text, { merge: true });
  const root = doc.contents as YAMLMap;
  const get = (m: unknown, k: string): unknown => (isMap(m) ? (m as YAMLMap).get(k, true) : undefined);
  const services = get(root, 'services') as YAMLMap | undefined;
  const touch = (rel: string, kind: 'file' | 'dir', content = '') => {
    const p = path.resolve(dir, rel);
    if (!p.startsWith(dir + path.sep) || fs.existsSync(p)) return;
    if (kind === 'dir') fs.mkdirSync(p, { recursive: true });
    else {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, content === '' && p.endsWith('.json') ? '{}\n' : content);
    }
  };
  const localPath = (p: string): string => (p.startsWith('/') || p.startsWith('~') ? `./host/${path.basename(p) || 'root'}` : p);
  for (const section of ['networks', 'volumes']) {
    const m = get(root, section);
    if (!isMap(m)) continue;
    for (const item of (m as YAMLMap).items) {
      const v = item.value;
      if (isMap(v) && typeof (v as YAMLMap).get('name') === 'string') (v as YAMLMap).set('name', `cdkim-${(v as YAMLMap).get('name')}`);
      if (isMap(v)) {
        const ipam = get(v, 'ipam');
        const configs = get(ipam, 'config');
        if (isSeq(configs)) {
          for (const c of (configs as YAMLSeq).items) {
            for (const k of ['subnet', 'gateway', 'ip_range']) {
              const val = get(c, k);
              if (isScalar(val)) (val as Scalar).value = String((val as Scalar).value).replace(/^\d+\.\d+\.\d+/, '10.173.1');
            }
          }
        }
        const opts = get(v, 'driver_opts');
        if (isMap(opts) && (opts as YAMLMap).get('device') !== undefined) {
          (opts as YAMLMap).set('device', path.join(dir, 'host', 'device'));
          touch('host/device', 'dir');
        }
      }
    }
  }
  for (const section of ['secrets', 'configs']) {
    const m = get(root, section);
    if (!isMap(m)) continue;
    for (const item of (m as YAMLMap).items) {
      const file = get(item.value, 'file');
      if (isScalar(file)) {
        (file as Scalar).value = localPath(String((file as Scalar).value));
        touch(String((file as Scalar).value), 'file', 'not-a-real-secret\n');
      }
    }
  }
  for (const item of services?.items ?? []) {
    if (!isPair(item) || !isMap(item.value)) continue;
    const svc = item.value as YAMLMap;
    const build = svc.get('build', true);
    if (build === undefined) svc.set('image', CORPUS_IMAGE);
    else {
      const ctx = isScalar(build) ? String((build as Scalar).value) : String((build as YAMLMap).get('context') ?? '.');
      const dockerfile = isMap(build) ? String((build as YAMLMap).get('dockerfile') ?? 'Dockerfile') : 'Dockerfile';
      const target = isMap(build) ? (build as YAMLMap).get('target') : undefined;
      const local = /^[a-z]+:\/\//.test(ctx) ? './ctx' : ctx;
      if (isScalar(build)) (build as Scalar).value = local;
      else (build as YAMLMap).set('context', local);
      // One step of its own per project and context: built once by docker-compose, then found in
      // the cache by cdk-docker (the same image), never raced by a build of another project.
      const stages = [`FROM ${CORPUS_IMAGE}${target ? ` AS ${String(target)}` : ''}`, `RUN echo ${path.basename(dir)}/${local} > /built`];
      touch(path.join(local, dockerfile), 'file', `${stages.join('\n')}\n`);
    }
    const nets = svc.get('networks', true);
    if (isMap(nets)) {
      for (const n of (nets as YAMLMap).items) {
        const ip = get(n.value, 'ipv4_address');
        if (isScalar(ip)) (ip as Scalar).value = String((ip as Scalar).value).replace(/^\d+\.\d+\.\d+/, '10.173.1');
      }
    }
    const name = svc.get('container_name');
    if (typeof name === 'string') svc.set('container_name', `cdkim-${name}`);
    const ports = svc.get('ports', true);
    if (isSeq(ports)) {
      (ports as YAMLSeq).items = (ports as YAMLSeq).items.map((p) => {
        if (isScalar(p)) {
          const s = String((p as Scalar).value);
          const m = /^(?:(.*):)?(\d+(?:-\d+)?):(\d+(?:-\d+)?)(\/\w+)?$/.exec(s);
          if (!m) return p;
          const width = m[2].includes('-') ? Number(m[2].split('-')[1]) - Number(m[2].split('-')[0]) : 0;
          const host = width ? `${nextPort}-${nextPort + width}` : String(nextPort);
          nextPort += width + 1;
          return doc.createNode(`${m[1] ? `${m[1]}:` : ''}${host}:${m[3]}${m[4] ?? ''}`);
        }
        if (isMap(p) && (p as YAMLMap).get('published') !== undefined) (p as YAMLMap).set('published', nextPort++);
        return p;
      });
    }
    const envFile = svc.get('env_file', true);
    for (const e of isSeq(envFile) ? (envFile as YAMLSeq).items : envFile !== undefined ? [envFile] : []) {
      const p = isScalar(e) ? e : get(e, 'path');
      if (isScalar(p)) {
        (p as Scalar).value = localPath(String((p as Scalar).value));
        if (!(isMap(e) && (e as YAMLMap).get('required') === false)) touch(String((p as Scalar).value), 'file', 'FROM_ENV_FILE=1\n');
      }
    }
    const volumes = svc.get('volumes', true);
    if (isSeq(volumes)) {
      for (const v of (volumes as YAMLSeq).items) {
        if (isScalar(v)) {
          const parts = String((v as Scalar).value).split(':');
          if (parts.length >= 2 && /^[./~]/.test(parts[0])) {
            parts[0] = localPath(parts[0]);
            (v as Scalar).value = parts.join(':');
            touch(parts[0], /\.[a-z]{2,5}$/.test(parts[0]) ? 'file' : 'dir');
          }
        } else if (isMap(v) && (v as YAMLMap).get('type') === 'bind') {
          const src = localPath(String((v as YAMLMap).get('source')));
          (v as YAMLMap).set('source', src);
          touch(src, /\.[a-z]{2,5}$/.test(src) ? 'file' : 'dir');
        }
      }
    }
  }
  return doc.toString({ lineWidth: 0 });
}

if (require.main === module) main();
