import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseWorkspaceConfig } from '../../src/engine/config';
import { StudyError } from '../../src/engine/errors';
import { writeNifti } from '../../src/engine/nifti';
import { discoverCases, discoverStudy, findCaseOfFile, loadCase, matchFileName } from '../../src/engine/study';

const tmp = mkdtempSync(join(tmpdir(), 'anyad-discover-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const DIMS: [number, number, number] = [4, 5, 3];
const LPS = [-1, 0, 0, 10, 0, -1, 0, 20, 0, 0, 1, -5, 0, 0, 0, 1];

/** A tiny real NIfTI file (value = fill), optionally on another grid. */
function nii(path: string, fill = 1, dims: [number, number, number] = DIMS, affine = LPS): string {
  mkdirSync(dirname(path), { recursive: true });
  writeNifti(path, { dims, affine, data: new Float32Array(dims[0] * dims[1] * dims[2]).fill(fill) }, { datatype: 'int16' });
  return path;
}

function tree(root: string): void {
  for (const s of ['flair', 't1', 't1ce', 't2', 'seg']) nii(join(root, 'brats18', 'Brats18_A', `Brats18_A_${s}.nii.gz`));
  for (const s of ['flair', 't1', 't2']) nii(join(root, 'brats18', 'Brats18_B', `Brats18_B_${s}.nii`));
  writeFileSync(join(root, 'brats18', 'Brats18_A', 'readme.md'), 'not an image');
  for (const s of ['t2f', 't1n', 't1c', 't2w', 'seg']) nii(join(root, 'brats23', 'BraTS-GLI-00001-000', `BraTS-GLI-00001-000-${s}.nii.gz`));
  for (const s of ['flair', 't1', 't2', 'seg']) nii(join(root, 'plain', 'caseP', `${s}.nii.gz`));
  nii(join(root, 'custom', 'subj07', 'FLAIR.nii.gz'));
  nii(join(root, 'custom', 'subj07', 'T1w.nii.gz'));
  nii(join(root, 'custom', 'subj07', 'sub_T2w.nii.gz'));
  nii(join(root, 'custom', 'subj07', 'lesion_mask.nii.gz'));
  nii(join(root, 'custom', 'subj08', 's8_fla.nii.gz'));
  nii(join(root, 'custom', 'subj08', 'T1w.nii.gz'));
  nii(join(root, '.hidden', 'Brats18_H', 'Brats18_H_flair.nii.gz'));
  nii(join(root, 'node_modules', 'Brats18_N', 'Brats18_N_flair.nii.gz'));
  nii(join(root, 'labelonly', 'Brats18_L_seg.nii.gz'));
  writeFileSync(join(root, 'notes.txt'), 'x');
}

const ws = join(tmp, 'ws');
tree(ws);
const config = parseWorkspaceConfig(
  {
    data: { sequences: { flair: ['FLAIR.nii.gz', '*_fla.nii.gz'], t1: 'T1w.nii.gz', t2: ['*_T2w.nii.gz'], label: ['lesion_mask.nii.gz'] } },
  },
  join(ws, 'anyad.json'),
);

test('file names: BraTS 2018–2021, BraTS 2023+, plain per-case names, and config patterns', () => {
  assert.deepEqual(matchFileName('Brats18_2013_2_1_t1ce.nii.gz'), { id: 'Brats18_2013_2_1', role: 't1ce', scheme: 'brats2018' });
  assert.deepEqual(matchFileName('Brats18_2013_2_1_t1.nii'), { id: 'Brats18_2013_2_1', role: 't1', scheme: 'brats2018' });
  assert.deepEqual(matchFileName('BraTS20_Training_001_seg.nii.gz'), { id: 'BraTS20_Training_001', role: 'label', scheme: 'brats2018' });
  assert.deepEqual(matchFileName('BraTS-GLI-00000-000-t2f.nii.gz'), { id: 'BraTS-GLI-00000-000', role: 'flair', scheme: 'brats2023' });
  assert.deepEqual(matchFileName('BraTS-GLI-00000-000-t1n.nii.gz')?.role, 't1');
  assert.deepEqual(matchFileName('BraTS-GLI-00000-000-t1c.nii.gz')?.role, 't1ce');
  assert.deepEqual(matchFileName('BraTS-GLI-00000-000-t2w.nii.gz')?.role, 't2');
  assert.deepEqual(matchFileName('T2.NII.GZ'), { role: 't2', scheme: 'folder' });
  assert.deepEqual(matchFileName('mask.nii'), { role: 'label', scheme: 'folder' });
  assert.equal(matchFileName('Brats18_A_flair.png'), undefined);
  assert.equal(matchFileName('anatomy.nii.gz'), undefined);
  assert.deepEqual(matchFileName('x_fla.nii.gz', config.data.sequences), { role: 'flair', scheme: 'config' });
  assert.throws(
    () => matchFileName('a.nii.gz', { flair: ['*.nii.gz'], t1: ['a.*'] }),
    /matches the data.sequences patterns of several sequences \(flair, t1\)/,
  );
});

test('discovery over a workspace: all schemes, sorted by id, hidden folders and node_modules skipped', () => {
  const { cases, warnings } = discoverStudy(ws, config);
  assert.deepEqual(
    cases.map((c) => c.id),
    ['BraTS-GLI-00001-000', 'Brats18_A', 'Brats18_B', 'caseP', 'subj07', 'subj08'],
  );
  const byId = Object.fromEntries(cases.map((c) => [c.id, c]));
  const a = byId.Brats18_A;
  assert.equal(a.dir, join(ws, 'brats18', 'Brats18_A'));
  assert.deepEqual(a.files, Object.fromEntries(['flair', 't1', 't1ce', 't2'].map((s) => [s, join(a.dir, `Brats18_A_${s}.nii.gz`)])));
  assert.equal(a.label, join(a.dir, 'Brats18_A_seg.nii.gz'));
  assert.deepEqual(Object.keys(byId.Brats18_B.files).sort(), ['flair', 't1', 't2']);
  assert.equal(byId.Brats18_B.label, undefined);
  const g = byId['BraTS-GLI-00001-000'];
  assert.ok(
    g.files.flair!.endsWith('-t2f.nii.gz') &&
      g.files.t1!.endsWith('-t1n.nii.gz') &&
      g.files.t1ce!.endsWith('-t1c.nii.gz') &&
      g.files.t2!.endsWith('-t2w.nii.gz'),
  );
  assert.ok(g.label!.endsWith('-seg.nii.gz'));
  assert.deepEqual(Object.keys(byId.caseP.files).sort(), ['flair', 't1', 't2']);
  assert.ok(byId.caseP.label!.endsWith('seg.nii.gz'));
  // Config mapping: the case is named after its folder.
  assert.deepEqual(Object.keys(byId.subj07.files).sort(), ['flair', 't1', 't2']);
  assert.ok(byId.subj07.files.t2!.endsWith('sub_T2w.nii.gz') && byId.subj07.label!.endsWith('lesion_mask.nii.gz'));
  assert.ok(byId.subj08.files.flair!.endsWith('s8_fla.nii.gz'));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /Brats18_L_seg\.nii\.gz: a label for case Brats18_L but no image sequence; skipped/);
  // Without the config only the built-in names are understood.
  const plain = discoverCases(ws);
  assert.deepEqual(
    plain.map((c) => c.id),
    ['BraTS-GLI-00001-000', 'Brats18_A', 'Brats18_B', 'caseP', 'subj07'],
  );
  assert.deepEqual(Object.keys(plain[4].files), ['flair']);
  // Depth is bounded.
  assert.deepEqual(
    discoverCases(ws, { maxDepth: 1 }).map((c) => c.id),
    [],
  );
  assert.deepEqual(
    discoverCases(join(ws, 'brats18'), { maxDepth: 1 }).map((c) => c.id),
    ['Brats18_A', 'Brats18_B'],
  );
});

test("the workspace's output folder is not searched", () => {
  const w = join(tmp, 'with-output');
  nii(join(w, 'data', 'Brats18_D', 'Brats18_D_flair.nii.gz'));
  nii(join(w, 'results', 'Brats18_D', 'Brats18_D_flair.nii.gz')); // e.g. a copy written by a run
  const cfg = parseWorkspaceConfig({ output: { dir: 'results' } }, join(w, 'anyad.json'));
  assert.deepEqual(
    discoverCases(w, cfg).map((c) => c.dir),
    [join(w, 'data', 'Brats18_D')],
  );
  assert.throws(() => discoverCases(w), /case id Brats18_D appears in two folders: data\/Brats18_D and results\/Brats18_D/);
});

test('a single file: its case and sibling sequences', () => {
  const c = findCaseOfFile(join(ws, 'brats18', 'Brats18_A', 'Brats18_A_t2.nii.gz'));
  assert.equal(c?.id, 'Brats18_A');
  assert.equal(Object.keys(c.files).length, 4);
  assert.deepEqual(
    discoverCases(join(ws, 'plain', 'caseP', 't1.nii.gz')).map((x) => x.id),
    ['caseP'],
  );
  assert.equal(findCaseOfFile(join(ws, 'custom', 'subj07', 'T1w.nii.gz')), undefined, 'not a known name without the config');
  assert.equal(
    findCaseOfFile(join(ws, 'custom', 'subj07', 'T1w.nii.gz'), config)?.files.flair,
    join(ws, 'custom', 'subj07', 'FLAIR.nii.gz'),
  );
  assert.throws(
    () => discoverCases(join(ws, 'notes.txt')),
    (e: unknown) => e instanceof StudyError && /not a recognised sequence file name/.test(e.message),
  );
  assert.throws(
    () => discoverCases(join(ws, 'nope')),
    (e: unknown) => e instanceof StudyError && /no such file/.test(e.message),
  );
});

test('ambiguous studies are errors: two FLAIRs for one case, one id in two folders', () => {
  const dup = join(tmp, 'dup');
  nii(join(dup, 'X', 'X_flair.nii'));
  nii(join(dup, 'X', 'X_flair.nii.gz'));
  assert.throws(
    () => discoverCases(dup),
    (e: unknown) => e instanceof StudyError && /case X has two FLAIR files: X_flair\.nii and X_flair\.nii\.gz/.test(e.message),
  );
  const mixed = join(tmp, 'mixed');
  nii(join(mixed, 'Y', 'flair.nii.gz'));
  nii(join(mixed, 'Y', 'Y_flair.nii.gz'));
  assert.throws(() => discoverCases(mixed), /case Y has two FLAIR files/);
  const twice = join(tmp, 'twice');
  nii(join(twice, 'a', 'Z', 'Z_t1.nii.gz'));
  nii(join(twice, 'b', 'Z', 'Z_t1.nii.gz'));
  assert.throws(
    () => discoverCases(twice),
    (e: unknown) => e instanceof StudyError && /case id Z appears in two folders: a\/Z and b\/Z/.test(e.message),
  );
});

test('loadCase: canonical volumes on one grid; a missing sequence or a mismatched grid is a StudyError', () => {
  const byId = Object.fromEntries(discoverCases(ws, config).map((c) => [c.id, c]));
  const loaded = loadCase(byId.Brats18_A);
  assert.deepEqual(Object.keys(loaded.volumes).sort(), ['flair', 't1', 't1ce', 't2']);
  assert.ok(loaded.label);
  assert.deepEqual(loaded.volumes.flair!.dims, DIMS);
  assert.deepEqual([loaded.volumes.flair!.affine[0], loaded.volumes.flair!.affine[5]], [1, 1], 'canonical RAS');
  const sub = loadCase(byId.Brats18_B, { sequences: ['t2'] });
  assert.deepEqual(Object.keys(sub.volumes), ['t2']);
  assert.throws(
    () => loadCase(byId.Brats18_B, { sequences: ['flair', 't1ce'] }),
    (e: unknown) => e instanceof StudyError && /case Brats18_B has no T1CE \(it has FLAIR, T1, T2\)/.test(e.message),
  );

  const bad = join(tmp, 'badgrid');
  nii(join(bad, 'M', 'M_flair.nii.gz'));
  nii(join(bad, 'M', 'M_t1.nii.gz'), 1, [4, 5, 4]);
  const [m] = discoverCases(bad);
  assert.throws(
    () => loadCase(m),
    (e: unknown) =>
      e instanceof StudyError && /M_t1\.nii\.gz is not on the grid of M_flair\.nii\.gz: 4×5×4 voxels .* vs 4×5×3 voxels/.test(e.message),
  );
  const shifted = join(tmp, 'shifted');
  nii(join(shifted, 'S', 'S_t2.nii.gz'));
  nii(join(shifted, 'S', 'S_seg.nii.gz'), 0, DIMS, [-1, 0, 0, 15, 0, -1, 0, 20, 0, 0, 1, -5, 0, 0, 0, 1]);
  const [s] = discoverCases(shifted);
  assert.throws(
    () => loadCase(s),
    (e: unknown) =>
      e instanceof StudyError && /S_seg\.nii\.gz is not on the grid of S_t2\.nii\.gz/.test(e.message) && /origin/.test(e.message),
  );
  assert.doesNotThrow(() => loadCase(s, { label: false }));
});
