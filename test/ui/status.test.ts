import { describe, expect, test } from 'vitest'
import type { RunRow } from '../../src/state/store.js'
import { statusLines, type StatusReport } from '../../src/ui/status.js'

const MiB = 1024 * 1024
const run = (over: Partial<RunRow>): RunRow => ({
  id: 1, startedAt: Date.UTC(2026, 10, 21, 10, 0, 0), endedAt: Date.UTC(2026, 10, 21, 10, 0, 10), status: 'ok',
  source: 's3://b/p', destination: '/data', copied: 10, failed: 0, transferred: 100 * MiB, peakBytesPerSecond: 20e6, ...over,
})
const report = (over: Partial<StatusReport>): StatusReport => ({
  statePath: '/state.db',
  counts: { done: { objects: 10, bytes: 100 * MiB }, skipped: { objects: 2, bytes: MiB }, pending: { objects: 0, bytes: 0 }, failed: { objects: 0, bytes: 0 } },
  runs: [run({})], failures: [], ...over,
})

describe('statusLines', () => {
  test('a complete job: counts, the run with its throughput and peak, and "Complete"', () => {
    expect(statusLines(report({}))).toEqual([
      'State: /state.db',
      'Job: s3://b/p → /data',
      'Objects: 12 in all; 10 done (100 MiB), 2 skipped (1.0 MiB), 0 pending (0 B), 0 failed (0 B)',
      'Runs (newest first):',
      '  run #1 started 2026-11-21 10:00:00 UTC: ok after 10.0s, 10 copied, 0 failed, 100 MiB transferred at 10.5 MB/s, peak 20.0 MB/s',
      'Complete: every object is done or skipped.',
    ])
  })

  test('failures are listed with reason and code, the rest counted, and the job is not complete', () => {
    const lines = statusLines(report({
      counts: { done: { objects: 1, bytes: 1 }, skipped: { objects: 0, bytes: 0 }, pending: { objects: 0, bytes: 0 }, failed: { objects: 3, bytes: 30 } },
      failures: [{ key: 'a', errorCode: 'InternalError', reason: 'boom' }, { key: 'b', errorCode: null, reason: null }],
    }))
    expect(lines).toContain('  a: boom [InternalError]')
    expect(lines).toContain('  b: unknown [?]')
    expect(lines).toContain('  … and 1 more')
    expect(lines.at(-1)).toBe('Not complete: run the same cp command again to continue and retry what failed.')
  })

  test('a run that never ended is shown as such', () => {
    const lines = statusLines(report({ runs: [run({ endedAt: null, status: 'running' })] }))
    expect(lines).toContain('  run #1 started 2026-11-21 10:00:00 UTC: still running, or killed (the next run picks up where it stopped)')
  })

  test('a state of one shard names it under the job, and its completeness is the shard\'s', () => {
    const lines = statusLines(report({ shard: { index: 2, count: 4, hash: 'sha256-64' } }))
    expect(lines.slice(1, 3)).toEqual([
      'Job: s3://b/p → /data',
      'Shard: 2/4 (only the objects whose keys sha256-64 assigns to it; the other shards keep states of their own)',
    ])
    expect(lines.at(-1)).toBe('Complete: every object of shard 2/4 is done or skipped.')
    expect(statusLines(report({})).some((l) => l.startsWith('Shard:'))).toBe(false)
  })

  test('no runs yet: no Job or Runs lines', () => {
    const lines = statusLines(report({ runs: [] }))
    expect(lines.some((l) => l.startsWith('Job:') || l.startsWith('Runs'))).toBe(false)
  })
})
