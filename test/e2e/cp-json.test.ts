import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { putObject } from '../../scripts/support/seed.js'
import { client, cpArgs, freshBucket, soaker, tempDir } from './helpers.js'

/** Every stdout line must be one JSON object; returns them. */
function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout.trim().split('\n').map((line) => {
    const parsed: unknown = JSON.parse(line)
    expect(typeof parsed).toBe('object')
    return parsed as Record<string, unknown>
  })
}

describe('soaker cp --json', () => {
  test('every stdout line parses and carries the documented fields: run_started, object_done, object_failed, object_skipped, progress, summary', async () => {
    const bucket = await freshBucket()
    for (let i = 0; i < 5; i++) await putObject(client, bucket, `j/f${i}`, `body ${i}`)
    await putObject(client, bucket, 'j/bad//name', 'unsafe')
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const r = await soaker(cpArgs(`s3://${bucket}/j`, dest, state, '--json', '--progress-interval', '0.05'))
    expect(r.code).toBe(1)
    const events = jsonLines(r.stdout)
    expect(events[0]).toMatchObject({ event: 'run_started', source: `s3://${bucket}/j`, destination: dest })
    for (const e of events) expect(typeof e.time).toBe('string')
    const done = events.filter((e) => e.event === 'object_done')
    expect(done.map((e) => e.key).sort()).toEqual(['j/f0', 'j/f1', 'j/f2', 'j/f3', 'j/f4'])
    expect(done[0]).toEqual({ event: 'object_done', time: expect.any(String), key: expect.any(String), size: 6, seconds: expect.any(Number) })
    expect(events.filter((e) => e.event === 'object_failed')).toEqual([
      { event: 'object_failed', time: expect.any(String), key: 'j/bad//name', code: 'SOAKER_UNSAFE_KEY', reason: expect.stringContaining('empty or `.` path segment') },
    ])
    const summary = events.at(-1)!
    expect(summary).toMatchObject({
      event: 'summary', status: 'failed', dry_run: false, objects_listed: 6, objects_copied: 5, objects_skipped: 0, objects_failed: 1,
      bytes_copied: 30, bytes_transferred: 30, retries: 0, state,
      failures: [{ key: 'j/bad//name', code: 'SOAKER_UNSAFE_KEY', reason: expect.any(String) }],
    })
    // A second run: everything already there is reported as skipped, with the reason.
    const again = jsonLines((await soaker(cpArgs(`s3://${bucket}/j`, dest, state, '--json'))).stdout)
    expect(again.filter((e) => e.event === 'object_skipped')).toHaveLength(5)
    expect(again.find((e) => e.event === 'object_skipped')).toMatchObject({ size: 6, reason: 'already in the destination with the same size and mtime' })
  })

  test('progress events carry the totals while the run goes', async () => {
    const bucket = await freshBucket()
    for (let i = 0; i < 40; i++) await putObject(client, bucket, `p/f${i}`, Buffer.alloc(200_000, i))
    const r = await soaker(cpArgs(`s3://${bucket}/p`, tempDir(), join(tempDir(), 's.db'), '--json', '--progress-interval', '0.05', '--max-speed', '20', '--concurrency', '2'))
    expect(r.code).toBe(0)
    const progress = jsonLines(r.stdout).filter((e) => e.event === 'progress')
    expect(progress.length).toBeGreaterThan(0)
    expect(Object.keys(progress[0]!).sort()).toEqual([
      'bytes_done', 'bytes_per_second', 'bytes_planned', 'bytes_transferred', 'concurrency', 'elapsed_seconds', 'event', 'in_flight',
      'listing_done', 'objects_done', 'objects_failed', 'objects_listed', 'objects_planned', 'objects_skipped', 'retries', 'time',
    ])
  })

  test('an error of the whole job is a JSON line too', async () => {
    const r = await soaker(cpArgs('s3://no-such-bucket-json/x', tempDir(), join(tempDir(), 's.db'), '--json'))
    expect(r.code).toBe(1)
    expect(jsonLines(r.stdout).at(-1)).toMatchObject({ event: 'error', code: 'SOAKER_NO_SUCH_BUCKET', message: expect.stringContaining('no-such-bucket-json') })
  })
})
