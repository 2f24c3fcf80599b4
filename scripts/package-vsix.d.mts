/** The platforms package-vsix.mjs packs and the binding files each .vsix must carry. */
export const TARGETS: Record<string, { platform: string; arch: string; files: string[]; skip: string[] }>;
/** Entry names and sizes from a zip's central directory. */
export function zipEntries(file: string): Array<{ name: string; size: number; compressed: number }>;
