import type { Readable } from 'node:stream'
import { StalledError } from '../errors.js'
import { formatDuration } from '../units.js'
import { withRetry, type RetryHooks, type RetryPolicy } from './retry.js'

/** The idle timeout when the policy sets none, in seconds: the AWS CRT's for a dead connection. */
export const defaultStallSeconds = 30

export function stallSeconds(ctx: { retry: RetryPolicy }): number {
  return ctx.retry.timeout ?? defaultStallSeconds
}

/**
 * The shortest idle limit an adaptive limit gives, and the earliest a read is hedged: S3's advice
 * for a small GET's first retry.
 */
export const idleFloorSeconds = 2
/** How many times the longest wait of nearly every recent request a request may go idle. */
const idleFactor = 4
/** Requests measured before the limit adapts: until then it is the ceiling. */
const idleMinSamples = 50
const idleWindow = 256

/**
 * The idle limit of one run's downloads, learnt from the requests that succeeded. Each records
 * the longest it went without a byte (its wait for the answer counted); a new attempt may be
 * idle for `idleFactor` × the 99th percentile of the last 256 of those, at least 2 s, at most
 * the ceiling (--timeout). A body that goes quiet far longer than its siblings ever do is stuck,
 * not slow, and the ranges resume where their bytes stopped, so cancelling it early costs one
 * request; waiting the whole --timeout leaves its slot idle and its object last. S3's own advice
 * for latency-sensitive clients is the same: retry a small GET after 2 s, the next after 4 s,
 * and retry the slowest 1% of requests of a fixed size.
 *
 * An attempt cut short below the ceiling does not draw on the retry budgets; the next attempt of
 * the same request gets twice the limit, so a request that is slow for its own reasons (a huge
 * first byte, a link that got slower) reaches the ceiling after a few tries and is then judged
 * by --timeout alone.
 */
export class IdleLimit {
  private readonly gaps = new Float64Array(idleWindow)
  private count = 0
  private learnt: number | undefined
  private readonly paces = new Map<string, CallPace>()

  /** `floor`: the shortest limit it learns, in seconds (tests shorten it). */
  constructor(readonly ceiling: number, private readonly floor = idleFloorSeconds) {}

  /** How late an answer of this kind of read may be before a second copy is sent. */
  pace(kind: string): CallPace {
    let p = this.paces.get(kind)
    if (!p) this.paces.set(kind, (p = new CallPace(this.floor)))
    return p
  }

  /** A successful attempt's longest idle time, in seconds. */
  record(seconds: number): void {
    this.gaps[this.count++ % idleWindow] = seconds
    if (this.count >= idleMinSamples && this.count % 16 === 0) this.learnt = undefined
  }

  /** The limit for an attempt whose request was cut short `early` times before, in seconds. */
  seconds(early = 0): number {
    if (this.count < idleMinSamples) return this.ceiling
    this.learnt ??= Math.max(this.floor, idleFactor * percentile99(this.gaps.subarray(0, Math.min(this.count, idleWindow))))
    return Math.min(this.ceiling, this.learnt * 2 ** early)
  }

  /** The attempts of one request: each gets the current limit, doubled per early cut. */
  request(): RequestIdle {
    return new RequestIdle(this)
  }
}

function percentile99(xs: Float64Array): number {
  const sorted = Float64Array.from(xs).sort()
  return sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))]!
}

/** How long one request's attempts may go idle (see IdleLimit.request). */
export class RequestIdle {
  /** Attempts of this request cut short below the ceiling so far. */
  private early = 0

  constructor(private readonly limit: IdleLimit) {}

  get ceiling(): number {
    return this.limit.ceiling
  }

  seconds(): number {
    return this.limit.seconds(this.early)
  }

  /** The attempt succeeded; its longest idle time was `longest` seconds. */
  succeeded(longest: number): void {
    this.limit.record(longest)
  }

  /** The attempt was cancelled below the ceiling. */
  cutShort(): void {
    this.early++
  }
}

/**
 * The idle timeout of one request attempt. The attempt runs under `signal`; every chunk of bytes
 * that moves (received, or read from a file to be sent) calls `touch()`. When nothing moves for
 * the timeout, from the request's start (an answer that never comes) or mid-body (a connection
 * left open that stopped sending), the watch aborts `signal` and destroys the streams it guards,
 * and the attempt fails with a StalledError, which is retried like any transient fault.
 */
export class StallWatch {
  private readonly controller = new AbortController()
  private readonly timer: NodeJS.Timeout
  private readonly guarded: Readable[] = []
  private paused = false
  private last = performance.now()
  /** The longest time, in ms, that the attempt went without bytes moving (pauses not counted). */
  longestIdleMs = 0
  readonly signal: AbortSignal
  /** Set once the watch has fired. */
  stalled: StalledError | undefined

  /**
   * `ceiling`: the --timeout; a watch of fewer seconds cuts the attempt short (see IdleLimit).
   * `outer` aborts the watch's signal until the watch is closed. (A listener, not
   * AbortSignal.any: that cost 15-18 µs per watch against 1-2, and every request has one.)
   */
  constructor(private readonly outer: AbortSignal, private readonly seconds: number, private readonly what: string, private readonly ceiling = seconds) {
    this.signal = this.controller.signal
    if (outer.aborted) this.controller.abort(outer.reason)
    else outer.addEventListener('abort', this.outerAborted, { once: true })
    this.timer = setTimeout(this.fire, seconds * 1000)
    this.timer.unref()
  }

  private readonly outerAborted = (): void => this.controller.abort(this.outer.reason)

