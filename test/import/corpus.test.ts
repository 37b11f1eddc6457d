import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCompose } from '../../lib/import/compose/load';
import { importCompose, ImportComposeResult } from '../../lib/toolkit/import';
import { CLI, ROOT, tempDir } from '../helpers/cli';
import { TestDockerd, dockerEnv, startDockerd } from '../helpers/dockerd';
import { busyboxRootfsTar } from '../helpers/images';
import { requireCommand } from '../helpers/prereq';
import { CORPUS_IMAGE } from './corpus/prepare';

jest.setTimeout(900_000);

/**
 * The importer on real compose files (test/import/corpus, see ORIGINS.md): each is imported, all
 * generated projects are type-checked by one tsc run, synthesized, applied with `--engine docker`
 * on a private dockerd, and compared with what `docker-compose up` (Debian's 1.29) makes of the
 * same file on the same dockerd: per service, the normalised `docker inspect` (image, cmd,
 * entrypoint, env, ports, mounts, networks and aliases, restart, healthcheck, user, working dir,
 * labels other than the tools' own). Prints a table and the key-coverage figure.
 *
 * The dockerd is this suite's own (bridge cdkim0 10.171.0.1/24, user networks from 10.172.0.0/16,
 * no iptables rules of its own); host ports of the corpus are in 19300-19399.
 */
const BRIDGE = { name: 'cdkim0', address: '10.171.0.1/24', pool: '10.172.0.0/16' };
const CORPUS = path.join(__dirname, 'corpus');
const LANES = 3;

let dockerd: TestDockerd;
let work: string;
let iptablesBefore: string[];

/** The iptables lines that concern this suite's bridge and subnets. */
function ourIptables(): string[] {
  return execFileSync('iptables-save', { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(BRIDGE.name) || /\b10\.17[1-5]\./.test(l))
    .map((l) => l.replace(/\[\d+:\d+\]/g, ''));
}
const dirs = fs.readdirSync(CORPUS).filter((d) => fs.existsSync(path.join(CORPUS, d, 'compose.yaml'))).sort();
const imported = new Map<string, ImportComposeResult>();

const env = (): NodeJS.ProcessEnv => ({ ...process.env, NO_COLOR: '1', ...dockerEnv(dockerd, work), COMPOSE_INTERACTIVE_NO_CLI: '1' });

function run(cmd: string, args: string[], cwd: string, timeoutMs = 180_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, out });
    });
  });
}

const stackOf = (i: number) => `cdkim${i}`;
const projectOf = (i: number) => `cdkimc${i}`;
const genDir = (d: string) => path.join(work, 'gen', d);
const srcDir = (d: string) => path.join(work, 'src', d);

beforeAll(async () => {
  requireCommand('docker-compose', 'docker-compose');
  requireCommand('iptables-save', 'iptables');
  iptablesBefore = ourIptables();
  work = tempDir('cdkim-corpus-');
  dockerd = await startDockerd({ label: 'import-corpus', bridge: BRIDGE });
  // The corpus image: busybox whose entrypoint runs the command if it exists and otherwise waits
  // (so services of other images keep running), with the tools healthchecks call succeeding.
  const tar = busyboxRootfsTar(work, ['sh', 'ls', 'cat', 'echo', 'sleep', 'true', 'false', 'env', 'id', 'top', 'tail', 'ping', 'httpd', 'wget', 'test', '[', 'mkdir', 'printf', 'chmod']);
  const ctx = path.join(work, 'image');
  fs.mkdirSync(ctx);
  fs.copyFileSync(tar, path.join(ctx, 'rootfs.tar'));
  fs.writeFileSync(path.join(ctx, 'shim'), '#!/bin/sh\nif [ $# -gt 0 ] && command -v "$1" >/dev/null 2>&1; then exec "$@"; fi\ntrap "exit 0" TERM INT\nsleep 86400 & wait\n');
  fs.writeFileSync(
    path.join(ctx, 'Dockerfile'),
    [
      'FROM scratch',
      'ADD rootfs.tar /',
      'COPY shim /bin/shim',
      // Scripts, not links: busybox picks its applet by the name it is called by.
      'RUN for t in /bin/curl /bin/mysqladmin /bin/pg_isready /bin/nc /bin/redis-cli /bin/mongo /bin/mongosh /opt/mssql-tools/bin/sqlcmd; do mkdir -p ${t%/*} && printf "#!/bin/sh\\nexit 0\\n" > $t && chmod 755 $t; done',
      'RUN echo "postgres:x:70:70:postgres:/:/bin/sh" >> /etc/passwd && echo "postgres:x:70:" >> /etc/group',
      'ENV PATH=/bin',
      'ENTRYPOINT ["/bin/shim"]',
      'CMD ["sleep", "86400"]',
      '',
    ].join('\n'),
  );
  fs.chmodSync(path.join(ctx, 'shim'), 0o755);
  dockerd.docker(['build', '-q', '-t', CORPUS_IMAGE, ctx]);
  fs.mkdirSync(path.join(work, 'gen', 'node_modules'), { recursive: true });
  fs.symlinkSync(ROOT, path.join(work, 'gen', 'node_modules', 'cdk-docker'));
  fs.mkdirSync(path.join(work, 'src'));
  for (const d of dirs) fs.cpSync(path.join(CORPUS, d), srcDir(d), { recursive: true });
}, 120_000);

