/**
 * Where training picks its model: the parameters with the best mean image-level AP over the
 * 7 modality subsets on the VALIDATION split (cases held out of training). The test split
 * never takes part: it is scored once, after selection and calibration.
 */

/** The selection criterion, as the report states it. */
export const SELECTION_RULE = 'best mean image AP over the 7 subsets on the validation split';

/**
 * Whether a later evaluation's mean image AP `a` beats the best so far `b`: strictly higher
 * (ties keep the earlier step). NaN (a one-sided set has no AP) never beats a number;
 * when every AP is NaN the latest parameters win.
 */
export function betterByImageAP(a: number, b: number | undefined): boolean {
  if (b === undefined || Number.isNaN(b)) return true;
  return !Number.isNaN(a) && a > b;
}
