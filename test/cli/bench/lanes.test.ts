import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, test } from 'vitest'
import { measured, runLanes } from '../../../src/cli/bench/lanes.js'

/** Items 0..n-1, handed out in order. */
function items(n: number): () => number | undefined {
  let i = 0
  return () => (i < n ? i++ : undefined)
}

describe('runLanes', () => {
  test('runs every item, never more than `concurrency` at once, and exactly that many when there is work', async () => {
    let running = 0
    let peak = 0
    const seen: number[] = []
    await runLanes(3, items(10), async (n) => {
      peak = Math.max(peak, ++running)
      await sleep(2)
      seen.push(n)
      running--
    }, new AbortController().signal)
    expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(peak).toBe(3)
  })

  test('the first failure stops the other lanes (their signal fires) and is what it rejects with, once all stopped', async () => {
    const boom = new Error('boom')
    let cancelled = 0
    let started = 0
    const run = runLanes(4, items(100), async (n, signal) => {
      started++
      if (n === 2) throw boom
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => { cancelled++; resolve() }, { once: true }))
    }, new AbortController().signal)
    await expect(run).rejects.toBe(boom)
    expect(cancelled).toBe(3)
    expect(started).toBe(4)
  })

  test('an aborted signal rejects with its reason', async () => {
    const abort = new AbortController()
    const why = new Error('stop')
    const run = runLanes(2, items(1000), async () => { await sleep(1) }, abort.signal)
    abort.abort(why)
    await expect(run).rejects.toBe(why)
  })
})

describe('measured', () => {
  test('tells the wall-clock seconds and the CPU seconds the work took, besides its result', async () => {
    const { result, cost } = await measured(async () => {
      const until = performance.now() + 30
      while (performance.now() < until); // CPU
      await sleep(30) // no CPU
      return 'done'
    })
    expect(result).toBe('done')
    expect(cost.seconds).toBeGreaterThanOrEqual(0.055)
    expect(cost.cpuSeconds).toBeGreaterThan(0.01)
    expect(cost.cpuSeconds).toBeLessThan(cost.seconds * 4)
  })
})