afterAll(async () => {
  if (dockerd) {
    const ids = dockerd.docker(['ps', '-aq']).split('\n').filter(Boolean);
    if (ids.length) dockerd.docker(['rm', '-f', ...ids]);
    dockerd.docker(['network', 'prune', '-f']);
    dockerd.docker(['volume', 'prune', '-f']);
    await dockerd.stop();
  }
  if (work) fs.rmSync(work, { recursive: true, force: true });
  const left = JSON.parse(execFileSync('ip', ['-j', 'link'], { encoding: 'utf8' })) as Array<{ ifname: string; master?: string }>;
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m && m.includes('cdk-docker-import-corpus-dockerd-'));
  const rules = iptablesBefore ? ourIptables().filter((l) => !iptablesBefore.includes(l)) : [];
  expect([...left.filter((l) => l.ifname === BRIDGE.name || l.master === BRIDGE.name).map((l) => `link ${l.ifname}`), ...mounts, ...rules]).toEqual([]);
}, 120_000);

test('the corpus has at least 40 compose files, each with its origin', () => {
  expect(dirs.length).toBeGreaterThanOrEqual(40);
  const origins = fs.readFileSync(path.join(CORPUS, 'ORIGINS.md'), 'utf8');
  for (const d of dirs) expect(origins).toContain(`| ${d} |`);
});

