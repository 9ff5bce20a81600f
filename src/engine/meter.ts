import type { RateLimiter } from './rate-limiter.js'
import type { Stats } from './stats.js'

/**
 * The one place bytes are counted: wraps a response body of `key`, counts each chunk into
 * `stats` and holds it back while the rate limiter says so.
 */
export async function* metered(key: string, body: AsyncIterable<Buffer>, stats: Stats, limiter: RateLimiter | undefined, signal: AbortSignal): AsyncIterable<Buffer> {
  for await (const chunk of body) {
    if (limiter) await limiter.take(chunk.length, signal)
    stats.count(key, chunk.length)
    yield chunk
  }
}
