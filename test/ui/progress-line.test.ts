import { describe, expect, test } from 'vitest'
import type { StatsSnapshot } from '../../src/engine/stats.js'
import { progressLine } from '../../src/ui/progress-line.js'

const MiB = 1024 * 1024

function snapshot(over: Partial<StatsSnapshot> = {}): StatsSnapshot {
  return {
    elapsedMs: 10_000, listed: 12, listedBytes: 120 * MiB, listingDone: true,
    planned: 10, plannedBytes: 100 * MiB, resumedBytes: 0,
    done: 4, doneBytes: 40 * MiB, skipped: 0, skippedBytes: 0, failed: 0,
    transferred: 40 * MiB, retries: 0, throttles: 0, inFlight: 6, concurrency: 8, active: [], discarded: 0,
    ...over,
  }
}

describe('progressLine', () => {
  test.each<[string, Partial<StatsSnapshot>, string]>([
    ['a run in progress', {},
      '10.0s, 4/10 objects, 40.0 MiB/100 MiB (40%), 4.2 MB/s, 6/8 in flight'],
    ['while the listing is still going, the totals have a + and no percentage (it would go backwards)', { listingDone: false },
      '10.0s, 4/10+ objects, 40.0 MiB/100 MiB+, 4.2 MB/s, 6/8 in flight'],
    ['resumed bytes count toward the percentage but not the rate', { resumedBytes: 10 * MiB },
      '10.0s, 4/10 objects, 50.0 MiB/100 MiB (50%), 4.2 MB/s, 6/8 in flight'],
    ['failed objects count as finished and are listed', { done: 3, failed: 1 },
      '10.0s, 4/10 objects, 40.0 MiB/100 MiB (40%), 4.2 MB/s, 6/8 in flight, 1 failed'],
    ['skips, failures and retries, in that order', { skipped: 2, failed: 1, retries: 5 },
      '10.0s, 5/10 objects, 40.0 MiB/100 MiB (40%), 4.2 MB/s, 6/8 in flight, 2 skipped, 1 failed, 5 retries'],
    ['nothing planned yet: no percentage', { planned: 0, plannedBytes: 0, done: 0, transferred: 0, listingDone: false, inFlight: 0 },
      '10.0s, 0/0+ objects, 0 B/0 B+, 0.0 MB/s, 0/8 in flight'],
    ['at the very start: no rate', { elapsedMs: 0, done: 0, transferred: 0, inFlight: 0 },
      '0.0s, 0/10 objects, 0 B/100 MiB (0%), 0/8 in flight'],
    ['the percentage never passes 100', { transferred: 150 * MiB },
      '10.0s, 4/10 objects, 150 MiB/100 MiB (100%), 15.7 MB/s, 6/8 in flight'],
    ['long runs in hours and minutes', { elapsedMs: 3_725_000, done: 10, transferred: 100 * MiB, inFlight: 0 },
      '1h02m05s, 10/10 objects, 100 MiB/100 MiB (100%), 0.0 MB/s, 0/8 in flight'],
  ])('%s', (_label, over, expected) => {
    expect(progressLine(snapshot(over))).toBe(expected)
  })

  test('is pure: the same snapshot gives the same line', () => {
    const s = snapshot({ retries: 3 })
    expect(progressLine(s)).toBe(progressLine({ ...s }))
  })
})
