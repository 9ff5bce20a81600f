import { existsSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { putObject } from '../../scripts/support/seed.js'
import type { ObjectStatus } from '../../src/state/store.js'
import { body, client, cpArgs, freshBucket, md5, readState, soaker, sourceTree, startSoaker, tempDir, treeOf, waitFor } from './helpers.js'

const KiB = 1024

/** A bucket of `count` objects of 64 KiB under `p/`; their relative names → MD5s. */
async function seeded(count: number): Promise<{ bucket: string; expected: Record<string, string> }> {
  const bucket = await freshBucket()
  const expected: Record<string, string> = {}
  for (let i = 0; i < count; i++) {
    const data = body(64 * KiB)
    await putObject(client, bucket, `p/f${String(i).padStart(3, '0')}.bin`, data)
    expected[`f${String(i).padStart(3, '0')}.bin`] = md5(data)
  }
  return { bucket, expected }
}

interface ReadBack {
  /** Object rows, read one by one in key order. */
  objects: number
  /** Of those, rows with nothing left to do: done, or skipped (a killed run's file found whole). */
  finished: number
  /** Whether the statuses of the rows agree with the store's own tally by status. */
  tallyAgrees: boolean
  /** Runs recorded. */
  runs: number
  /** How the newest of them ended. */
  lastRun?: string
}

/**
 * What runs that raced for one state database left in it, read back whole through the store: every
 * object row, the store's tally by status, and the runs. A damaged database fails to read, or its
 * rows and its tally disagree.
 */
async function readBack(state: string): Promise<ReadBack> {
  const job = await readState(state)
  const withStatus = (status: ObjectStatus): number => job.objects.filter((o) => o.status === status).length
  const statuses: ObjectStatus[] = ['pending', 'done', 'skipped', 'failed']
  return {
    objects: job.objects.length,
    finished: withStatus('done') + withStatus('skipped'),
    tallyAgrees: statuses.every((status) => withStatus(status) === job.counts[status].objects),
    runs: job.runs.length,
    lastRun: job.runs.at(-1)?.status,
  }
}
const doneRows = async (state: string): Promise<number> => (await readState(state)).counts.done.objects

describe('soaker cp: one run at a time per state database', () => {
  test('two identical soaker cp started together: one copies everything, the other refuses at once naming the holder; the store stays intact', async () => {
    const { bucket, expected } = await seeded(32)
    for (let round = 0; round < 3; round++) {
      const dest = tempDir()
      const state = join(tempDir(), 's.db')
      // 2 MB at 1 MB/s: the first run is still copying when the second looks at the lock.
      const args = cpArgs(`s3://${bucket}/p`, dest, state, '--max-speed', '1')
      const runs = [startSoaker(args), startSoaker(args)]
      const results = await Promise.all(runs.map((r) => r.done))
      const winner = results.findIndex((r) => r.code === 0)
      expect(results.map((r) => r.code).sort()).toEqual([0, 1])
      const loser = results[1 - winner]!
      expect(loser.stderr).toContain('[SOAKER_LOCKED]')
      expect(loser.stderr).toContain(`pid ${runs[winner]!.child.pid} on ${hostname()}`)
      expect(loser.stderr).toContain(`${state}.lock`)
      expect(loser.stderr).not.toMatch(/ENOENT|soaker-partial/)
      expect(await treeOf(dest)).toEqual(expected)
      // The refused run never wrote: one run, the winner's.
      expect(await readBack(state)).toEqual({ objects: 32, finished: 32, tallyAgrees: true, runs: 1, lastRun: 'ok' })
      expect(existsSync(`${state}.lock`)).toBe(false)
    }
  })

  test('while a run holds the lock soaker status still reads the state; after kill -9 of the holder the next run takes the lock over and finishes', async () => {
    const { bucket, expected } = await seeded(32)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const holder = startSoaker(cpArgs(`s3://${bucket}/p`, dest, state, '--max-speed', '0.5', '--concurrency', '1'))
    await waitFor(async () => await doneRows(state) >= 2, 30_000, 'two objects done')
    const status = await soaker(['status', '--state', state])
    expect(status.stderr).not.toContain('SOAKER_LOCKED')
    expect(status.stdout).toContain(state)
    expect(status.code).toBe(1) // objects still pending
    const second = await soaker(cpArgs(`s3://${bucket}/p`, dest, state))
    expect(second.code).toBe(1)
    expect(second.stderr).toContain(`pid ${holder.child.pid} on ${hostname()}`)
    holder.child.kill('SIGKILL')
    await holder.done
    expect(existsSync(`${state}.lock`)).toBe(true)
    const after = await soaker(cpArgs(`s3://${bucket}/p`, dest, state))
    expect(after.code).toBe(0)
    expect(after.stderr).toContain(`took over the lock of \`${state}\` from pid ${holder.child.pid}`)
    expect(await treeOf(dest)).toEqual(expected)
    // Two runs: the killed holder's and the one that took over; the refused one never wrote.
    expect(await readBack(state)).toEqual({ objects: 32, finished: 32, tallyAgrees: true, runs: 2, lastRun: 'ok' })
  })

  test('cp dir s3://b/p while the same upload runs refuses at once with SOAKER_LOCKED', async () => {
    const files: Record<string, Buffer> = {}
    for (let i = 0; i < 24; i++) files[`f${i}.bin`] = body(64 * KiB)
    const src = sourceTree(files)
    const bucket = await freshBucket()
    const state = join(tempDir(), 's.db')
    const first = startSoaker(cpArgs(src, `s3://${bucket}/up`, state, '--max-speed', '0.5', '--concurrency', '1'))
    await waitFor(async () => await doneRows(state) >= 1, 30_000, 'an upload done')
    const second = await soaker(cpArgs(src, `s3://${bucket}/up`, state))
    expect(second.code).toBe(1)
    expect(second.stderr).toMatch(new RegExp(`in use by another soaker run: pid ${first.child.pid} .*\\[SOAKER_LOCKED\\]`))
    first.child.kill('SIGINT')
    expect((await first.done).code).toBe(130)
    expect(existsSync(`${state}.lock`)).toBe(false)
  })

  test('SIGTERM stops like SIGINT: exits 130, says the same command resumes, keeps what finished and frees the lock', async () => {
    const { bucket, expected } = await seeded(32)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const run = startSoaker(cpArgs(`s3://${bucket}/p`, dest, state, '--max-speed', '0.5', '--concurrency', '1'))
    await waitFor(async () => await doneRows(state) >= 1, 30_000, 'an object done')
    run.child.kill('SIGTERM')
    const r = await run.done
    expect(r.code).toBe(130)
    expect(r.stderr).toContain('SIGTERM: stopping')
    expect(r.stdout).toContain('run the same command again to resume')
    expect((await readState(state)).runs.map(({ status }) => ({ status }))).toEqual([{ status: 'interrupted' }])
    expect(existsSync(`${state}.lock`)).toBe(false)
    const again = await soaker(cpArgs(`s3://${bucket}/p`, dest, state))
    expect(again.code).toBe(0)
    expect(await treeOf(dest)).toEqual(expected)
  })
})
