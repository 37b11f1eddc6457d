/**
 * Issue 12, items 10 and 9 (ps, --log-driver): output formats and exit codes of the runtime
 * CLI side by side with a private Docker 20.10 daemon, the same busybox image loaded in both,
 * outputs compared after normalising ids, times and sizes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliResult, ok, sleep, tempDir } from '../helpers/cli';
import { startDockerd, TestDockerd } from '../helpers/dockerd';
import { BASE_ARCHIVE, StackWorld, stackWorld, tearDownWorld } from '../helpers/stack';

jest.setTimeout(240_000);

let world: StackWorld;
let dockerd: TestDockerd | undefined;
const dirs: string[] = [];

beforeAll(async () => {
  world = stackWorld('cdk-docker-formats-', 252);
  ok(world.rt(['load', '-i', BASE_ARCHIVE]));
  dockerd = await startDockerd();
  dockerd.docker(['load', '-i', BASE_ARCHIVE]);
});

afterAll(async () => {
  if (dockerd) {
    for (const id of dockerd.docker(['ps', '-aq']).split('\n').filter(Boolean)) dockerd.docker(['rm', '-f', id]);
    await dockerd.stop();
  }
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  expect(await tearDownWorld(world)).toEqual([]);
});

type Engine = (args: string[]) => CliResult;

const ours: Engine = (args) => world.rt(args);
const docker: Engine = (args) => {
  try {
    return { code: 0, stdout: dockerd!.docker(args), stderr: '' };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { code: err.status, stdout: err.stdout, stderr: err.stderr };
  }
};
const engines: Array<[string, Engine]> = [['docker', docker], ['cdk-docker', ours]];

/** Runs `args` on both engines; gives [docker's stdout, ours] (each must succeed). */
function both(args: string[]): [string, string] {
  return [ok(docker(args)), ok(ours(args))];
}

/** Hex ids (12 or 64) as a placeholder of the same length, so widths still compare. */
const noIds = (s: string) => s.replace(/\b[0-9a-f]{64}\b/g, 'I'.repeat(64)).replace(/\b[0-9a-f]{12}\b/g, 'I'.repeat(12));

describe('ps', () => {
  beforeAll(async () => {
    for (const [, e] of engines) {
      for (const n of ['fmt-c1', 'fmt-c2', 'fmt-c3']) ok(e(['create', '--name', n, '--network', 'none', '--label', 'b=2', '--label', 'a=1', 'busybox:examples', 'sleep', '1000']));
    }
    // Both engines' containers are then between 2 and 9 seconds old: "N seconds ago" of one length.
    await sleep(2500);
  });

  test('ps -a prints Docker\'s columns with its tabwriter widths', () => {
    const [d, o] = both(['ps', '-a', '--filter', 'name=fmt-']).map((s) => noIds(s).replace(/\d seconds ago/g, 'N seconds ago'));
    expect(o).toEqual(d);
  });

  test('ps -l and -n N show the latest containers in any state', () => {
    expect(both(['ps', '-l', '--format', '{{.Names}}'])).toEqual(['fmt-c3\n', 'fmt-c3\n']);
    const [d, o] = both(['ps', '-n', '2', '--format', '{{.Names}} {{.State}}']);
    expect(d).toBe('fmt-c3 created\nfmt-c2 created\n');
    expect(o).toEqual(d);
  });

  test('ps -s adds Docker\'s SIZE column: 0B (virtual …)', () => {
    const norm = (s: string) => noIds(s).replace(/\d seconds ago/g, 'N seconds ago').replace(/\(virtual [0-9.]+[kMG]?B\)/g, '(virtual SIZE)');
    const [d, o] = both(['ps', '-a', '-s', '--filter', 'name=fmt-c1']).map(norm);
    expect(d).toContain('0B (virtual SIZE)');
    expect(o).toEqual(d);
  });

  test('ps --format takes Docker\'s fields, methods and table headers', () => {
    const format = 'table {{.Names}}\t{{.Image}}\t{{.Command}}\t{{.Status}}\t{{.Labels}}\t{{.Label "a"}}\t{{.Mounts}}\t{{.Networks}}\t{{.State}}\t{{.Ports}}\t{{.LocalVolumes}}';
    // Docker joins .Labels from a Go map, in random order: compare them sorted.
    const sortLabels = (text: string) => text.replace(/\b[a-z]=\d(?:,[a-z]=\d)+\b/g, (m) => m.split(',').sort().join(','));
    const [d, o] = both(['ps', '-a', '--filter', 'name=fmt-', '--format', format]).map(sortLabels);
    expect(o).toEqual(d);
    const [dj, oj] = both(['ps', '-a', '--filter', 'name=fmt-c1', '--format', '{{json .}}']).map((s) => JSON.parse(s) as { [k: string]: unknown });
    expect([Object.keys(oj), oj.Platform]).toEqual([Object.keys(dj), dj.Platform]);
    const created = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4} \w+$/;
    expect(dj.CreatedAt).toMatch(created);
    expect(oj.CreatedAt).toMatch(created);
  });
});

