/** headerGridOf: the grid from the header alone, refusing what readNifti would refuse before decoding. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { isAnyadError } from '../../src/engine/errors';
import { loadVolumeWithSource } from '../../src/engine/nifti';
import { headerGridOf } from '../../src/engine/nifti/headerGrid';

const GRID = join(__dirname, '..', 'fixtures', 'nifti', 'grid');

test('the same source and canonical grids as a full read, for gzip and plain files', () => {
  for (const f of ['lps.nii.gz', 'oblique.nii.gz', 'las_be.nii', 'nifti2_lip.nii.gz', 'lps_4d.nii.gz']) {
    const bytes = readFileSync(join(GRID, f));
    const g = headerGridOf(bytes, f);
    const full = loadVolumeWithSource(bytes, { file: f });
    assert.deepEqual(g.source.dims, full.source.dims, f);
    assert.deepEqual(g.source.axes, full.source.axes, f);
    assert.deepEqual(g.source.geometry, full.source.geometry, f);
    assert.deepEqual([...g.source.affine], [...full.source.affine], f);
    assert.deepEqual(g.canonical.dims, full.volume.dims, f);
    assert.deepEqual(g.canonical.spacing, full.volume.spacing, f);
    assert.deepEqual([...g.canonical.affine], [...full.volume.affine], f);
    assert.equal(g.compressed, f.endsWith('.gz'));
  }
});

test('refuses an empty file, a non-NIfTI, a truncated plain image and one over the memory limit', () => {
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return isAnyadError(e) ? e.code : `not typed: ${String(e)}`;
    }
    return 'no error';
  };
  const plain = gunzipSync(readFileSync(join(GRID, 'lps.nii.gz')));
  assert.equal(
    code(() => headerGridOf(new Uint8Array(0), 'e.nii')),
    'nifti/empty-file',
  );
  assert.equal(
    code(() => headerGridOf(new TextEncoder().encode('definitely not a NIfTI file'), 'x.nii')),
    'nifti/not-nifti',
  );
  assert.equal(
    code(() => headerGridOf(plain.subarray(0, plain.length - 10), 'cut.nii')),
    'nifti/truncated-data',
  );
  assert.equal(
    code(() => headerGridOf(readFileSync(join(GRID, 'lps.nii.gz')), 'big.nii.gz', 2000)),
    'nifti/too-large',
  );
  assert.equal(
    code(() => headerGridOf(plain, 'ok.nii')),
    'no error',
  );
});
