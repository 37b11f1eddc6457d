import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

/** One reference from a source file to another module. */
export interface ModuleRef {
  /** The importing file, relative to the repository root. */
  readonly from: string;
  /** The file it resolves to (relative, without extension), or the package name. */
  readonly to: string;
  readonly line: number;
  /** `import type`/`export type`/`typeof import()`: erased at compile time. */
  readonly typeOnly: boolean;
  /** `require()` or `import()` inside code: loaded when it runs, not when the file loads. */
  readonly lazy: boolean;
}

/** The TypeScript files under `dirs` (relative to `root`), sorted. */
export function sourceFiles(root: string, dirs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(r);
    }
  };
  for (const d of dirs) walk(d);
  return out.sort();
}

/**
 * Every module reference in `file`: import/export declarations, `import x = require()`,
 * `require()` and `import()` calls, and `import('…')` types — read by TypeScript's own parser,
 * so a reference cannot hide in a comment or a string that only looks like one.
 */
export function moduleRefs(root: string, file: string): ModuleRef[] {
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const refs: ModuleRef[] = [];
  const add = (spec: ts.Expression | undefined, typeOnly: boolean, lazy: boolean, node: ts.Node): void => {
    if (!spec || !ts.isStringLiteralLike(spec)) return;
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
    refs.push({ from: file, to: resolve(root, file, spec.text), line, typeOnly, lazy });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const typeOnly = !!clause && (clause.isTypeOnly || (!clause.name && !!clause.namedBindings && ts.isNamedImports(clause.namedBindings) && clause.namedBindings.elements.length > 0 && clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, typeOnly, false, node);
    } else if (ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier, node.isTypeOnly, false, node);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly, false, node);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true, false, node);
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require')) add(node.arguments[0], false, true, node);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return refs;
}

/** A relative specifier as the file it names (relative to root, no extension, `/index` kept); a package as itself. */
function resolve(root: string, from: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  const abs = path.resolve(root, path.dirname(from), spec);
  const rel = path.relative(root, abs);
  if (fs.existsSync(`${abs}.ts`)) return rel;
  if (fs.existsSync(path.join(abs, 'index.ts'))) return path.join(rel, 'index');
  return rel.replace(/\.(js|json)$/, (m) => (m === '.json' ? m : ''));
}

/** Cycles among the files' load-time references (value imports, not types, not lazy loads). */
export function loadCycles(refs: readonly ModuleRef[]): string[][] {
  const edges = new Map<string, string[]>();
  for (const r of refs) {
    if (r.typeOnly || !r.to.includes('/')) continue;
    const from = r.from.replace(/\.ts$/, '');
    edges.set(from, [...(edges.get(from) ?? []), r.to]);
  }
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of edges.get(n) ?? []) {
      if (state.get(m) === 'open') cycles.push([...stack.slice(stack.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of [...edges.keys()].sort()) if (!state.has(n)) visit(n);
  return cycles;
}
