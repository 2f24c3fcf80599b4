/**
 * File-name patterns (`*` any run of characters, `?` one character, case-insensitive) matched
 * without backtracking. A pattern turned into a RegExp (`.*a.*a.*…b`) backtracks
 * exponentially on a long name that almost matches — minutes for 21 stars — and discovery
 * runs in the extension host, so the matcher here is the classic greedy two-pointer
 * algorithm: O(pattern × name) at worst, linear in practice.
 */

/** Most characters and most `*` in one pattern (a real one has a handful). */
export const MAX_GLOB_LENGTH = 256;
export const MAX_GLOB_STARS = 16;

/** Why a pattern is too complex, or undefined when it is fine. */
export function globComplexityProblem(pattern: string): string | undefined {
  if (pattern.length > MAX_GLOB_LENGTH) return `is ${pattern.length} characters long, more than the ${MAX_GLOB_LENGTH} allowed`;
  let stars = 0;
  for (const c of pattern) if (c === '*') stars++;
  if (stars > MAX_GLOB_STARS) return `has ${stars} '*', more than the ${MAX_GLOB_STARS} allowed`;
  return undefined;
}

/** Whether `name` matches `pattern` as a whole (case-insensitive). */
export function globMatch(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase();
  const s = name.toLowerCase();
  let pi = 0,
    si = 0;
  // Where the last `*` was and the name position it currently stands for the end of.
  let star = -1,
    mark = 0;
  while (si < s.length) {
    if (pi < p.length && (p[pi] === '?' || (p[pi] !== '*' && p[pi] === s[si]))) {
      pi++;
      si++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = si;
    } else if (star >= 0) {
      pi = star + 1;
      si = ++mark;
    } // let the last `*` take one more character
    else return false;
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}
