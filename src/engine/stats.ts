/** One object being transferred. */
export interface TransferSnapshot {
  key: string
  size: number
  /** Bytes of it here so far, finished parts of earlier runs included. */
  bytes: number
  /** Milliseconds since it started. */
  elapsedMs: number
}

/** What happened to one object, or to the run, as it happens: for `--json` and logs. */
export type CopyEvent =
  | { type: 'object_done'; key: string; size: number; seconds: number }
  | { type: 'object_failed'; key: string; code: string; reason: string }
  | { type: 'object_skipped'; key: string; size: number; reason: string }
  | { type: 'retry'; key: string; code: string; attempt: number; delaySeconds: number; throttled: boolean }
  | { type: 'concurrency'; from: number; to: number; reason: string; bytesPerSecond: number }

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
  /** Of those, bytes of attempts that failed and were fetched again: traffic, not progress. */
  discarded: number
  retries: number
  throttles: number
  inFlight: number
  concurrency: number
  /** Objects in transfer, oldest first (at most `maxActiveShown`). */
  active: TransferSnapshot[]
}

const maxActiveShown = 64

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
  discarded = 0
  retries = 0
  throttles = 0
  inFlight = 0
  concurrency = 0
  /** Listings under way: the run's listing is done once every one has ended. */
  private listings = 0
  /** Requests in flight per source, where a run has several; and the most sources busy at once. */
  private readonly sourcesBusy = new Map<number, number>()
  private peakSources = 0
  /** Responses whose body is arriving now: requests the store is serving, not refusing. */
  private receiving = 0
  private peakReceiving = 0
  private readonly transfers = new Map<string, { size: number; bytes: number; started: number }>()
  private readonly listeners: Array<(e: CopyEvent) => void> = []

  /** Subscribes to events; the engine never knows who listens. */
  on(listener: (e: CopyEvent) => void): void {
    this.listeners.push(listener)
  }

  emit(event: CopyEvent): void {
    for (const l of this.listeners) l(event)
  }

  /** A listing starts (one source's; several may run at once). */
  listingBegin(): void {
    this.listings++
    this.listingDone = false
  }

  /** A listing ended; the run's listing is done when it was the last one under way. */
  listingEnd(): void {
    if (--this.listings === 0) this.listingDone = true
  }

  /** An object needs no transfer (already there, or left out on purpose): counted and told. */
  skip(key: string, size: number, reason: string): void {
    this.skipped++
    this.skippedBytes += size
    this.emit({ type: 'object_skipped', key, size, reason })
  }

  /** An object failed for good in this run: counted and told. */
  fail(key: string, code: string, reason: string): void {
    this.failed++
    this.emit({ type: 'object_failed', key, code, reason })
  }

  /** An object's transfer starts, with `bytes` of it already here (resumed parts). */
  begin(key: string, size: number, bytes = 0): void {
    this.transfers.set(key, { size, bytes, started: Date.now() })
  }

  /** Bytes arrived for `key`: counted once here, for the object and for the run. */
  count(key: string, bytes: number): void {
    this.transferred += bytes
    const t = this.transfers.get(key)
    if (t) t.bytes += bytes
  }

  /** An attempt that failed after `bytes` of `key` arrived: they will be fetched again. */
  discard(key: string, bytes: number): void {
    this.discarded += bytes
    const t = this.transfers.get(key)
    if (t) t.bytes -= bytes
  }

  /** A response body starts or stops arriving (a download's GET the store accepted). */
  receivingBegin(): void {
    this.receiving++
    if (this.receiving > this.peakReceiving) this.peakReceiving = this.receiving
  }

  receivingEnd(): void {
    this.receiving--
  }

  /** A request of source `id` (a run of several sources) starts or ends. */
  sourceBegin(id: number): void {
    this.sourcesBusy.set(id, (this.sourcesBusy.get(id) ?? 0) + 1)
    if (this.sourcesBusy.size > this.peakSources) this.peakSources = this.sourcesBusy.size
  }

  sourceEnd(id: number): void {
    const n = (this.sourcesBusy.get(id) ?? 1) - 1
    if (n > 0) this.sourcesBusy.set(id, n)
    else this.sourcesBusy.delete(id)
  }

  /** The most sources with requests in flight at once since the last call (1 where not counted). */
  takePeakSources(): number {
    const p = this.peakSources
    this.peakSources = this.sourcesBusy.size
    return Math.max(1, p)
  }

  /** The most response bodies that arrived at once since the last call. */
  takePeakReceiving(): number {
    const p = this.peakReceiving
    this.peakReceiving = this.receiving
    return p
  }

  /** Ends an object's transfer; returns its seconds. */
  end(key: string): number {
    const t = this.transfers.get(key)
    this.transfers.delete(key)
    return t ? (Date.now() - t.started) / 1000 : 0
  }

  snapshot(now = Date.now()): StatsSnapshot {
    return {
      elapsedMs: now - this.started,
      listed: this.listed, listedBytes: this.listedBytes, listingDone: this.listingDone,
      planned: this.planned, plannedBytes: this.plannedBytes, resumedBytes: this.resumedBytes,
      done: this.done, doneBytes: this.doneBytes, skipped: this.skipped, skippedBytes: this.skippedBytes,
      failed: this.failed, transferred: this.transferred, discarded: this.discarded, retries: this.retries, throttles: this.throttles,
      inFlight: this.inFlight, concurrency: this.concurrency,
      active: [...this.transfers].slice(0, maxActiveShown).map(([key, t]) => ({ key, size: t.size, bytes: t.bytes, elapsedMs: now - t.started })),
    }
  }
}

/** Bytes of the planned objects at their destination: resumed parts and what this run kept. */
export function bytesHere(s: StatsSnapshot): number {
  return s.transferred - s.discarded + s.resumedBytes
}
