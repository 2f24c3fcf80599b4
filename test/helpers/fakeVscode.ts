/**
 * Pieces of a stand-in for the `vscode` module, for loading extension code outside VS Code:
 * file URIs, an EventEmitter, and a require() of a module with 'vscode' answered by a stand-in.
 */
import Module from 'node:module';

export interface FakeUri {
  scheme: string;
  fsPath: string;
  path: string;
  toString(): string;
}
export const fakeFileUri = (p: string): FakeUri => ({ scheme: 'file', fsPath: p, path: p, toString: () => `file://${p}` });

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

/** require(`path`) with every `import 'vscode'` below it resolved to `standIn`. */
export function requireWithVscode<T>(path: string, standIn: unknown): T {
  const M = Module as unknown as { _load: (req: string, parent: unknown, isMain: boolean) => unknown };
  const originalLoad = M._load;
  M._load = (req, parent, isMain) => (req === 'vscode' ? standIn : originalLoad(req, parent, isMain));
  try {
    return require(path) as T;
  } finally {
    M._load = originalLoad;
  }
}
