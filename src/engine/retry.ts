import { StalledError, ThrottledError, TransientError } from '../errors.js'

/** What the caller should do next with an error. */
export type ErrorClass = 'retry' | 'throttle' | 'fatal'

/**
 * What to do next, by the error's class alone: each provider maps what its store and its client
 * reject with to soaker's classes, so no SDK's error shape is read here. Any error that is not a
 * TransientError (a ThrottledError is one) is fatal.
 */
export function classify(err: unknown): ErrorClass {
  if (err instanceof ThrottledError) return 'throttle'
  return err instanceof TransientError ? 'retry' : 'fatal'
}

/**
 * Whether an error is a low-level fault (TransientError.lowLevel): throttling, a 503, a stall, a
 * reset or a cut-off body. Other retryable errors (a 500, a checksum mismatch) are answers about
 * the request, and draw on --retries.
 */
export function isLowLevel(err: unknown): boolean {
  return err instanceof TransientError && err.lowLevel
}

/** Seconds the store asked us to wait (its Retry-After, which the provider read), if it did. */
export function retryAfterSeconds(err: unknown): number | undefined {
  return err instanceof TransientError ? err.retryAfterSeconds : undefined
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
      const low = isLowLevel(err)
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
