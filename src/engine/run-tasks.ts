import { availableParallelism } from 'node:os'
import { DataPlane } from '../data/data-plane.js'
import { setMaxListeners } from 'node:events'
import { errorCode, errorMessage } from '../errors.js'
import type { TransferOptions } from '../options.js'
import type { RetryCalls } from '../providers/provider.js'
import type { StateStore } from '../state/store.js'
import type { CopyResult } from './copy.js'
import { HeapGrowth } from './heap-growth.js'
import type { Logger } from './logger.js'
import { WorkerPool, type Task } from './pool.js'
import { RateLimiter } from './rate-limiter.js'
import type { RetryHooks, RetryPolicy } from './retry.js'
import { IdleLimit, retriedCall, stallSeconds } from './stall-watch.js'
import type { Stats } from './stats.js'
import { startTuner } from './tuner.js'

/** Requests in flight at the start when --concurrency is not given. */
export const defaultConcurrency = 16

/** How often the heap's growth is set from the objects the run finished (HeapGrowth). */
const heapCheckMs = 500

/**
 * What every transfer run shares: its own abort signal (aborted when the user interrupts, or when
 * an error that affects every object stops the run), its retry policy, its speed cap, and the
 * resources it opened. `close()` detaches it from the user's signal and closes them, newest first.
 */
export class RunScope {
  private readonly controller = new AbortController()
  private readonly resources: Array<{ close(): void | Promise<void> }> = []
  private readonly onAbort = (): void => this.controller.abort(this.outer.reason)
  readonly retry: RetryPolicy
  readonly limiter: RateLimiter | undefined
  /** How long the run's requests may go idle, and when its reads are hedged (learnt). */
  readonly idle: IdleLimit
  /** The error that stopped the run, if one did. */
  stoppedBy: unknown
  /** The threads that carry the run's bytes; started with the first request that uses them. */
  readonly plane: DataPlane

  constructor(private readonly outer: AbortSignal, options: TransferOptions, log?: Logger) {
    outer.addEventListener('abort', this.onAbort, { once: true })
    setMaxListeners(0, this.controller.signal) // every request in flight listens for the abort
    this.retry = { retries: options.retries, lowLevelRetries: options.lowLevelRetries, baseDelay: options.retryDelay, maxDelay: 30, timeout: options.timeout }
    this.limiter = options.maxSpeed ? new RateLimiter(options.maxSpeed) : undefined
    this.idle = new IdleLimit(stallSeconds(this))
    this.plane = this.own(new DataPlane(options.dataThreads ?? defaultDataThreads(), log))
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  /** Stops the run for an error after which no object can succeed (a full disk). */
  readonly stop = (err: unknown): void => {
    this.stoppedBy ??= err
    this.controller.abort(err)
  }

  /** How providers send listing pages and the bucket check: the run's retry policy and --timeout. */
  readonly withRetry: RetryCalls = (call) => retriedCall(this, 'a listing or bucket request', call, { hedge: 'listing' })

  /** Closes `resource` when the run closes. */
  own<T extends { close(): void | Promise<void> }>(resource: T): T {
    this.resources.push(resource)
    return resource
  }

  async close(): Promise<void> {
    this.outer.removeEventListener('abort', this.onAbort)
    for (const r of this.resources.reverse()) await r.close()
    this.resources.length = 0
  }
}

/**
 * Data threads where --data-threads is not given: a core is the control thread's, the others
 * carry bytes (at most 8). On two cores or fewer, none: measured on 2 cores beside a local
 * radosgw, a data thread cost more CPU (its own client, parser and heap: +0.3-0.5 CPU-s and
 * +60 MiB per run) than it took off the main thread, whose event loop was not the limit there.
 */
export function defaultDataThreads(cores = availableParallelism()): number {
  return cores <= 2 ? 0 : Math.min(8, cores - 1)
}

export interface RunContext {
  stats: Stats
  log: Logger
  store: StateStore
  runId: number
  options: TransferOptions
  /** The run's own signal (aborted by the user or by an error that stops the run). */
  signal: AbortSignal
}

/**
 * Runs `tasks` on a pool whose size the tuner sets, within the user's bounds. Resolves when every
 * task has finished, or when the run was aborted and the running ones have stopped.
 */
export async function runTuned(tasks: AsyncIterable<Task>, ctx: RunContext): Promise<void> {
  const { stats, options } = ctx
  const concurrency = Math.min(options.maxConcurrency, Math.max(options.minConcurrency, options.concurrency ?? defaultConcurrency))
  stats.concurrency = concurrency
  const pool = new WorkerPool(tasks[Symbol.asyncIterator](), concurrency, (active) => { stats.inFlight = active })
  const stopTuner = startTuner({
    stats, pool, log: ctx.log, store: ctx.store, runId: ctx.runId, min: options.minConcurrency, max: options.maxConcurrency,
    intervalSeconds: options.tuneInterval, speedCap: options.maxSpeed,
  })
  const heap = new HeapGrowth()
  const heapTimer = setInterval(() => heap.update(stats.done, stats.transferred), heapCheckMs)
  heapTimer.unref()
  try {
    await pool.run()
  } catch (err) {
    if (!ctx.signal.aborted) throw err
  } finally {
    stopTuner()
    clearInterval(heapTimer)
    heap.close()
  }
}

/** Records how the run ended and shapes its result. */
export async function endRun(ctx: RunContext, interrupted: boolean, stoppedBy: unknown, statePath: string): Promise<CopyResult> {
  const { stats, store } = ctx
  const status = interrupted ? 'interrupted' : stats.failed > 0 || stoppedBy ? 'failed' : 'ok'
  await store.endRun(ctx.runId, status, { copied: stats.done, failed: stats.failed, transferred: stats.transferred })
  return {
    status, snapshot: stats.snapshot(), failures: await store.failures(50), statePath,
    stoppedBy: stoppedBy ? errorMessage(stoppedBy) : undefined,
  }
}

/** Counts and reports each retry of a request for `key`; `what` names it in the debug log. */
export function retryHooks(ctx: { stats: Stats; log: Logger; retry: RetryPolicy }, key: string, what = key): RetryHooks {
  return {
    onRetry(err, cls, attempt, delay) {
      ctx.stats.retries++
      // Connection resets are how some stores and proxies push back: they count as throttling.
      const throttled = cls === 'throttle' || errorCode(err) === 'ECONNRESET'
      if (throttled) ctx.stats.throttles++
      ctx.stats.emit({ type: 'retry', key, code: errorCode(err), attempt: attempt + 1, delaySeconds: delay, throttled })
      ctx.log.debug(`retry ${attempt + 1}/${ctx.retry.retries} of ${what} in ${delay.toFixed(2)}s after ${errorCode(err)}: ${errorMessage(err)}`)
    },
  }
}
