import { describe, expect, test } from 'vitest'
import type { CopyResult } from '../../src/engine/copy.js'
import type { StatsSnapshot } from '../../src/engine/stats.js'
import { summaryLines } from '../../src/ui/summary.js'

const MiB = 1024 * 1024
const command = 'soaker cp s3://bucket/data ./data'
const statePath = '/home/u/.local/state/soaker/0123456789abcdef.db'

function snapshot(over: Partial<StatsSnapshot> = {}): StatsSnapshot {
  return {
    elapsedMs: 65_000, listed: 12, listedBytes: 120 * MiB, listingDone: true,
    planned: 10, plannedBytes: 100 * MiB, resumedBytes: 0,
    done: 10, doneBytes: 100 * MiB, skipped: 2, skippedBytes: 20 * MiB, failed: 0,
    transferred: 100 * MiB, retries: 0, throttles: 0, inFlight: 0, concurrency: 16, active: [], discarded: 0,
    ...over,
  }
}

function result(over: Partial<CopyResult> = {}, snap: Partial<StatsSnapshot> = {}): CopyResult {
  return { status: 'ok', snapshot: snapshot(snap), failures: [], statePath, ...over }
}

function failures(n: number): CopyResult['failures'] {
  return Array.from({ length: n }, (_, i) => ({ key: `k${String(i).padStart(2, '0')}`, errorCode: 'AccessDenied', reason: 'HTTP 403' }))
}

describe('summaryLines', () => {
  test('a clean run: what arrived, how fast, and nothing to do again', () => {
    expect(summaryLines(result(), command)).toEqual([
      'Done in 1m05s: 10 copied (100 MiB), 2 skipped (20.0 MiB), 0 failed, 12 listed',
      'Transferred 100 MiB at 1.6 MB/s',
    ])
  })

  test('resumed bytes and retries are mentioned when there were any', () => {
    const lines = summaryLines(result({}, { resumedBytes: 30 * MiB, transferred: 70 * MiB, retries: 4, throttles: 3 }), command)
    expect(lines[1]).toBe('Transferred 70.0 MiB at 1.1 MB/s, 30.0 MiB resumed from an earlier run, 4 retries (3 throttled)')
  })

  test('a run of no time has a rate of 0', () => {
    expect(summaryLines(result({}, { elapsedMs: 0, transferred: 0, done: 0, doneBytes: 0 }), command)[1])
      .toBe('Transferred 0 B at 0.0 MB/s')
  })

  test('failures are listed with their reasons and codes, then how to retry them', () => {
    const r = result({
      status: 'failed',
      failures: [
        { key: 'data/a.bin', errorCode: 'AccessDenied', reason: 'HTTP 403 on GET' },
        { key: 'data/../evil', errorCode: 'SOAKER_UNSAFE_KEY', reason: 'key "data/../evil" would escape the destination directory' },
        { key: 'data/c.bin', errorCode: null, reason: null },
      ],
    }, { done: 7, failed: 3 })
    expect(summaryLines(r, command)).toEqual([
      'Finished with failures in 1m05s: 7 copied (100 MiB), 2 skipped (20.0 MiB), 3 failed, 12 listed',
      'Transferred 100 MiB at 1.6 MB/s',
      'Failures:',
      '  data/a.bin: HTTP 403 on GET [AccessDenied]',
      '  data/../evil: key "data/../evil" would escape the destination directory [SOAKER_UNSAFE_KEY]',
      '  data/c.bin: unknown [?]',
      `Run the same command again to retry what failed (state: ${statePath}).`,
    ])
  })

  test('at most 20 failures are listed, then how many more and where to find them', () => {
    const lines = summaryLines(result({ status: 'failed', failures: failures(50) }, { failed: 73 }), command)
    const listed = lines.filter((l) => l.startsWith('  k'))
    expect(listed).toHaveLength(20)
    expect(listed[0]).toBe('  k00: HTTP 403 [AccessDenied]')
    expect(listed[19]).toBe('  k19: HTTP 403 [AccessDenied]')
    expect(lines).toContain(`  … and 53 more (state: ${statePath})`)
  })

  test('exactly 20 failures are all listed with no "more" line', () => {
    const lines = summaryLines(result({ status: 'failed', failures: failures(20) }, { failed: 20 }), command)
    expect(lines.filter((l) => l.startsWith('  k'))).toHaveLength(20)
    expect(lines.some((l) => l.includes('more'))).toBe(false)
  })

  test('an interrupted run says nothing is lost and to run the same command again', () => {
    const lines = summaryLines(result({ status: 'interrupted' }, { done: 4, doneBytes: 40 * MiB }), command)
    expect(lines[0]).toBe('Interrupted in 1m05s: 4 copied (40.0 MiB), 2 skipped (20.0 MiB), 0 failed, 12 listed')
    expect(lines.slice(-2)).toEqual(['Nothing is lost: run the same command again to resume:', `  ${command}`])
  })

  test('a run stopped by an error that affects every object says why', () => {
    const lines = summaryLines(result({ status: 'failed', stoppedBy: 'Access denied to bucket `bucket`' }, { done: 0, doneBytes: 0 }), command)
    expect(lines.slice(-2)).toEqual([
      'Stopped: Access denied to bucket `bucket`',
      `Run the same command again to retry what failed (state: ${statePath}).`,
    ])
  })

  test('only failed or interrupted runs suggest running the command again', () => {
    expect(summaryLines(result(), command).some((l) => /run the same command again/i.test(l))).toBe(false)
    expect(summaryLines(result({ status: 'failed' }, { failed: 1 }), command).some((l) => /run the same command again/i.test(l))).toBe(true)
    expect(summaryLines(result({ status: 'interrupted' }), command).some((l) => /run the same command again/i.test(l))).toBe(true)
  })
})

describe('summaryLines of a dry run', () => {
  test('says nothing was transferred, counts what would be copied and skipped, lists the first keys', async () => {
    const { summaryLines } = await import('../../src/ui/summary.js')
    const lines = summaryLines({
      status: 'ok', failures: [], statePath: '/s.db', plan: { first: ['a', 'b'], kept: false },
      snapshot: {
        elapsedMs: 1000, listed: 10, listedBytes: 0, listingDone: true, planned: 5, plannedBytes: 5 * 1024 * 1024, resumedBytes: 0,
        done: 0, doneBytes: 0, skipped: 4, skippedBytes: 4096, failed: 1, transferred: 0, retries: 0, throttles: 0, inFlight: 0, concurrency: 16, active: [], discarded: 0,
      },
    }, 'soaker cp …')
    expect(lines).toEqual([
      'Dry run, nothing transferred: would copy 5 objects (5.0 MiB), skip 4 (4.0 KiB), 10 listed; 1 cannot be copied (see the warnings)',
      'First to copy:', '  a', '  b', '  … and 3 more',
    ])
  })
})
