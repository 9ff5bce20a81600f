import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { putMultipart, putObject } from '../../scripts/support/seed.js'
import { body, client, exists, faultProxyForFile, freshBucket, md5, partialFiles, readState, soaker, startSoaker, tempDir, waitFor } from './helpers.js'

const MiB = 1024 * 1024

const fault = faultProxyForFile()
const viaProxy = fault.cp

/** Finished parts recorded in the state database; rejects while it is not created yet (waitFor: not yet). */
async function partsDone(state: string): Promise<number> {
  return (await readState(state)).partCount
}

/** Bytes of object bodies the server sent for `key` since request number `from`. */
function bytesSent(bucket: string, key: string, from: number): number {
  return fault.proxy.requests.slice(from).filter((r) => r.method === 'GET' && r.path === `/${bucket}/${key}`).reduce((n, r) => n + r.bytes, 0)
}

describe('resume', () => {
  test('cp after kill -9 in the middle of a large object fetches only the missing parts', async () => {
    const bucket = await freshBucket()
    const data = body(48 * MiB)
    await putMultipart(client, bucket, 'big/blob.bin', data, 8 * MiB)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    // Slowed down so that it is surely killed half-way.
    const first = startSoaker(viaProxy(`s3://${bucket}/big`, dest, state, '--max-speed', '12', '--concurrency', '2'))
    await waitFor(async () => await partsDone(state) >= 2, 30_000, 'two finished parts')
    first.child.kill('SIGKILL')
    const killed = await first.done
    expect(killed.signal).toBe('SIGKILL')
    expect(await exists(join(dest, 'blob.bin'))).toBe(false)
    expect(await partialFiles(dest)).toEqual([expect.stringMatching(/^[0-9a-f]{32}-blob\.bin$/)])
    const recorded = await partsDone(state)
    expect(recorded).toBeLessThan(6)

    const mark = fault.proxy.requests.length
    const second = await soaker(viaProxy(`s3://${bucket}/big`, dest, state))
    expect(second.code).toBe(0)
    expect(md5(await readFile(join(dest, 'blob.bin')))).toBe(md5(data))
    const fetched = bytesSent(bucket, 'big/blob.bin', mark)
    expect(fetched).toBeLessThanOrEqual(data.length - recorded * 8 * MiB)
    expect(fetched).toBeGreaterThan(0)
    expect(second.stdout).toMatch(/resumed from an earlier run/)
    expect(await partialFiles(dest)).toEqual([])
    expect(await exists(join(dest, '.soaker'))).toBe(false)
  })

  test('an object that changed while a run was interrupted starts over cleanly', async () => {
    const bucket = await freshBucket()
    await putMultipart(client, bucket, 'c/obj.bin', body(32 * MiB), 8 * MiB)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const first = startSoaker(viaProxy(`s3://${bucket}/c`, dest, state, '--max-speed', '12', '--concurrency', '1'))
    await waitFor(async () => await partsDone(state) >= 1, 30_000, 'a finished part')
    first.child.kill('SIGKILL')
    await first.done
    const v2 = body(20 * MiB + 5)
    await putObject(client, bucket, 'c/obj.bin', v2)
    const second = await soaker(viaProxy(`s3://${bucket}/c`, dest, state))
    expect(second.code).toBe(0)
    expect(second.stderr).toContain('changed since the last run')
    expect(md5(await readFile(join(dest, 'obj.bin')))).toBe(md5(v2))
  })

  test('SIGINT stops, records what finished, exits 130 saying the same command resumes; nothing at the final path', async () => {
    const bucket = await freshBucket()
    const data = body(32 * MiB)
    await putMultipart(client, bucket, 's/file.bin', data, 8 * MiB)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const run = startSoaker(viaProxy(`s3://${bucket}/s`, dest, state, '--max-speed', '10', '--concurrency', '1'))
    await waitFor(async () => await partsDone(state) >= 1, 30_000, 'a finished part')
    run.child.kill('SIGINT')
    const r = await run.done
    expect(r.code).toBe(130)
    expect(r.stdout).toContain('run the same command again to resume')
    expect(await exists(join(dest, 'file.bin'))).toBe(false)
    const job = await readState(state)
    expect(job.objects.map(({ status }) => ({ status }))).toEqual([{ status: 'pending' }])
    expect(job.runs.map(({ status }) => ({ status }))).toEqual([{ status: 'interrupted' }])
    const again = await soaker(viaProxy(`s3://${bucket}/s`, dest, state))
    expect(again.code).toBe(0)
    expect(md5(await readFile(join(dest, 'file.bin')))).toBe(md5(data))
  })

  test('a second SIGINT stops at once, still with nothing half-written at the final path', async () => {
    const bucket = await freshBucket()
    await putMultipart(client, bucket, 's2/file.bin', body(32 * MiB), 8 * MiB)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const run = startSoaker(viaProxy(`s3://${bucket}/s2`, dest, state, '--max-speed', '8', '--concurrency', '2'))
    await waitFor(() => run.output().includes('copying'), 30_000, 'the run to start')
    run.child.kill('SIGINT')
    run.child.kill('SIGINT')
    const r = await run.done
    expect(r.code).toBe(130)
    expect(await exists(join(dest, 'file.bin'))).toBe(false)
  })
})
