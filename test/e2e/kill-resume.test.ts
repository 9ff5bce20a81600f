import { writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { GetObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startWanProxy, type WanProxy } from '../../bench/wan/wan-proxy.js'
import { putMultipart } from '../../scripts/support/seed.js'
import { partialDirOf } from '../../src/providers/local/keys.js'
import { uploadLogDirOf } from '../../src/engine/job-state.js'
import { LocalProvider } from '../../src/providers/local/local-provider.js'
import { body, client, exists, faultProxyForFile, freshBucket, md5, readState, s3, soaker, startSoaker, tempDir, type JobSnapshot, waitFor } from './helpers.js'

const MiB = 1024 * 1024
const MB = 1e6

/** A link of 8 MB/s in front of the test server, counting the bytes it passes. */
const linkBytesPerSec = 8 * MB
let link: WanProxy
beforeAll(async () => { link = await startWanProxy({ target: s3.endpoint, linkBytesPerSec }) })
afterAll(async () => { await link.stop() })

const fault = faultProxyForFile()

/**
 * Bytes checkpointed in unfinished parts of every object of a download of `prefix` into `dest`,
 * one entry per part: what the logs of its files fetched in parts say got there durably.
 */
async function checkpoints(job: JobSnapshot, state: string, dest: string, prefix: string): Promise<number[]> {
  const local = new LocalProvider(dest, { pathOf: (key) => join(dest, key.slice(prefix.length)), logDir: uploadLogDirOf(state) })
  try {
    const out: number[] = []
    for (const row of job.objects) {
      if (row.uploadId === null) continue
      const progress = await local.multipart.progress!(row.key, row.uploadId, AbortSignal.timeout(10_000)).catch(() => new Map<number, number>())
      out.push(...progress.values())
    }
    return out
  } finally {
    local.close()
  }
}

/** Bytes of the object the state database and the destination say are durably here: finished parts and checkpoints. */
async function bytesRecorded(state: string, dest: string, prefix: string, partSize: number): Promise<number> {
  const job = await readState(state)
  return job.partCount * partSize + (await checkpoints(job, state, dest, prefix)).reduce((n, bytes) => n + bytes, 0)
}

describe('a kill loses seconds, not parts', () => {
  // On the main thread, and on data threads (whose bytes the main thread learns of in batches).
  test.each([[[]], [['--data-threads', '2']]])('cp s3://b/big dir/ %j after kill -9 inside every range fetches only the rest of each range', async (threads: string[]) => {
    const bucket = await freshBucket()
    const data = body(24 * MiB)
    await putMultipart(client, bucket, 'big/blob.bin', data, 8 * MiB)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const args = (endpoint: string): string[] => ['cp', `s3://${bucket}/big`, dest, '--endpoint-url', endpoint, '--state', state, '--concurrency', '3', ...threads]
    const before = link.stats().bytesSent
    // Three ranges share 8 MB/s: none can finish within the first three seconds.
    const first = startSoaker(args(link.url))
    const rangesStarted = async (): Promise<number> => (await checkpoints(await readState(state), state, dest, 'big/')).filter((bytes) => bytes > 0).length
    await waitFor(async () => await rangesStarted() === 3, 30_000, 'a checkpoint of every range')
    first.child.kill('SIGKILL')
    expect((await first.done).signal).toBe('SIGKILL')
    const firstBytes = link.stats().bytesSent - before
    expect((await readState(state)).partCount).toBe(0)
    const recorded = await bytesRecorded(state, dest, 'big/', 8 * MiB)
    expect(recorded).toBeGreaterThan(0)
    expect(await exists(join(dest, 'blob.bin'))).toBe(false)

    const mark = link.stats().bytesSent
    const second = await soaker(args(link.url))
    expect(second.code, second.stdout + second.stderr).toBe(0)
    expect(second.stderr).toMatch(/resuming big\/blob.bin: 0 of 3 parts already here, 3 more partly/)
    const secondBytes = link.stats().bytesSent - mark
    expect(md5(await readFile(join(dest, 'blob.bin')))).toBe(md5(data))
    // Nothing partial is left: the partial folder goes once it is empty.
    expect(await exists(partialDirOf(dest))).toBe(false)
    // The rerun fetched exactly what was not recorded (64 KiB for listings and such).
    expect(secondBytes).toBeLessThanOrEqual(data.length - recorded + 64 * 1024)
    // What the kill lost: what crossed before it and was not recorded. About a checkpoint interval
    // of the link; a second of it is the bound.
    expect(firstBytes - recorded).toBeLessThanOrEqual(linkBytesPerSec)
    expect(firstBytes + secondBytes).toBeLessThanOrEqual(data.length + linkBytesPerSec + 64 * 1024)
  })

  test('cp dir/ s3://b/ after kill -9 loses at most two seconds of sending, not the parts in flight', async () => {
    const bucket = await freshBucket()
    const data = body(40 * MiB)
    const src = tempDir('src')
    writeFileSync(join(src, 'big.bin'), data)
    const state = join(tempDir(), 's.db')
    // 10 MB/s and eight parts of 5 MiB: all eight at once would each take four seconds.
    const args = (...more: string[]): string[] => ['cp', src, `s3://${bucket}/up`, '--endpoint-url', fault.proxy.url, '--state', state,
      '--part-size', '5MiB', '--concurrency', '8', ...more]
    const sent = (from: number): number => fault.proxy.requests.slice(from).reduce((n, r) => n + r.sent, 0)
    const mark = fault.proxy.requests.length
    const first = startSoaker(args('--max-speed', '10MB/s'))
    await waitFor(async () => (await readState(state)).partCount >= 1, 30_000, 'a finished part')
    first.child.kill('SIGKILL')
    expect((await first.done).signal).toBe('SIGKILL')
    await new Promise<void>((resolve) => setImmediate(resolve)) // the proxy's last counts
    const firstSent = sent(mark)

    const mark2 = fault.proxy.requests.length
    const second = await soaker(args())
    expect(second.code).toBe(0)
    const secondSent = sent(mark2)
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'up/big.bin' }))
    expect(md5(Buffer.from(await got.Body!.transformToByteArray()))).toBe(md5(data))
    // Lost to the kill: at most two seconds at 10 MB/s (the budget of bytes in flight), and a
    // part for the ones the store took in the last moments, which the rerun keeps anyway.
    expect(firstSent + secondSent).toBeLessThanOrEqual(data.length + 2 * 10 * MB + 5 * MiB)
    expect((await readState(state)).objects.filter((o) => o.uploadId !== null)).toHaveLength(0)
  })
})
