import { sleep } from './retry.js'

/**
 * A token bucket shared by every transfer: `take(n)` resolves when n more bytes fit under the
 * rate. It keeps a virtual clock of when the bucket is next empty, so the long-run average is
 * exact however the chunks are sized; `burstSeconds` of unused budget may be spent at once.
 */
export class RateLimiter {
  private nextFree = 0

  constructor(private readonly bytesPerSecond: number, private readonly burstSeconds = 0.05) {}

  async take(bytes: number, signal: AbortSignal): Promise<void> {
    const now = performance.now() / 1000
    this.nextFree = Math.max(this.nextFree, now - this.burstSeconds) + bytes / this.bytesPerSecond
    const wait = this.nextFree - now
    if (wait > 0) await sleep(wait, signal)
  }
}
