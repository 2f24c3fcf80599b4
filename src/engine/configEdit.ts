/**
 * Edits of anyad.json that keep the researcher's comments and layout: jsonc-parser computes
 * minimal text edits, the validator checks the config before and after, and the file is
 * replaced atomically. Used by "AnyAD: Assign sequence…" to write data.assignments.
 */
import { existsSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
// The ESM build: the package's UMD entry hides its internal requires from bundlers.
import { applyEdits, modify, type FormattingOptions } from 'jsonc-parser/lib/esm/main.js';
import { CONFIG_TEMPLATE, parseJsonc, parseWorkspaceConfig, readConfigText } from './config';
import type { CaseFileRole } from '../shared/vocabulary';
import { writeFileAtomic } from './util/atomic';

/** How anyad.json names `file` in data.assignments: relative to the config's folder, with forward slashes. */
export function assignmentKey(configPath: string, file: string): string {
  return relative(dirname(resolve(configPath)), resolve(file))
    .split(sep)
    .join('/');
}

/** The file's indentation and line ends, so inserted lines look like their neighbours. */
function formattingOf(text: string): FormattingOptions {
  const indents = text
    .split('\n')
    .map((l) => /^([ \t]+)\S/.exec(l)?.[1])
    .filter((s): s is string => s !== undefined);
  const tabs = indents.length > 0 && indents.filter((s) => s.startsWith('\t')).length * 2 > indents.length;
  const spaces = indents.filter((s) => !s.startsWith('\t')).map((s) => s.length);
  return { insertSpaces: !tabs, tabSize: tabs ? 1 : spaces.length ? Math.min(...spaces) : 2, eol: text.includes('\r\n') ? '\r\n' : '\n' };
}

/**
 * The text of a config with `data.assignments[file]` set to `role`, or removed when `role` is
 * undefined (every spelling of that path: "a/x.nii.gz" and "./a/x.nii.gz" are one file).
 * A config that does not validate is refused (ConfigError) rather than edited.
 */
export function withAssignment(text: string, configPath: string, file: string, role: CaseFileRole | undefined): string {
  const bom = text.charCodeAt(0) === 0xfeff ? '\ufeff' : '';
  let out = bom ? text.slice(1) : text;
  if (out.trim() === '') out = '{}\n';
  parseWorkspaceConfig(out, configPath);
  const fmt = { formattingOptions: formattingOf(out) };
  const base = dirname(resolve(configPath));
  const target = resolve(file);
  const raw = parseJsonc(out, configPath) as { data?: { assignments?: Record<string, unknown> } };
  for (const key of Object.keys(raw.data?.assignments ?? {})) {
    if (resolve(base, key) === target) out = applyEdits(out, modify(out, ['data', 'assignments', key], undefined, fmt));
  }
  if (role !== undefined) out = applyEdits(out, modify(out, ['data', 'assignments', assignmentKey(configPath, target)], role, fmt));
  parseWorkspaceConfig(out, configPath);
  return bom + out;
}

/**
 * Sets (or with `role` undefined clears) the assignment of `file` in the anyad.json at
 * `configPath`; a missing config is created from the commented template. Returns whether
 * the file was created.
 */
export function writeAssignment(configPath: string, file: string, role: CaseFileRole | undefined): { created: boolean } {
  const created = !existsSync(configPath);
  if (created && role === undefined) return { created: false };
  const text = created ? CONFIG_TEMPLATE : readConfigText(configPath);
  const next = withAssignment(text, configPath, file, role);
  if (next !== text || created) writeFileAtomic(configPath, next);
  return { created };
}
