import * as fs from 'node:fs';
import * as path from 'node:path';
import { isFileCached, JsonFileCache, removeCachedFile, writeJsonAtomic } from '../../runtime/util/files';
import { removeTempDirs, tempDir } from '../helpers/cli';

/**
 * JsonFileCache (runtime/util/files.ts): the container and network stores read their records
 * through it, so a scan of every record costs stats, not reads. What it must never do is give
 * an old record after the file changed, or let a caller change what others are given.
 */

afterAll(() => removeTempDirs());

test('a file is read once, and again after every rewrite, however quick', () => {
  const dir = tempDir('cdk-docker-json-cache-');
  const file = path.join(dir, 'config.json');
  const cache = new JsonFileCache<{ n: number; name?: string }>();
  const readFileSync = jest.spyOn(require('node:fs') as typeof fs, 'readFileSync');
  try {
    writeJsonAtomic(file, { n: 1 });
    expect(cache.read(file)).toEqual({ n: 1 });
    expect(cache.read(file)).toEqual({ n: 1 });
    expect(readFileSync.mock.calls.filter(([f]) => f === file)).toHaveLength(1);
    // Rewritten within the same millisecond, with the same size: another inode all the same.
    for (let n = 2; n <= 9; n++) {
      writeJsonAtomic(file, { n });
      expect(cache.read(file)).toEqual({ n });
    }
    // Replaced by another process (not through this process's writeJsonAtomic): another inode.
    for (const name of ['b', 'cc', 'ddd']) {
      fs.writeFileSync(`${file}.other`, JSON.stringify({ n: 9, name }));
      fs.renameSync(`${file}.other`, file);
      expect(cache.read(file)).toEqual({ n: 9, name });
      // Another cache of this process reads the same.
      expect(new JsonFileCache<{ n: number; name?: string }>().read(file)).toEqual({ n: 9, name });
    }
    // Removed: none, and a new one is read.
    fs.rmSync(file);
    expect(cache.read(file)).toBeUndefined();
    writeJsonAtomic(file, { n: 10, name: 'back' });
    expect(cache.read(file)).toEqual({ n: 10, name: 'back' });
  } finally {
    readFileSync.mockRestore();
  }
});

test('a record removed through removeCachedFile is gone from the file system and from what the process keeps', () => {
  const dir = tempDir('cdk-docker-json-cache-');
  const file = path.join(dir, 'gone.json');
  writeJsonAtomic(file, { n: 1 });
  const cache = new JsonFileCache<{ n: number }>();
  expect(cache.read(file)).toEqual({ n: 1 });
  expect(isFileCached(file)).toBe(true);
  removeCachedFile(file);
  expect(fs.existsSync(file)).toBe(false);
  expect(isFileCached(file)).toBe(false);
  // A file of that name made again later (by another process) is read afresh.
  fs.writeFileSync(file, JSON.stringify({ n: 2 }));
  expect(cache.read(file)).toEqual({ n: 2 });
});

test('what it gives is frozen all the way down: a caller cannot change what the next one is given', () => {
  const dir = tempDir('cdk-docker-json-cache-');
  const file = path.join(dir, 'record.json');
  writeJsonAtomic(file, { Config: { Labels: { a: '1' }, Env: ['X=1'] } });
  const cache = new JsonFileCache<{ Config: { Labels: { [k: string]: string }; Env: string[] } }>();
  const first = cache.read(file)!;
  expect(() => {
    first.Config.Labels.a = '2';
  }).toThrow(TypeError);
  expect(() => first.Config.Env.push('Y=2')).toThrow(TypeError);
  expect(cache.read(file)).toEqual({ Config: { Labels: { a: '1' }, Env: ['X=1'] } });
  // A copy is the caller's to change.
  const copy = { ...first, Config: { ...first.Config, Labels: { ...first.Config.Labels, a: '3' } } };
  expect(copy.Config.Labels.a).toBe('3');
});

test('a file that does not parse is the parser\'s error, each time, and is not kept', () => {
  const dir = tempDir('cdk-docker-json-cache-');
  const file = path.join(dir, 'bad.json');
  fs.writeFileSync(file, '{"half": ');
  const cache = new JsonFileCache<object>((text, f) => {
    try {
      return JSON.parse(text) as object;
    } catch {
      throw new Error(`record ${f} is not valid JSON`);
    }
  });
  expect(() => cache.read(file)).toThrow(`record ${file} is not valid JSON`);
  expect(() => cache.read(file)).toThrow(`record ${file} is not valid JSON`);
  writeJsonAtomic(file, { fixed: true });
  expect(cache.read(file)).toEqual({ fixed: true });
});
