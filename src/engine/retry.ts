import { SoakerError, StalledError, ThrottledError, TransientError } from '../errors.js'

/** What the caller should do next with an error. */
export type ErrorClass = 'retry' | 'throttle' | 'fatal'

// 503 is also S3's SlowDown; it is throttling when the name says so, a plain retry otherwise.
const retryStatus = [500, 502, 503, 504, 408]
const throttleStatus = [429]
const throttleNames = ['SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequests', 'TooManyRequestsException', 'RequestLimitExceeded']
// Azure's error codes (a RestError's `code`) for a store that is over its limits.
const throttleCodes = ['ServerBusy', 'OperationTimedOut']
const retryNames = ['BadDigest', 'IncompleteBody', 'RequestTimeout', 'RequestTimeTooSkewed', 'InternalError', 'ServiceUnavailable', 'TimeoutError', 'AbortError']
const retryErrno = ['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']
// Faults of the exchange rather than answers about the request: a connection cut or gone quiet
// mid-way, or a store shedding load. They strike at random, so they draw on the low-level budget.
// Connections that cannot be made at all (ECONNREFUSED, ENOTFOUND) are not among them: an
// endpoint that cannot be reached should fail within --retries.
const lowLevelErrno = ['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']
const lowLevelNames = ['TimeoutError', 'AbortError', 'RequestTimeout', 'IncompleteBody', 'ServiceUnavailable']

interface ErrorShape {
  name?: string
  code?: string
  message?: string
  $metadata?: { httpStatusCode?: number }
  $response?: { headers?: Record<string, string | undefined> }
  /** Azure's RestError: the status and headers of the answer. */
  statusCode?: number
  response?: { headers?: { get?: (name: string) => string | undefined } }
}

export function classify(err: unknown): ErrorClass {
  if (err instanceof ThrottledError) return 'throttle'
  if (err instanceof TransientError) return 'retry'
  if (err instanceof SoakerError) return 'fatal'
  const e = (err ?? {}) as ErrorShape
  const status = e.$metadata?.httpStatusCode ?? e.statusCode
  if (throttleNames.includes(e.name ?? '') || throttleCodes.includes(e.code ?? '') || (status !== undefined && throttleStatus.includes(status))) return 'throttle'
  if (status !== undefined && retryStatus.includes(status)) return 'retry'
  if (retryNames.includes(e.name ?? '') || retryErrno.includes(e.code ?? '')) return 'retry'
  // Sockets that die mid-body surface as plain errors with these messages.
  if (/socket hang up|aborted|premature close|ECONNRESET/i.test(e.message ?? '')) return 'retry'
  return 'fatal'
}

/**
 * Whether a retryable error of class `cls` is a low-level fault (see lowLevelErrno): throttling,
 * a 503, a stall, a reset or a cut-off body. Other retryable errors (a 500, a checksum mismatch)
 * are answers about the request, and draw on --retries.
 */
export function isLowLevel(err: unknown, cls: ErrorClass): boolean {
  if (cls === 'throttle') return true
  if (cls !== 'retry') return false
  if (err instanceof TransientError) return err.lowLevel
  const e = (err ?? {}) as ErrorShape
  if ((e.$metadata?.httpStatusCode ?? e.statusCode) === 503) return true
  if (lowLevelNames.includes(e.name ?? '') || lowLevelErrno.includes(e.code ?? '')) return true
  return /socket hang up|aborted|premature close|ECONNRESET/i.test(e.message ?? '')
}

/** Seconds the server asked us to wait (Retry-After as seconds or an HTTP date), if it did. */
export function retryAfterSeconds(err: unknown, now = Date.now()): number | undefined {
  if (err instanceof TransientError) return err.retryAfterSeconds
  const e = err as ErrorShape | undefined
  const headers = e?.$response?.headers
  const raw = headers?.['retry-after'] ?? headers?.['Retry-After'] ?? e?.response?.headers?.get?.('retry-after')
  if (raw === undefined) return undefined
  const secs = Number(raw)
  if (Number.isFinite(secs)) return Math.max(0, secs)
  const date = Date.parse(raw)
  return Number.isNaN(date) ? undefined : Math.max(0, (date - now) / 1000)
}

export interface RetryPolicy {
  /** Retries after the first attempt, for errors that are answers about the request (a 500). */
  retries: number
  /**
   * Retries after the first attempt for low-level faults (isLowLevel), counted apart from
   * `retries`, as rclone's --low-level-retries: at a steady 5% of resets an unlucky request
   * must not fail its object. @default retries
   */
  lowLevelRetries?: number
  /**
   * Seconds an attempt may go without a byte moving before it is cancelled as stalled and
   * retried (where the caller watches it, see stall-watch.ts). @default 30
   */
  timeout?: number
  /** Base delay in seconds: attempt n waits about base * 2^n. */
  baseDelay: number
  /** No single wait is longer than this, in seconds, unless the server's Retry-After says so. */
  maxDelay: number
}

/**
 * Delay before retry number `attempt` (0-based): exponential with "equal jitter" (half fixed,
 * half random) so that many workers throttled at once do not come back in lockstep. A
 * Retry-After from the server is a floor.
 */
export function backoffSeconds(policy: RetryPolicy, attempt: number, err: unknown, random = Math.random): number {
  const exp = Math.min(policy.maxDelay, policy.baseDelay * 2 ** attempt)
  const jittered = exp / 2 + (random() * exp) / 2
  const asked = retryAfterSeconds(err)
  return asked !== undefined ? Math.max(asked, jittered) : jittered
}

export interface RetryHooks {
  /** Called before each wait, with the class of the error that caused it. */
  onRetry?: (err: unknown, cls: ErrorClass, attempt: number, delaySeconds: number) => void
}

export function sleep(seconds: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, seconds * 1000)
    const onAbort = (): void => { clearTimeout(timer); reject(signal!.reason) }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * The first wait after a low-level fault, as a share of the base delay. Such faults strike at
 * random: a request waiting a whole second after each one holds its slot in the pool idle, and
 * at 10% of resets that idles a sixth of the pool. Their waits still double from there, and a
 * Retry-After is still a floor; throttling that grows with load is the controller's to answer.
 */
export const lowLevelDelayShare = 0.1

/**
 * Runs `fn` until it succeeds, a fatal error occurs, the error's budget runs out (low-level
 * faults: `lowLevelRetries`, other retryable errors: `retries`), or `signal` aborts. An attempt
 * cut short by an adaptive idle limit (StalledError.early) is retried at once, off budget: its
 * limit doubles each time, so such retries are few (see IdleLimit).
 */
export async function withRetry<T>(policy: RetryPolicy, signal: AbortSignal, fn: () => Promise<T>, hooks: RetryHooks = {}): Promise<T> {
  let lowLevel = 0
  let answered = 0
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      if (signal.aborted) throw signal.reason
      const cls = classify(err)
      if (cls === 'fatal') throw err
      const low = isLowLevel(err, cls)
      const early = err instanceof StalledError && err.early
      const spent = early ? false : low ? ++lowLevel > (policy.lowLevelRetries ?? policy.retries) : ++answered > policy.retries
      if (spent) throw err
      const delay = early ? 0 : low && policy.lowLevelRetries !== undefined
        ? backoffSeconds({ ...policy, baseDelay: policy.baseDelay * lowLevelDelayShare }, lowLevel - 1, err)
        : backoffSeconds(policy, attempt, err)
      hooks.onRetry?.(err, cls, attempt, delay)
      await sleep(delay, signal)
    }
  }
}
