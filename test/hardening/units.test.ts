/**
 * In-process checks of the hardening building blocks: the linear glob matcher agrees with the
 * RegExp semantics it replaces, every errno the issue names is said in words with the path,
 * and a stroke's cost is what strokeVoxels does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FileError } from '../../src/engine/errors';
import { describeIoError, fileError } from '../../src/engine/util/fileio';
import { globComplexityProblem, globMatch } from '../../src/engine/util/glob';
import { strokeCost } from '../../src/shared/planes';
import { mulberry32 } from '../helpers/random';

test('globMatch equals the anchored, case-insensitive RegExp of the pattern on 20,000 random pairs', () => {
  const r = mulberry32(15);
  const pick = (s: string, n: number) => Array.from({ length: n }, () => s[Math.floor(r() * s.length)]).join('');
  for (let i = 0; i < 20_000; i++) {
    const pattern = pick('aAb*?.', Math.floor(r() * 8));
    const name = pick('abAB.', Math.floor(r() * 10));
    const re = new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
      'is',
    );
    assert.equal(globMatch(pattern, name), re.test(name), `${JSON.stringify(pattern)} vs ${JSON.stringify(name)}`);
  }
  assert.equal(globComplexityProblem('*_flair*.nii.gz'), undefined);
  assert.match(globComplexityProblem('*'.repeat(17))!, /17 '\*'/);
});

test('I/O errors are said in words, with the code and the path, on one line', () => {
  const sys = (code: string) => Object.assign(new Error(`${code}: something, open '/x'`), { code, syscall: 'open', path: '/x' });
  const words: Record<string, RegExp> = {
    ENOSPC: /disk full/,
    EROFS: /read-only file system/,
    EISDIR: /is a folder/,
    EACCES: /permission denied/,
    ENAMETOOLONG: /file name too long/,
    ELOOP: /symbolic links/,
    ENOENT: /no such file/,
    EDQUOT: /quota/,
    EIO: /input\/output error/,
  };
  for (const [code, re] of Object.entries(words)) {
    assert.match(describeIoError(sys(code)), re);
    assert.match(describeIoError(sys(code)), new RegExp(`\\(${code}\\)$`));
    const e = fileError(sys(code), '/data/out/report.md', 'write');
    assert.ok(e instanceof FileError);
    assert.match(e.message, new RegExp(`^/data/out/report\\.md: cannot write: .*\\(${code}\\)$`));
  }
  assert.match(describeIoError(sys('ENOENT'), '/data/case_\uFFFD_flair.nii'), /not valid UTF-8/);
});

test('strokeCost counts the brush stamps strokeVoxels makes: points × half-voxel steps × (2r+1)²', () => {
  assert.equal(strokeCost([5, 5], 0), 1);
  assert.equal(strokeCost([5, 5], 2), 25);
  assert.equal(strokeCost([0, 0, 10, 0], 1), (1 + 20) * 9);
  const zigzag = Array.from({ length: 4096 }, (_, i) => (i % 2 === 0 ? [0, 0] : [255, 255])).flat();
  assert.ok(strokeCost(zigzag, 64) > 1e10, "the issue's stroke costs tens of billions of voxel visits");
});
