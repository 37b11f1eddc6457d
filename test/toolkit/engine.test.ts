import * as fs from 'node:fs';
import * as path from 'node:path';
import { ENGINES, resolveEngineName } from '../../lib/toolkit/engine';
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
  expect(ENGINES).toEqual(['builtin']);
});

test('without flag, variable or config the engine is builtin', () => {
  expect(resolveEngineName({ dir, env: {} })).toBe('builtin');
  config({ app: 'node app.js' });
  expect(resolveEngineName({ dir, env: {} })).toBe('builtin');
});

test('the flag wins over CDK_DOCKER_ENGINE, which wins over "engine" in cdk-docker.json', () => {
  config({ engine: 'nope-config' });
  expect(() => resolveEngineName({ dir, env: {} })).toThrow(`unknown engine "nope-config" ("engine" in ${path.join(dir, 'cdk-docker.json')}); the supported engines are: builtin`);
  expect(resolveEngineName({ dir, env: { CDK_DOCKER_ENGINE: 'builtin' } })).toBe('builtin');
  expect(() => resolveEngineName({ dir, env: { CDK_DOCKER_ENGINE: 'nope-env' } })).toThrow('unknown engine "nope-env" (CDK_DOCKER_ENGINE); the supported engines are: builtin');
  expect(resolveEngineName({ dir, engine: 'builtin', env: { CDK_DOCKER_ENGINE: 'nope-env' } })).toBe('builtin');
  expect(() => resolveEngineName({ dir, engine: 'nope-flag', env: { CDK_DOCKER_ENGINE: 'builtin' } })).toThrow('unknown engine "nope-flag" (--engine); the supported engines are: builtin');
});

test('a name that is an Object.prototype key is not an engine', () => {
  expect(() => resolveEngineName({ dir, engine: 'constructor', env: {} })).toThrow('unknown engine "constructor" (--engine)');
});
