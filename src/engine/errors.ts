/**
 * Typed errors of the engine. Every failure a researcher can cause (a bad file, a bad
 * config, a missing sequence) is one of these, with a message that names the file and
 * says what is wrong; anything else escaping the engine is a bug.
 */
export class AnyadError extends Error {
  /** Stable machine-readable code, e.g. 'nifti/truncated-data'. */
  readonly code: string;
  /** The file (or config key) the error is about, when there is one. */
  readonly file?: string;
  /** The message without the file name (for wrapping the error under another file or code). */
  readonly reason: string;
  constructor(code: string, message: string, file?: string, options?: { cause?: unknown }) {
    super(file ? `${file}: ${message}` : message, options);
    this.name = new.target.name;
    this.code = code;
    this.file = file;
    this.reason = message;
  }
}

/** A NIfTI file that cannot be read or written (header, data, gzip, limits). */
export class NiftiError extends AnyadError {}
/** A study/case that cannot be assembled (missing sequence, mismatched grids, naming). */
export class StudyError extends AnyadError {}
/** A workspace config (anyad.json) or CLI option that is invalid. */
export class ConfigError extends AnyadError {}
/** A safetensors file that is malformed or does not hold what was asked for. */
export class SafetensorsError extends AnyadError {}
/** A graph built with incompatible shapes/dtypes, or an op used wrongly. */
export class GraphError extends AnyadError {}
/** An execution-provider or onnxruntime session failure. */
export class RuntimeProviderError extends AnyadError {}
/** Metrics/evaluation called on inputs that have no defined answer. */
export class EvalError extends AnyadError {}
/**
 * A file or folder that cannot be read or written for a reason outside its content: not a
 * regular file (FIFO, device, folder), too large, permission denied, disk full, read-only
 * file system, a symlink loop, a name that is not UTF-8. The message names the path and the cause.
 */
export class FileError extends AnyadError {}
/** Hugging Face hub / cache: not cached, no consent, offline, HTTP 401/404, checksum, disk full, cancelled. */
export class HubError extends AnyadError {}

export function isAnyadError(e: unknown): e is AnyadError {
  return e instanceof AnyadError;
}

/**
 * `value`, or an error saying that `what` is missing: for values the surrounding code has
 * already made sure of (a key it just set, an index it just built), where a miss is a bug of
 * the engine, not anything a researcher did.
 */
export function required<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new AnyadError('engine/internal', `internal error: ${what} is missing`);
  return value;
}
