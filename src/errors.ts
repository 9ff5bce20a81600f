/**
 * Every error soaker raises on purpose is a SoakerError with a stable `code` that users can grep
 * and scripts can match. `exitCode` tells the CLI how the process should end when the error
 * reaches the top: 2 for input the user must fix before anything can run, 1 for everything else.
 */
export class SoakerError extends Error {
  readonly code: string = 'SOAKER_ERROR'
  readonly exitCode: number = 1
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** Bad flags, values or URIs: nothing ran. */
export class UsageError extends SoakerError {
  override readonly code: string = 'SOAKER_USAGE'
  override readonly exitCode = 2
}

/**
 * A state database made for another static shard than the run's (`--shard`), or for none: its
 * rows are another set of objects, so the run would mix them. Nothing ran.
 */
export class ShardMismatchError extends UsageError {
  override readonly code = 'SOAKER_SHARD_MISMATCH'
}

export class MissingCredentialsError extends SoakerError {
  override readonly code = 'SOAKER_NO_CREDENTIALS'
}

/** The source or destination cannot be used at all (no bucket, no access, not writable). */
export class LocationError extends SoakerError {
  override readonly code: string = 'SOAKER_LOCATION'
}

export class NoSuchBucketError extends LocationError {
  override readonly code = 'SOAKER_NO_SUCH_BUCKET'
}

export class AccessDeniedError extends LocationError {
  override readonly code = 'SOAKER_ACCESS_DENIED'
}

export class EndpointUnreachableError extends LocationError {
  override readonly code = 'SOAKER_ENDPOINT_UNREACHABLE'
}

/** Rejected by stat/read when the object does not exist. */
export class NotFoundError extends SoakerError {
  override readonly code = 'SOAKER_NOT_FOUND'
}

/**
 * A key that cannot become a file under the destination (escapes it, NUL, a control character,
 * too long, reserved, through a symbolic link already in the destination, ...).
 */
export class UnsafeKeyError extends SoakerError {
  override readonly code: string = 'SOAKER_UNSAFE_KEY'
}

/** A key that is a file where another listed key needs a folder (`a` and `a/b`): the later one is refused. */
export class KeyConflictError extends UnsafeKeyError {
  override readonly code = 'SOAKER_KEY_CONFLICT'
}

export interface TransientOptions {
  /** What happened, in the words of whatever failed (see TransientError). @default 'SOAKER_TRANSIENT' */
  code?: string
  /**
   * A fault of the exchange rather than an answer about the request: a reset, a stall, a 503, a
   * time-out. Such faults strike at random and draw on --low-level-retries; the others (a 500, a
   * checksum mismatch) draw on --retries. @default false
   */
  lowLevel?: boolean
  /** Seconds the store asked to wait (its Retry-After): the next attempt waits at least this. */
  retryAfterSeconds?: number
  cause?: unknown
}

/**
 * A failure that another attempt may not meet: retried. Its `code` is what the failure was
 * called where it happened (`InternalError`, `ECONNRESET`, `backendError`), as the state store,
 * --json and the summary record it; the class says what to do next, the code what happened.
 */
export class TransientError extends SoakerError {
  override readonly code: string
  readonly lowLevel: boolean
  readonly retryAfterSeconds: number | undefined
  constructor(message: string, options: TransientOptions = {}) {
    super(message, { cause: options.cause })
    this.code = options.code ?? 'SOAKER_TRANSIENT'
    this.lowLevel = options.lowLevel ?? false
    this.retryAfterSeconds = options.retryAfterSeconds
  }
}

/**
 * The store pushing back on load (503 SlowDown, 429, Azure's ServerBusy): retried as a low-level
 * fault, and counted as a throttle, which makes the tuner lower the concurrency.
 */
export class ThrottledError extends TransientError {
  constructor(message: string, options: Omit<TransientOptions, 'lowLevel'> = {}) {
    super(message, { ...options, code: options.code ?? 'SOAKER_THROTTLED', lowLevel: true })
  }
}

/**
 * A failure no retry fixes, for which no narrower class exists (a 400, a 416): the object fails.
 * Its `code` is the failure's own, as TransientError's.
 */
export class FatalError extends SoakerError {
  override readonly code: string
  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.code = options.code ?? 'SOAKER_FATAL'
  }
}

/** The bytes received do not have the digest the store promised: they are fetched again. */
export class ChecksumMismatchError extends TransientError {
  override readonly code = 'SOAKER_CHECKSUM_MISMATCH'
}

/** Fewer or more bytes than promised arrived: they are fetched again. */
export class SizeMismatchError extends TransientError {
  override readonly code = 'SOAKER_SIZE_MISMATCH'
}

/** A store's answer that is not what the protocol promises (an empty or foreign body under 200). Retried. */
export class InvalidResponseError extends TransientError {
  override readonly code = 'SOAKER_INVALID_RESPONSE'
}

/** The source object changed (ETag differs) while it was being copied. */
export class SourceChangedError extends SoakerError {
  override readonly code = 'SOAKER_SOURCE_CHANGED'
}

/** A local file system problem for one object (file versus directory, name too long, disk full). */
export class LocalWriteError extends SoakerError {
  override readonly code: string = 'SOAKER_LOCAL_WRITE'
  constructor(message: string, readonly errno?: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** A local file to upload cannot be read (permissions, vanished, I/O error). */
export class LocalReadError extends SoakerError {
  override readonly code = 'SOAKER_LOCAL_READ'
}

/** A file changed (size or mtime) while it was being uploaded: it is read again. */
export class FileChangedError extends TransientError {
  override readonly code = 'SOAKER_FILE_CHANGED'
}

/** A request whose bytes stopped moving (or whose answer never came) for the idle timeout: sent again. */
export class StalledError extends TransientError {
  override readonly code = 'SOAKER_STALLED'
  /**
   * `early`: cancelled by an adaptive limit below --timeout (stall-watch.ts, IdleLimit). Such a
   * retry does not draw on the retry budgets: the limit doubles with each one.
   */
  constructor(message: string, readonly early = false) {
    super(message, { lowLevel: true })
  }
}

/**
 * Another run holds the job's state database (its `<state>.lock` names the process). Nothing was
 * transferred; exit status 1 like any run that did not complete.
 */
export class StateLockedError extends SoakerError {
  override readonly code = 'SOAKER_LOCKED'
}

/** The store does not implement a call (405 MethodNotAllowed, 501 NotImplemented): use what it has instead. */
export class UnsupportedError extends SoakerError {
  override readonly code = 'SOAKER_UNSUPPORTED'
}

export class InterruptedError extends SoakerError {
  override readonly code = 'SOAKER_INTERRUPTED'
  override readonly exitCode = 130
}

/**
 * The code recorded for an error of any origin: a SoakerError's code (a store's failures are
 * SoakerErrors, their providers see to it), else the error's own code or name (the file
 * system's errno codes).
 */
export function errorCode(err: unknown): string {
  if (err instanceof SoakerError) return err.code
  const e = err as { name?: string; code?: string } | undefined
  return e?.code ?? e?.name ?? 'UNKNOWN'
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
