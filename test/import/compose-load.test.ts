import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError } from '../../lib/core/errors';
import { interpolate, InterpolationError, parseDotEnv } from '../../lib/import/compose/interpolate';
import { loadCompose } from '../../lib/import/compose/load';
import { tempDir } from '../helpers/cli';

const vars = { SET: 'value', EMPTY: '' };

describe('interpolation as Compose does it', () => {
  test.each([
    ['${SET}', 'value'],
    ['$SET/x', 'value/x'],
    ['${UNSET:-d}', 'd'],
    ['${EMPTY:-d}', 'd'],
    ['${EMPTY-d}', ''],
    ['${UNSET-d}', 'd'],
    ['${SET:+r}', 'r'],
    ['${EMPTY:+r}', ''],
    ['${EMPTY+r}', 'r'],
    ['${UNSET:-${SET}}', 'value'],
    ['${UNSET:-${ALSO_UNSET:-deep}}', 'deep'],
    ['$$SET and $${SET}', '$SET and ${SET}'],
    ['100$', '100$'],
    ['a $ b', 'a $ b'],
  ])('%s → %s', (text, expected) => {
    expect(interpolate(text, vars)).toBe(expected);
  });

  test('an unset variable without default is blank and reported', () => {
    const missing: string[] = [];
    expect(interpolate('x${NOPE}y$NOPE2', vars, (n) => missing.push(n))).toBe('xy');
    expect(missing).toEqual(['NOPE', 'NOPE2']);
  });

  test('required variables fail with their message', () => {
    expect(() => interpolate('${UNSET:?set UNSET first}', vars)).toThrow(new InterpolationError('required variable UNSET is missing a value: set UNSET first'));
    expect(() => interpolate('${EMPTY:?no}', vars)).toThrow('required variable EMPTY is missing a value: no');
    expect(interpolate('${EMPTY?no}', vars)).toBe('');
    expect(() => interpolate('${UNSET?gone}', vars)).toThrow('required variable UNSET is missing a value: gone');
  });

  test('malformed expressions are refused', () => {
    expect(() => interpolate('${SET', vars)).toThrow('invalid interpolation format in "${SET": a "${" is not closed by "}"');
    expect(() => interpolate('${}', vars)).toThrow('"${" must be followed by a variable name');
    expect(() => interpolate('${SET/a/b}', vars)).toThrow('unexpected "/" after ${SET');
  });

  test('.env files: quotes, comments, export, and earlier variables', () => {
    const text = ['# comment', 'export A=1', "B='$A literal'", 'C="line\\nnext $A"', 'D=plain # trailing', 'E=${A}2', 'F'].join('\n');
    expect(parseDotEnv(text, { F: 'from-env' }, '.env')).toEqual({ A: '1', B: '$A literal', C: 'line\nnext 1', D: 'plain', E: '12', F: 'from-env' });
    expect(() => parseDotEnv('1BAD=x', {}, '.env')).toThrow('.env:1: "1BAD" is not a variable name');
  });
});

