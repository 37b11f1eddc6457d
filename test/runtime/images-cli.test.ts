import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, CliResult, cdkDocker, ok, tempDir } from '../helpers/cli';
import { busyboxRootfsTar } from '../helpers/images';
import { TestRegistry, startRegistry } from '../helpers/registry';

jest.setTimeout(60_000);

/**
 * `cdk-docker runtime` image commands as a user types them: the built CLI, a private state
 * root, a real docker-registry. Output formats follow Docker's.
 */
let work: string;
let rootfs: string;
let registry: TestRegistry;
let authRegistry: TestRegistry;

const env = (root = 'root') => ({ CDK_DOCKER_ROOT: path.join(work, root), CDK_DOCKER_RUNROOT: path.join(work, `${root}-run`), DOCKER_CONFIG: path.join(work, 'docker-config') });
const rt = (args: string[], root = 'root', input?: string): CliResult => cdkDocker(['runtime', ...args], work, env(root), input);

beforeAll(async () => {
  work = tempDir('cdk-docker-images-cli-');
  rootfs = busyboxRootfsTar(work);
  [registry, authRegistry] = await Promise.all([startRegistry(), startRegistry({ basicAuth: { ci: 's3cret' } })]);
});

afterAll(async () => {
  await Promise.all([registry?.stop(), authRegistry?.stop()]);
  fs.rmSync(work, { recursive: true, force: true });
});

