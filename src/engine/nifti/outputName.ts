/**
 * Output file names with exactly one NIfTI extension. Save dialogs append the filter's
 * extension to a name that already has one (VS Code reads 'x.nii.gz' as extension '.gz', so
 * the 'nii.gz' filter gives 'x.nii.gz.nii.gz'); writers pass chosen names through here.
 */

/**
 * `path` ending in a single `.nii` or `.nii.gz`: a run of trailing `.nii`/`.gz` extensions
 * collapses to the one its last member implies (`.gz` → `.nii.gz`, `.nii` → `.nii`), and a
 * name without one gets `fallback`. A name that already has exactly one is returned as is.
 */
export function niftiOutputPath(path: string, fallback: '.nii.gz' | '.nii' = '.nii.gz'): string {
  const chain = /(\.(nii|gz))+$/i.exec(path);
  if (!chain) return path + fallback;
  if (/^\.nii(\.gz)?$/i.test(chain[0])) return path;
  return path.slice(0, chain.index) + (/\.gz$/i.test(chain[0]) ? '.nii.gz' : '.nii');
}
