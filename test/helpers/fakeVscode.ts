/**
 * The one way tests load extension code outside VS Code: file URIs, an EventEmitter, and a
 * require() of a module while `import 'vscode'` (and any other module a test replaces) is
 * answered by a stand-in. Each test builds its own stand-in object from these pieces: it
 * records what that test asserts on.
 */
import Module, { createRequire } from 'node:module';
import { join } from 'node:path';

/** A file URI as the extension reads it (scheme, fsPath, path, toString), an instance of FakeUri for `instanceof vscode.Uri`. */
export class FakeUri {
  readonly scheme = 'file';
  constructor(
    readonly fsPath: string,
    readonly path = fsPath,
  ) {}
  toString(): string {
    return `file://${this.fsPath}`;
  }
  static file(p: string): FakeUri {
    return new FakeUri(p);
  }
  static joinPath(base: { fsPath: string }, ...parts: string[]): FakeUri {
    return new FakeUri(join(base.fsPath, ...parts));
  }
  static parse(s: string): FakeUri {
    return new FakeUri(s.replace(/^file:\/\//, ''));
  }
}
export const fakeFileUri = (p: string): FakeUri => FakeUri.file(p);

export class FakeEventEmitter<T> {
  private listeners: ((e: T) => void)[] = [];
  event = (l: (e: T) => void) => {
    this.listeners.push(l);
    return { dispose() {} };
  };
  fire(e: T) {
    for (const l of this.listeners) l(e);
  }
  dispose() {}
}

/** Loads modules at run time: the stand-ins must be in place while the module (and what it imports) loads. */
const loadModule = createRequire(__filename);

/**
 * require(`path`) (absolute) with every import of a key of `standIns` below it — exactly as
 * written there, e.g. 'vscode' or './cliRunner' — answered by that stand-in. Modules already
 * loaded stay as they were (Node's module cache).
 */
export function requireWithStandIns<T>(path: string, standIns: Record<string, unknown>): T {
  const M = Module as unknown as { _load: (req: string, parent: unknown, isMain: boolean) => unknown };
  const originalLoad = M._load;
  M._load = (req, parent, isMain) => (Object.hasOwn(standIns, req) ? standIns[req] : originalLoad(req, parent, isMain));
  try {
    return loadModule(path) as T;
  } finally {
    M._load = originalLoad;
  }
}

/** require(`path`) (absolute) with every `import 'vscode'` below it resolved to `standIn`. */
export function requireWithVscode<T>(path: string, standIn: unknown): T {
  return requireWithStandIns<T>(path, { vscode: standIn });
}
