import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../../lib/toolkit/config';
import { ENGINES, resolveEngine, resolveEngineName } from '../../lib/toolkit/engine';
import { tempDir } from '../helpers/cli';

/** Which engine a stack command talks to: the flag, else CDK_DOCKER_ENGINE, else cdk-docker.json, else builtin. */
let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});
const config = (data: object) => fs.writeFileSync(path.join(dir, 'cdk-docker.json'), JSON.stringify(data));

test('the engines there are', () => {
  expect(ENGINES).toEqual(['builtin', 'docker', 'swarm']);
});

test('without flag, variable or config the engine is builtin', () => {
  expect(resolveEngineName({ dir, env: {} })).toBe('builtin');
  config({ app: 'node app.js' });
  expect(resolveEngineName({ dir, env: {} })).toBe('builtin');
});

test('the flag wins over CDK_DOCKER_ENGINE, which wins over "engine" in cdk-docker.json', () => {
  config({ engine: 'nope-config' });
  expect(() => resolveEngineName({ dir, env: {} })).toThrow(`unknown engine "nope-config" ("engine" in ${path.join(dir, 'cdk-docker.json')}); the supported engines are: builtin, docker, swarm`);
  expect(resolveEngineName({ dir, env: { CDK_DOCKER_ENGINE: 'builtin' } })).toBe('builtin');
  expect(() => resolveEngineName({ dir, env: { CDK_DOCKER_ENGINE: 'nope-env' } })).toThrow('unknown engine "nope-env" (CDK_DOCKER_ENGINE); the supported engines are: builtin, docker, swarm');
  expect(resolveEngineName({ dir, engine: 'builtin', env: { CDK_DOCKER_ENGINE: 'nope-env' } })).toBe('builtin');
  expect(() => resolveEngineName({ dir, engine: 'nope-flag', env: { CDK_DOCKER_ENGINE: 'builtin' } })).toThrow('unknown engine "nope-flag" (--engine); the supported engines are: builtin, docker, swarm');
});

test('"engine": {"swarm": …} chooses a Swarm with its manager\'s endpoint, found as Docker\'s; --engine docker leaves it unused', () => {
  config({ engine: { swarm: { host: 'tcp://10.0.0.5:2376', tlsVerify: true, certPath: 'certs' } } });
  const swarm = { host: 'tcp://10.0.0.5:2376', tlsVerify: true, certPath: path.join(dir, 'certs') };
  expect(resolveEngine({ dir, env: {} })).toEqual({ name: 'swarm', swarm });
  expect(resolveEngine({ dir, env: { CDK_DOCKER_ENGINE: 'swarm' } })).toEqual({ name: 'swarm', swarm });
  expect(resolveEngine({ dir, engine: 'docker', env: {} })).toEqual({ name: 'docker' });
  config({ engine: 'swarm' });
  expect(resolveEngine({ dir, env: {} })).toEqual({ name: 'swarm' });
});

test('a name that is an Object.prototype key is not an engine', () => {
  expect(() => resolveEngineName({ dir, engine: 'constructor', env: {} })).toThrow('unknown engine "constructor" (--engine)');
});

test('"engine": "docker" chooses Docker with the endpoint of the environment', () => {
  config({ engine: 'docker' });
  expect(resolveEngine({ dir, env: {} })).toEqual({ name: 'docker' });
  expect(resolveEngine({ dir, env: { CDK_DOCKER_ENGINE: 'builtin' } })).toEqual({ name: 'builtin' });
});

test('the engine object chooses Docker and carries its endpoint settings, whichever chose Docker', () => {
  config({ engine: { docker: { host: 'tcp://10.0.0.5:2376', tlsVerify: true, certPath: 'certs' } } });
  const docker = { host: 'tcp://10.0.0.5:2376', tlsVerify: true, certPath: path.join(dir, 'certs') };
  expect(resolveEngine({ dir, env: {} })).toEqual({ name: 'docker', docker });
  expect(resolveEngine({ dir, env: { CDK_DOCKER_ENGINE: 'docker' } })).toEqual({ name: 'docker', docker });
  expect(resolveEngine({ dir, engine: 'docker', env: {} })).toEqual({ name: 'docker', docker });
  // Another engine chosen by the flag or the variable leaves the settings unused.
  expect(resolveEngine({ dir, engine: 'builtin', env: {} })).toEqual({ name: 'builtin' });
  expect(resolveEngine({ dir, env: { CDK_DOCKER_ENGINE: 'builtin' } })).toEqual({ name: 'builtin' });
  config({ engine: { docker: { context: 'prod', certPath: '/etc/docker/certs' } } });
  expect(resolveEngine({ dir, env: {} })).toEqual({ name: 'docker', docker: { context: 'prod', certPath: '/etc/docker/certs' } });
  config({ engine: { docker: {} } });
  expect(resolveEngine({ dir, env: {} })).toEqual({ name: 'docker', docker: {} });
});

