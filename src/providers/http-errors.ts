import { ThrottledError, TransientError } from '../errors.js'

// Answers that another attempt may not get: a server's error, a gateway's, a request time-out.
const retryStatus = [500, 502, 503, 504, 408]
// A store shedding load answers 503 (S3's SlowDown is one, when its code says so): a fault of
// the exchange, which draws on the low-level budget, rather than an answer about the request.
const lowLevelStatus = [503]
const throttleStatus = [429]

/** A store's error answer, as each provider reads it out of its client's error. */
export interface StoreAnswer {
  /** The HTTP status, where the error is an answer. */
  status: number | undefined
  /** What the store called it (S3's `InternalError`, GCS's reason): the soaker error's code. */
  code: string
  message: string
  /** The answer's Retry-After header. */
  retryAfter?: string | undefined
  /** The store's code says it throttles, whatever the status (S3's SlowDown is a 503, GCS's rate limits a 403). */
  throttled?: boolean
  /** The store's code says another attempt may succeed, whatever the status (S3's RequestTimeout is a 400). */
  retried?: boolean
  /** The store's code says it is a fault of the exchange (S3's IncompleteBody): see TransientOptions.lowLevel. */
  lowLevel?: boolean
  cause: unknown
}

/**
 * The answer as the error that says what to do next: ThrottledError (429, or a throttling code),
 * TransientError (a 5xx or 408, or a code worth another attempt), or undefined for an answer no
 * retry changes, which the provider names (NotFoundError, AccessDeniedError, FatalError).
 */
export function retryableAnswer(answer: StoreAnswer, now = Date.now()): TransientError | undefined {
  const { status, code, message, cause } = answer
  const options = { code, retryAfterSeconds: retryAfterSeconds(answer.retryAfter, now), cause }
  const throttled = answer.throttled === true || (status !== undefined && throttleStatus.includes(status))
  if (throttled) return new ThrottledError(message, options)
  if (!answer.retried && (status === undefined || !retryStatus.includes(status))) return undefined
  const lowLevel = answer.lowLevel === true || (status !== undefined && lowLevelStatus.includes(status))
  return new TransientError(message, { ...options, lowLevel })
}

/** Seconds a Retry-After header asks for, given as seconds or as an HTTP date; undefined if it is neither. */
export function retryAfterSeconds(raw: string | undefined, now = Date.now()): number | undefined {
  if (raw === undefined) return undefined
  const secs = Number(raw)
  if (Number.isFinite(secs)) return Math.max(0, secs)
  const date = Date.parse(raw)
  return Number.isNaN(date) ? undefined : Math.max(0, (date - now) / 1000)
}
