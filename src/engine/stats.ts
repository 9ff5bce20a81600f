/** A copy of the counters at one instant, for the UI and the controller. Plain data. */
export interface StatsSnapshot {
  /** Milliseconds since the run started. */
  elapsedMs: number
  listed: number
  listedBytes: number
  listingDone: boolean
  /** Objects that needed a transfer this run, and their bytes. */
  planned: number
  plannedBytes: number
  /** Bytes of planned objects already present from an earlier run (finished parts). */
  resumedBytes: number
  done: number
  doneBytes: number
  skipped: number
  skippedBytes: number
  failed: number
  /** Bytes that arrived over the network this run. */
  transferred: number
  retries: number
  throttles: number
  inFlight: number
  concurrency: number
}

/** Counters the engine updates as it goes; every byte is counted once, in the meter. */
export class Stats {
  private readonly started = Date.now()
  listed = 0
  listedBytes = 0
  listingDone = false
  planned = 0
  plannedBytes = 0
  resumedBytes = 0
  done = 0
  doneBytes = 0
  skipped = 0
  skippedBytes = 0
  failed = 0
  transferred = 0
  retries = 0
  throttles = 0
  inFlight = 0
  concurrency = 0

  snapshot(now = Date.now()): StatsSnapshot {
    return {
      elapsedMs: now - this.started,
      listed: this.listed, listedBytes: this.listedBytes, listingDone: this.listingDone,
      planned: this.planned, plannedBytes: this.plannedBytes, resumedBytes: this.resumedBytes,
      done: this.done, doneBytes: this.doneBytes, skipped: this.skipped, skippedBytes: this.skippedBytes,
      failed: this.failed, transferred: this.transferred, retries: this.retries, throttles: this.throttles,
      inFlight: this.inFlight, concurrency: this.concurrency,
    }
  }
}
