import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { RateLimiter } from '../../src/engine/rate-limiter.js'

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
  // In a real process performance.now() is well past 0 when the first limiter is made; a clock at
  // 0 would hide how the limiter treats its initial, idle state.
  await vi.advanceTimersByTimeAsync(10_000)
})
afterEach(() => {
  vi.useRealTimers()
})

const now = (): number => performance.now() / 1000

/** Takes `total` bytes in `chunk`-sized pieces, one after the other; resolves with the seconds it took. */
async function takeAll(limiter: RateLimiter, total: number, chunk: number, signal = new AbortController().signal): Promise<number> {
  const start = now()
  const run = (async () => {
    for (let taken = 0; taken < total; taken += chunk) await limiter.take(Math.min(chunk, total - taken), signal)
  })()
  await vi.runAllTimersAsync()
  await run
  return now() - start
}

// The fake clock floors fractional delays (Node rounds them up to 1 ms), so the tests below keep
// a margin of a few milliseconds around each expected wait.

/** Whether `p` has settled after pending microtasks run, without advancing the clock. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false
  p.then(() => { done = true }, () => { done = true })
  await vi.advanceTimersByTimeAsync(0)
  return done
}

describe('RateLimiter', () => {
  test('fake timers drive performance.now(), so waits are measured on the fake clock', async () => {
    const t = now()
    await vi.advanceTimersByTimeAsync(1500)
    expect(now() - t).toBeCloseTo(1.5, 6)
  })

  test.each([
    // [rate bytes/s, total bytes, chunk bytes, burst seconds]
    [1000, 10_000, 100, 0.05],
    [50e6, 500e6, 1024 * 1024, 0.05],
    [800e3, 4e6, 64 * 1024, 0.05],
    [1e6, 3e6, 1e6, 0.5],
    [1e6, 3e6, 37_000, 0],
  ])('at %d B/s, %d bytes in chunks of %d take total/rate within the burst of %d s', async (rate, total, chunk, burst) => {
    const elapsed = await takeAll(new RateLimiter(rate, burst), total, chunk)
    expect(elapsed).toBeGreaterThanOrEqual(total / rate - burst - 0.002)
    expect(elapsed).toBeLessThanOrEqual(total / rate + 0.002)
  })

  test('resolves at once while the bytes fit within the burst', async () => {
    const limiter = new RateLimiter(1000, 0.05) // a burst of 50 bytes
    const signal = new AbortController().signal
    const t = now()
    expect(await settled(limiter.take(30, signal))).toBe(true)
    expect(await settled(limiter.take(20, signal))).toBe(true)
    expect(now()).toBe(t)
    expect(await settled(limiter.take(10, signal))).toBe(false)
  })

  test('waits for bytes beyond the burst: 100 bytes at 1000 B/s with a 50-byte burst wait 50 ms', async () => {
    const limiter = new RateLimiter(1000, 0.05)
    const p = limiter.take(100, new AbortController().signal)
    await vi.advanceTimersByTimeAsync(45)
    expect(await settled(p)).toBe(false)
    await vi.advanceTimersByTimeAsync(6)
    expect(await settled(p)).toBe(true)
  })

  test('unused budget beyond the burst is not saved up while idle', async () => {
    const limiter = new RateLimiter(1000, 0.05)
    await vi.advanceTimersByTimeAsync(60_000)
    const elapsed = await takeAll(limiter, 1000, 1000)
    expect(elapsed).toBeCloseTo(0.95, 3)
  })

  test('concurrent takers share the rate: two takes of 1000 bytes at 1000 B/s finish one second apart', async () => {
    const limiter = new RateLimiter(1000, 0.05)
    const signal = new AbortController().signal
    const start = now()
    const finished: number[] = []
    const a = limiter.take(1000, signal).then(() => finished.push(now() - start))
    const b = limiter.take(1000, signal).then(() => finished.push(now() - start))
    await vi.runAllTimersAsync()
    await Promise.all([a, b])
    expect(finished).toHaveLength(2)
    expect(finished[1]! - finished[0]!).toBeCloseTo(1, 3)
  })

  test('rejects with the abort reason when the signal aborts during a wait', async () => {
    const limiter = new RateLimiter(1000, 0.05)
    const controller = new AbortController()
    const reason = new Error('stop')
    const p = limiter.take(10_000, controller.signal)
    const outcome = p.then(() => 'resolved', (err: unknown) => err)
    await vi.advanceTimersByTimeAsync(100)
    controller.abort(reason)
    await vi.advanceTimersByTimeAsync(0)
    expect(await outcome).toBe(reason)
    expect(vi.getTimerCount()).toBe(0)
  })

  test('rejects at once when the signal has already aborted and it would have to wait', async () => {
    const limiter = new RateLimiter(1000, 0.05)
    const controller = new AbortController()
    controller.abort(new Error('already'))
    await expect(limiter.take(10_000, controller.signal)).rejects.toThrow('already')
  })
})
