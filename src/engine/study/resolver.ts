/**
 * The one sequence resolver: which case and which sequence (or label) a NIfTI file is.
 * Viewer, Detect, the CLI and training all ask it, so a file is the same thing everywhere.
 *
 * Per file, first rule that applies wins (file names compared case-insensitively):
 *   1. a manual assignment (absolute path → role: the workspace's "Assign sequence…" choices
 *      and anyad.json `data.assignments`); case id = the file's folder name;
 *   2. the workspace config's `data.sequences` patterns; case id = the file's folder name;
 *   3. BraTS 2018–2021: `<id>_flair`, `<id>_t1`, `<id>_t1ce`, `<id>_t2`, `<id>_seg`;
 *   4. BraTS 2023+: `<id>-t2f` (FLAIR), `<id>-t1n` (T1), `<id>-t1c` (T1ce), `<id>-t2w` (T2),
 *      `<id>-seg`;
 *   5. a per-case folder with plain names: `flair`, `t1`, `t1ce`, `t2`, and `seg` /
 *      `label` / `mask` (case id = the folder name).
 * Conflicts are StudyErrors that say how to fix them, never a guess: one file name matching
 * the patterns of several sequences, or two files for one sequence of a case.
 */
import { basename, join, relative, resolve, sep } from 'node:path';
import type { SequencePatterns } from '../config';
import { StudyError } from '../errors';
import { type CaseFileRole, type SequenceName, roleLabel } from '../../shared/vocabulary';
import { globMatch } from '../util/glob';

export interface Case {
  id: string;
  /** Folder holding the case's files. */
  dir: string;
  files: Partial<Record<SequenceName, string>>;
  label?: string;
}

export { CASE_FILE_ROLES, roleLabel, type CaseFileRole } from '../../shared/vocabulary';

/** How one file is understood: its case id (undefined: the folder's name) and role. */
export interface FileMatch {
  id?: string;
  role: CaseFileRole;
  scheme: 'manual' | 'config' | 'brats2018' | 'brats2023' | 'folder';
}

/** What the resolver knows beyond the built-in names. */
export interface SequenceRules {
  /** Extra name patterns (the workspace config's `data.sequences`). */
  sequences?: Partial<SequencePatterns>;
  /** Manual assignments: absolute file path → role. */
  assignments?: Readonly<Record<string, CaseFileRole>>;
}

export interface DiscoveryResult {
  cases: Case[];
  /** Things found but not usable as cases, e.g. a label without any image. */
  warnings: string[];
}

const NIFTI_EXT = /\.nii(\.gz)?$/i;
const BRATS_2018 = /^(.+)_(flair|t1ce|t1|t2|seg)\.nii(?:\.gz)?$/i;
const BRATS_2023 = /^(.+)-(t2f|t1n|t1c|t2w|seg)\.nii(?:\.gz)?$/i;
const PLAIN = /^(flair|t1ce|t1|t2|seg|label|mask)\.nii(?:\.gz)?$/i;

const ROLE_2018: Record<string, CaseFileRole> = { flair: 'flair', t1: 't1', t1ce: 't1ce', t2: 't2', seg: 'label' };
const ROLE_2023: Record<string, CaseFileRole> = { t2f: 'flair', t1n: 't1', t1c: 't1ce', t2w: 't2', seg: 'label' };
const ROLE_PLAIN: Record<string, CaseFileRole> = {
  flair: 'flair',
  t1: 't1',
  t1ce: 't1ce',
  t2: 't2',
  seg: 'label',
  label: 'label',
  mask: 'label',
};

const SCHEME_WORDS: Record<FileMatch['scheme'], string> = {
  manual: 'assigned by hand',
  config: 'a data.sequences pattern',
  brats2018: 'BraTS name',
  brats2023: 'BraTS 2023 name',
  folder: 'plain name',
};

const compiled = new Map<string, RegExp>();

/** Turns a `*`/`?` file-name pattern into an anchored, case-insensitive RegExp. */
export function globToRegExp(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) {
    const body = pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    re = new RegExp(`^${body}$`, 'i');
    compiled.set(pattern, re);
  }
  return re;
}

