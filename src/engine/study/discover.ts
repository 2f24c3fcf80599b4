/**
 * Finding cases and their sequences: walks folders and asks the one sequence resolver
 * (resolver.ts: manual assignments, then `data.sequences` patterns, then the built-in
 * BraTS / plain names) what each file is.
 * Hidden folders, node_modules and the workspace's output folder are not searched.
 * A case is the set of files with the same id in the same folder. Two files for one
 * sequence of a case, or one id in two folders, is an error (StudyError) rather than a guess.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { WorkspaceConfig } from '../config';
import { StudyError } from '../errors';
import type { SequenceName } from './modalities';
import { type Case, type DiscoveryResult, type SequenceRules, SequenceResolver, roleLabel } from './resolver';

export { type Case, type CaseFileRole, type DiscoveryResult, type FileMatch, globToRegExp, matchFileName } from './resolver';

export interface DiscoveryOptions extends SequenceRules {
  /** Folder levels below the root to search; default 8. */
  maxDepth?: number;
  /** Folders not to search (absolute), e.g. the workspace's output folder. */
  exclude?: string[];
}

export const DEFAULT_MAX_DEPTH = 8;
/** Folders never searched (besides any whose name starts with '.'). */
const SKIP_DIRS = new Set(['node_modules', '__pycache__']);

function optionsOf(config?: WorkspaceConfig | DiscoveryOptions): DiscoveryOptions {
  if (!config) return {};
  if ('data' in config) return { sequences: config.data.sequences, assignments: config.data.assignments, exclude: [config.output.dir] };
  return config;
}

/**
 * Cases under `root` (a folder searched recursively, or one NIfTI file: then its case),
 * sorted by id, with warnings about unusable finds.
 */
export function discoverStudy(root: string, config?: WorkspaceConfig | DiscoveryOptions): DiscoveryResult {
  const opts = optionsOf(config);
  const abs = resolve(root);
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw new StudyError('study/not-found', 'no such file or folder', abs);
  }
  if (st.isFile()) {
    const c = findCaseOfFile(abs, opts);
    if (!c)
      throw new StudyError(
        'study/unknown-file',
        `not a recognised sequence file name (built in: BraTS _flair/_t1/_t1ce/_t2, -t2f/-t1n/-t1c/-t2w, plain flair/t1/t1ce/t2 in a case folder); add a data.sequences pattern to anyad.json, or assign the file by hand (data.assignments, or "AnyAD: Assign sequence…" in VS Code)`,
        abs,
      );
    return { cases: [c], warnings: [] };
  }
  const collector = new SequenceResolver(opts).collector(abs);
  const exclude = new Set((opts.exclude ?? []).map((d) => resolve(d)));
  walk(abs, 0, opts.maxDepth ?? DEFAULT_MAX_DEPTH, exclude, (dir, names) => collector.addFolder(dir, names));
  return collector.finish();
}

/** The cases under `root`, sorted by id (see discoverStudy). */
export function discoverCases(root: string, config?: WorkspaceConfig | DiscoveryOptions): Case[] {
  return discoverStudy(root, config).cases;
}

/**
 * The case a single file belongs to, with its sibling sequences from the same folder;
 * undefined when the file name is not one the naming schemes understand.
 */
export function findCaseOfFile(path: string, config?: WorkspaceConfig | DiscoveryOptions): Case | undefined {
  const resolver = new SequenceResolver(optionsOf(config));
  const abs = resolve(path);
  const dir = dirname(abs);
  const match = resolver.classify(abs);
  if (!match) return undefined;
  const id = resolver.caseId(match, dir);
  // Only this case's siblings: a problem with another case in the folder is not ours here.
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw new StudyError('study/unreadable', `cannot list folder: ${(e as Error).message}`, dir);
  }
  const collector = resolver.collector(dir);
  collector.addFolder(dir, names, id);
  return collector.finish().cases.find((c) => c.id === id);
}

/** What a case is asked for by: a file of the case or its folder, and/or files given per sequence. */
export interface CaseInputs {
  path?: string;
  /** Explicit files; each replaces whatever the rules found for its sequence. */
  files?: Partial<Record<SequenceName, string>>;
}

/**
 * The one case that `inputs` name (as the CLI's `--case` and `--flair/--t1/--t2` do). A path
 * holding several cases is an error; an explicit file wins over the rules, and an unknown
 * file name is fine as `path` when explicit files say what the case is.
 */
export function caseFromInputs(inputs: CaseInputs, config?: WorkspaceConfig | DiscoveryOptions): Case {
  const explicit = (Object.entries(inputs.files ?? {}) as [SequenceName, string | undefined][])
    .filter((e): e is [SequenceName, string] => typeof e[1] === 'string')
    .map(([role, f]) => [role, resolve(f)] as const);
  for (const [role, f] of explicit) {
    if (!existsSync(f) || !statSync(f).isFile()) throw new StudyError('study/not-found', `no such ${roleLabel(role)} file`, f);
  }
  let base: Case;
  if (inputs.path !== undefined) {
    const abs = resolve(inputs.path);
    const unknownFile =
      explicit.length > 0 && existsSync(abs) && statSync(abs).isFile() && !new SequenceResolver(optionsOf(config)).classify(abs);
    if (unknownFile) {
      base = { id: basename(dirname(abs)), dir: dirname(abs), files: {} };
    } else {
      const { cases } = discoverStudy(abs, config);
      if (cases.length !== 1)
        throw new StudyError(
          'study/ambiguous-case',
          cases.length === 0
            ? 'no case found here'
            : `this folder holds ${cases.length} cases (${cases
                .slice(0, 3)
                .map((c) => c.id)
                .join(', ')}…); give one case's file or folder`,
          abs,
        );
      base = cases[0];
    }
  } else {
    if (explicit.length === 0)
      throw new StudyError(
        'study/no-case',
        'no case given: name a sequence file of the case or its folder, or the sequence files themselves',
      );
    const dir = dirname(explicit[0][1]);
    base = { id: basename(dir), dir, files: {} };
  }
  const files = { ...base.files };
  for (const [role, f] of explicit) {
    // The same file found by the rules as another sequence would then count twice.
    for (const other of Object.keys(files) as SequenceName[]) if (files[other] === f) delete files[other];
    files[role] = f;
  }
  const out: Case = { ...base, files };
  if (out.label && explicit.some(([, f]) => f === out.label)) delete out.label;
  return out;
}

function walk(dir: string, depth: number, maxDepth: number, exclude: Set<string>, visit: (dir: string, files: string[]) => void): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw new StudyError('study/unreadable', `cannot list folder: ${(e as Error).message}`, dir);
  }
  const files: string[] = [];
  const subdirs: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name) && !exclude.has(join(dir, e.name))) subdirs.push(e.name);
    } else if (e.isFile() || e.isSymbolicLink()) {
      files.push(e.name);
    }
  }
  visit(dir, files);
  if (depth >= maxDepth) return;
  for (const d of subdirs.sort()) walk(join(dir, d), depth + 1, maxDepth, exclude, visit);
}
