import type { StateStore } from '../state/store.js'
import type { PartialFile } from '../providers/local/partial-file.js'

/**
 * How often the ranges in flight are checkpointed. A kill -9 loses what arrived since the last
 * checkpoint that reached the store: on average half an interval, plus the sync. Half a second
 * keeps that near half a second of throughput per range (the target is two), and costs one
 * fdatasync of the file and one small commit per interval, however many ranges are in flight.
 */
export const checkpointEveryMs = 500

/**
 * Checkpoints of the ranges of one partial file while they arrive, so that a kill loses seconds,
 * not parts. Every `everyMs` it notes how far each tracked range has been written, syncs the file
 * once (fdatasync), and only then records `(key, part, bytes)` in the state store and commits it:
 * a record never claims bytes that a crash or a power cut could still lose. A range's record only
 * grows: a retry rewrites the same bytes (reads carry If-Match), so a durable prefix stays valid.
 * Never throws: a checkpoint that fails records nothing, and those bytes are fetched again.
 */
export class PartCheckpoints {
  /** Bytes from the start of each tracked part that are in the file (written, maybe not synced). */
  private readonly written = new Map<number, number>()
  private readonly recorded = new Map<number, number>()
  private readonly timer: NodeJS.Timeout
  private syncing = false
  private stopped = false

  constructor(
    private readonly key: string,
    private readonly file: PartialFile,
    private readonly store: StateStore,
    /** Progress recorded by an earlier run: part index to bytes. */
    recorded: Map<number, number>,
    everyMs = checkpointEveryMs,
  ) {
    for (const [i, n] of recorded) this.recorded.set(i, n)
    this.timer = setInterval(() => void this.checkpoint(), everyMs)
    this.timer.unref()
  }

  /**
   * `body`, a response carrying part `index` from its byte `from` on, passed through unchanged.
   * The consumer writes each chunk to the file before it asks for the next one (writeBody does,
   * synchronously), so when the next is asked for, every byte yielded so far is in the file.
   */
  async *track(index: number, from: number, body: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
    let n = from
    this.written.set(index, n)
    for await (const chunk of body) {
      yield chunk
      n += chunk.length
      this.written.set(index, n)
    }
  }

  /** Part `index` is finished (or given up): it is no longer checkpointed. */
  untrack(index: number): void {
    this.written.delete(index)
  }

  /** No checkpoint starts after this; one under way records nothing more. Call before closing the file. */
  stop(): void {
    this.stopped = true
    clearInterval(this.timer)
  }

  private async checkpoint(): Promise<void> {
    if (this.syncing || this.stopped) return
    const due = [...this.written].filter(([i, n]) => n > (this.recorded.get(i) ?? 0))
    if (due.length === 0) return
    this.syncing = true
    try {
      await this.file.datasync()
      if (this.stopped) return
      for (const [i, n] of due) {
        if (!this.written.has(i)) continue // finished meanwhile: its part row replaces any progress
        this.store.recordProgress(this.key, i, n)
        this.recorded.set(i, n)
      }
      await this.store.flush() // at once, not at the end of the store's commit interval
    } catch {
      // Not synced, not recorded: the next run fetches these bytes again.
    } finally {
      this.syncing = false
    }
  }
}
