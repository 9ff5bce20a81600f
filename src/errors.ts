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

export class ChecksumMismatchError extends SoakerError {
  override readonly code = 'SOAKER_CHECKSUM_MISMATCH'
}

export class SizeMismatchError extends SoakerError {
  override readonly code = 'SOAKER_SIZE_MISMATCH'
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

/** A file changed (size or mtime) while it was being uploaded. */
export class FileChangedError extends SoakerError {
  override readonly code = 'SOAKER_FILE_CHANGED'
}

/** A request whose bytes stopped moving (or whose answer never came) for the idle timeout. */
export class StalledError extends SoakerError {
  override readonly code = 'SOAKER_STALLED'
  /**
   * `early`: cancelled by an adaptive limit below --timeout (stall-watch.ts, IdleLimit). Such a
   * retry does not draw on the retry budgets: the limit doubles with each one.
   */
  constructor(message: string, readonly early = false) {
    super(message)
  }
}

/**
 * Another run holds the job's state database (its `<state>.lock` names the process). Nothing was
 * transferred; exit status 1 like any run that did not complete.
 */
export class StateLockedError extends SoakerError {
  override readonly code = 'SOAKER_LOCKED'
}

/** A store's answer that is not what the protocol promises (an empty or foreign body under 200). Retried. */
export class InvalidResponseError extends SoakerError {
  override readonly code = 'SOAKER_INVALID_RESPONSE'
}

/** The store does not implement a call (405 MethodNotAllowed, 501 NotImplemented): use what it has instead. */
export class UnsupportedError extends SoakerError {
  override readonly code = 'SOAKER_UNSUPPORTED'
}

export class InterruptedError extends SoakerError {
  override readonly code = 'SOAKER_INTERRUPTED'
  override readonly exitCode = 130
}

/** The code recorded for an error of any origin: SoakerError codes, AWS error names, errno codes. */
export function errorCode(err: unknown): string {
  if (err instanceof SoakerError) return err.code
  const e = err as { name?: string; code?: string; Code?: string } | undefined
  return e?.Code ?? e?.code ?? e?.name ?? 'UNKNOWN'
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
