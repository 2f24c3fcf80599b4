/** data.assignments written into anyad.json by hand-edit rules: comments, layout and other spellings survive or go as they should. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadWorkspaceConfig, parseWorkspaceConfig } from '../../src/engine/config';
import { assignmentKey, withAssignment, writeAssignment } from '../../src/engine/configEdit';
import { ConfigError } from '../../src/engine/errors';

const tmp = mkdtempSync(join(tmpdir(), 'anyad-config-edit-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const CONFIG = join(tmp, 'ws', 'anyad.json');
const file = (rel: string) => join(tmp, 'ws', rel);

const COMMENTED = `{
    // my study: keep this comment
    "data": {
        "root": "data", /* trailing block comment */
        "sequences": { "flair": "*_fla.nii.gz" },
    },
    "model": { "preset": "tiny-cpu" }
}
`;

test('setting an assignment keeps comments, trailing commas and the 4-space layout; the result validates', () => {
  const out = withAssignment(COMMENTED, CONFIG, file('data/s1/odd.nii.gz'), 't2');
  assert.ok(
    out.startsWith('{\n    // my study: keep this comment\n    "data": {\n        "root": "data", /* trailing block comment */\n'),
    out,
  );
  assert.match(out, /\n {8}"assignments": \{\n {12}"data\/s1\/odd\.nii\.gz": "t2"\n {8}\}/);
  assert.match(out, /"model": \{ "preset": "tiny-cpu" \}/);
  const c = parseWorkspaceConfig(out, CONFIG);
  assert.deepEqual(c.data.assignments, { [file('data/s1/odd.nii.gz')]: 't2' });
  assert.deepEqual(c.data.sequences.flair, ['*_fla.nii.gz']);
  // Re-assigning replaces the value; another spelling of the same file is replaced too, not duplicated.
  const spelled = out.replace('"data/s1/odd.nii.gz"', '"./data/s1/odd.nii.gz"');
  const again = withAssignment(spelled, CONFIG, file('data/s1/odd.nii.gz'), 'flair');
  assert.deepEqual(parseWorkspaceConfig(again, CONFIG).data.assignments, { [file('data/s1/odd.nii.gz')]: 'flair' });
  assert.doesNotMatch(again, /\.\/data/);
  // Clearing removes the entry and leaves the rest as it was.
  const cleared = withAssignment(again, CONFIG, file('data/s1/odd.nii.gz'), undefined);
  assert.deepEqual(parseWorkspaceConfig(cleared, CONFIG).data.assignments, {});
  assert.match(cleared, /keep this comment/);
  assert.equal(assignmentKey(CONFIG, join(tmp, 'elsewhere', 'x.nii.gz')), '../elsewhere/x.nii.gz');
});

test('writeAssignment: atomic write, a missing config is created from the commented template, a broken one is refused', () => {
  const created = writeAssignment(CONFIG, file('a/b_fla.nii.gz'), 'flair');
  assert.deepEqual(created, { created: true });
  const text = readFileSync(CONFIG, 'utf8');
  assert.match(text, /\/\/ AnyAD workspace config/, 'the template comments come along');
  assert.deepEqual(loadWorkspaceConfig(CONFIG).data.assignments, { [file('a/b_fla.nii.gz')]: 'flair' });
  assert.deepEqual(writeAssignment(CONFIG, file('a/b_T1w.nii.gz'), 't1'), { created: false });
  assert.deepEqual(loadWorkspaceConfig(CONFIG).data.assignments, { [file('a/b_fla.nii.gz')]: 'flair', [file('a/b_T1w.nii.gz')]: 't1' });
  const broken = '{ "data": { "root": 3 } }';
  writeFileSync(CONFIG, broken);
  assert.throws(
    () => writeAssignment(CONFIG, file('a/b_fla.nii.gz'), 'flair'),
    (e: unknown) => e instanceof ConfigError && /data\.root must be a non-empty string/.test(e.message),
  );
  assert.equal(readFileSync(CONFIG, 'utf8'), broken, 'a refused edit leaves the file alone');
  rmSync(CONFIG);
  assert.deepEqual(writeAssignment(CONFIG, file('a/b_fla.nii.gz'), undefined), { created: false }, 'clearing creates nothing');
});
