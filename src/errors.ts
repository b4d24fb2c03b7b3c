/**
 * The project's one error type. Every failure a user can cause (a bad model, a bad recipe, a dangerous path)
 * becomes an SdxlOptError: a code to test against, what went wrong, where (file, node, recipe line) and what to do.
 * Anything else that escapes is a bug in sdxl-opt, and the CLI says so.
 */
export type ErrorCode =
  | 'BAD_PROTOBUF' // the bytes are not a valid ONNX protobuf
  | 'BAD_MODEL' // valid protobuf, but not a valid ONNX model (dangling names, bad types...)
  | 'BAD_TENSOR' // a tensor whose declared size and data disagree
  | 'UNSAFE_PATH' // an external-data location or output path that leaves where it must stay
  | 'EXTERNAL_DATA' // external data file missing, short or unreadable
  | 'IO' // file system errors (not found, permission, disk full)
  | 'BAD_RECIPE' // recipe syntax or schema
  | 'BAD_PARAM' // a pass or command parameter out of range
  | 'PASS_FAILED' // a pass broke the graph's invariants
  | 'VALIDATION_FAILED' // parity outside tolerance
  | 'RUNTIME' // ONNX Runtime refused or failed
  | 'UNSUPPORTED'; // valid input that sdxl-opt cannot handle yet

export class SdxlOptError extends Error {
  override readonly name = 'SdxlOptError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: { where?: string; hint?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }

  get where(): string | undefined {
    return this.details.where;
  }

  get hint(): string | undefined {
    return this.details.hint;
  }

  /** One line, for a terminal: `error: <where>: <message> (<hint>)`. */
  oneLine(): string {
    const where = this.details.where ? `${this.details.where}: ` : '';
    const hint = this.details.hint ? ` (${this.details.hint})` : '';
    return `error: ${where}${this.message}${hint}`.replace(/\s*\n\s*/g, ' ');
  }
}

export function isSdxlOptError(e: unknown): e is SdxlOptError {
  return e instanceof SdxlOptError;
}

/** Wraps a foreign error (fs, protobufjs) in an SdxlOptError with a place; SdxlOptErrors pass through unchanged. */
export function wrapError(e: unknown, code: ErrorCode, message: string, where?: string, hint?: string): SdxlOptError {
  if (e instanceof SdxlOptError) return e;
  const why = e instanceof Error ? e.message : String(e);
  return new SdxlOptError(code, `${message}: ${why}`, { where, hint, cause: e });
}
