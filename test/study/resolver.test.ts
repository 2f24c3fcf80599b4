/**
 * The one sequence resolver (built-in names, data.sequences patterns, manual assignments) on
 * real NIfTI files: precedence, conflicts and their messages, one-sequence cases, the names
 * of public datasets that no built-in scheme knows, and data.assignments in anyad.json.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CONFIG_DEFAULTS, loadWorkspaceConfig, parseWorkspaceConfig } from '../../src/engine/config';
import { CASE_FILE_ROLES } from '../../src/shared/vocabulary';
import { ConfigError, StudyError } from '../../src/engine/errors';
import { writeNifti } from '../../src/engine/nifti';
import { SequenceResolver, caseFromInputs, discoverStudy, findCaseOfFile, loadCase } from '../../src/engine/study';

const tmp = mkdtempSync(join(tmpdir(), 'anyad-resolver-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const DIMS: [number, number, number] = [4, 5, 3];
const LPS = [-1, 0, 0, 10, 0, -1, 0, 20, 0, 0, 1, -5, 0, 0, 0, 1];

/** A tiny real NIfTI file whose voxels all hold `fill` (so tests can tell files apart after loading). */
function nii(path: string, fill = 1): string {
  mkdirSync(dirname(path), { recursive: true });
  writeNifti(path, { dims: DIMS, affine: LPS, data: new Float32Array(DIMS[0] * DIMS[1] * DIMS[2]).fill(fill) }, { datatype: 'int16' });
  return path;
}

test('precedence per file: a manual assignment beats a pattern, which beats a built-in name', () => {
  const dir = join(tmp, 'precedence', 'subjA');
  const fla = nii(join(dir, 'subjA_fla.nii.gz'));
  const t1 = nii(join(dir, 'subjA_t1.nii.gz'));
  const r = new SequenceResolver({ sequences: { flair: ['*_fla.nii.gz'], t2: ['*_t1.nii.gz'] } });
  assert.deepEqual(r.classify(fla), { role: 'flair', scheme: 'config' });
  assert.deepEqual(r.classify(t1), { role: 't2', scheme: 'config' }, 'a pattern beats the BraTS name');
  assert.deepEqual(new SequenceResolver().classify(t1), { id: 'subjA', role: 't1', scheme: 'brats2018' });
  assert.equal(new SequenceResolver().classify(fla), undefined, 'no built-in scheme knows _fla');
  const manual = new SequenceResolver({ sequences: { flair: ['*_fla.nii.gz'] }, assignments: { [fla]: 't2', [t1]: 't1ce' } });
  assert.deepEqual(manual.classify(fla), { role: 't2', scheme: 'manual' });
  assert.deepEqual(manual.classify(join(dir, '.', 'subjA_t1.nii.gz')), { role: 't1ce', scheme: 'manual' }, 'paths are compared resolved');
  const c = findCaseOfFile(fla, { sequences: { flair: ['*_fla.nii.gz'] }, assignments: { [fla]: 't2', [t1]: 't1ce' } });
  assert.deepEqual(c, { id: 'subjA', dir, files: { t2: fla, t1ce: t1 } });
});

test('names of datasets no built-in knows (Flair_subtrMeanDivStd.nii.gz) with data.sequences patterns', () => {
  const root = join(tmp, 'mslub');
  for (const p of ['patient01', 'patient02']) {
    nii(join(root, p, 'Flair_subtrMeanDivStd.nii.gz'), 1);
    nii(join(root, p, 'T1_subtrMeanDivStd.nii.gz'), 2);
    nii(join(root, p, 'T2_subtrMeanDivStd.nii.gz'), 3);
    nii(join(root, p, 'Consensus.nii.gz'), 0);
  }
  nii(join(root, 'patient02', 'T1ce_subtrMeanDivStd.nii.gz'), 4);
  const config = parseWorkspaceConfig(
    {
      data: {
        sequences: { flair: 'Flair_*.nii.gz', t1: 'T1_*.nii.gz', t1ce: 'T1ce_*.nii.gz', t2: 'T2_*.nii.gz', label: 'Consensus.nii.gz' },
      },
    },
    join(root, 'anyad.json'),
  );
  assert.deepEqual(discoverStudy(root).cases, [], 'without the patterns nothing is a sequence');
  const { cases, warnings } = discoverStudy(root, config);
  assert.deepEqual(warnings, []);
  assert.deepEqual(
    cases.map((c) => [c.id, Object.keys(c.files).sort(), Boolean(c.label)]),
    [
      ['patient01', ['flair', 't1', 't2'], true],
      ['patient02', ['flair', 't1', 't1ce', 't2'], true],
    ],
  );
  // The viewer's question (which case is this file, which are its siblings) has the same answer.
  const opened = findCaseOfFile(join(root, 'patient02', 'Flair_subtrMeanDivStd.nii.gz'), config);
  assert.deepEqual(opened, cases[1]);
  const loaded = loadCase(opened, { label: false });
  assert.deepEqual(
    ['flair', 't1', 't1ce', 't2'].map((s) => loaded.volumes[s as 'flair']!.data[0]),
    [1, 2, 4, 3],
  );
});

