/**
 * The layers of the code base, checked on every `npm test`:
 *
 *   lib/core      the base: imports nothing of ours
 *   runtime/      the built-in engine: imports runtime/ and lib/core only
 *   lib/ (rest)   the SDK, drivers and CLI: imports runtime/ only through runtime/index.ts
 *
 * and no cycle of loads among our files (value imports, `require()` and `import()`; type-only
 * imports are erased and do not count). The rules run over the real tree, and over a planted
 * copy to show that each can fail.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../helpers/cli';
import { loadCycles, moduleRefs, ModuleRef, sourceFiles } from './imports';

const ROOT = path.resolve(__dirname, '../..');

/** What each layer may reference among our files; the message names the rule broken. */
function wrongWay(r: ModuleRef): string | undefined {
  if (!r.to.startsWith('lib/') && !r.to.startsWith('runtime/') && !r.to.startsWith('.')) return undefined; // a package or node:
  if (r.from.startsWith('lib/core/')) return r.to.startsWith('lib/core/') ? undefined : 'lib/core is the base layer and imports nothing of ours outside it';
  if (r.from.startsWith('runtime/')) return r.to.startsWith('runtime/') || r.to.startsWith('lib/core/') ? undefined : 'runtime/ imports only runtime/ and lib/core';
  if (r.from.startsWith('lib/') && r.to.startsWith('runtime/') && r.to !== 'runtime/index') return 'lib/ uses runtime/ only through its public index (runtime/index.ts)';
  return undefined;
}

function problems(root: string): string[] {
  const refs = sourceFiles(root, ['lib', 'runtime']).flatMap((f) => moduleRefs(root, f));
  const out = refs.flatMap((r) => {
    const why = wrongWay(r);
    return why ? [`${r.from}:${r.line} imports ${r.to}: ${why}`] : [];
  });
  for (const c of loadCycles(refs)) out.push(`load cycle: ${c.join(' -> ')}`);
  return out;
}

describe('layers', () => {
  test('every import goes one way and no files load each other in a cycle', () => {
    expect(problems(ROOT)).toEqual([]);
  });

  test('the check finds a wrong-way import of each kind, a lazy one and a cycle', () => {
    const dir = tempDir('cdk-docker-layers-');
    try {
      const write = (file: string, text: string) => {
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        fs.writeFileSync(path.join(dir, file), text);
      };
      write('lib/core/a.ts', "import { x } from '../drivers/x';\nexport const a = x;\n");
      write('lib/drivers/x.ts', "import type { C } from '../../runtime/containers/service';\nexport const x = (require('../../runtime/config') as { y: number }).y;\nexport type { C };\n");
      write('lib/drivers/ok.ts', "import type * as R from '../../runtime';\nexport const ok = (require('../../runtime') as typeof R);\n");
      write('runtime/index.ts', "export const y = 1;\n");
      write('runtime/config.ts', "export const y = 1;\n");
      write('runtime/containers/service.ts', "import { toolkit } from '../../lib/toolkit/t';\nexport type C = typeof toolkit;\n");
      write('runtime/images/p.ts', "import { q } from './q';\nexport const p = () => q;\n");
      write('runtime/images/q.ts', "export const q = () => (require('./p') as { p: unknown }).p;\n");
      write('lib/toolkit/t.ts', 'export const toolkit = 1;\n');
      expect(problems(dir)).toEqual([
        'lib/core/a.ts:1 imports lib/drivers/x: lib/core is the base layer and imports nothing of ours outside it',
        'lib/drivers/x.ts:1 imports runtime/containers/service: lib/ uses runtime/ only through its public index (runtime/index.ts)',
        'lib/drivers/x.ts:2 imports runtime/config: lib/ uses runtime/ only through its public index (runtime/index.ts)',
        'runtime/containers/service.ts:1 imports lib/toolkit/t: runtime/ imports only runtime/ and lib/core',
        'load cycle: runtime/images/p -> runtime/images/q -> runtime/images/p',
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
