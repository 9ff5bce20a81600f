import { describe, expect, test } from 'vitest'
import { TokenBucket } from '../../bench/wan/token-bucket.js'

describe('TokenBucket (bench/wan/token-bucket.ts)', () => {
  // 1,000 bytes per second: a byte is a millisecond. Each row reserves at `readyAt` and expects `leaves`.
  test.each([
    { what: 'a first chunk within the burst leaves at once', steps: [[40, 1000, 1000]] },
    { what: 'a first chunk beyond the burst waits for the rest', steps: [[100, 1000, 1050]] },
    { what: 'chunks in a row queue behind each other', steps: [[50, 1000, 1000], [50, 1000, 1050], [50, 1000, 1100]] },
    { what: 'an idle bucket saves at most the burst', steps: [[50, 1000, 1000], [100, 5000, 5050]] },
  ])('$what', ({ steps }) => {
    const bucket = new TokenBucket(1000, 50)
    for (const [bytes, readyAt, leaves] of steps) expect(bucket.reserve(bytes!, readyAt!)).toBe(leaves)
  })

  test('keeps the long-run rate exact whatever the chunk sizes', () => {
    const bucket = new TokenBucket(8e6)
    let at = 0
    let bytes = 0
    for (let i = 0; i < 1000; i++) {
      const n = 1 + ((i * 7919) % 65536)
      at = bucket.reserve(n, at)
      bytes += n
    }
    // Each chunk is ready when the one before has left: no budget is ever idle, none is saved.
    expect(Math.abs(bytes / (at / 1000) / 8e6 - 1)).toBeLessThan(1e-9)
  })
})
