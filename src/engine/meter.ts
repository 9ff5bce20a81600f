import type { RateLimiter } from './rate-limiter.js'
import type { StallWatch } from './stall-watch.js'
import type { Stats } from './stats.js'

/**
 * The one place bytes are counted: wraps a body of `key` (a response, or a file being sent),
 * counts each chunk into `stats`, holds it back while the rate limiter says so, and tells the
 * attempt's stall watch that bytes moved (a wait for the limiter is not a stall).
 */
export async function* metered(key: string, body: AsyncIterable<Buffer>, stats: Stats, limiter: RateLimiter | undefined, signal: AbortSignal, watch?: StallWatch): AsyncIterable<Buffer> {
  for await (const chunk of body) {
    if (limiter) {
      watch?.pause()
      await limiter.take(chunk.length, signal)
    }
    watch?.touch()
    stats.count(key, chunk.length)
    yield chunk
  }
}
