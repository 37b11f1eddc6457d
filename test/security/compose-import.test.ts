import * as fs from 'node:fs';
import * as path from 'node:path';
import * as fc from 'fast-check';
import * as ts from 'typescript';
import { Document, isMap, isPair, isScalar, YAMLMap } from 'yaml';
import * as lib from '../../lib';
import { CdkDockerError } from '../../lib/core/errors';
import { generateStack } from '../../lib/import/compose/generate';
import { parseDotEnv } from '../../lib/import/compose/interpolate';
import { loadCompose } from '../../lib/import/compose/load';
import { importCompose } from '../../lib/toolkit/import';
import { tempDir } from '../helpers/cli';
import { World, makeWorld } from './canary';
import { canaryProblems, messageProblems, within } from './checks';

/**
 * `cdk-docker import compose` against hostile compose files (issue 11's standard applied to the
 * importer of issue 16). For every compose file the importer accepts:
 * - the generated main.ts parses, and declares the stack only: no identifier or call the
 *   importer does not write (every hostile piece carries a `pwn()` call that would show up if a
 *   string or a comment let it out), no template literal;
 * - every value comes back: the plan synthesized from the generated code (evaluated here, with
 *   `cdk-docker` the library under test) has exactly the input's environment, labels, command,
 *   entrypoint, healthcheck, config contents and secret file paths;
 * and a refusal (by the importer or by the constructs) is a CdkDockerError of one clear line.
 * Strings carry quotes, backticks, `${`, `*\/`, line breaks of every kind (U+2028/2029), lone
 * surrogates, `</script>`, control characters; comments carried over from the YAML carry them too;
 * service, network and key names are JavaScript's own words and the generated constructor's
 * parameters.
 *
 * Fixed seed and bounded time, as test/security/fuzz.test.ts: CDK_DOCKER_FUZZ_SEED and
 * CDK_DOCKER_FUZZ_SECONDS (this file's budget is a third of it) run another seed or longer.
 */

const SEED = Number(process.env.CDK_DOCKER_FUZZ_SEED ?? 20261204);
const SECONDS = Number(process.env.CDK_DOCKER_FUZZ_SECONDS ?? 65) / 3;
const budget = (share: number) => Math.max(2_000, Math.round(SECONDS * 1000 * share));
const params = <T>(share: number, examples: T[] = []): fc.Parameters<T> => ({
  seed: SEED,
  numRuns: 1_000_000,
  interruptAfterTimeLimit: budget(share),
  markInterruptAsFailure: false,
  examples,
  endOnFailure: false,
});

