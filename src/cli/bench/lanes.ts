import { setMaxListeners } from 'node:events'

/**
 * How `soaker bench` keeps a fixed number of requests in flight and measures what they cost.
 * Unlike a copy's pool, nothing here tunes: a setting is measured at the concurrency it names.
 */

/**
 * Runs `concurrency` lanes, each taking the next item (`next`, until it gives undefined) and
 * running it. The first failure stops the others (their signal is aborted) and, once every lane
 * has stopped, rejects with that failure; so does `signal` with its reason.
 */
export async function runLanes<T>(concurrency: number, next: () => T | undefined, run: (item: T, signal: AbortSignal) => Promise<void>, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted()
  const stop = new AbortController()
  const lanesSignal = AbortSignal.any([signal, stop.signal])
  setMaxListeners(0, lanesSignal) // every request in flight listens for it
  let failure: { err: unknown } | undefined
  const lane = async (): Promise<void> => {
    for (let item = next(); item !== undefined && !lanesSignal.aborted; item = next()) {
      try {
        await run(item, lanesSignal)
      } catch (err) {
        failure ??= { err }
        stop.abort(err)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
  if (failure !== undefined) throw signal.aborted ? signal.reason : failure.err
  signal.throwIfAborted()
}

/** What a piece of work cost: wall-clock seconds, and CPU seconds of the whole process (every thread, user and system). */
export interface Cost {
  seconds: number
  cpuSeconds: number
}

/** Runs `work` and tells what it cost besides its result. */
export async function measured<T>(work: () => Promise<T>): Promise<{ result: T; cost: Cost }> {
  const cpu = process.cpuUsage()
  const start = process.hrtime.bigint()
  const result = await work()
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const used = process.cpuUsage(cpu)
  return { result, cost: { seconds, cpuSeconds: (used.user + used.system) / 1e6 } }
}
