import type { CopyOptions } from '../cli/options.js'
import { errorCode, errorMessage } from '../errors.js'
import type { StateStore } from '../state/store.js'
import type { CopyResult } from './copy.js'
import type { Logger } from './logger.js'
import { WorkerPool, type Task } from './pool.js'
import type { RetryHooks, RetryPolicy } from './retry.js'
import type { Stats } from './stats.js'
import { startTuner } from './tuner.js'

/** Requests in flight at the start when --concurrency is not given. */
export const defaultConcurrency = 16

export interface RunContext {
  stats: Stats
  log: Logger
  store: StateStore
  runId: number
  options: CopyOptions
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
  try {
    await pool.run()
  } catch (err) {
    if (!ctx.signal.aborted) throw err
  } finally {
    stopTuner()
  }
}

/** Records how the run ended and shapes its result. */
export function endRun(ctx: RunContext, interrupted: boolean, stoppedBy: unknown, statePath: string): CopyResult {
  const { stats, store } = ctx
  const status = interrupted ? 'interrupted' : stats.failed > 0 || stoppedBy ? 'failed' : 'ok'
  store.endRun(ctx.runId, status, { copied: stats.done, failed: stats.failed, transferred: stats.transferred })
  return {
    status, snapshot: stats.snapshot(), failures: store.failures(50), statePath,
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