describe('logs', () => {
  test('logs -t prints RFC 3339 times with nanoseconds in UTC, as Docker', async () => {
    for (const [, e] of engines) ok(e(['run', '--name', 'fmt-logs', '--network', 'none', 'busybox:examples', 'echo', 'hello']));
    const [d, o] = both(['logs', '-t', 'fmt-logs']);
    const line = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z hello\n$/;
    expect(d).toMatch(line);
    expect(o).toMatch(line);
  });
});

describe('--log-driver', () => {
  test('json-file writes Docker\'s <id>-json.log, which logs reads, recorded in LogConfig.Type', () => {
    const text = ['a<b & "c"', 'second line'];
    const files: string[] = [];
    for (const [, e] of engines) {
      ok(e(['run', '--log-driver', 'json-file', '--name', 'fmt-json', '--network', 'none', 'busybox:examples', 'sh', '-c', `echo '${text[0]}'; echo '${text[1]}' >&2`]));
      const [id, logPath, type] = ok(e(['inspect', '--format', '{{.Id}} {{.LogPath}} {{.HostConfig.LogConfig.Type}}', 'fmt-json'])).trim().split(' ');
      expect(type).toBe('json-file');
      expect(path.basename(logPath)).toBe(`${id}-json.log`);
      files.push(fs.readFileSync(logPath, 'utf8'));
    }
    const norm = (s: string) => s.replace(/"time":"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z"/g, '"time":"T"').split('\n').sort();
    expect(norm(files[1])).toEqual(norm(files[0]));
    expect(files[0]).toContain('{"log":"a\\u003cb \\u0026 \\"c\\"\\n","stream":"stdout","time":"');
    const [d, o] = both(['logs', 'fmt-json']);
    expect(o).toEqual(d);
    expect(ours(['logs', 'fmt-json']).stderr).toBe(`${text[1]}\n`);
  });

  test('none keeps no log, and logs says so as Docker', () => {
    const seen = engines.map(([, e]) => {
      ok(e(['run', '--log-driver', 'none', '--name', 'fmt-none', '--network', 'none', 'busybox:examples', 'echo', 'hidden']));
      const r = e(['logs', 'fmt-none']);
      return [r.code, r.stdout, r.stderr.replace(/^Error response from daemon: |^Error: /, ''), ok(e(['inspect', '--format', '{{.HostConfig.LogConfig.Type}}', 'fmt-none']))];
    });
    expect(seen[0]).toEqual([1, '', 'configured logging driver does not support reading\n', 'none\n']);
    expect(seen[1]).toEqual(seen[0]);
    const upper = ok(ours(['inspect', '--format', '{{.GraphDriver.Data.UpperDir}} {{.LogPath}}', 'fmt-none'])).trim().split(' ');
    expect(upper[1]).toBeUndefined(); // LogPath is empty, as Docker's
    const log = path.join(path.dirname(upper[0]), 'ctr.log');
    expect(fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '').toBe('');
  });

  test('another driver is refused, naming the supported ones, and creates nothing', () => {
    const r = ours(['run', '--log-driver', 'syslog', '--name', 'fmt-syslog', '--network', 'none', 'busybox:examples', 'true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe("Error: failed to initialize logging driver: no log driver named 'syslog' is registered: use --log-driver k8s-file (the default), json-file or none\n");
    expect(ours(['ps', '-aq', '--filter', 'name=fmt-syslog']).stdout).toBe('');
  });
});

describe('images', () => {
  test('images -q prints an id per tag line, as Docker', () => {
    for (const [, e] of engines) for (const t of ['fmtq:1', 'fmtq:2']) ok(e(['tag', 'busybox:examples', t]));
    const [d, o] = both(['images', '-q', 'fmtq']);
    expect(d.split('\n').filter(Boolean)).toHaveLength(2);
    expect(o).toEqual(d);
  });

  test('images --format has Docker\'s fields: {{json .}}, CreatedAt as Go prints a time, table', () => {
    const [d, o] = both(['images', '--format', '{{json .}}', 'fmtq:1']).map((s) => {
      const j = JSON.parse(s) as { [k: string]: string };
      return { ...j, Size: 'SIZE', VirtualSize: 'SIZE' };
    });
    expect(o).toEqual(d);
    const [dt, ot] = both(['images', '--format', 'table {{.Repository}}:{{.Tag}}\t{{.ID}}\t{{.CreatedAt}}', 'fmtq']);
    expect(ot).toEqual(dt);
  });

  test('images and volume ls pad columns as Docker\'s tabwriter', () => {
    // Each engine made fmtq at its own moment: the age may differ by a minute across a boundary.
    const [d, o] = both(['images', 'fmtq']).map((s) => s.replace(/ {2,}\S*[0-9.]+[kMG]?B$/gm, ' SIZE').replace(/\b\d+ (seconds|minutes|hours) ago/g, 'N $1 ago'));
    expect(o).toEqual(d);
    for (const [, e] of engines) for (const v of ['fmt-v', 'fmt-a-much-longer-volume-name']) ok(e(['volume', 'create', v]));
    const [dv, ov] = both(['volume', 'ls', '--filter', 'name=fmt-']);
    expect(ov).toEqual(dv);
    for (const [, e] of engines) ok(e(['volume', 'rm', 'fmt-v', 'fmt-a-much-longer-volume-name']));
    // Docker's private daemon here has no bridge: host and none are the networks both have.
    for (const n of ['host', 'none']) {
      const [dn, on] = both(['network', 'ls', '--filter', `name=${n}`]).map(noIds);
      expect(on).toEqual(dn);
    }
  });
});

describe('templates', () => {
  test('json in a template sorts map keys at every depth, as Go', () => {
    for (const [, e] of engines) ok(e(['create', '--name', 'fmt-labels', '--network', 'none', '--label', 'zeta=1', '--label', 'alpha=2', '--label', 'Mid=3', 'busybox:examples']));
    const [d, o] = both(['inspect', '--format', '{{json .Config.Labels}}', 'fmt-labels']);
    expect(d).toBe('{"Mid":"3","alpha":"2","zeta":"1"}\n');
    expect(o).toEqual(d);
  });

  test('inspect has the fields the books read, with Docker\'s types', () => {
    /** The shape of a JSON value: its type, and for objects the shape of each key. */
    const shape = (v: unknown): unknown => (v === null ? 'null' : Array.isArray(v) ? ['array'] : typeof v === 'object' ? Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, shape(x)])) : typeof v);
    const fields = ['.NetworkSettings.IPPrefixLen', '.NetworkSettings.Gateway', '.NetworkSettings.IPAddress', '.NetworkSettings.MacAddress', '.NetworkSettings.Ports', '.HostConfig.PortBindings', '.HostConfig.RestartPolicy', '.HostConfig.Binds', '.HostConfig.LogConfig.Type', '.State.Running', '.State.ExitCode', '.State.Pid', '.Config.Labels', '.Config.Env', '.Config.Cmd', '.Mounts', '.NetworkSettings.Networks.none.IPAMConfig', '.NetworkSettings.Networks.none.Aliases', '.NetworkSettings.Networks.none.NetworkID', '.NetworkSettings.Networks.none.EndpointID', '.NetworkSettings.Networks.none.IPPrefixLen'];
    const format = fields.map((f) => `{{json ${f}}}`).join('\n');
    const [d, o] = both(['inspect', '--format', format, 'fmt-labels']).map((s) => s.trim().split('\n').map((l, i) => `${fields[i]} ${JSON.stringify(shape(JSON.parse(l)))}`));
    expect(o).toEqual(d);
  });
});

