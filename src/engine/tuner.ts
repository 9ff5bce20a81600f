import { formatRate } from '../units.js'
import type { StateStore } from '../state/store.js'
import { initialMemory, next, type ControllerMemory } from './controller.js'
import type { Logger } from './logger.js'
import type { WorkerPool } from './pool.js'
import type { Stats } from './stats.js'

export interface TunerOptions {
  stats: Stats
  pool: WorkerPool
  log: Logger
  store: StateStore
  runId: number
  min: number
  max: number
  intervalSeconds: number
  speedCap?: number
}

/** Seconds before the first decision. */
export const firstIntervalSeconds = 1

/**
 * Feeds the controller every interval with what the stats measured, applies its target to the
 * pool, logs each change with the measurement behind it, and keeps every sample in the state
 * store. Returns a function that stops it.
 */
export function startTuner(o: TunerOptions): () => void {
  let memory: ControllerMemory = initialMemory
  let last = { at: performance.now(), bytes: o.stats.transferred, throttles: o.stats.throttles, retries: o.stats.retries }
  const tick = (): void => {
    const now = { at: performance.now(), bytes: o.stats.transferred, throttles: o.stats.throttles, retries: o.stats.retries }
    const seconds = (now.at - last.at) / 1000
    const throughput = seconds > 0 ? (now.bytes - last.bytes) / seconds : 0
    const throttled = now.throttles - last.throttles
    const peakInFlight = o.pool.takePeak()
    const peakServed = o.stats.takePeakReceiving()
    const errors = now.retries - last.retries
    // Each task is one request; each retry was one more that failed.
    const requests = o.pool.takeEnded() + errors
    last = now
    const target = o.stats.concurrency
    const decision = next({ target, min: o.min, max: o.max, throughput, throttled, peakInFlight, peakServed, speedCap: o.speedCap, requests, memory })
    memory = decision.memory
    o.store.recordSample(o.runId, {
      at: Date.now(), target: decision.target, inFlight: peakInFlight, bytesPerSecond: Math.round(throughput),
      throttles: throttled, errors, sources: o.stats.takePeakSources(),
    })
    if (decision.target !== target) {
      o.log.info(`concurrency ${target} → ${decision.target}: ${decision.reason} (measured ${formatRate(throughput)}, peak ${peakInFlight} in flight)`)
      o.stats.emit({ type: 'concurrency', from: target, to: decision.target, reason: decision.reason ?? '', bytesPerSecond: Math.round(throughput) })
      o.stats.concurrency = decision.target
      o.pool.resize(decision.target)
    } else if (decision.reason) {
      o.log.debug(`concurrency stays ${target}: ${decision.reason} (measured ${formatRate(throughput)})`)
    }
  }
  // The first interval is short: its decision is always to climb (nothing came before it to
  // judge), so waiting a whole interval at the starting target only wastes the start.
  let timer: NodeJS.Timeout = setTimeout(() => {
    tick()
    timer = setInterval(tick, o.intervalSeconds * 1000)
    timer.unref()
  }, Math.min(firstIntervalSeconds, o.intervalSeconds) * 1000)
  timer.unref()
  return () => clearTimeout(timer)
}
