/**
 * Which file is which sequence in this workspace, for the viewer and Detect: the workspace's
 * anyad.json (data.sequences patterns, data.assignments) plus the researcher's own
 * "AnyAD: Assign sequence…" choices, remembered per workspace (workspaceState). The engine's
 * one resolver applies them, so the viewer, Detect and the CLI agree. VS Code glue only.
 */
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import { basename, join, relative, isAbsolute, resolve } from 'node:path';
import { loadWorkspaceConfig } from '../engine/config';
import { writeAssignment } from '../engine/configEdit';
import { isAnyadError } from '../engine/errors';
import { SequenceResolver, type FileMatch, type SequenceRules } from '../engine/study';
import { CASE_FILE_ROLES, ROLE_TITLES, SEQUENCE_DISPLAY_ORDER, roleLabel, type CaseFileRole } from '../shared/vocabulary';

/** workspaceState key of the manual assignments (absolute path → role). */
export const ASSIGNMENTS_KEY = 'anyad.sequenceAssignments';

export interface WorkspaceRules {
  rules: SequenceRules;
  /** The workspace's anyad.json when it exists and is valid (Detect passes it to the CLI). */
  configPath?: string;
  /** Why anyad.json is not applied (it is broken): the viewer says so. */
  configProblem?: string;
}

/** The part of vscode.Memento used here. */
export interface StateStore {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): Thenable<void>;
}

