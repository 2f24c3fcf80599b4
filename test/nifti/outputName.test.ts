/** niftiOutputPath: chosen output names end in exactly one NIfTI extension. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { niftiOutputPath } from '../../src/engine/nifti';

test('niftiOutputPath: an extension a save dialog appended again is collapsed', () => {
  assert.equal(niftiOutputPath('/d/case_anomaly_map.nii.gz.nii.gz'), '/d/case_anomaly_map.nii.gz');
  assert.equal(niftiOutputPath('/d/map.nii.nii'), '/d/map.nii');
  assert.equal(niftiOutputPath('/d/map.nii.gz.gz'), '/d/map.nii.gz');
  // The last extension says what the user picked: it decides compression.
  assert.equal(niftiOutputPath('/d/map.nii.gz.nii'), '/d/map.nii');
  assert.equal(niftiOutputPath('/d/map.nii.nii.gz'), '/d/map.nii.gz');
  assert.equal(niftiOutputPath('/d/map.gz'), '/d/map.nii.gz');
});

test('niftiOutputPath: one extension is kept as typed; none gets the fallback', () => {
  for (const p of ['/d/map.nii.gz', '/d/map.nii', '/d/MAP.NII.GZ', '/d/a.nii.dir/map.nii']) assert.equal(niftiOutputPath(p), p);
  assert.equal(niftiOutputPath('/d/map'), '/d/map.nii.gz');
  assert.equal(niftiOutputPath('/d/map', '.nii'), '/d/map.nii');
  assert.equal(niftiOutputPath('/d/x.nii/map.txt'), '/d/x.nii/map.txt.nii.gz');
});
