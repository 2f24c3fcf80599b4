/**
 * Finding cases and their sequences by file name.
 *
 * Naming schemes, tried in this order for each .nii / .nii.gz file (case-insensitive):
 *   1. the workspace config's `data.sequences` patterns (case id = the file's folder name);
 *   2. BraTS 2018–2021: `<id>_flair`, `<id>_t1`, `<id>_t1ce`, `<id>_t2`, `<id>_seg`;
 *   3. BraTS 2023+: `<id>-t2f` (FLAIR), `<id>-t1n` (T1), `<id>-t1c` (T1ce), `<id>-t2w` (T2),
 *      `<id>-seg`;
 *   4. a per-case folder with plain names: `flair`, `t1`, `t1ce`, `t2`, and `seg` /
 *      `label` / `mask` (case id = the folder name).
 * Hidden folders, node_modules and the workspace's output folder are not searched.
 * A case is the set of files with the same id in the same folder. Two files for one
 * sequence of a case, or one id in two folders, is an error (StudyError) rather than a guess.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { SequencePatterns, WorkspaceConfig } from '../config';
import { StudyError } from '../errors';
import type { SequenceName } from './modalities';

export interface Case {
  id: string;
  /** Folder holding the case's files. */
  dir: string;
  files: Partial<Record<SequenceName, string>>;
  label?: string;
}

export type CaseFileRole = SequenceName | 'label';

export interface DiscoveryOptions {
  /** Extra name patterns (the workspace config's `data.sequences`). */
  sequences?: Partial<SequencePatterns>;
  /** Folder levels below the root to search; default 8. */
  maxDepth?: number;
  /** Folders not to search (absolute), e.g. the workspace's output folder. */
  exclude?: string[];
}

export interface DiscoveryResult {
  cases: Case[];
  /** Things found but not usable as cases, e.g. a label without any image. */
  warnings: string[];
}

export const DEFAULT_MAX_DEPTH = 8;
/** Folders never searched (besides any whose name starts with '.'). */
const SKIP_DIRS = new Set(['node_modules', '__pycache__']);

const NIFTI_EXT = /\.nii(\.gz)?$/i;
const BRATS_2018 = /^(.+)_(flair|t1ce|t1|t2|seg)\.nii(?:\.gz)?$/i;
const BRATS_2023 = /^(.+)-(t2f|t1n|t1c|t2w|seg)\.nii(?:\.gz)?$/i;
const PLAIN = /^(flair|t1ce|t1|t2|seg|label|mask)\.nii(?:\.gz)?$/i;

const ROLE_2018: Record<string, CaseFileRole> = { flair: 'flair', t1: 't1', t1ce: 't1ce', t2: 't2', seg: 'label' };
const ROLE_2023: Record<string, CaseFileRole> = { t2f: 'flair', t1n: 't1', t1c: 't1ce', t2w: 't2', seg: 'label' };
const ROLE_PLAIN: Record<string, CaseFileRole> = { flair: 'flair', t1: 't1', t1ce: 't1ce', t2: 't2', seg: 'label', label: 'label', mask: 'label' };

/** How one file name is understood: its case id (undefined: the folder's name) and role. */
export interface FileMatch {
  id?: string;
  role: CaseFileRole;
  scheme: 'config' | 'brats2018' | 'brats2023' | 'folder';
}

const compiled = new Map<string, RegExp>();

/** Turns a `*`/`?` file-name pattern into an anchored, case-insensitive RegExp. */
export function globToRegExp(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) {
    const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    re = new RegExp(`^${body}$`, 'i');
    compiled.set(pattern, re);
  }
  return re;
}

/** Classifies a file name (no folder) by the naming schemes; undefined when none applies. */
export function matchFileName(name: string, sequences?: Partial<SequencePatterns>): FileMatch | undefined {
  if (sequences) {
    const hits: CaseFileRole[] = [];
    for (const [role, patterns] of Object.entries(sequences) as [CaseFileRole, string[] | undefined][]) {
      if (patterns?.some((p) => globToRegExp(p).test(name))) hits.push(role);
    }
    if (hits.length > 1) {
      throw new StudyError('study/ambiguous-pattern', `file name ${name} matches the config patterns of several sequences (${hits.join(', ')}); make data.sequences patterns more specific`);
    }
    if (hits.length === 1) return { role: hits[0], scheme: 'config' };
  }
  if (!NIFTI_EXT.test(name)) return undefined;
  let m = BRATS_2018.exec(name);
  if (m) return { id: m[1], role: ROLE_2018[m[2].toLowerCase()], scheme: 'brats2018' };
  m = BRATS_2023.exec(name);
  if (m) return { id: m[1], role: ROLE_2023[m[2].toLowerCase()], scheme: 'brats2023' };
  m = PLAIN.exec(name);
  if (m) return { role: ROLE_PLAIN[m[1].toLowerCase()], scheme: 'folder' };
  return undefined;
}

