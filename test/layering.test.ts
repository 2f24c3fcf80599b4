/**
 * The layering of src/ (DESIGN.md, Layout), read from the import statements themselves: the
 * engine and the shared contracts never see VS Code, the thin layers (cli, extension,
 * webview) never import one another, and no chain of imports leads from a top folder back to
 * itself. A new import across folders that breaks this fails here, naming the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const SRC = join(__dirname, '..', 'src');
const FOLDERS = ['engine', 'shared', 'cli', 'extension', 'webview'] as const;
type Folder = (typeof FOLDERS)[number];

/** Which top folders each one may import, at run time and for types (its own always). */
const ALLOWED: Record<Folder, { values: Folder[]; types: Folder[] }> = {
  engine: { values: ['shared'], types: ['shared'] },
  shared: { values: [], types: [] },
  cli: { values: ['engine', 'shared'], types: ['engine', 'shared'] },
  extension: { values: ['engine', 'shared'], types: ['engine', 'shared'] },
  webview: { values: ['shared'], types: ['shared'] },
};
/** Folders whose code may import the `vscode` module (only the extension host provides it). */
const MAY_IMPORT_VSCODE: Folder[] = ['extension'];
/** Folders that run in a browser or must stay free of I/O: no Node built-ins. */
const NO_NODE_BUILTINS: Folder[] = ['webview', 'shared'];

interface Import {
  file: string;
  specifier: string;
  typeOnly: boolean;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every module specifier a file names: import/export … from, side-effect imports, require() and import(). */
function importsOf(file: string, text: string): Import[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: Import[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : null;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly || (clause.name === undefined && named !== null && named.length > 0 && named.every((s) => s.isTypeOnly)));
      found.push({ file, specifier: node.moduleSpecifier.text, typeOnly });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push({ file, specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly });
    } else if (
      ts.isCallExpression(node) &&
      node.arguments.length === 1 &&
      ts.isStringLiteral(node.arguments[0]) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))
    ) {
      found.push({ file, specifier: node.arguments[0].text, typeOnly: false });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push({ file, specifier: node.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The top folder of src/ a file or a relative specifier from it lands in (null: outside src/ or a package). */
function topFolder(path: string): Folder | null {
  const rel = relative(SRC, path);
  if (rel.startsWith('..')) return null;
  const top = rel.split(sep)[0];
  return (FOLDERS as readonly string[]).includes(top) ? (top as Folder) : null;
}

const imports = tsFiles(SRC).flatMap((f) => importsOf(f, readFileSync(f, 'utf8')));

/** Edges between different top folders: [from, to, typeOnly, where]. */
const edges = imports.flatMap((i) => {
  if (!i.specifier.startsWith('.')) return [];
  const from = topFolder(i.file);
  const to = topFolder(resolve(dirname(i.file), i.specifier));
  return from && to && from !== to ? [{ from, to, typeOnly: i.typeOnly, where: `${relative(SRC, i.file)} → ${i.specifier}` }] : [];
});

/**
 * The one import from outside src/: the workspace-config JSON schema, which VS Code also reads
 * from the package (contributes.jsonValidation) and config.ts validates with, so it has one home.
 */
const OUTSIDE_SRC_ALLOWED = new Set([resolve(SRC, '..', 'schemas', 'anyad.schema.json')]);

test('layering: every src/ file lies in a known top folder, and every relative import stays inside src/', () => {
  for (const i of imports) {
    assert.ok(topFolder(i.file), `${relative(SRC, i.file)} is outside ${FOLDERS.join(', ')}`);
    if (i.specifier.startsWith('.') && !OUTSIDE_SRC_ALLOWED.has(resolve(dirname(i.file), i.specifier)))
      assert.ok(topFolder(resolve(dirname(i.file), i.specifier)), `${relative(SRC, i.file)} imports ${i.specifier}, outside src/`);
  }
  // The scan sees the imports it must judge (a parser change that found nothing would pass everything).
  assert.ok(edges.some((e) => e.from === 'extension' && e.to === 'engine' && !e.typeOnly));
  assert.ok(edges.some((e) => e.from === 'webview' && e.to === 'shared'));
  assert.ok(imports.some((i) => i.specifier === 'vscode'));
});

test('layering: imports across top folders follow the allowed directions (types as well as values)', () => {
  const wrong = edges
    .filter((e) => !(e.typeOnly ? ALLOWED[e.from].types : ALLOWED[e.from].values).includes(e.to))
    .map((e) => `${e.from} → ${e.to}${e.typeOnly ? ' (type)' : ''}: ${e.where}`);
  assert.deepEqual(wrong, []);
});

test('layering: no cycle between top folders, through run-time imports or types', () => {
  const cycle = (kept: typeof edges): string[] | null => {
    const next = new Map<Folder, Set<Folder>>(FOLDERS.map((f) => [f, new Set<Folder>()]));
    for (const e of kept) next.get(e.from)!.add(e.to);
    // Depth-first search from each folder; a folder met again on the current path closes a cycle.
    const walk = (path: Folder[]): string[] | null => {
      for (const n of next.get(path[path.length - 1])!) {
        if (n === path[0]) return [...path, n];
        if (!path.includes(n)) {
          const c = walk([...path, n]);
          if (c) return c;
        }
      }
      return null;
    };
    for (const f of FOLDERS) {
      const c = walk([f]);
      if (c) return c;
    }
    return null;
  };
  assert.equal(cycle(edges.filter((e) => !e.typeOnly))?.join(' → ') ?? null, null);
  assert.equal(cycle(edges)?.join(' → ') ?? null, null);
});

test('layering: only the extension imports vscode; the webview and shared contracts import no Node built-ins', () => {
  const vscodeUsers = imports
    .filter((i) => i.specifier === 'vscode' && !MAY_IMPORT_VSCODE.includes(topFolder(i.file)!))
    .map((i) => relative(SRC, i.file));
  assert.deepEqual(vscodeUsers, []);
  const builtins = new Set(['fs', 'path', 'os', 'child_process', 'crypto', 'zlib', 'worker_threads', 'stream', 'util', 'events']);
  const nodeUsers = imports
    .filter((i) => NO_NODE_BUILTINS.includes(topFolder(i.file)!) && (i.specifier.startsWith('node:') || builtins.has(i.specifier)))
    .map((i) => `${relative(SRC, i.file)} → ${i.specifier}`);
  assert.deepEqual(nodeUsers, []);
});

test('layering: the import scan tells type-only imports from value imports', () => {
  const scan = (text: string) => importsOf('x.ts', text).map((i) => `${i.specifier}${i.typeOnly ? ':type' : ''}`);
  assert.deepEqual(
    scan(
      [
        "import type { A } from './a';",
        "import { type B, type C } from './b';",
        "import { type D, e } from './c';",
        "import f from './d';",
        "import './e';",
        "export { g } from './f';",
        "export type { H } from './g';",
        "const h = require('./h');",
        "void import('./i');",
        "let j: import('./j').J;",
      ].join('\n'),
    ),
    ['./a:type', './b:type', './c', './d', './e', './f', './g:type', './h', './i', './j:type'],
  );
});

test('layering: tests load extension code through the one vscode stand-in loader (test/helpers/fakeVscode.ts)', () => {
  const TEST = __dirname;
  const patching = tsFiles(TEST)
    // This file names the hook only to look for it.
    .filter((f) => f !== __filename && !f.includes(`${sep}fixtures${sep}`) && /\b_load\b/.test(readFileSync(f, 'utf8')))
    .map((f) => relative(TEST, f));
  assert.deepEqual(patching, [join('helpers', 'fakeVscode.ts')]);
});