test('every file imports, the same way twice, and all projects type-check in one tsc run', () => {
  for (const [i, d] of dirs.entries()) {
    const r = importCompose({ cwd: srcDir(d), outDir: genDir(d), stack: stackOf(i), env: {} });
    const first = fs.readFileSync(path.join(genDir(d), 'main.ts'), 'utf8');
    importCompose({ cwd: srcDir(d), outDir: genDir(d), stack: stackOf(i), env: {} });
    expect(fs.readFileSync(path.join(genDir(d), 'main.ts'), 'utf8')).toBe(first);
    imported.set(d, r);
  }
  fs.writeFileSync(
    path.join(work, 'gen', 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'commonjs', moduleResolution: 'node', strict: true, skipLibCheck: true, noEmit: true, types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')] }, include: ['*/main.ts'] }),
  );
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  let out = '';
  try {
    execFileSync(process.execPath, [tsc, '-p', path.join(work, 'gen', 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    out = String((e as { stdout?: string }).stdout);
  }
  expect(out).toBe('');
});

type Normal = Record<string, unknown>;

/** The fields compared, in terms free of each tool's names (project/stack prefixes, ids). */
function normalise(c: Record<string, any>, prefix: RegExp, imageIds: Map<string, string>, anonymous: (name: string, target: string) => boolean, files: string[]): Normal {
  const strip = (n: string) => n.replace(prefix, '');
  const config = c.Config;
  const host = c.HostConfig;
  const hc = config.Healthcheck;
  const ns = 1e9;
  const labels = Object.fromEntries(Object.entries((config.Labels ?? {}) as Record<string, string>).filter(([k]) => !k.startsWith('com.docker.compose.') && !k.startsWith('io.cdk-docker.')));
  const mounts = [
    ...(c.Mounts as Array<Record<string, any>>).map((m) => ({
      type: m.Type,
      source: m.Type === 'volume' ? (anonymous(m.Name, m.Destination) ? '<anonymous>' : strip(m.Name)) : m.Source,
      target: m.Destination,
      rw: m.RW,
    })),
    ...Object.entries((host.Tmpfs ?? {}) as Record<string, string>).map(([target, opts]) => ({ type: 'tmpfs', source: opts, target, rw: true })),
  ]
    // Secret and config files: docker-compose 1.29 binds them, cdk-docker copies them in; compared as files.
    .filter((m) => !files.includes(m.target))
    .sort((a, b) => a.target.localeCompare(b.target));
  const shortId = String(c.Id).slice(0, 12);
  const name = String(c.Name).replace(/^\//, '');
  const networks = Object.fromEntries(
    Object.entries((c.NetworkSettings.Networks ?? {}) as Record<string, any>).map(([n, e]) => [
      strip(n),
      { aliases: ((e.Aliases ?? []) as string[]).filter((a) => a !== shortId && a !== name).sort(), ipv4: e.IPAMConfig?.IPv4Address ?? '' },
    ]),
  );
  const ports = Object.entries((host.PortBindings ?? {}) as Record<string, Array<{ HostIp: string; HostPort: string }>>)
    .flatMap(([p, list]) => (list ?? []).map((b) => `${b.HostIp || '0.0.0.0'}:${b.HostPort || '0'}:${p}`))
    .sort();
  return {
    image: imageIds.get(c.Image) ?? c.Image,
    cmd: config.Cmd ?? null,
    entrypoint: config.Entrypoint ?? null,
    env: [...(config.Env ?? [])].sort(),
    ports,
    mounts,
    networks,
    networkMode: host.NetworkMode === 'default' ? 'bridge' : String(host.NetworkMode).startsWith('container:') ? 'container' : strip(host.NetworkMode),
    restart: `${host.RestartPolicy?.Name || 'no'}:${host.RestartPolicy?.MaximumRetryCount ?? 0}`,
    healthcheck: hc
      ? { test: hc.Test, interval: (hc.Interval || 30 * ns) / ns, timeout: (hc.Timeout || 30 * ns) / ns, retries: hc.Retries || 3, startPeriod: (hc.StartPeriod || 0) / ns }
      : null,
    user: config.User ?? '',
    workingDir: config.WorkingDir ?? '',
    labels,
    files,
  };
}

/** The secret and config files a service of the model gets, by target. */
function fileTargets(svc: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const s of (svc.secrets ?? []) as Array<string | { source: string; target?: string }>) {
    const o = typeof s === 'string' ? { source: s } : s;
    const t = o.target ?? o.source;
    out.push(t.startsWith('/') ? t : `/run/secrets/${t}`);
  }
  for (const c of (svc.configs ?? []) as Array<string | { source: string; target?: string }>) {
    const o = typeof c === 'string' ? { source: c } : c;
    out.push(o.target ?? `/${o.source}`);
  }
  return out.sort();
}

/** The targets that are there: bound (docker-compose) or copied in (cdk-docker). */
function presentFiles(c: Record<string, any>, targets: string[]): string[] {
  return targets.filter((t) => {
    if ((c.Mounts as Array<{ Destination: string }>).some((m) => m.Destination === t)) return true;
    try {
      dockerd.docker(['cp', `${c.Id}:${t}`, '-']);
      return true;
    } catch {
      return false;
    }
  });
}

interface Row {
  file: string;
  services: number;
  notImported: string[];
  result: string;
  differences: string[];
  notes?: string[];
}

function inspectAll(filter: string, serviceOf: (c: Record<string, any>) => string): Map<string, Record<string, any>> {
  const ids = dockerd.docker(['ps', '-aq', '--filter', filter]).split('\n').filter(Boolean);
  const out = new Map<string, Record<string, any>>();
  if (ids.length === 0) return out;
  const all = JSON.parse(dockerd.docker(['inspect', ...ids])) as Array<Record<string, any>>;
  // With replicas, the first one stands for the service.
  all.sort((a, b) => String(a.Name).localeCompare(String(b.Name)));
  for (const c of all) if (!out.has(serviceOf(c))) out.set(serviceOf(c), c);
  return out;
}

async function compareOne(i: number, d: string): Promise<Row> {
  const r = imported.get(d)!;
  const services = Object.keys(r.keys);
  const row: Row = { file: d, services: services.length, notImported: r.notImported.map((n) => `${n.service ? `${n.service}.` : ''}${n.key}`), result: '', differences: [] };
  const project = projectOf(i);
  const stack = stackOf(i);
  // Compose first: up, inspect, then everything of it removed.
  const up = await run('docker-compose', ['-p', project, '--compatibility', 'up', '-d', '--no-color'], srcDir(d));
  const model = loadCompose({ cwd: srcDir(d), env: {} });
  const theirs = inspectAll(`label=com.docker.compose.project=${project}`, (c) => c.Config.Labels['com.docker.compose.service']);
  const theirFiles = new Map([...theirs].map(([svc, c]) => [svc, presentFiles(c, fileTargets(model.services[svc] ?? {}))]));
  const ids = dockerd.docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]).split('\n').filter(Boolean);
  if (ids.length) dockerd.docker(['rm', '-f', ...ids]);
  await run('docker-compose', ['-p', project, 'down', '-v', '--remove-orphans'], srcDir(d));
  // Then the imported stack.
  const app = `${process.execPath} ${path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs')} main.ts`;
  const apply = await run(CLI, ['apply', '--engine', 'docker', '--auto-approve', '-a', app, '-o', path.join(work, 'plans', d)], genDir(d));
  const ours = inspectAll(`label=io.cdk-docker.stack=${stack}`, (c) => String(c.Config.Labels['io.cdk-docker.path']).split('/').pop()!);
  const ourFiles = new Map([...ours].map(([svc, c]) => [svc, presentFiles(c, fileTargets(model.services[svc] ?? {}))]));
  const ourIds = dockerd.docker(['ps', '-aq', '--filter', `label=io.cdk-docker.stack=${stack}`]).split('\n').filter(Boolean);
  if (ourIds.length) dockerd.docker(['rm', '-f', ...ourIds]);
  await run(CLI, ['destroy', '--engine', 'docker', '--auto-approve', '--volumes', '-a', app, '-o', path.join(work, 'plans', d)], genDir(d));

  // Images by their layers: the same Dockerfile built by each tool from one cache has the same
  // layers (cdk-docker labels its builds, so the image ids differ).
  const imageIds = new Map<string, string>();
  for (const c of [...theirs.values(), ...ours.values()]) {
    if (!imageIds.has(c.Image)) {
      const [img] = JSON.parse(dockerd.docker(['image', 'inspect', c.Image])) as Array<{ RootFS: { Layers: string[] } }>;
      imageIds.set(c.Image, `layers ${img.RootFS.Layers.map((l) => l.slice(7, 19)).join(',')}`);
    }
  }
  const anonymous = (name: string, target: string, svc: string) => /^[0-9a-f]{64}$/.test(name) || name === `${stack}-${`${svc}${target.replace(/[^A-Za-z0-9]+/g, '-')}`.replace(/-+$/, '')}`;
  const problems: string[] = [];
  if (up.code !== 0 && theirs.size === 0) problems.push(`docker-compose up failed: ${up.out.trim().split('\n').pop()}`);
  const notes: string[] = [];
  if (apply.code !== 0) {
    const lines = apply.out.trim().split('\n');
    const at = Math.max(0, lines.findIndex((l) => /error/i.test(l)));
    // apply checks that containers run, as `docker-compose up -d` does not: a container of the
    // file that exits is reported by apply, and still compared. A container neither tool could
    // make (the engine lacks what the file asks for, such as a runtime) is no difference.
    (services.every((s) => ours.has(s) || !theirs.has(s)) ? notes : problems).push(`apply exit ${apply.code}: ${lines.slice(at, at + 4).join(' | ')}`);
  }
  for (const s of services) {
    const a = theirs.get(s);
    const b = ours.get(s);
    if (!a || !b) {
      if (a || b) row.differences.push(`${s}: only ${a ? 'compose' : 'cdk-docker'} made a container`);
      continue;
    }
    const na = normalise(a, new RegExp(`^${project}_`), imageIds, (n, t) => anonymous(n, t, s), theirFiles.get(s) ?? []);
    const nb = normalise(b, new RegExp(`^${stack}-`), imageIds, (n, t) => anonymous(n, t, s), ourFiles.get(s) ?? []);
    // docker-compose 1.29 mounts no configs outside Swarm (Compose v2 binds them, as cdk-docker puts them in).
    const configTargets = fileTargets({ configs: model.services[s]?.configs });
    const theirFilesOf = (na.files as string[]) ?? [];
    if (configTargets.length > 0 && configTargets.every((t) => !theirFilesOf.includes(t))) {
      notes.push(`${s}: docker-compose 1.29 mounts no configs outside Swarm; cdk-docker put ${configTargets.join(', ')} in, as Compose v2 does`);
      nb.files = ((nb.files as string[]) ?? []).filter((t) => !configTargets.includes(t));
    }
    for (const k of Object.keys(na)) {
      if (JSON.stringify(na[k]) !== JSON.stringify(nb[k])) row.differences.push(`${s}.${k}: compose ${JSON.stringify(na[k])} ≠ cdk-docker ${JSON.stringify(nb[k])}`);
    }
  }
  row.differences.unshift(...problems);
  row.notes = notes;
  row.result = row.differences.length === 0 && theirs.size > 0 ? 'equal' : theirs.size === 0 ? 'not compared' : 'not equal';
  return row;
}

test('each imported stack applied on Docker makes the containers docker-compose makes of the same file', async () => {
  expect(imported.size).toBe(dirs.length);
  const rows: Row[] = new Array(dirs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: LANES }, async () => {
      for (let i = next++; i < dirs.length; i = next++) rows[i] = await compareOne(i, dirs[i]);
    }),
  );

  // Key coverage: the service keys that occur in the corpus, and how many of them were imported.
  const occurrences = new Map<string, { total: number; missed: number }>();
  for (const r of imported.values()) {
    for (const [svc, keys] of Object.entries(r.keys)) {
      for (const k of keys) {
        const o = occurrences.get(k) ?? { total: 0, missed: 0 };
        o.total++;
        if (r.notImported.some((n) => n.service === svc && (n.key === k || n.key.startsWith(`${k}.`) || n.key.startsWith(`${k} `)))) o.missed++;
        occurrences.set(k, o);
      }
    }
  }
  const distinct = [...occurrences.keys()].sort();
  const fullyImported = distinct.filter((k) => occurrences.get(k)!.missed === 0);
  const total = [...occurrences.values()].reduce((n, o) => n + o.total, 0);
  const missed = [...occurrences.values()].reduce((n, o) => n + o.missed, 0);
  const width = Math.max(...rows.map((r) => r.file.length));
  const lines = [
    `${'file'.padEnd(width)}  services  not imported  result`,
    ...rows.map((r) => `${r.file.padEnd(width)}  ${String(r.services).padStart(8)}  ${String(r.notImported.length).padStart(12)}  ${r.result}${r.notes?.length ? ' (see notes)' : ''}${r.notImported.length ? `  [${r.notImported.join(', ')}]` : ''}`),
    '',
    `equal: ${rows.filter((r) => r.result === 'equal').length} of ${rows.length}`,
    `key coverage: ${fullyImported.length} of ${distinct.length} distinct service keys always imported (${((100 * fullyImported.length) / distinct.length).toFixed(1)}%); ${total - missed} of ${total} key occurrences imported (${((100 * (total - missed)) / total).toFixed(1)}%)`,
    `keys not always imported: ${distinct.filter((k) => occurrences.get(k)!.missed > 0).map((k) => `${k} (${occurrences.get(k)!.missed}/${occurrences.get(k)!.total})`).join(', ')}`,
    '',
    'differences:',
    ...rows.flatMap((r) => r.differences.map((d) => `  ${r.file}: ${d}`)),
    'notes:',
    ...rows.flatMap((r) => (r.notes ?? []).map((d) => `  ${r.file}: ${d}`)),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  // A file whose keys were all imported must come out equal.
  const equivalentButDifferent = rows.filter((r) => r.notImported.length === 0 && r.result === 'not equal');
  expect(equivalentButDifferent.map((r) => `${r.file}: ${r.differences.join('; ')}`)).toEqual([]);
  // Nothing of either tool is left on the engine.
  expect(dockerd.docker(['ps', '-aq']).trim()).toBe('');
});