/** Classifies a file name (no folder) by the config patterns and the built-in schemes; undefined when none applies. */
export function matchFileName(name: string, sequences?: Partial<SequencePatterns>): FileMatch | undefined {
  if (sequences) {
    const hits: CaseFileRole[] = [];
    for (const [role, patterns] of Object.entries(sequences) as [CaseFileRole, string[] | undefined][]) {
      if (patterns?.some((p) => globMatch(p, name))) hits.push(role); // linear time: no RegExp backtracking
    }
    if (hits.length > 1) {
      throw new StudyError(
        'study/ambiguous-pattern',
        `file name ${name} matches the data.sequences patterns of several sequences (${hits.join(', ')}); make those patterns more specific, or assign the file by hand (data.assignments in anyad.json, or "AnyAD: Assign sequence…")`,
      );
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

/** The resolver for one set of rules (patterns + manual assignments). */
export class SequenceResolver {
  private readonly manual = new Map<string, CaseFileRole>();

  constructor(readonly rules: SequenceRules = {}) {
    for (const [path, role] of Object.entries(rules.assignments ?? {})) this.manual.set(resolve(path), role);
  }

  /** How the file at `path` is understood (manual beats pattern beats built-in); undefined when no rule applies. */
  classify(path: string): FileMatch | undefined {
    const abs = resolve(path);
    const role = this.manual.get(abs);
    if (role) return { role, scheme: 'manual' };
    return matchFileName(basename(abs), this.rules.sequences);
  }

  /** The case id of a classified file in folder `dir`. */
  caseId(match: FileMatch, dir: string): string {
    return match.id ?? basename(dir);
  }

  /** Groups files into cases and checks nothing is ambiguous; `root` only shortens folder names in messages. */
  collector(root: string): CaseCollector {
    return new CaseCollector(this, root);
  }
}

/** Groups classified files into cases (key: folder + id) and checks that nothing is ambiguous. */
export class CaseCollector {
  private readonly byKey = new Map<string, Case>();
  /** How each file of a case got its role (for conflict messages). */
  private readonly how = new Map<string, FileMatch['scheme']>();
  private readonly warnings: string[] = [];

  constructor(
    private readonly resolver: SequenceResolver,
    private readonly root: string,
  ) {}

  /** Adds the files `names` of folder `dir` (names no rule applies to are skipped); `only` keeps one case id. */
  addFolder(dir: string, names: string[], only?: string): void {
    for (const name of [...names].sort()) {
      if (name.startsWith('.')) continue;
      const file = join(dir, name);
      const match = this.resolver.classify(file);
      if (!match) continue;
      const id = this.resolver.caseId(match, dir);
      if (only !== undefined && id !== only) continue;
      this.add(dir, id, match, file);
    }
  }

  /** Adds one file with a known role; a second file for a role the case already has is an error. */
  add(dir: string, id: string, match: Pick<FileMatch, 'role' | 'scheme'>, file: string): void {
    const key = `${dir}\u0000${id}`;
    let c = this.byKey.get(key);
    if (!c) {
      c = { id, dir, files: {} };
      this.byKey.set(key, c);
    }
    const existing = match.role === 'label' ? c.label : c.files[match.role];
    if (existing) {
      const [ha, hb] = [SCHEME_WORDS[this.how.get(existing) ?? 'folder'], SCHEME_WORDS[match.scheme]];
      const why = ha === hb ? '' : ` (${basename(existing)}: ${ha}; ${basename(file)}: ${hb})`;
      throw new StudyError(
        'study/duplicate-sequence',
        `case ${id} has two ${roleLabel(match.role)} files: ${basename(existing)} and ${basename(file)}${why}; keep one, assign one of them to another sequence by hand (data.assignments in anyad.json, or "AnyAD: Assign sequence…"), or narrow the data.sequences patterns`,
        dir,
      );
    }
    if (match.role === 'label') c.label = file;
    else c.files[match.role] = file;
    this.how.set(file, match.scheme);
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
        throw new StudyError(
          'study/duplicate-case',
          `case id ${c.id} appears in two folders: ${this.rel(other.dir)} and ${this.rel(c.dir)}; remove the copy or point data.root at one of them`,
          this.root,
        );
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
