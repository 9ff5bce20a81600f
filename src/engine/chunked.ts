import type { Task } from './pool.js'

/** What one object moved in parts does with each part, and once they are all settled. */
export interface ChunkHandler {
  /** Moves part `index` (0-based) and records it, before it counts. Rejects when the part failed for good. */
  move(index: number): Promise<void>
  /**
   * The first part that rejected while the run was going on (not called once the run is
   * interrupted, nor for parts that fail after it). The object starts no more parts; the handler
   * records why (a failed object, or a source that changed and must start over).
   */
  partFailed(index: number, err: unknown): void
  /**
   * Called once, when no part is in flight and none will start: `allIn` when every part is in
   * (verify and publish, or assemble), else after a failure or an interruption (clean up).
   */
  settle(allIn: boolean): Promise<void>
}

/** A task of one part, or of settling an object that has every part already. */
export interface ChunkTask {
  /** The part, or -1 for the settling of an object whose parts were all recorded before. */
  index: number
  run: Task
}

/**
 * One object moved as parts in parallel, in either direction: byte ranges of a download into a
 * partial file, or the parts of a multipart upload. Parts finish out of order; the object is
 * settled only when no part is in flight any more and none can start, so the verify and the
 * rename (or the completion of the upload) happen after the last part, never before.
 */
export class ChunkedObject {
  private remaining: number
  private inFlight = 0
  private stopped = false
  private settled = false

  /** `missing`: the parts to move, in order; the others were recorded by an earlier run. */
  constructor(private readonly missing: readonly number[], private readonly signal: AbortSignal, private readonly handler: ChunkHandler) {
    this.remaining = missing.length
  }

  *tasks(): Iterable<ChunkTask> {
    if (this.remaining === 0) {
      yield { index: -1, run: () => this.settle() }
      return
    }
    for (const index of this.missing) yield { index, run: () => this.runPart(index) }
  }

  private async runPart(index: number): Promise<void> {
    if (this.stopped || this.signal.aborted) return
    this.inFlight++
    try {
      await this.handler.move(index)
      this.remaining--
    } catch (err) {
      if (!this.stopped && !this.signal.aborted) this.handler.partFailed(index, err)
      this.stopped = true
    } finally {
      this.inFlight--
    }
    if (this.inFlight === 0 && (this.remaining === 0 || this.stopped || this.signal.aborted)) await this.settle()
  }

  private async settle(): Promise<void> {
    if (this.settled) return
    this.settled = true
    await this.handler.settle(this.remaining === 0 && !this.stopped && !this.signal.aborted)
  }
}
