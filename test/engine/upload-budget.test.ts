import { describe, expect, test } from 'vitest'
import { inFlightBudget, UploadBudget } from '../../src/engine/upload-budget.js'

const MiB = 1024 * 1024
const MB = 1e6

describe('inFlightBudget', () => {
  test.each<[string, number | undefined, number, number]>([
    ['nothing measured yet: four parts', undefined, 8 * MiB, 32 * MiB],
    ['a stalled interval: four parts', 0, 8 * MiB, 32 * MiB],
    ['25 MB/s: a second and a half of it', 25 * MB, 8 * MiB, 37.5 * MB],
    ['5 MB/s: four parts, more than a second and a half', 5 * MB, 8 * MiB, 32 * MiB],
    ['user parts of 5 MiB at 16 MB/s: a second and a half, more than four parts', 16 * MB, 5 * MiB, 24 * MB],
    ['loopback at 600 MB/s', 600 * MB, 8 * MiB, 900 * MB],
  ])('%s', (_label, rate, partSize, expected) => {
    expect(inFlightBudget(rate, partSize)).toBe(expected)
  })
})

describe('UploadBudget', () => {
  const never = new AbortController().signal

  test('admits one request whatever its size when none is in flight, then waits until bytes are released', async () => {
    const budget = new UploadBudget(() => 0, 1 * MiB, () => 0)
    await budget.admit(100 * MiB, never)
    let second = false
    const waiting = budget.admit(1 * MiB, never).then(() => { second = true })
    await new Promise((r) => setImmediate(r))
    expect(second).toBe(false)
    budget.release(100 * MiB)
    await waiting
    expect(second).toBe(true)
    expect(budget.inFlight).toBe(1 * MiB)
  })

  test('grows with the throughput measured over half a second', () => {
    let now = 0
    let sent = 0
    const budget = new UploadBudget(() => sent, 8 * MiB, () => now)
    expect(budget.limit()).toBe(32 * MiB)
    now = 500
    sent = 12.5 * MB // 25 MB/s
    expect(budget.limit()).toBe(37.5 * MB)
  })

  test('an aborted signal ends the wait at once', async () => {
    const budget = new UploadBudget(() => 0, 1 * MiB, () => 0)
    await budget.admit(4 * MiB, never)
    const abort = new AbortController()
    const waiting = budget.admit(4 * MiB, abort.signal)
    abort.abort()
    await waiting
  })

  test('the per-request rate is a moving average of the requests that ended', () => {
    const budget = new UploadBudget(() => 0, 8 * MiB, () => 0)
    expect(budget.perRequestRate()).toBeUndefined()
    budget.recordRequest(10 * MB, 2)
    expect(budget.perRequestRate()).toBe(5 * MB)
    budget.recordRequest(10 * MB, 1)
    expect(budget.perRequestRate()).toBeCloseTo(6.5 * MB)
    budget.recordRequest(0, 1) // nothing sent says nothing
    expect(budget.perRequestRate()).toBeCloseTo(6.5 * MB)
  })
})