  private readonly fire = (): void => {
    if (this.paused) {
      this.timer.refresh() // a wait on purpose: look again later
      return
    }
    const early = this.seconds < this.ceiling
    this.stalled = early
      ? new StalledError(`${this.what}: no bytes moved for ${formatDuration(this.seconds)}, ${idleFactor}× the longest wait of nearly every recent request; the request was cancelled early`, true)
      : new StalledError(`${this.what}: no bytes moved for ${this.seconds}s; the request was cancelled`)
    this.controller.abort(this.stalled)
    for (const s of this.guarded) s.destroy(this.stalled)
  }

  /** Bytes moved: the idle time starts again (re-arming the one timer allocates nothing). */
  touch(): void {
    const now = performance.now()
    if (!this.paused && now - this.last > this.longestIdleMs) this.longestIdleMs = now - this.last
    this.last = now
    this.paused = false
    if (!this.stalled) this.timer.refresh()
  }

  /** Stops the clock while the attempt waits on purpose (the speed cap); `touch()` restarts it. */
  pause(): void {
    this.paused = true
  }

  /** Destroys `stream` with the StalledError if the watch fires. */
  guard(stream: Readable): void {
    if (this.stalled) stream.destroy(this.stalled)
    else this.guarded.push(stream)
  }

  close(): void {
    clearTimeout(this.timer)
    this.outer.removeEventListener('abort', this.outerAborted)
    this.guarded.length = 0
  }
}

/**
 * Runs one attempt under a StallWatch of `limit` seconds (or of the request's current adaptive
 * limit). An attempt that fails because the watch fired rejects with the StalledError, whatever
 * error the cancelled request surfaced as; an attempt cancelled by `outer` rejects as it would
 * have without the watch.
 */
export async function watched<T>(outer: AbortSignal, limit: number | RequestIdle, what: string, attempt: (watch: StallWatch) => Promise<T>): Promise<T> {
  const idle = typeof limit === 'number' ? undefined : limit
  const watch = typeof limit === 'number' ? new StallWatch(outer, limit, what) : new StallWatch(outer, limit.seconds(), what, limit.ceiling)
  try {
    const value = await attempt(watch)
    idle?.succeeded(watch.longestIdleMs / 1000)
    return value
  } catch (err) {
    if (watch.stalled && !outer.aborted) {
      if (watch.stalled.early) idle?.cutShort()
      throw watch.stalled
    }
    throw err
  } finally {
    watch.close()
  }
}

const hedgeWindow = 16

/**
 * When to send a second copy of a read whose answer is late (a listing page, a HEAD): after 4×
 * the slowest of the last 16 answers of its kind, at least 2 s. The first copy goes on, and the
 * first answer wins, so a store that is slow at this kind of request for its own reasons (a
 * listing of a huge bucket) costs one more request, never a later answer.
 */
export class CallPace {
  private readonly took = new Float64Array(hedgeWindow)
  private count = 0

  constructor(private readonly floor = idleFloorSeconds) {}

  record(seconds: number): void {
    this.took[this.count++ % hedgeWindow] = seconds
  }

  hedgeAfter(): number {
    let slowest = 0
    for (let i = 0; i < Math.min(this.count, hedgeWindow); i++) slowest = Math.max(slowest, this.took[i]!)
    return Math.max(this.floor, idleFactor * slowest)
  }
}

/**
 * Runs `call`; if it has not answered after `pace.hedgeAfter()`, runs a second copy beside it.
 * The first success wins and the other copy is cancelled. A failure before the second copy
 * starts is the call's failure; after that, the call fails only when both copies have.
 */
export function hedged<T>(signal: AbortSignal, pace: CallPace, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const copies: AbortController[] = []
    let pending = 0
    let settled = false
    let hedging = false
    let firstError: unknown
    const start = (): void => {
      const own = new AbortController()
      const began = performance.now()
      copies.push(own)
      pending++
      call(AbortSignal.any([signal, own.signal])).then((value) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        pace.record((performance.now() - began) / 1000)
        for (const c of copies) if (c !== own) c.abort(new Error('the other copy of a hedged request answered first'))
        resolve(value)
      }, (err: unknown) => {
        pending--
        firstError ??= err
        if (settled || (hedging && pending > 0)) return
        settled = true
        clearTimeout(timer)
        reject(firstError)
      })
    }
    const timer = setTimeout(() => {
      hedging = true
      if (!settled) start()
    }, pace.hedgeAfter() * 1000)
    timer.unref()
    start()
  })
}

export interface CallOptions {
  hooks?: RetryHooks
  /** The call is a read of this kind: a late answer gets a second copy (see CallPace). */
  hedge?: string
}

/**
 * A request with a small answer (a HEAD, a listing page, creating or listing an upload), retried
 * under `ctx.retry`; each attempt is cancelled as stalled when its answer takes longer than
 * --timeout, and a read is hedged (see CallPace). Not for a CompleteMultipartUpload, which S3
 * may take minutes to answer while it keeps the connection alive with whitespace (the socket's
 * idle timeout covers that one).
 */
export function retriedCall<T>(ctx: { retry: RetryPolicy; signal: AbortSignal; idle?: IdleLimit }, what: string, call: (signal: AbortSignal) => Promise<T>,
  options: CallOptions = {}): Promise<T> {
  const pace = options.hedge !== undefined ? ctx.idle?.pace(options.hedge) : undefined
  return withRetry(ctx.retry, ctx.signal, () => watched(ctx.signal, stallSeconds(ctx), what, (watch) =>
    pace ? hedged(watch.signal, pace, call) : call(watch.signal)), options.hooks)
}