test('a case with a single sequence is a case (no sibling needed)', () => {
  const dir = join(tmp, 'single', 'onlyflair');
  const fla = nii(join(dir, 'X_fla.nii.gz'));
  nii(join(dir, 'notes_scan.nii.gz')); // matches nothing: ignored, not an error
  const rules = { sequences: { flair: ['*_fla.nii.gz'] } };
  assert.deepEqual(findCaseOfFile(fla, rules), { id: 'onlyflair', dir, files: { flair: fla } });
  assert.deepEqual(
    discoverStudy(join(tmp, 'single'), rules).cases.map((c) => c.files),
    [{ flair: fla }],
  );
  assert.equal(findCaseOfFile(join(dir, 'notes_scan.nii.gz'), rules), undefined);
});

test('conflicts are StudyErrors that say how to fix them', () => {
  const dir = join(tmp, 'conflicts', 'caseC');
  const fla = nii(join(dir, 'caseC_fla.nii.gz'));
  const flair = nii(join(dir, 'caseC_flair.nii.gz'));
  const odd = nii(join(dir, 'caseC_x.nii.gz'));
  // A manual assignment that gives a case a second FLAIR: both files and both origins are named.
  assert.throws(
    () => findCaseOfFile(flair, { assignments: { [fla]: 'flair' } }),
    (e: unknown) =>
      e instanceof StudyError &&
      e.code === 'study/duplicate-sequence' &&
      /case caseC has two FLAIR files: caseC_fla\.nii\.gz and caseC_flair\.nii\.gz \(caseC_fla\.nii\.gz: assigned by hand; caseC_flair\.nii\.gz: BraTS name\)/.test(
        e.message,
      ) &&
      /keep one, assign one of them to another sequence by hand \(data\.assignments/.test(e.message),
  );
  assert.throws(
    () => discoverStudy(join(tmp, 'conflicts'), { sequences: { flair: ['*_fla.nii.gz'] } }),
    /two FLAIR files: caseC_fla\.nii\.gz and caseC_flair\.nii\.gz .*narrow the data\.sequences patterns/,
  );
  // One file matching the patterns of two sequences; a manual assignment settles it.
  const ambiguous = { sequences: { t1: ['*_x.nii.gz'], t2: ['caseC_*'] } };
  assert.throws(
    () => findCaseOfFile(odd, ambiguous),
    (e: unknown) =>
      e instanceof StudyError &&
      e.code === 'study/ambiguous-pattern' &&
      /caseC_x\.nii\.gz matches the data\.sequences patterns of several sequences \(t1, t2\); make those patterns more specific, or assign the file by hand/.test(
        e.message,
      ),
  );
  const settled = findCaseOfFile(odd, { ...ambiguous, assignments: { [odd]: 't1', [fla]: 'label' } });
  // (caseC_flair.nii.gz matches the t2 pattern caseC_*: a pattern beats its BraTS name.)
  assert.deepEqual(settled, { id: 'caseC', dir, files: { t2: flair, t1: odd }, label: fla });
});

test('data.assignments: validated, resolved against the config file, and used by discovery (training, anyad dataset)', () => {
  const ws = join(tmp, 'assign-ws');
  const a = nii(join(ws, 'data', 'subj1', 'scan_a.nii.gz'), 1);
  const b = nii(join(ws, 'data', 'subj1', 'scan_b.nii.gz'), 2);
  nii(join(ws, 'data', 'subj1', 'subj1_fla.nii.gz'), 3);
  const file = join(ws, 'anyad.json');
  writeFileSync(
    file,
    `{
    // by hand: two files no pattern can tell apart
    "data": {
      "sequences": { "flair": "*_fla.nii.gz" },
      "assignments": { "data/subj1/scan_a.nii.gz": "t1", "./data/subj1/scan_b.nii.gz": "t2" },
    },
  }`,
  );
  const config = loadWorkspaceConfig(file);
  assert.deepEqual(config.data.assignments, { [a]: 't1', [b]: 't2' });
  assert.deepEqual(
    discoverStudy(config.data.root, config).cases.map((c) => c.files),
    [{ flair: join(ws, 'data', 'subj1', 'subj1_fla.nii.gz'), t1: a, t2: b }],
  );
  assert.deepEqual(parseWorkspaceConfig({}, file).data.assignments, {});

  const rejects = (data: unknown, re: RegExp) =>
    assert.throws(
      () => parseWorkspaceConfig({ data }, file),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
      String(re),
    );
  rejects({ assignments: ['x.nii.gz'] }, /data\.assignments must be an object, got an array/);
  rejects(
    { assignments: { 'x.nii.gz': 'pd' } },
    /data\.assignments\["x\.nii\.gz"\] must be one of "flair", "t1", "t1ce", "t2", "label", got "pd"/,
  );
  rejects({ assignments: { 'x.nii.gz': 1 } }, /data\.assignments\["x\.nii\.gz"\] must be one of/);
  rejects({ assignments: { '': 't1' } }, /data\.assignments has the key "": its keys must be file paths relative to anyad\.json/);
  rejects({ assignments: { ' ': 't1' } }, /data\.assignments has the key " "/);
  rejects(
    { assignments: { 'a/x.nii.gz': 't1', './a/x.nii.gz': 't2' } },
    /assigns .*x\.nii\.gz a second time \(as t2; "a\/x\.nii\.gz" says t1\); keep one entry/,
  );

  // The JSON schema (IntelliSense) describes the same key and the same roles.
  const schema = JSON.parse(readFileSync(join(__dirname, '../../schemas/anyad.schema.json'), 'utf8'));
  const s = schema.properties.data.properties.assignments;
  assert.equal(s.type, 'object');
  assert.deepEqual(s.default, CONFIG_DEFAULTS.data.assignments);
  assert.deepEqual(s.additionalProperties.enum, [...CASE_FILE_ROLES]);
});

test('caseFromInputs: a case path and/or explicit files per sequence; explicit files win', () => {
  const dir = join(tmp, 'inputs', 'subjI');
  const fla = nii(join(dir, 'subjI_fla.nii.gz'), 1);
  const t1 = nii(join(dir, 'subjI_T1w.nii.gz'), 2);
  const t2 = nii(join(dir, 'subjI_t2.nii.gz'), 3);
  const other = nii(join(tmp, 'inputs', 'elsewhere', 'other_T2.nii.gz'), 4);
  // --case alone: only what the rules know.
  assert.deepEqual(caseFromInputs({ path: t2 }).files, { t2 });
  assert.deepEqual(caseFromInputs({ path: dir }, { sequences: { flair: ['*_fla.nii.gz'], t1: ['*_T1w.nii.gz'] } }).files, {
    flair: fla,
    t1,
    t2,
  });
  // Explicit files alone: the case is their folder.
  assert.deepEqual(caseFromInputs({ files: { flair: fla, t1 } }), { id: 'subjI', dir, files: { flair: fla, t1 } });
  // Combined: an explicit file replaces what --case found, even from another folder; an unknown
  // --case file name is fine when explicit files say what the case is.
  assert.deepEqual(caseFromInputs({ path: dir, files: { t2: other } }).files, { t2: other });
  assert.deepEqual(caseFromInputs({ path: fla, files: { flair: fla } }).files, { flair: fla });
  assert.deepEqual(caseFromInputs({ path: t2, files: { t1: t2 } }).files, { t1: t2 }, 'one file is not two sequences');
  assert.throws(
    () => caseFromInputs({ path: fla }),
    (e: unknown) =>
      e instanceof StudyError && /not a recognised sequence file name .*add a data\.sequences pattern.*data\.assignments/.test(e.message),
  );
  assert.throws(
    () => caseFromInputs({ files: { t1: join(dir, 'missing.nii.gz') } }),
    (e: unknown) => e instanceof StudyError && /missing\.nii\.gz: no such T1 file/.test(e.message),
  );
  assert.throws(
    () => caseFromInputs({}),
    (e: unknown) => e instanceof StudyError && e.code === 'study/no-case',
  );
});