describe('loading compose files', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('cdkim-load-');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  };
  const load = (opts: Parameters<typeof loadCompose>[0] = {}) => loadCompose({ cwd: dir, env: {}, ...opts });

  test('.env feeds interpolation, the environment wins over it, --env-file replaces it', () => {
    write('.env', 'TAG=1.0\nPORT=80\n');
    write('other.env', 'TAG=2.0\n');
    write('compose.yaml', 'services:\n  web:\n    image: "app:${TAG}"\n    ports: ["${PORT:-81}:80"]\n');
    expect(load().services.web).toEqual({ image: 'app:1.0', ports: ['80:80'] });
    expect(load({ env: { TAG: 'env' } }).services.web.image).toBe('app:env');
    expect(load({ envFiles: ['other.env'] }).services.web).toEqual({ image: 'app:2.0', ports: ['81:80'] });
  });

  test('anchors and merge keys, with keys left uninterpolated', () => {
    write('compose.yaml', 'x-base: &base\n  restart: always\n  labels: { "$$K": v }\nservices:\n  a:\n    <<: *base\n    image: busybox\n');
    expect(load().services.a).toEqual({ restart: 'always', labels: { $$K: 'v' }, image: 'busybox' });
  });

  test('several -f merge as Compose merges them', () => {
    write('compose.yaml', [
      'services:',
      '  web:',
      '    image: a',
      '    command: [one, two]',
      '    environment: [A=1, B=2]',
      '    ports: ["8080:80"]',
      '    volumes: ["data:/data", "./src:/src"]',
      '    dns: [1.1.1.1]',
      '    healthcheck: { test: [CMD, a], interval: 5s }',
      'volumes: { data: {} }',
    ].join('\n'));
    write('override.yaml', [
      'services:',
      '  web:',
      '    image: b',
      '    command: [three]',
      '    environment: { B: "3", C: "4" }',
      '    ports: ["8080:80", "9090:90"]',
      '    volumes: ["other:/data"]',
      '    dns: [8.8.8.8]',
      '    healthcheck: { test: [CMD, b] }',
      '  extra: { image: c }',
      'volumes: { other: {} }',
    ].join('\n'));
    const p = load({ files: ['compose.yaml', 'override.yaml'] });
    expect(p.services.web).toEqual({
      image: 'b',
      command: ['three'],
      environment: { A: '1', B: '3', C: '4' },
      ports: ['8080:80', '9090:90'],
      volumes: ['other:/data', `${dir}/src:/src`],
      dns: ['1.1.1.1', '8.8.8.8'],
      healthcheck: { test: ['CMD', 'b'], interval: '5s' },
    });
    expect(Object.keys(p.services)).toEqual(['web', 'extra']);
    expect(Object.keys(p.volumes)).toEqual(['data', 'other']);
  });

  test('!reset removes and !override replaces what an earlier file set', () => {
    write('compose.yaml', 'services:\n  web:\n    image: a\n    ports: ["8080:80"]\n    environment: { A: "1", B: "2" }\n    labels: { x: y }\n');
    write('override.yaml', 'services:\n  web:\n    ports: !override ["9090:90"]\n    environment: !override { C: "3" }\n    labels: !reset {}\n');
    expect(load({ files: ['compose.yaml', 'override.yaml'] }).services.web).toEqual({ image: 'a', ports: ['9090:90'], environment: { C: '3' } });
  });

  test('include: the included project keeps its own directory and .env; a resource defined twice is refused', () => {
    write('db/compose.yaml', 'services:\n  db:\n    image: "db:${DB_TAG}"\n    env_file: db.env\nvolumes:\n  data: {}\n');
    write('db/.env', 'DB_TAG=16\n');
    write('db/db.env', 'X=1\n');
    write('compose.yaml', 'include: [db/compose.yaml]\nservices:\n  web: { image: web, depends_on: [db] }\n');
    const p = load();
    expect(p.services).toEqual({
      db: { image: 'db:16', env_file: [{ path: `${dir}/db/db.env`, required: true }] },
      web: { image: 'web', depends_on: { db: { condition: 'service_started' } } },
    });
    expect(Object.keys(p.volumes)).toEqual(['data']);
    expect(p.otherKeys).toEqual([]);
    write('compose.yaml', 'include: [db/compose.yaml]\nservices:\n  db: { image: mine }\n');
    expect(() => load()).toThrow(/compose\.yaml: service "db" of the included \S*db\/compose\.yaml is defined again; rename one of them$/);
    write('db/compose.yaml', 'include: [../compose.yaml]\nservices:\n  db: { image: x }\n');
    write('compose.yaml', 'include: [db/compose.yaml]\nservices:\n  web: { image: web }\n');
    expect(() => load()).toThrow(/include of .*compose\.yaml makes a cycle; remove one of the includes$/);
  });

  test('extends from the same file and from another file, paths relative to the file that has them', () => {
    write('common/base.yaml', 'services:\n  base:\n    image: base\n    env_file: base.env\n    environment: { A: "1" }\n');
    write('common/base.env', 'X=1\n');
    write('compose.yaml', [
      'services:',
      '  mid:',
      '    extends: { file: common/base.yaml, service: base }',
      '    environment: { B: "2" }',
      '  web:',
      '    extends: mid',
      '    image: web',
    ].join('\n'));
    const p = load();
    expect(p.services.web).toEqual({ image: 'web', env_file: [{ path: `${dir}/common/base.env`, required: true }], environment: { A: '1', B: '2' } });
  });

  test('an extends cycle is refused in one line', () => {
    write('compose.yaml', 'services:\n  a: { extends: b, image: x }\n  b: { extends: a, image: y }\n');
    expect(() => load()).toThrow(/compose\.yaml: service "a": extends makes a cycle \(compose\.yaml service a → compose\.yaml service b → compose\.yaml service a\)$/);
  });

  test('profiles: services of inactive profiles are left out; a reference to one is refused', () => {
    write('compose.yaml', 'services:\n  web: { image: a }\n  debug: { image: b, profiles: [debug] }\n');
    expect(Object.keys(load().services)).toEqual(['web']);
    expect(Object.keys(load({ profiles: ['debug'] }).services)).toEqual(['web', 'debug']);
    expect(Object.keys(load({ env: { COMPOSE_PROFILES: 'debug' } }).services)).toEqual(['web', 'debug']);
    write('compose.yaml', 'services:\n  web: { image: a, depends_on: [debug] }\n  debug: { image: b, profiles: [debug] }\n');
    expect(() => load()).toThrow('service "web": depends_on refers to service "debug", which no active profile enables; enable its profile with --profile debug');
  });

  test.each([
    ['services:\n  web:\n    imag: nginx\n', 'compose.yaml: service "web": key "imag" is not allowed here (did you mean "image"?)'],
    ['services:\n  web:\n    image: nginx\n    ports: "80:80"\n', 'compose.yaml: service "web": "ports" must be an array'],
    ['services:\n  web:\n    image: nginx\n    restart: [always]\n', 'compose.yaml: service "web": "restart" must be a string'],
    ['services:\n  web:\n    depends_on: { db: { condition: service_ready } }\n  db: { image: x }\n', 'compose.yaml: service "web": "depends_on.db.condition" must be one of "service_started", "service_healthy", "service_completed_successfully"'],
    ['services:\n  web: { image: "${NEED:?set NEED}" }\n', 'compose.yaml: service "web": key "image": required variable NEED is missing a value: set NEED'],
    ['services:\n  web:\n    image: x\n   bad: indent\n', /^compose\.yaml:\d+:\d+: not valid YAML: .*; fix the file$/],
    ['- just\n- a list\n', 'compose.yaml: a compose file must be a mapping with "services:", not a list'],
    ['services:\n  web: { image: x, depends_on: [nope] }\n', 'compose.yaml: service "web": depends_on refers to undefined service "nope"; define it or remove the reference'],
  ])('a bad file gets one line naming the file, service and key: %#', (text, message) => {
    write('compose.yaml', text);
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      let err: unknown;
      try {
        load();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidArgumentError);
      const m = (err as Error).message;
      expect(m.split('\n')).toHaveLength(1);
      if (typeof message === 'string') expect(m).toBe(message);
      else expect(m).toMatch(message);
    } finally {
      process.chdir(cwd);
    }
  });

  test('comments of the file are kept by where they stood', () => {
    write('compose.yaml', '# the app\n\nservices:\n  # the front\n  web:\n    # pinned\n    image: nginx:1 # really\n');
    expect(load().comments).toEqual({ '': 'the app', 'services.web': 'the front', 'services.web.image': 'pinned\nreally' });
  });
});
