import {
  AccessDeniedError, ChecksumMismatchError, EndpointUnreachableError, FatalError, FileChangedError, InvalidResponseError,
  LocalReadError, LocalWriteError, LocationError, MissingCredentialsError, NoSuchBucketError, NotFoundError, SizeMismatchError,
  SoakerError, SourceChangedError, StalledError, ThrottledError, TransientError, UnsupportedError,
} from '../errors.js'

/** An error as it crosses from a data thread to the control thread (structured clone keeps no class). */
export interface WireError {
  name: string
  message: string
  code?: string
  errno?: string
  lowLevel?: boolean
  retryAfterSeconds?: number
  early?: boolean
}

export function toWire(err: unknown): WireError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) }
  const e = err as Error & Partial<WireError>
  return {
    name: e.name, message: e.message, code: typeof e.code === 'string' ? e.code : undefined,
    errno: err instanceof LocalWriteError ? err.errno : undefined,
    lowLevel: err instanceof TransientError ? err.lowLevel : undefined,
    retryAfterSeconds: err instanceof TransientError ? err.retryAfterSeconds : undefined,
    early: err instanceof StalledError ? err.early : undefined,
  }
}

/** The classes whose constructor takes only a message (their code is fixed). */
const plain: Record<string, new (message: string) => SoakerError> = {
  AccessDeniedError, ChecksumMismatchError, EndpointUnreachableError, FileChangedError, InvalidResponseError, LocalReadError,
  LocationError, MissingCredentialsError, NoSuchBucketError, NotFoundError, SizeMismatchError, SourceChangedError, UnsupportedError,
}

/**
 * The error a data thread reported, as the class it was thrown as, so that retries and failures
 * are decided as for a request made on this thread. An error of no known class (a fault in the
 * thread itself) becomes a TransientError: the request is tried again.
 */
export function fromWire(w: WireError): Error {
  const options = { code: w.code, lowLevel: w.lowLevel, retryAfterSeconds: w.retryAfterSeconds }
  switch (w.name) {
    case 'StalledError': return new StalledError(w.message, w.early)
    case 'ThrottledError': return new ThrottledError(w.message, options)
    case 'TransientError': return new TransientError(w.message, options)
    case 'FatalError': return new FatalError(w.message, { code: w.code })
    case 'LocalWriteError': return new LocalWriteError(w.message, w.errno)
  }
  const known = plain[w.name]
  if (known) return new known(w.message)
  if (w.name === 'AbortError') return Object.assign(new Error(w.message), { name: 'AbortError' })
  return new TransientError(`${w.message} (${w.name} in a data thread)`, { code: w.code ?? 'SOAKER_DATA_THREAD' })
}
