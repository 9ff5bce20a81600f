import { describe, expect, test } from 'vitest'
import { bytesHere, Stats } from '../../src/engine/stats.js'

describe('Stats', () => {
  test('bytes counted for an object show in its transfer row and in the run; a discarded attempt is traffic, not progress', () => {
    const stats = new Stats()
    stats.resumedBytes = 100
    stats.begin('a', 1000, 100)
    stats.count('a', 300)
    stats.discard('a', 300) // the attempt failed: it is fetched again
    stats.count('a', 900)
    const s = stats.snapshot()
    expect(s.transferred).toBe(1200)
    expect(s.discarded).toBe(300)
    expect(bytesHere(s)).toBe(1000)
    expect(s.active).toEqual([{ key: 'a', size: 1000, bytes: 1000, elapsedMs: expect.any(Number) }])
  })

  test('end removes the transfer row and returns its seconds; events reach every listener', () => {
    const stats = new Stats()
    const seen: string[] = []
    stats.on((e) => seen.push(`1:${e.type}`))
    stats.on((e) => seen.push(`2:${e.type}`))
    stats.begin('k', 1)
    expect(stats.end('k')).toBeGreaterThanOrEqual(0)
    expect(stats.snapshot().active).toEqual([])
    stats.emit({ type: 'object_done', key: 'k', size: 1, seconds: 0 })
    expect(seen).toEqual(['1:object_done', '2:object_done'])
  })

  test('skip and fail count the object once and tell the listeners why', () => {
    const stats = new Stats()
    const seen: unknown[] = []
    stats.on((e) => seen.push(e))
    stats.skip('a', 10, 'already there')
    stats.fail('b', 'SOAKER_X', 'broken')
    expect([stats.skipped, stats.skippedBytes, stats.failed]).toEqual([1, 10, 1])
    expect(seen).toEqual([
      { type: 'object_skipped', key: 'a', size: 10, reason: 'already there' },
      { type: 'object_failed', key: 'b', code: 'SOAKER_X', reason: 'broken' },
    ])
  })

  test('takePeakReceiving gives the most bodies that arrived at once since the last call, then starts from those still arriving', () => {
    const stats = new Stats()
    for (let i = 0; i < 3; i++) stats.receivingBegin()
    stats.receivingEnd()
    stats.receivingBegin()
    stats.receivingEnd()
    expect(stats.takePeakReceiving()).toBe(3)
    expect(stats.takePeakReceiving()).toBe(2)
    stats.receivingEnd()
    stats.receivingEnd()
    expect(stats.takePeakReceiving()).toBe(2)
    expect(stats.takePeakReceiving()).toBe(0)
  })
})
