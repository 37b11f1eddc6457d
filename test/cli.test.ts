import * as fs from 'node:fs';
import * as path from 'node:path';
import { readPlan } from '../lib/plan';
import { ROOT, cdkDocker, tempDir, writeJsApp } from './helpers/cli';

const TWO_STACKS = `
const app = new cdk.App();
const web = new cdk.Stack(app, 'web');
const net = new cdk.Network(web, 'net');
const db = new cdk.Container(web, 'db', { image: 'postgres:16', networks: [net], healthcheck: { test: 'pg_isready' } });
new cdk.Container(web, 'api', { image: 'busybox', networks: [net], dependsOn: [{ container: db, condition: 'healthy' }], ports: ['8080:80'] });
const jobs = new cdk.Stack(app, 'jobs');
new cdk.Container(jobs, 'cron', { image: 'busybox', command: ['crond', '-f'] });
app.synth();
`;

describe('cdk-docker CLI', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('--version prints the package version', () => {
    const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
    const r = cdkDocker(['--version'], dir);
    expect(r).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  test.each(['synth', 'ls', 'graph', 'init', 'doctor'])('%s --help describes the command', (cmd) => {
    const r = cdkDocker([cmd, '--help'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: cdk-docker ${cmd}`);
  });

  test('an unknown command is a usage error with exit code 1', () => {
    const r = cdkDocker(['aply'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: unknown command 'aply'");
  });

  test('synth writes one plan per stack and reports them', () => {
    writeJsApp(dir, TWO_STACKS);
    const r = cdkDocker(['synth'], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('jobs: cdk.out/jobs.plan.json (2 resources)\nweb: cdk.out/web.plan.json (5 resources)\n');
    const plan = readPlan(path.join(dir, 'cdk.out', 'web.plan.json'));
    expect(Object.values(plan.resources).map((res) => res.path).sort()).toEqual(['api', 'db', 'image-busybox-latest', 'image-postgres-16', 'net']);
  });

  test('synth of named stacks, to another directory, in YAML too', () => {
    writeJsApp(dir, TWO_STACKS);
    const r = cdkDocker(['synth', 'web', '-o', 'out', '--format', 'yaml'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('web: out/web.plan.json, out/web.plan.yaml (5 resources)\n');
    expect(readPlan(path.join(dir, 'out', 'web.plan.yaml'))).toEqual(readPlan(path.join(dir, 'out', 'web.plan.json')));
  });

  test('synth of an unknown stack names the stacks there are', () => {
    writeJsApp(dir, TWO_STACKS);
    const r = cdkDocker(['synth', 'nope'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`Error: no stack named "nope" in ${path.join(dir, 'cdk.out')}; stacks: jobs, web\n`);
  });

  test("a failing app shows the app's own error output and exits 1", () => {
    writeJsApp(dir, `
const app = new cdk.App();
const s = new cdk.Stack(app, 'bad');
new cdk.Container(s, 'a', { image: 'busybox', ports: ['8080:80'] });
new cdk.Container(s, 'b', { image: 'busybox', ports: ['8080:80/tpc'] });
app.synth();`);
    const r = cdkDocker(['synth'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[bad/b] "8080:80/tpc": unknown protocol "tpc" — did you mean "tcp"?');
    expect(r.stderr).toContain('Error: the app command `node app.js` failed with exit code 1 (its output is above)');
    expect(r.stdout).toBe('');
  });

  test('validation problems are all listed with their construct paths', () => {
    writeJsApp(dir, `
const app = new cdk.App();
const s = new cdk.Stack(app, 'bad');
new cdk.Container(s, 'a', { image: 'busybox', ports: ['8080:80'] });
new cdk.Container(s, 'b', { image: 'busybox', ports: ['8080:81'], name: 'bad-a' });
app.synth();`);
    const r = cdkDocker(['synth'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Validation failed with the following errors:');
    expect(r.stderr).toContain('[bad/b] container name "bad-a" is already used by bad/a; give one of them another name');
    expect(r.stderr).toContain('[bad/b] host port 0.0.0.0:8080/tcp is already published by bad/a (0.0.0.0:8080); choose another hostPort or hostIp');
    expect(fs.existsSync(path.join(dir, 'cdk.out', 'bad.plan.json'))).toBe(false);
  });

  test('an app that never calls synth is reported', () => {
    writeJsApp(dir, `new cdk.Stack(new cdk.App(), 'site');`);
    const r = cdkDocker(['synth'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Error: the app command \`node app.js\` wrote no plans to ${path.join(dir, 'cdk.out')}: does it call app.synth() at the end?`);
  });

  test('without cdk-docker.json or --app, synth says how to configure the app', () => {
    const r = cdkDocker(['synth'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`Error: no app to run: add {"app": "npx tsx main.ts"} to ${path.join(dir, 'cdk-docker.json')} or pass --app "<command>"\n`);
  });

  test('--app overrides cdk-docker.json', () => {
    writeJsApp(dir, TWO_STACKS);
    fs.renameSync(path.join(dir, 'app.js'), path.join(dir, 'other.js'));
    const r = cdkDocker(['synth', '--app', 'node other.js'], dir);
    expect(r.code).toBe(0);
  });

  test('a plan edited by hand is rejected on read with the path and the expectation', () => {
    writeJsApp(dir, TWO_STACKS);
    expect(cdkDocker(['synth'], dir).code).toBe(0);
    const file = path.join(dir, 'cdk.out', 'jobs.plan.json');
    const plan = JSON.parse(fs.readFileSync(file, 'utf8'));
    const id = Object.keys(plan.resources).find((k) => plan.resources[k].type === 'container')!;
    plan.resources[id].spec.restart.policy = 'sometimes';
    plan.resources[id].spec.colour = 'blue';
    fs.writeFileSync(file, JSON.stringify(plan));
    expect(() => readPlan(file)).toThrow(
      `${file} is not a valid cdk-docker plan:\n` +
        `  - resources.${id}.spec: unknown property "colour" (not allowed here; check the spelling)\n` +
        `  - resources.${id}.spec.restart.policy: must be one of "no", "always", "unless-stopped", "on-failure"`,
    );
  });

  test('ls lists stacks and their resources', () => {
    writeJsApp(dir, TWO_STACKS);
    const r = cdkDocker(['ls'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'jobs',
        '  container  cron                  jobs-cron',
        '  image      image-busybox-latest  docker.io/library/busybox:latest',
        'web',
        '  container  api                   web-api',
        '  container  db                    web-db',
        '  image      image-busybox-latest  docker.io/library/busybox:latest',
        '  image      image-postgres-16     docker.io/library/postgres:16',
        '  network    net                   web-net',
        '',
      ].join('\n'),
    );
    expect(cdkDocker(['ls', '-q'], dir).stdout).toBe('jobs\nweb\n');
  });

  const STACK_COMMANDS: Array<[string, string[]]> = [
    ['synth', []],
    ['ls', []],
    ['graph', []],
    ['diff', []],
    ['apply', []],
    ['destroy', []],
    ['drift', []],
    ['ps', []],
    ['logs', ['web', 'api']],
    ['exec', ['web', 'api', 'true']],
    ['watch', []],
  ];

  test.each(STACK_COMMANDS)('%s takes the shared -a/--app, -o/--output and --engine options', (cmd) => {
    const help = cdkDocker([cmd, '--help'], dir);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^ {2}-a, --app <command> /m);
    expect(help.stdout).toMatch(/^ {2}-o, --output <dir> /m);
    expect(help.stdout).toMatch(/^ {2}--engine <name> +engine to talk to: builtin, docker, swarm /m);
  });

  test.each(STACK_COMMANDS)('%s --engine nope is refused in one line naming the supported engines', (cmd, args) => {
    writeJsApp(dir, TWO_STACKS);
    const r = cdkDocker([cmd, '--engine', 'nope', ...args], dir);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'Error: unknown engine "nope" (--engine); the supported engines are: builtin, docker, swarm\n' });
    expect(fs.existsSync(path.join(dir, 'cdk.out'))).toBe(false); // refused before the app ran
  });

  test('--engine builtin is accepted', () => {
    writeJsApp(dir, TWO_STACKS);
    const r = cdkDocker(['ls', '-q', '--engine', 'builtin'], dir);
    expect(r).toEqual({ code: 0, stdout: 'jobs\nweb\n', stderr: '' });
  });

  test('the engine comes from CDK_DOCKER_ENGINE, else "engine" in cdk-docker.json; the flag wins over both', () => {
    writeJsApp(dir, TWO_STACKS);
    expect(cdkDocker(['ls', '-q'], dir, { CDK_DOCKER_ENGINE: 'builtin' })).toMatchObject({ code: 0, stdout: 'jobs\nweb\n' });
    expect(cdkDocker(['ls', '-q'], dir, { CDK_DOCKER_ENGINE: 'nomad' })).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Error: unknown engine "nomad" (CDK_DOCKER_ENGINE); the supported engines are: builtin, docker, swarm\n',
    });
    expect(cdkDocker(['ls', '-q', '--engine', 'builtin'], dir, { CDK_DOCKER_ENGINE: 'nomad' })).toMatchObject({ code: 0, stdout: 'jobs\nweb\n' });

    const config = path.join(dir, 'cdk-docker.json');
    fs.writeFileSync(config, JSON.stringify({ app: 'node app.js', engine: 'builtin' }));
    expect(cdkDocker(['ls', '-q'], dir)).toMatchObject({ code: 0, stdout: 'jobs\nweb\n' });
    fs.writeFileSync(config, JSON.stringify({ app: 'node app.js', engine: 'nomad' }));
    expect(cdkDocker(['drift'], dir)).toEqual({
      code: 1,
      stdout: '',
      stderr: `Error: unknown engine "nomad" ("engine" in ${config}); the supported engines are: builtin, docker, swarm\n`,
    });
    expect(cdkDocker(['ls', '-q'], dir, { CDK_DOCKER_ENGINE: 'builtin' })).toMatchObject({ code: 0, stdout: 'jobs\nweb\n' });
    expect(cdkDocker(['ls', '-q', '--engine', 'builtin'], dir)).toMatchObject({ code: 0, stdout: 'jobs\nweb\n' });
    fs.writeFileSync(config, JSON.stringify({ app: 'node app.js', engine: 7 }));
    expect(cdkDocker(['ls'], dir)).toEqual({
      code: 1,
      stdout: '',
      stderr: `Error: ${config}: "engine" must be "builtin", "docker", "swarm" or {"docker": {"host": "tcp://host:2376", "tlsVerify": true}} (or {"swarm": {…}} for a manager)\n`,
    });
    fs.writeFileSync(config, JSON.stringify({ app: 'node app.js', engine: { docker: { host: 'unix:///x.sock', tls: true } } }));
    expect(cdkDocker(['ls'], dir)).toEqual({
      code: 1,
      stdout: '',
      stderr: `Error: ${config}: unknown key "engine.docker.tls"; known keys are "host", "context", "tlsVerify" and "certPath"\n`,
    });
  });

  test('--engine docker talks to the engine of DOCKER_HOST; cdk-docker.json\'s engine object overrides it', () => {
    writeJsApp(dir, TWO_STACKS);
    expect(cdkDocker(['synth'], dir).code).toBe(0);
    const missing = path.join(dir, 'no-such-dir', 'docker.sock');
    const env = { DOCKER_HOST: `unix://${missing}`, DOCKER_CONTEXT: '', DOCKER_CONFIG: path.join(dir, 'docker-config') };
    const viaEnv = `Error: cannot reach the Docker Engine at unix://${missing}: no such socket; start dockerd (or point DOCKER_HOST at a running engine)\n`;
    for (const [cmd, ...args] of [['ps', 'web'], ['drift', 'web'], ['logs', 'web', 'api'], ['exec', 'web', 'api', 'true'], ['destroy', '--auto-approve', 'web']]) {
      expect(cdkDocker([cmd, '--engine', 'docker', ...args], dir, env)).toEqual({ code: 1, stdout: '', stderr: viaEnv });
    }
    expect(cdkDocker(['drift', 'web'], dir, { ...env, CDK_DOCKER_ENGINE: 'docker' })).toEqual({ code: 1, stdout: '', stderr: viaEnv });

    const other = path.join(dir, 'elsewhere', 'docker.sock');
    fs.writeFileSync(path.join(dir, 'cdk-docker.json'), JSON.stringify({ app: 'node app.js', engine: { docker: { host: `unix://${other}` } } }));
    const viaConfig = `Error: cannot reach the Docker Engine at unix://${other}: no such socket; start dockerd (or point cdk-docker.json's "engine" at a running engine)\n`;
    expect(cdkDocker(['drift', 'web'], dir, env)).toEqual({ code: 1, stdout: '', stderr: viaConfig });
    expect(cdkDocker(['apply', '--auto-approve', 'web'], dir, env)).toEqual({ code: 1, stdout: expect.any(String), stderr: viaConfig });
    // --engine builtin leaves the Docker settings unused.
    expect(cdkDocker(['drift', 'jobs', '--engine', 'builtin'], dir, { ...env, CDK_DOCKER_ROOT: path.join(dir, 'root'), CDK_DOCKER_RUNROOT: path.join(dir, 'run') }).code).toBe(2);
  });

  test('drift takes --app as every stack command does (and reads the last synth, as without it)', () => {
    writeJsApp(dir, TWO_STACKS);
    expect(cdkDocker(['synth'], dir).code).toBe(0);
    const env = { CDK_DOCKER_ROOT: path.join(dir, 'root'), CDK_DOCKER_RUNROOT: path.join(dir, 'run') };
    const plain = cdkDocker(['drift', 'jobs'], dir, env);
    expect(plain.code).toBe(2);
    expect(plain.stdout).toMatch(/^ {2}missing +container cron \(jobs-cron\)$/m);
    const withApp = cdkDocker(['drift', '--app', 'node app.js', 'jobs'], dir, env);
    expect(withApp).toEqual(plain);
    expect(cdkDocker(['drift', '--json', '-a', 'node app.js', '-o', 'cdk.out', '--engine', 'builtin', 'jobs'], dir, env).code).toBe(2);
  });

  test('graph draws the dependencies as dot and as mermaid', () => {
    writeJsApp(dir, TWO_STACKS);
    const dot = cdkDocker(['graph', 'web'], dir);
    expect(dot.code).toBe(0);
    expect(dot.stdout.startsWith('digraph cdk_docker {\n')).toBe(true);
    const plan = readPlan(path.join(dir, 'cdk.out', 'web.plan.json'));
    const id = (p: string) => Object.keys(plan.resources).find((k) => plan.resources[k].path === p)!;
    expect(dot.stdout).toContain(`  "web/${id('api')}" -> "web/${id('db')}";\n`);
    expect(dot.stdout).toContain(`  "web/${id('db')}" -> "web/${id('net')}";\n`);
    expect(dot.stdout).toContain(`  "web/${id('api')}" [label="api\\ncontainer: web-api", shape=box];\n`);
    const mermaid = cdkDocker(['graph', 'web', '--format', 'mermaid'], dir);
    expect(mermaid.code).toBe(0);
    expect(mermaid.stdout.split('\n')[0]).toBe('graph LR');
    expect(mermaid.stdout).toContain(`  web_${id('api')} --> web_${id('db')}\n`);
    expect(cdkDocker(['graph', '--format', 'png'], dir).stderr).toContain("error: option '--format <format>' argument 'png' is invalid. Allowed choices are dot, mermaid.");
  });
});