function isInside(folder: string, path: string): boolean {
  const rel = relative(folder, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

export class WorkspaceSequences {
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires after a manual assignment changed. */
  readonly onDidChange = this.changed.event;

  constructor(private readonly state?: StateStore) {}

  /** The remembered manual assignments; malformed entries in storage are ignored. */
  manual(): Record<string, CaseFileRole> {
    const raw = this.state?.get<unknown>(ASSIGNMENTS_KEY);
    const out: Record<string, CaseFileRole> = {};
    if (typeof raw !== 'object' || raw === null) return out;
    for (const [path, role] of Object.entries(raw)) {
      if (isAbsolute(path) && (CASE_FILE_ROLES as readonly unknown[]).includes(role)) out[path] = role as CaseFileRole;
    }
    return out;
  }

  /** Remembers (or with `role` undefined forgets) the sequence of `path` for this workspace. */
  async setManual(path: string, role: CaseFileRole | undefined): Promise<void> {
    const next = this.manual();
    if (role) next[resolve(path)] = role;
    else delete next[resolve(path)];
    await this.state?.update(ASSIGNMENTS_KEY, next);
    this.changed.fire();
  }

  /** The anyad.json at the root of the workspace folder holding `path` (else the first folder's), existing or not. */
  configPathFor(path: string): string | undefined {
    const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    const holding = folders.filter((f) => isInside(f, path)).sort((a, b) => b.length - a.length)[0] ?? folders[0];
    return holding === undefined ? undefined : join(holding, 'anyad.json');
  }

  /**
   * The rules for `path`: anyad.json's patterns and assignments, then this workspace's manual
   * choices on top. A broken anyad.json is left out (built-in names and manual choices still
   * apply) and reported in `configProblem`.
   */
  rulesFor(path: string): WorkspaceRules {
    const manual = this.manual();
    const configPath = this.configPathFor(path);
    if (!configPath || !existsSync(configPath)) return { rules: { assignments: manual } };
    try {
      const c = loadWorkspaceConfig(configPath);
      return { rules: { sequences: c.data.sequences, assignments: { ...c.data.assignments, ...manual } }, configPath };
    } catch (e) {
      return {
        rules: { assignments: manual },
        configProblem: isAnyadError(e) ? e.message : `${configPath}: ${String((e as Error)?.message ?? e)}`,
      };
    }
  }
}

const CHOICES: { label: string; role: CaseFileRole | undefined }[] = [
  ...[...SEQUENCE_DISPLAY_ORDER, 'label' as const].map((role) => ({ label: ROLE_TITLES[role], role })),
  { label: 'Clear', role: undefined },
];
const HOW: Record<FileMatch['scheme'], string> = {
  manual: 'assigned by hand',
  config: 'anyad.json data.sequences pattern',
  brats2018: 'BraTS file name',
  brats2023: 'BraTS 2023 file name',
  folder: 'plain file name',
};

export interface AssignDeps {
  sequences: WorkspaceSequences;
  log: vscode.OutputChannel;
  /** The file of the focused viewer, when the command is run without one. */
  activeFile(): vscode.Uri | undefined;
  /** Re-resolves the cases of open viewers (their tabs follow the new assignment). */
  refresh(): void;
}

/**
 * AnyAD: Assign sequence… — says by hand which sequence (or label) a NIfTI file is, for this
 * workspace; then optionally writes it to anyad.json's data.assignments (where training and
 * the CLI see it too).
 */
export async function assignSequenceCommand(deps: AssignDeps, arg?: unknown): Promise<void> {
  const uri = arg instanceof vscode.Uri ? arg : deps.activeFile();
  if (!uri || uri.scheme !== 'file' || !/\.nii(\.gz)?$/i.test(uri.fsPath)) {
    await vscode.window.showErrorMessage(
      'AnyAD: pick a .nii / .nii.gz file in the Explorer, or open one in the AnyAD viewer, to assign its sequence.',
    );
    return;
  }
  const path = uri.fsPath;
  const name = basename(path);
  const { rules } = deps.sequences.rulesFor(path);
  let now: string;
  try {
    const m = new SequenceResolver(rules).classify(path);
    now = m ? `now ${roleLabel(m.role)} (${HOW[m.scheme]})` : 'now not a known sequence';
  } catch (e) {
    now = `now ambiguous: ${isAnyadError(e) ? e.message : String(e)}`;
  }
  const pick = await vscode.window.showQuickPick(
    CHOICES.map((c) => ({ ...c, description: c.role ? undefined : 'forget the manual choice (patterns and built-in names apply again)' })),
    { title: `AnyAD: which sequence is ${name}?`, placeHolder: now },
  );
  if (!pick) return;
  await deps.sequences.setManual(path, pick.role);
  deps.log.appendLine(`Assign sequence: ${path} → ${pick.role ? roleLabel(pick.role) : 'cleared'} (this workspace)`);
  deps.refresh();

  const configPath = deps.sequences.configPathFor(path);
  if (!configPath) return;
  let inConfig = false;
  if (existsSync(configPath)) {
    try {
      inConfig = resolve(path) in loadWorkspaceConfig(configPath).data.assignments;
    } catch {
      /* a broken config is reported when written */
    }
  }
  const offer = pick.role ? 'Also write to anyad.json' : inConfig ? 'Also remove from anyad.json' : undefined;
  if (!offer) return;
  const second = await vscode.window.showQuickPick(
    [
      {
        label: 'Only in this workspace',
        detail: 'Remembered by VS Code for the viewer and Detect; training and the CLI read anyad.json.',
        write: false,
      },
      { label: offer, detail: `data.assignments in ${configPath}`, write: true },
    ],
    { title: `AnyAD: ${name} → ${pick.role ? roleLabel(pick.role) : 'cleared'}` },
  );
  if (!second?.write) return;
  try {
    const { created } = writeAssignment(configPath, path, pick.role);
    deps.log.appendLine(`Assign sequence: ${created ? 'created' : 'updated'} data.assignments in ${configPath}`);
    deps.refresh();
  } catch (e) {
    const message = isAnyadError(e) ? e.message : String((e as Error)?.message ?? e);
    deps.log.appendLine(`Assign sequence: anyad.json not changed: ${message}`);
    await vscode.window.showErrorMessage(`AnyAD: anyad.json not changed: ${message}`);
  }
}
