import { existsSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { putObject } from '../../scripts/support/seed.js'
import { body, client, cpArgs, freshBucket, md5, soaker, sourceTree, startSoaker, stateRows, tempDir, treeOf, waitFor } from './helpers.js'

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

const integrity = (state: string): unknown => stateRows(state, 'PRAGMA integrity_check')
const doneRows = (state: string): number => Number(stateRows(state, "SELECT COUNT(*) AS n FROM objects WHERE status = 'done'")[0]!.n)

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
      expect(integrity(state)).toEqual([{ integrity_check: 'ok' }])
      expect(existsSync(`${state}.lock`)).toBe(false)
    }
  })

  test('while a run holds the lock soaker status still reads the state; after kill -9 of the holder the next run takes the lock over and finishes', async () => {
    const { bucket, expected } = await seeded(32)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const holder = startSoaker(cpArgs(`s3://${bucket}/p`, dest, state, '--max-speed', '0.5', '--concurrency', '1'))
    await waitFor(() => doneRows(state) >= 2, 30_000, 'two objects done')
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
    expect(integrity(state)).toEqual([{ integrity_check: 'ok' }])
  })

  test('cp dir s3://b/p while the same upload runs refuses at once with SOAKER_LOCKED', async () => {
    const files: Record<string, Buffer> = {}
    for (let i = 0; i < 24; i++) files[`f${i}.bin`] = body(64 * KiB)
    const src = sourceTree(files)
    const bucket = await freshBucket()
    const state = join(tempDir(), 's.db')
    const first = startSoaker(cpArgs(src, `s3://${bucket}/up`, state, '--max-speed', '0.5', '--concurrency', '1'))
    await waitFor(() => doneRows(state) >= 1, 30_000, 'an upload done')
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
    await waitFor(() => doneRows(state) >= 1, 30_000, 'an object done')
    run.child.kill('SIGTERM')
    const r = await run.done
    expect(r.code).toBe(130)
    expect(r.stderr).toContain('SIGTERM: stopping')
    expect(r.stdout).toContain('run the same command again to resume')
    expect(stateRows(state, 'SELECT status FROM runs')).toEqual([{ status: 'interrupted' }])
    expect(existsSync(`${state}.lock`)).toBe(false)
    const again = await soaker(cpArgs(`s3://${bucket}/p`, dest, state))
    expect(again.code).toBe(0)
    expect(await treeOf(dest)).toEqual(expected)
  })
})