describe('top', () => {
  test('top prints Docker\'s ps -ef columns, 20 wide', async () => {
    for (const [, e] of engines) ok(e(['run', '-d', '--name', 'fmt-top', '--network', 'none', 'busybox:examples', 'sleep', '1000']));
    const norm = (s: string) => s.split('\n').filter(Boolean).map((l, i) => (i === 0 ? l : l.replace(/\d{2}:\d{2}(:\d{2})?/g, 'TIME').replace(/\d+/g, 'N').replace(/ +/g, ' ')));
    const [d, o] = both(['top', 'fmt-top']);
    expect(o.split('\n')[0]).toBe(d.split('\n')[0]);
    expect(d.split('\n')[0]).toBe(`${['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME'].map((c) => c.padEnd(20)).join('')}CMD`);
    expect(norm(o)).toEqual(norm(d));
    // Each cell starts on its 20-column stop, as Docker's tabwriter puts it.
    for (const l of o.split('\n').filter(Boolean)) for (let i = 1; i < 8; i++) expect(l[20 * i - 1]).toBe(' ');
  });
});

describe('build', () => {
  function context(dockerfile: string): string {
    const dir = tempDir('cdk-docker-formats-ctx-');
    dirs.push(dir);
    fs.writeFileSync(path.join(dir, 'Dockerfile'), dockerfile);
    return dir;
  }

  test('build prints the Sending build context line of Docker\'s legacy builder', () => {
    const dir = context('FROM busybox:examples\nLABEL x=1\n');
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'sub', 'data.bin'), Buffer.alloc(3000, 1));
    const [d, o] = both(['build', '--network', 'none', '-t', 'fmt-build', dir]);
    // The CLI's progress updates end in \r; what a terminal shows is the last one.
    const first = (s: string) => s.split('\n')[0].split('\r').filter(Boolean).pop();
    expect(first(d)).toBe('Sending build context to Docker daemon  6.144kB');
    expect(first(o)).toEqual(first(d));
  });

  test('a failing RUN step exits and reports as Docker\'s legacy builder', () => {
    const dir = context('FROM busybox:examples\nRUN exit 3\n');
    const [rd, ro] = [docker(['build', '--network', 'none', dir]), ours(['build', '--network', 'none', dir])];
    expect(rd.stderr).toContain("The command '/bin/sh -c exit 3' returned a non-zero code: 3");
    expect(ro.code).toBe(rd.code);
    expect(ro.stderr.trim().split('\n').pop()).toBe(rd.stderr.trim().split('\n').pop());
  });
});
