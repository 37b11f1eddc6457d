/**
 * The Docker client loads undici's Pool and `request` from their own files (~20 ms against ~40 ms
 * for undici's index). undici has no `exports` map that promises those files: should a release
 * move them, the client falls back to the index. Both ways are checked against a stand-in
 * engine on a unix socket (the real dockerd is docker-client.test.ts's).
 */
import * as http from 'node:http';
import * as path from 'node:path';
import { DockerClient } from '../../lib/drivers/docker';
import { loadUndici, UndiciParts } from '../../lib/drivers/docker/client';
import { removeTempDirs, tempDir } from '../helpers/cli';

let server: http.Server;
let sock: string;
const paths: string[] = [];

beforeAll(async () => {
  sock = path.join(tempDir('cdk-docker-undici-'), 'engine.sock');
  server = http.createServer((req, res) => {
    paths.push(req.url!);
    res.setHeader('API-Version', '1.41');
    res.setHeader('Content-Type', req.url === '/_ping' ? 'text/plain' : 'application/json');
    res.end(req.url === '/_ping' ? 'OK' : req.url === '/version' ? JSON.stringify({ Version: '20.10.24', ApiVersion: '1.41', MinAPIVersion: '1.12', Os: 'linux', Arch: 'amd64' }) : '[{"Id":"abc"}]');
  });
  await new Promise<void>((r) => server.listen(sock, r));
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  removeTempDirs();
});

/** A GET through `parts` to the stand-in engine: the body's text. */
async function get(parts: UndiciParts, url: string): Promise<string> {
  const pool = new parts.Pool('http://docker.invalid', { connect: { socketPath: sock } });
  try {
    const res = await parts.request.call(pool, { path: url, method: 'GET' });
    return await res.body.text();
  } finally {
    await pool.close();
  }
}

test('undici\'s own files serve the client', async () => {
  const parts = loadUndici();
  expect(parts.Pool).toBe(require('undici/lib/dispatcher/pool'));
  expect(await get(parts, '/_ping')).toBe('OK');
  paths.length = 0;
  const c = await DockerClient.connect({ host: `unix://${sock}` }, {});
  expect(await c.request('GET', '/containers/json')).toEqual([{ Id: 'abc' }]);
  await c.close();
  expect(paths).toEqual(['/_ping', '/version', '/v1.41/containers/json']);
});

test('when a release of undici moves those files, its index serves the client', async () => {
  const asked: string[] = [];
  const parts = loadUndici((id) => {
    asked.push(id);
    if (id.startsWith('undici/lib/')) throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
    return require(id);
  });
  expect(asked).toEqual(['undici/lib/dispatcher/pool', 'undici']);
  expect(parts.Pool).toBe((require('undici') as typeof import('undici')).Pool);
  expect(await get(parts, '/_ping')).toBe('OK');
  expect(await get(parts, '/v1.41/containers/json')).toBe('[{"Id":"abc"}]');
});

test('any other failure to load them is not hidden', () => {
  expect(() =>
    loadUndici(() => {
      throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    }),
  ).toThrow('EACCES: permission denied');
});