/** The one-line message loadConfig refuses `config` (written as the project's cdk-docker.json) with. */
function refusedConfig(config: object): string {
  fs.writeFileSync(path.join(dir, 'cdk-docker.json'), JSON.stringify(config));
  try {
    loadConfig(dir);
  } catch (e) {
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error(`${JSON.stringify(config)} was accepted`);
}

test('a wrong engine object is refused in one line naming the file and the key', () => {
  const file = path.join(dir, 'cdk-docker.json');
  const refused = (engine: unknown) => refusedConfig({ app: 'node app.js', engine });
  const any = '"builtin", "docker", "swarm" or {"docker": {"host": "tcp://host:2376", "tlsVerify": true}} (or {"swarm": {…}} for a manager)';
  expect(refused(7)).toBe(`${file}: "engine" must be ${any}`);
  expect(refused('')).toBe(`${file}: "engine" must be ${any}`);
  expect(refused(['docker'])).toBe(`${file}: "engine" must be ${any}`);
  expect(refused({})).toBe(`${file}: "engine" is an empty object; it must be ${any}`);
  expect(refused({ kubernetes: {} })).toBe(`${file}: unknown key "engine.kubernetes"; "engine" is ${any}`);
  expect(refused({ swarm: { hots: 'tcp://h:2376' } })).toBe(`${file}: unknown key "engine.swarm.hots"; known keys are "host", "context", "tlsVerify" and "certPath"`);
  expect(refused({ docker: {}, swarm: {} })).toBe(`${file}: "engine" gives both "docker" and "swarm"; give one`);
  expect(refused({ docker: 'tcp://h:2376' })).toBe(`${file}: "engine.docker" must be an object with "host", "context", "tlsVerify" or "certPath"`);
  expect(refused({ docker: { hots: 'tcp://h:2376' } })).toBe(`${file}: unknown key "engine.docker.hots"; known keys are "host", "context", "tlsVerify" and "certPath"`);
  expect(refused({ docker: { tlsVerify: 'yes' } })).toBe(`${file}: "engine.docker.tlsVerify" must be true or false, not "yes"`);
  expect(refused({ docker: { host: 2376 } })).toBe(`${file}: "engine.docker.host" must be a non-empty string, not 2376`);
  expect(refused({ docker: { certPath: '' } })).toBe(`${file}: "engine.docker.certPath" must be a non-empty string, not ""`);
  expect(refused({ docker: { host: 'tcp://h:2376', context: 'prod' } })).toBe(`${file}: "engine.docker" gives both "host" and "context"; give one (a context already names its host)`);
  // The name is checked before anything else runs, so a broken engine object stops every command, even --engine builtin.
  expect(() => resolveEngine({ dir, engine: 'builtin', env: {} })).toThrow(`${file}: "engine.docker" gives both "host" and "context"`);
});

test('"watch" takes include and exclude lists of patterns; anything else is refused in one line naming the file and the key', () => {
  const file = path.join(dir, 'cdk-docker.json');
  const refused = (watch: unknown) => refusedConfig({ app: 'node app.js', watch });
  fs.writeFileSync(file, JSON.stringify({ app: 'node app.js', watch: { include: ['main.ts', 'lib'], exclude: ['**/*.test.ts'] } }));
  expect(loadConfig(dir).watch).toEqual({ include: ['main.ts', 'lib'], exclude: ['**/*.test.ts'] });
  const example = '{"include": ["main.ts", "lib"], "exclude": ["**/*.test.ts"]}';
  expect(refused(['main.ts'])).toBe(`${file}: "watch" must be an object such as ${example}`);
  expect(refused({ ignore: ['x'] })).toBe(`${file}: unknown key "watch.ignore"; known keys are "include" and "exclude", e.g. ${example}`);
  expect(refused({ exclude: 'README.md' })).toBe(`${file}: "watch.exclude" must be a list of patterns (as in .dockerignore), e.g. ${example}`);
  expect(refused({ include: ['main.ts', ' '] })).toBe(`${file}: "watch.include" must be a list of patterns (as in .dockerignore), e.g. ${example}`);
  expect(refusedConfig({ app: 'node app.js', watched: {} })).toBe(`${file}: unknown key "watched"; known keys are "app", "output", "engine" and "watch"`);
});