test('import, images, inspect, history, tag, push, rmi, pull, save, load', () => {
  const id = ok(rt(['import', '-c', 'CMD ["sh"]', '-c', 'ENV PATH=/bin', '-m', 'busybox from busybox-static', rootfs, 'busybox:cli'])).trim();
  expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
  const short = id.slice(7, 19);

  expect(ok(rt(['images']))).toMatch(new RegExp(`^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE\\nbusybox +cli +${short} +(Less than a second|\\d+ seconds) ago +\\d+(\\.\\d+)?MB\\n$`));
  expect(ok(rt(['images', '-q']))).toBe(`${short}\n`);
  expect(ok(rt(['image', 'inspect', '-f', '{{.Id}}', 'busybox:cli']))).toBe(`${id}\n`);
  const [doc] = JSON.parse(ok(rt(['image', 'inspect', 'busybox'.concat(':cli')])));
  expect(doc).toMatchObject({ Id: id, RepoTags: ['busybox:cli'], Config: { Cmd: ['sh'], Env: ['PATH=/bin'] }, RootFS: { Type: 'layers' } });
  expect(ok(rt(['history', 'busybox:cli']))).toMatch(new RegExp(`^IMAGE +CREATED +CREATED BY +SIZE +COMMENT\\n${short} +.* ago +\\S+ +busybox from busybox-static\\n$`));

  const remote = `${registry.host}/team/busybox:1`;
  ok(rt(['tag', 'busybox:cli', remote]));
  const push = ok(rt(['push', remote]));
  expect(push).toContain(`The push refers to repository [${registry.host}/team/busybox]`);
  expect(push).toMatch(/^[0-9a-f]{12}: Pushed$/m);
  const digest = /^1: digest: (sha256:[0-9a-f]{64}) size: \d+$/m.exec(push)![1];
  expect(push.split('\n').filter((l) => l.endsWith(': Pushed'))).toHaveLength(1); // the layer, not the config

  // As Docker: the repository's last tag takes its digest reference (from the push) with it.
  expect(ok(rt(['rmi', remote]))).toBe(`Untagged: ${remote}\nUntagged: ${registry.host}/team/busybox@${digest}\n`);
  // A fresh store pulls everything; plain lines, as Docker prints without a TTY.
  const pull = ok(rt(['pull', remote], 'other'));
  expect(pull).toMatch(new RegExp(`^1: Pulling from team/busybox\\n[0-9a-f]{12}: Pulling fs layer\\n`));
  expect(pull).toContain(`Digest: ${digest}\nStatus: Downloaded newer image for ${remote}\n${remote}\n`);
  expect(ok(rt(['pull', remote], 'other'))).toContain(`Status: Image is up to date for ${remote}\n`);
  expect(ok(rt(['images', '--digests'], 'other'))).toMatch(new RegExp(`^${registry.host}/team/busybox +1 +${digest} +${short} `, 'm'));

  // On a terminal the layer rows are redrawn in place and stay, final, above the summary.
  const tty = execFileSync('script', ['-qec', `${CLI} runtime pull ${remote}`, '/dev/null'], { env: { ...process.env, ...env('tty') }, encoding: 'utf8' }).replace(/\r/g, '');
  expect(tty).toMatch(/\x1b\[\d+A/);
  expect(tty).toMatch(new RegExp(`\x1b\\[2K[0-9a-f]{12}: Pull complete\nDigest: ${digest}\nStatus: Downloaded newer image for ${remote}\n${remote}\n$`));

  const archive = path.join(work, 'busybox.tar');
  ok(rt(['save', '-o', archive, 'busybox:cli']));
  expect(execFileSync('tar', ['-tf', archive], { encoding: 'utf8' }).split('\n')).toEqual(expect.arrayContaining(['manifest.json', 'repositories', 'index.json']));
  expect(ok(rt(['load', '-i', archive], 'third'))).toBe('Loaded image: busybox:cli\n');
  expect(ok(rt(['images', '-q', '--no-trunc'], 'third'))).toBe(`${id}\n`);

  expect(ok(rt(['rmi', 'busybox:cli'], 'third'))).toMatch(new RegExp(`^Untagged: busybox:cli\\nDeleted: ${id}\\n`));
  expect(ok(rt(['images', '-q'], 'third'))).toBe('');
});

test('images REPOSITORY[:TAG] and --filter pick images as Docker does', () => {
  const im = (args: string[]) => rt(args, 'filters');
  ok(im(['import', '-c', 'LABEL tier=web', rootfs, 'app:1']));
  ok(im(['import', '-c', 'LABEL tier=db', rootfs, 'app:2']));
  ok(im(['tag', 'app:2', 'team/app:2']));
  const dangling = ok(im(['import', rootfs])).trim();
  const rows = (...args: string[]) => ok(im(['images', ...args])).split('\n').slice(1).filter(Boolean).map((l) => l.split(/ {2,}/).slice(0, 2).join(':'));

  expect(rows()).toEqual(['<none>:<none>', 'app:2', 'team/app:2', 'app:1']);
  // A repository name matches its every tag, a tag that tag only; patterns are Go globs ("*" stops at "/").
  expect(rows('app')).toEqual(['app:2', 'app:1']);
  expect(rows('app:1')).toEqual(['app:1']);
  expect(rows('app:*')).toEqual(['app:2', 'app:1']);
  expect(rows('*/app')).toEqual(['team/app:2']);
  expect(rows('app:[0-1]')).toEqual(['app:1']);
  expect(rows('nothing')).toEqual([]);
  expect(ok(im(['image', 'ls', 'team/app:2']))).toMatch(/^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE\nteam\/app +2 +[0-9a-f]{12} /);
  // One key repeated: any value; different keys: all of them (label: all its values).
  expect(rows('-f', 'reference=app:1', '-f', 'reference=team/app')).toEqual(['team/app:2', 'app:1']);
  expect(rows('--filter', 'reference=app', '--filter', 'label=tier=web')).toEqual(['app:1']);
  expect(rows('-f', 'label=tier')).toEqual(['app:2', 'team/app:2', 'app:1']);
  expect(rows('-f', 'label=tier', '-f', 'label=tier=db')).toEqual(['app:2', 'team/app:2']);
  expect(rows('-f', 'dangling=true')).toEqual(['<none>:<none>']);
  expect(ok(im(['images', '-q', '-f', 'dangling=true']))).toBe(`${dangling.slice(7, 19)}\n`);
  expect(rows('-f', 'dangling=false', 'app')).toEqual(['app:2', 'app:1']);
  expect(rows('-f', 'since=app:1', '-f', 'dangling=false')).toEqual(['app:2', 'team/app:2']);
  expect(rows('-f', 'before=team/app:2')).toEqual(['app:1']);

  expect(im(['images', '-f', 'color=red'])).toMatchObject({ code: 1, stderr: "Error: invalid filter 'color': the image filters are reference, dangling, label, before, since\n" });
  expect(im(['images', 'app:[1'])).toMatchObject({ code: 1, stderr: "Error: invalid filter 'reference=app:[1': syntax error in pattern\n" });
  expect(im(['images', '-f', 'dangling=maybe'])).toMatchObject({ code: 1, stderr: "Error: invalid filter 'dangling=maybe': use dangling=true or dangling=false\n" });
  expect(im(['images', '-f', 'before=missing:1'])).toMatchObject({ code: 1, stderr: 'Error: No such image: missing:1\n' });
});

test('image inspect --format runs Go templates; a bad one exits 1 and prints nothing', () => {
  const im = (args: string[]) => rt(args, 'templates');
  ok(im(['import', '-c', 'CMD ["sh", "-c", "true"]', '-c', 'LABEL com.example.tier=web', '-c', 'LABEL app=shop', rootfs, 'tpl:1']));
  const format = '{{join .Config.Cmd " "}}|{{index .RepoTags 0}}|{{range $k, $v := .Config.Labels}}{{$k}}={{$v}},{{end}}|{{index .Config.Labels "com.example.tier"}}|{{if eq .Os "linux"}}{{upper .Os}}{{end}}|{{len .RepoTags}}';
  expect(ok(im(['image', 'inspect', '-f', format, 'tpl:1']))).toBe('sh -c true|tpl:1|app=shop,com.example.tier=web,|web|LINUX|1\n');
  expect(im(['image', 'inspect', '-f', '{{.Os | nope}}', 'tpl:1'])).toEqual({ code: 1, stdout: '', stderr: 'Error: template parsing error: template: :1: function "nope" not defined\n' });
  expect(im(['image', 'inspect', '-f', '{{.Os.Name}}', 'tpl:1', 'tpl:1'])).toEqual({
    code: 1,
    stdout: '',
    stderr: 'Error: template parsing error: template: :1:2: executing "" at <.Os.Name>: can\'t evaluate field Name in type string\n',
  });
});

test('import -c applies instructions as a Dockerfile does: substitution from the env so far, relative WORKDIR, port ranges; others refused', () => {
  const im = (args: string[]) => rt(args, 'changes');
  ok(im(['import', '-c', 'ENV A=1 PATH=/bin', '-c', 'ENV B=${A}2', '-c', 'WORKDIR /srv', '-c', 'WORKDIR app', '-c', 'EXPOSE 80-81/tcp', '-c', 'ENTRYPOINT ["sh"]', '-c', 'CMD ["-c", "echo $B"]', rootfs, 'changed:1']));
  const config = JSON.parse(ok(im(['image', 'inspect', '-f', '{{json .Config}}', 'changed:1']))) as { Env: string[]; WorkingDir: string; ExposedPorts: object; Entrypoint: string[]; Cmd: string[] };
  expect(config).toMatchObject({ Env: ['A=1', 'PATH=/bin', 'B=12'], WorkingDir: '/srv/app', ExposedPorts: { '80/tcp': {}, '81/tcp': {} }, Entrypoint: ['sh'], Cmd: ['-c', 'echo $B'] });
  expect(im(['import', '-c', 'RUN true', rootfs, 'changed:2'])).toMatchObject({ code: 1, stderr: 'Error: --change "RUN true": RUN is not supported; use CMD, ENTRYPOINT, ENV, LABEL, EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL, SHELL, ONBUILD, HEALTHCHECK\n' });
  expect(im(['import', '-c', 'EXPOSE eighty', rootfs, 'changed:3'])).toMatchObject({ code: 1, stderr: expect.stringContaining('--change "EXPOSE eighty": invalid port "eighty"') });
});

test('login and logout against a registry with basic auth', () => {
  ok(rt(['import', rootfs, 'busybox:auth']));
  const remote = `${authRegistry.host}/ci/busybox:1`;
  ok(rt(['tag', 'busybox:auth', remote]));
  const denied = rt(['push', remote]);
  expect(denied.code).toBe(1);
  expect(denied.stderr).toMatch(new RegExp(`^Error: .*${authRegistry.host}.*cdk-docker runtime login`, 'm'));

  const wrong = rt(['login', '-u', 'ci', '--password-stdin', authRegistry.host], 'root', 'nope\n');
  expect(wrong.code).toBe(1);
  expect(wrong.stderr).toContain('Error:');
  expect(ok(rt(['login', '-u', 'ci', '--password-stdin', authRegistry.host], 'root', 's3cret\n'))).toBe('Login Succeeded\n');
  const config = JSON.parse(fs.readFileSync(path.join(work, 'docker-config', 'config.json'), 'utf8'));
  expect(config.auths[authRegistry.host].auth).toBe(Buffer.from('ci:s3cret').toString('base64'));

  expect(ok(rt(['push', '-q', remote]))).toBe('');
  expect(ok(rt(['logout', authRegistry.host]))).toBe(`Removing login credentials for ${authRegistry.host}\n`);
  expect(rt(['pull', remote], 'fresh').code).toBe(1);
});

test('errors name the thing and the fix', () => {
  const missing = rt(['pull', `${registry.host}/nope/none:1`]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toBe(`Error: manifest for ${registry.host}/nope/none:1 not found: registry ${registry.host} has no tag "1" in repository nope/none (MANIFEST_UNKNOWN: manifest unknown)\n`);
  expect(rt(['rmi', 'no-such-image'])).toMatchObject({ code: 1, stderr: 'Error: No such image: no-such-image\n' });
  const untagged = rt(['push', `${registry.host}/x/y:1`]);
  expect(untagged.stderr).toBe(`Error: An image does not exist locally with the tag: ${registry.host}/x/y:1; tag one first with \`cdk-docker runtime tag IMAGE ${registry.host}/x/y:1\`\n`);
  expect(rt(['pull', 'Busybox'])).toMatchObject({ code: 1, stderr: 'Error: invalid image reference "Busybox": repository name must be lowercase\n' });
});