let world: World;
let scratch: string;
beforeAll(() => {
  world = makeWorld('cdk-docker-harden-import-');
  scratch = tempDir('cdk-docker-harden-import-in-');
});
afterAll(() => {
  world?.dispose();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

/** Pieces that break out of a string literal, a comment or a template, each with a `pwn()` a breakout would run. */
const HOSTILE = [
  "'",
  '"',
  '`',
  '${pwn()}',
  '$',
  '\\',
  "\\'",
  "');pwn();('",
  '");pwn();("',
  '`);pwn();(`',
  '*/pwn();/*',
  '/*',
  '//',
  '\npwn();\n',
  '\r\npwn();',
  '\rpwn();',
  '\u2028pwn();',
  '\u2029pwn();',
  '\u0085pwn();',
  '</script><script>pwn()</script>',
  '<!--',
  '-->',
  '\t',
  '\u0001',
  '\u001b[31m',
  '\u007f',
  '\ufeff',
  '\ud800',
  '\udc00',
  '\ud83d\ude00',
  'é',
  ' ',
  '#',
  ': ',
  '- ',
  '&a',
  '*a',
  '!!str',
  '{}',
  '[]',
  'a',
  'pwn',
];
const hostile = (maxLength = 6): fc.Arbitrary<string> => fc.array(fc.constantFrom(...HOSTILE), { maxLength }).map((xs) => xs.join(''));
/** Names JavaScript gives a meaning, the generated code's own names, and odd ones the schema allows. */
const NAMES = ['web', 'id', 'scope', 'arguments', 'eval', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'default', 'this', 'super', 'a.b', 'a-b', '_', '1', '9lives', 'App', 'Container', 'Network', 'x--y', 'process', 'require', 'module', 'exports', 'Infinity', 'let', 'await', 'yield', 'defaultNetwork', 'webContainer'];
/** Environment names the constructs take (non-empty, no "=" or white space), hostile otherwise. */
const envKey = fc.oneof(fc.constantFrom('A', 'constructor', 'toString', '__defineGetter__', 'PATH', "'", '"', '`', '${x}', '*/', '</script>', 'a.b-c', '\u2028', '\ud800'), hostile(3).filter((k) => k !== '' && !/[=\s\u0085\u2028\u2029\ufeff]/.test(k)));

interface Service {
  readonly name: string;
  readonly env: Record<string, string>;
  readonly labels: Record<string, string>;
  readonly command?: string[];
  readonly entrypoint?: string[];
  readonly health?: string[];
  readonly config?: string;
  readonly secretFile?: string;
  readonly comment: string;
}

const service = (name: string): fc.Arbitrary<Service> =>
  fc.record(
    {
      name: fc.constant(name),
      env: fc.dictionary(envKey, hostile(), { maxKeys: 4 }),
      labels: fc.dictionary(hostile(2).map((k) => `harden.${k}`).filter((k) => !/[=\s\u0085\u2028\u2029\ufeff]/.test(k)), hostile(), { maxKeys: 3 }),
      command: fc.array(hostile(), { minLength: 1, maxLength: 4 }),
      entrypoint: fc.array(hostile(), { minLength: 1, maxLength: 3 }),
      health: fc.array(hostile(), { minLength: 1, maxLength: 3 }),
      config: hostile(8),
      secretFile: hostile(4).filter((f) => f !== '' && f !== '.' && f !== '..' && !f.includes('/') && Buffer.byteLength(f) < 200),
      comment: hostile(6),
    },
    { requiredKeys: ['name', 'env', 'labels', 'comment'] },
  );

const project = fc.uniqueArray(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 3 }).chain((names) =>
  fc.record({ services: fc.tuple(...names.map(service)), network: fc.option(fc.constantFrom(...NAMES), { nil: undefined }), topComment: hostile(4) }),
);

/** `$` is `$$` in a compose file: the loaded value is then the string itself. */
const lit = (s: string) => s.replace(/\$/g, '$$$$');

/** The compose file of a project: written with the yaml library (quoting is its job), comments set on the nodes. */
function composeText(p: { services: Service[]; network?: string; topComment: string }): string {
  const services: Record<string, unknown> = {};
  const configs: Record<string, unknown> = {};
  const secrets: Record<string, unknown> = {};
  p.services.forEach((s, i) => {
    const svc: Record<string, unknown> = { image: 'busybox' };
    svc.environment = Object.fromEntries(Object.entries(s.env).map(([k, v]) => [k, lit(v)]));
    svc.labels = Object.fromEntries(Object.entries(s.labels).map(([k, v]) => [k, lit(v)]));
    if (s.command) svc.command = s.command.map(lit);
    if (s.entrypoint) svc.entrypoint = s.entrypoint.map(lit);
    if (s.health) svc.healthcheck = { test: ['CMD', ...s.health.map(lit)] };
    if (s.config !== undefined) {
      configs[`c${i}`] = { content: lit(s.config) };
      svc.configs = [{ source: `c${i}`, target: `/etc/c${i}` }];
    }
    if (s.secretFile !== undefined) {
      secrets[`s${i}`] = { file: `./${lit(s.secretFile)}` };
      svc.secrets = [{ source: `s${i}`, target: `/run/secrets/s${i}` }];
    }
    if (p.network) svc.networks = [p.network];
    services[s.name] = svc;
  });
  const doc = new Document({
    services,
    ...(p.network ? { networks: { [p.network]: {} } } : {}),
    ...(Object.keys(configs).length ? { configs } : {}),
    ...(Object.keys(secrets).length ? { secrets } : {}),
  });
  // The top comment raw (the yaml library would write U+2028 in a comment as a line break):
  // YAML ends a comment only at \n or \r, so U+2028, U+2029 and U+0085 stay in it.
  // A comment before each service and before each of its keys.
  const map = doc.get('services') as YAMLMap;
  p.services.forEach((s, i) => {
    const pair = map.items[i];
    if (isPair(pair) && isScalar(pair.key)) pair.key.commentBefore = s.comment.replace(/\r\n?/g, '\n');
    if (isPair(pair) && isMap(pair.value)) for (const kv of pair.value.items) if (isScalar(kv.key)) kv.key.commentBefore = s.comment.replace(/\r\n?/g, '\n');
  });
  return `# ${p.topComment.replace(/[\r\n]/g, ' ')}\n${doc.toString({ lineWidth: 0 })}`;
}

/** Calls the generated code may make, by their callee's text. */
const CALLS = new Set(['super', 'app.synth', 'Secret.fromFile', 'Secret.fromEnv', 'Config.fromFile', 'Config.fromString', 'Image.fromRegistry', 'Network.fromName', 'Volume.fromName', 'Container.fromName', 'Restart.onFailure']);
const NEWS = new Set(['App', 'Container', 'Network', 'Volume', 'Image']);

/** What is wrong with generated TypeScript as a declaration of a stack (empty: nothing). */
function codeProblems(text: string, className: string): string[] {
  const out = ts.transpileModule(text, { reportDiagnostics: true, compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } });
  const problems = (out.diagnostics ?? []).map((d) => `does not parse: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
  const sf = ts.createSourceFile('main.ts', text, ts.ScriptTarget.ES2022, true);
  const visit = (n: ts.Node): void => {
    // A key of an object literal (an environment name `pwn`) is data; any other `pwn` is code.
    const isKey = n.parent !== undefined && ts.isPropertyAssignment(n.parent) && n.parent.name === n;
    if (ts.isIdentifier(n) && /pwn/.test(n.text) && !isKey) problems.push(`an identifier ${n.text} escaped into the code`);
    if (ts.isTemplateExpression(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTaggedTemplateExpression(n)) problems.push(`a template literal: ${n.getText().slice(0, 60)}`);
    if (ts.isCallExpression(n) && !CALLS.has(n.expression.getText())) problems.push(`a call the importer does not write: ${n.expression.getText().slice(0, 60)}`);
    if (ts.isNewExpression(n) && !NEWS.has(n.expression.getText()) && n.expression.getText() !== className) problems.push(`a new the importer does not write: ${n.expression.getText().slice(0, 60)}`);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return problems;
}

/** Evaluates generated code with `cdk-docker` the library under test; returns its plan. */
function synthGenerated(text: string, className: string, baseDir: string): lib.plan.Plan {
  const js = ts.transpileModule(text, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
  const mod = { exports: {} as Record<string, unknown> };
  const req = (m: string) => {
    if (m === 'cdk-docker') return lib;
    throw new Error(`the generated code requires ${m}`);
  };
  new Function('require', 'module', 'exports', js)(req, mod, mod.exports);
  const Cls = mod.exports[className] as new (scope: lib.App, id: string) => lib.Stack;
  const app = lib.Testing.app({ baseDir, env: {} });
  return lib.Testing.synth(new Cls(app, 'fuzz'));
}

const noWorld = { forbidden: [] } as unknown as World;
const outcomes = { accepted: 0, refused: 0, refusedAtSynth: 0 };
/** Why the importer refused, counted (printed, to see what the cases exercise). */
const reasons = new Map<string, number>();

function refusal(e: unknown): string[] {
  if (!(e instanceof CdkDockerError)) return [`refused with ${(e as Error)?.constructor?.name}, not a CdkDockerError: ${String((e as Error)?.stack ?? e).split('\n').slice(0, 4).join(' | ')}`];
  return messageProblems(e.message, noWorld, e instanceof lib.ValidationError || e instanceof lib.PlanValidationError);
}

let caseNo = 0;
function importCase(p: { services: Service[]; network?: string; topComment: string }): void {
  const dir = path.join(scratch, `c${++caseNo}`);
  fs.mkdirSync(dir);
  try {
    for (const s of p.services) if (s.secretFile !== undefined) fs.writeFileSync(path.join(dir, s.secretFile), 'pw');
    fs.writeFileSync(path.join(dir, 'compose.yaml'), composeText(p));
    let gen;
    try {
      gen = generateStack(loadCompose({ cwd: dir, env: {} }), { outDir: dir, stackName: 'fuzz', env: {} });
    } catch (e) {
      outcomes.refused++;
      const why = String((e as Error)?.message).replace(/^[^:]*compose\.yaml: /, '').replace(/"[^"]*"/g, '"…"').slice(0, 60);
      reasons.set(why, (reasons.get(why) ?? 0) + 1);
      const problems = refusal(e);
      if (problems.length) throw new Error(problems.join('\n'));
      return;
    }
    const problems = codeProblems(gen.mainTs, gen.className);
    if (problems.length) throw new Error(`${problems.join('\n')}\n--- main.ts\n${gen.mainTs}`);
    let plan: lib.plan.Plan;
    try {
      plan = synthGenerated(gen.mainTs, gen.className, dir);
    } catch (e) {
      outcomes.refusedAtSynth++;
      const why = refusal(e);
      if (why.length) throw new Error(`${why.join('\n')}\n--- main.ts\n${gen.mainTs}`);
      return;
    }
    outcomes.accepted++;
    const wrong: string[] = [];
    const eq = (what: string, got: unknown, want: unknown) => {
      if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`${what}: the plan has ${JSON.stringify(got)}, the compose file ${JSON.stringify(want)}`);
    };
    p.services.forEach((s, i) => {
      const r = Object.values(plan.resources).find((x) => x.type === 'container' && x.path === s.name);
      if (!r || r.type !== 'container') {
        wrong.push(`no container ${s.name} in the plan (it has ${Object.values(plan.resources).map((x) => x.path).join(', ')})`);
        return;
      }
      const spec = r.spec;
      eq(`${s.name} env`, Object.entries(spec.env).sort(), Object.entries(s.env).sort());
      eq(`${s.name} labels`, Object.entries(spec.labels).filter(([k]) => k.startsWith('harden.')).sort(), Object.entries(s.labels).sort());
      eq(`${s.name} command`, spec.command, s.command);
      eq(`${s.name} entrypoint`, spec.entrypoint, s.entrypoint);
      if (s.health) eq(`${s.name} healthcheck`, spec.healthcheck?.test, ['CMD', ...s.health]);
      if (s.config !== undefined) eq(`${s.name} config`, spec.configs?.map((c) => (c.source === 'string' ? c.content : c.file)), [s.config]);
      if (s.secretFile !== undefined) eq(`${s.name} secret file`, spec.secrets?.map((x) => x.secret.from), [path.join(dir, s.secretFile)]);
      void i;
    });
    const extra = Object.values(plan.resources).filter((x) => x.type === 'container' && !p.services.some((s) => x.path === s.name));
    if (extra.length) wrong.push(`containers the compose file does not have: ${extra.map((x) => x.path).join(', ')}`);
    if (wrong.length) throw new Error(`${wrong.join('\n')}\n--- main.ts\n${gen.mainTs}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const svc0 = (over: Partial<Service>): Service => ({ name: 'web', env: {}, labels: {}, comment: '', ...over });

test('for any compose file the importer accepts, main.ts parses, declares the stack only, and synthesizes the input\'s values', async () => {
  outcomes.accepted = outcomes.refused = outcomes.refusedAtSynth = 0;
  const started = Date.now();
  // Regressions found by this property, kept as examples (they run first).
  const examples: Array<[{ services: Service[]; network?: string; topComment: string }]> = [
    [{ services: [svc0({ name: 'id' }), svc0({ name: 'scope' })], network: 'id', topComment: '' }],
    [{ services: [svc0({ name: 'arguments' }), svc0({ name: 'eval' })], network: 'scope', topComment: '' }],
    [{ services: [svc0({ env: { A: '\ud800x', B: 'y\udc00' }, labels: { 'harden.a': '\udc00\ud800' } })], topComment: '' }],
    [{ services: [svc0({ comment: '\u2028pwn();*/pwn();', env: { A: "');pwn();('" }, command: ['${pwn()}', '`'] })], topComment: '\u2029pwn();' }],
  ];
  const out = await fc.check(
    fc.property(project, (p) => importCase(p)),
    params(0.8, examples),
  );
  console.log(`fuzz import compose: ${out.numRuns} cases (${outcomes.accepted} synthesized and compared, ${outcomes.refusedAtSynth} refused by the constructs, ${outcomes.refused} refused by the importer) in ${((Date.now() - started) / 1000).toFixed(1)} s, seed ${SEED}; refusals: ${[...reasons].sort((x, y) => y[1] - x[1]).slice(0, 4).map(([w, n]) => `${n}× ${w}`).join('; ')}`);
  if (out.failed) throw new Error(`${fc.defaultReportMessage(out)}\n\nCause: ${(out.errorInstance as Error)?.message}`);
  expect(outcomes.accepted).toBeGreaterThan(0);
}, budget(0.8) * 2 + 60_000);

test('.env files: any text parses to variables or one clear line, in time linear in its size', async () => {
  const started = Date.now();
  const line = fc.oneof(
    fc.tuple(envKey, hostile(4)).map(([k, v]) => `${k}=${v}`),
    fc.tuple(fc.constantFrom('A', 'B', 'export A', ' A '), fc.constantFrom("'x", '"x', '"x\\"', '${', '${A', '${A:?boom}', '$$', "'a'b", '"a"#c', 'x #c')).map(([k, v]) => `${k}=${v}`),
    hostile(4),
    fc.constantFrom('__proto__=x', 'constructor=x', '#c', '', 'export', '=x', 'A'),
  );
  const out = await fc.check(
    fc.property(fc.array(line, { maxLength: 12 }), (lines) => {
      try {
        const vars = parseDotEnv(lines.join('\n'), {}, '.env');
        for (const [k, v] of Object.entries(vars)) if (typeof v !== 'string' || !Object.prototype.hasOwnProperty.call(vars, k)) throw new Error(`variable ${k} is not a string of its own`);
        if (Object.getPrototypeOf(vars) !== Object.prototype) throw new Error('the variables lost their prototype');
      } catch (e) {
        // parseDotEnv's own refusals are InterpolationErrors that the loader turns into InvalidArgumentErrors.
        const problems = (e as Error).constructor.name === 'InterpolationError' ? messageProblems((e as Error).message, noWorld) : [`threw ${(e as Error).constructor.name}: ${(e as Error).message}`];
        if (problems.length) throw new Error(problems.join('\n'));
      }
    }),
    params(0.1),
  );
  console.log(`fuzz .env: ${out.numRuns} cases in ${((Date.now() - started) / 1000).toFixed(1)} s, seed ${SEED}`);
  if (out.failed) throw new Error(`${fc.defaultReportMessage(out)}\n\nCause: ${(out.errorInstance as Error)?.message}`);
  // 8 MiB is what the importer reads of an env file: parsed in seconds, not hours (one copy of
  // the variables per line made 20 000 lines take 166 s).
  const big = Array.from({ length: 200_000 }, (_, i) => `V${i}=x\${V${Math.max(0, i - 1)}}`).join('\n');
  const t = await within(15_000, '.env', async () => parseDotEnv(big, {}, '.env'));
  expect(t.hung).toBeUndefined();
}, budget(0.1) * 2 + 60_000);

test.each(['"x"', '1.5', '-1', '1e400', '99999999'])('a secret or tmpfs mode of %s is refused in one line, never written as code that does not parse', (mode) => {
  const dir = path.join(scratch, `mode-${++caseNo}`);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 's.txt'), 'x');
  for (const svc of [`secrets: [{ source: s, mode: ${mode} }]`, `volumes: [{ type: tmpfs, target: /t, tmpfs: { mode: ${mode} } }]`]) {
    fs.writeFileSync(path.join(dir, 'compose.yaml'), `services:\n  web:\n    image: busybox\n    ${svc}\nsecrets:\n  s: { file: ./s.txt }\n`);
    let message = '';
    try {
      const gen = generateStack(loadCompose({ cwd: dir, env: {} }), { outDir: dir, stackName: 'fuzz', env: {} });
      message = `accepted: ${codeProblems(gen.mainTs, gen.className).join('; ') || 'parses'}`;
    } catch (e) {
      expect(refusal(e)).toEqual([]);
      message = (e as Error).message;
    }
    expect(message).toMatch(/mode .* is not a file mode such as 0440; fix the compose file$/);
  }
});

