/**
 * A token bucket that answers synchronously: `reserve(bytes, readyAt)` books the bytes and says
 * when they may leave. The same virtual clock as src/engine/rate-limiter.ts (the long-run
 * average is exact whatever the chunk sizes, `burstMs` of unused budget may be spent at once),
 * without a promise and a timer per call: the WAN proxy chains two buckets (the connection's,
 * then the link's) per chunk and arms at most one timer for both.
 */
export class TokenBucket {
  /** When the bytes booked so far have all left, in `performance.now()` milliseconds. */
  private nextFree = 0

  constructor(private readonly bytesPerSecond: number, private readonly burstMs = 50) {}

  /** Books `bytes` that are ready to leave at `readyAt` (ms); returns when they may leave (≥ readyAt). */
  reserve(bytes: number, readyAt: number): number {
    this.nextFree = Math.max(this.nextFree, readyAt - this.burstMs) + (bytes * 1000) / this.bytesPerSecond
    return Math.max(readyAt, this.nextFree)
  }
}
