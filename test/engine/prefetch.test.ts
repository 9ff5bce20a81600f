import { setImmediate as tick } from 'node:timers/promises'
import { describe, expect, test } from 'vitest'
import { prefetch } from '../../src/engine/prefetch.js'

async function flush(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await tick()
}

/** A source of 0..n-1 (endless when n is Infinity) that records how many items were pulled and whether it was closed. */
function counting(n: number, opts: { slow?: boolean; failAfter?: number } = {}) {
  const state = { produced: 0, closed: false }
  async function* source(): AsyncGenerator<number> {
    try {
      for (let i = 0; i < n; i++) {
        if (opts.failAfter !== undefined && i === opts.failAfter) throw new Error(`failed after ${i} items`)
        if (opts.slow) await tick()
        state.produced++
        yield i
      }
    } finally {
      state.closed = true
    }
  }
  return { source: source(), state }
}

describe('prefetch', () => {
  test.each([
    [0, 3],
    [1, 1],
    [100, 5],
    [3000, 7],
    [50, 100],
  ])('yields all %i items in order (max %i)', async (n, max) => {
    const { source, state } = counting(n, { slow: n < 200 })
    const got: number[] = []
    for await (const x of prefetch(source, max)) got.push(x)
    expect(got).toEqual(Array.from({ length: n }, (_, i) => i))
    expect(state.closed).toBe(true)
  })

  test('with a slow consumer it runs ahead by exactly `max` items and no more', async () => {
    const { source, state } = counting(Infinity)
    const it = prefetch(source, 3)[Symbol.asyncIterator]()
    const consumed: number[] = []
    for (let k = 1; k <= 5; k++) {
      const r = await it.next()
      consumed.push(r.value as number)
      await flush()
      expect(state.produced).toBe(k + 3)
    }
    expect(consumed).toEqual([0, 1, 2, 3, 4])
    await it.return?.()
    expect(state.closed).toBe(true)
  })

  test('the producer works while the consumer is busy: items are ready when the consumer comes back', async () => {
    const { source, state } = counting(10, { slow: true })
    const it = prefetch(source, 4)[Symbol.asyncIterator]()
    await it.next()
    await flush(20)
    expect(state.produced).toBe(5)
    const got: number[] = []
    for (let r = await it.next(); !r.done; r = await it.next()) got.push(r.value)
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  test('an upstream error reaches the consumer after the items before it', async () => {
    const { source } = counting(10, { failAfter: 4 })
    const got: number[] = []
    let caught: unknown
    try {
      for await (const x of prefetch(source, 2)) got.push(x)
    } catch (err) {
      caught = err
    }
    expect(got).toEqual([0, 1, 2, 3])
    expect(caught).toBeInstanceOf(Error)
    expect((caught as Error).message).toBe('failed after 4 items')
  })

  test('an upstream error is delivered even when the buffer was full when it happened', async () => {
    const { source } = counting(10, { failAfter: 3 })
    const it = prefetch(source, 3)[Symbol.asyncIterator]()
    expect((await it.next()).value).toBe(0)
    await flush()
    expect((await it.next()).value).toBe(1)
    expect((await it.next()).value).toBe(2)
    await expect(it.next()).rejects.toThrow('failed after 3 items')
  })

  test('the consumer stopping early (break) ends the producer', async () => {
    const { source, state } = counting(Infinity, { slow: true })
    const got: number[] = []
    for await (const x of prefetch(source, 4)) {
      got.push(x)
      if (x === 5) break
    }
    expect(got).toEqual([0, 1, 2, 3, 4, 5])
    expect(state.closed).toBe(true)
    const producedAtBreak = state.produced
    expect(producedAtBreak).toBeLessThanOrEqual(6 + 4 + 1)
    await flush(20)
    expect(state.produced).toBe(producedAtBreak)
  })

  test('the consumer throwing ends the producer too', async () => {
    const { source, state } = counting(Infinity)
    await expect((async () => {
      for await (const x of prefetch(source, 2)) if (x === 2) throw new Error('consumer failed')
    })()).rejects.toThrow('consumer failed')
    expect(state.closed).toBe(true)
  })
})