describe('the project the importer writes', () => {
  let dir: string;
  beforeEach(() => {
    world.reset();
    dir = path.join(world.dir, 'state', `out-${++caseNo}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'compose.yaml'), 'services:\n  web:\n    image: busybox\n');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a symlink planted at the temporary file name is not written through', () => {
    fs.symlinkSync(path.join(world.dir, 'important'), path.join(dir, `main.ts.${process.pid}.tmp`));
    fs.symlinkSync(path.join(world.dir, 'victim', 'important'), path.join(dir, `cdk-docker.json.${process.pid}.tmp`));
    importCompose({ cwd: dir, env: {} });
    expect(canaryProblems(world)).toEqual([]);
    expect(fs.lstatSync(path.join(dir, 'main.ts')).isFile()).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'main.ts'), 'utf8')).toMatch(/^\/\/ Imported from compose.yaml/);
  });

  test('a main.ts that is a symlink is not the importer\'s: refused, not followed or read (/dev/zero)', () => {
    fs.symlinkSync('/dev/zero', path.join(dir, 'main.ts'));
    expect(() => importCompose({ cwd: dir, env: {} })).toThrow(/main\.ts exists and was not written by `cdk-docker import compose`/);
    fs.rmSync(path.join(dir, 'main.ts'));
    // One that points at a file with the importer's header, outside the directory: refused too.
    fs.writeFileSync(path.join(world.dir, 'empty', 'main.ts'), '// Imported from x by `cdk-docker import compose`.\n');
    world.baseline = world.snapshot();
    fs.symlinkSync(path.join(world.dir, 'empty', 'main.ts'), path.join(dir, 'main.ts'));
    expect(() => importCompose({ cwd: dir, env: {} })).toThrow(/was not written by/);
    expect(canaryProblems(world)).toEqual([]);
  });

  test('a stack name with a path in it is refused before anything is written', () => {
    expect(() => importCompose({ cwd: dir, env: {}, stack: '../x' })).toThrow(CdkDockerError);
    expect(fs.readdirSync(dir)).toEqual(['compose.yaml']);
  });
});