function optionsOf(config?: WorkspaceConfig | DiscoveryOptions): DiscoveryOptions {
  if (!config) return {};
  if ('data' in config) return { sequences: config.data.sequences, exclude: [config.output.dir] };
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
    if (!c) throw new StudyError('study/unknown-file', `not a recognised sequence file name (BraTS _flair/_t1/_t1ce/_t2, -t2f/-t1n/-t1c/-t2w, plain flair/t1/t1ce/t2 in a case folder, or data.sequences patterns)`, abs);
    return { cases: [c], warnings: [] };
  }
  const collector = new CaseCollector(abs);
  const exclude = new Set((opts.exclude ?? []).map((d) => resolve(d)));
  walk(abs, 0, opts.maxDepth ?? DEFAULT_MAX_DEPTH, exclude, (dir, names) => collector.addFolder(dir, names, opts.sequences));
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
  const opts = optionsOf(config);
  const abs = resolve(path);
  const dir = dirname(abs);
  const match = matchFileName(basename(abs), opts.sequences);
  if (!match) return undefined;
  const id = match.id ?? basename(dir);
  // Only this case's siblings: a problem with another case in the folder is not ours here.
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw new StudyError('study/unreadable', `cannot list folder: ${(e as Error).message}`, dir);
  }
  const siblings = names.filter((n) => {
    const m = n.startsWith('.') ? undefined : matchFileName(n, opts.sequences);
    return m !== undefined && (m.id ?? basename(dir)) === id;
  });
  const collector = new CaseCollector(dir);
  collector.addFolder(dir, siblings, opts.sequences);
  return collector.finish().cases.find((c) => c.id === id);
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

/** Groups matched files into cases and checks that nothing is ambiguous. */
class CaseCollector {
  private readonly byKey = new Map<string, Case>();
  private readonly warnings: string[] = [];

  constructor(private readonly root: string) {}

  addFolder(dir: string, names: string[], sequences?: Partial<SequencePatterns>): void {
    for (const name of [...names].sort()) {
      const match = matchFileName(name, sequences);
      if (!match) continue;
      const id = match.id ?? basename(dir);
      const key = `${dir}\u0000${id}`;
      let c = this.byKey.get(key);
      if (!c) {
        c = { id, dir, files: {} };
        this.byKey.set(key, c);
      }
      const file = join(dir, name);
      const existing = match.role === 'label' ? c.label : c.files[match.role];
      if (existing) {
        throw new StudyError('study/duplicate-sequence', `case ${id} has two ${match.role === 'label' ? 'label' : match.role.toUpperCase()} files: ${basename(existing)} and ${name}; keep one (or narrow data.sequences patterns)`, dir);
      }
      if (match.role === 'label') c.label = file;
      else c.files[match.role] = file;
    }
  }

  finish(): DiscoveryResult {
    const cases: Case[] = [];
    for (const c of this.byKey.values()) {
      if (Object.keys(c.files).length === 0) {
        this.warnings.push(`${c.label ?? c.dir}: a label for case ${c.id} but no image sequence; skipped`);
        continue;
      }
      cases.push(c);
    }
    // One id in two folders would make "no case in both train and test" meaningless.
    const seen = new Map<string, Case>();
    for (const c of cases) {
      const other = seen.get(c.id);
      if (other) {
        throw new StudyError('study/duplicate-case', `case id ${c.id} appears in two folders: ${this.rel(other.dir)} and ${this.rel(c.dir)}; remove the copy or point data.root at one of them`, this.root);
      }
      seen.set(c.id, c);
    }
    cases.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { cases, warnings: this.warnings };
  }

  private rel(dir: string): string {
    return relative(this.root, dir).split(sep).join('/') || '.';
  }
}
