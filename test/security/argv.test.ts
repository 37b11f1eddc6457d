import * as fs from 'node:fs';
import * as path from 'node:path';
import { unescapeArgs } from '../../lib/cli/entry';
import { CLI, cdkDocker, tempDir } from '../helpers/cli';
import { spawnSync } from 'node:child_process';

/**
 * No argument given to cdk-docker may change how Node starts. Node 20 reads `--env-file`
 * anywhere in its argv, also after the script's name; an env file with a NODE_OPTIONS line
 * would then run code as root before the CLI's first line.
 */
let work: string;
let marker: string;
let envFile: string;
beforeAll(() => {
  work = tempDir('cdk-docker-argv-');
  marker = path.join(work, 'evil-ran');
  const evil = path.join(work, 'evil.js');
  fs.writeFileSync(evil, `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\n`);
  envFile = path.join(work, 'app.env');
  fs.writeFileSync(envFile, `NODE_OPTIONS=--require ${evil}\nGREETING=hello\n`);
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const env = () => ({ CDK_DOCKER_ROOT: path.join(work, 'root'), CDK_DOCKER_RUNROOT: path.join(work, 'run') });

test.each([
  [['runtime', 'run', '--pull=never', '--env-file', 'ENV', 'no-such-image:1', 'true']],
  [['runtime', 'run', '--pull=never', '--env-file=ENV', 'no-such-image:1', 'true']],
  [['runtime', 'create', '--env-file-if-exists=ENV', 'no-such-image:1']],
  [['--env-file=ENV', '--version']],
  [['runtime', 'run', '--pull=never', 'no-such-image:1', 'sh', '--env-file', 'ENV']],
])('an env file named in %j never reaches Node', (args) => {
  const r = cdkDocker(args.map((a) => a.replace('ENV', envFile)), work, env());
  expect(r.stderr).not.toMatch(/evil|NODE_OPTIONS/);
  expect(fs.existsSync(marker)).toBe(false);
});

test('the same arguments given to node itself do load the file (the check above can see it)', () => {
  const r = spawnSync(process.execPath, [path.join(path.dirname(CLI), '..', 'dist', 'lib', 'cli', 'main.js'), `--env-file=${envFile}`], { encoding: 'utf8' });
  expect(r.error).toBeUndefined();
  expect(fs.existsSync(marker)).toBe(true);
  fs.rmSync(marker);
});

test('arguments keep their exact text through the shim (quotes, spaces, empty, leading colon, newlines)', () => {
  const r = cdkDocker(['runtime', 'inspect', '--format', '{{.Id}}', ':x', '', 'a b', "it's", 'line\nbreak', '-'], work, env());
  expect(r.code).toBe(1);
  for (const name of [':x', 'a b', "it's", 'line\nbreak']) expect(r.stderr).toContain(name);
});

test('the entry file refuses arguments that did not come through the shim', () => {
  expect(unescapeArgs([':run', ':--env-file', ':'])?.join('|')).toBe('run|--env-file|');
  expect(unescapeArgs([':run', '--env-file'])).toBeUndefined();
  const r = spawnSync(process.execPath, [path.join(path.dirname(CLI), '..', 'dist', 'lib', 'cli', 'entry.js'), 'version'], { encoding: 'utf8' });
  expect(r.status).toBe(2);
  expect(r.stderr).toContain('run bin/cdk-docker');
});
