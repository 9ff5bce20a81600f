import { createHash, randomBytes } from 'node:crypto'
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import '../setup/provided.js'
import { createBucket, putMultipart, putObject, seedClient } from '../../scripts/support/seed.js'
import { combineRanges } from '../../src/checksums/crc-combine.js'
import { digester } from '../../src/checksums/digester.js'
import { DataPlane } from '../../src/data/data-plane.js'
import type { DataJob, SourceRef } from '../../src/data/data-job.js'
import { NotFoundError, SourceChangedError, TransientError } from '../../src/errors.js'
import { transferOptions } from '../../src/options.js'
import { callOnce, type Provider } from '../../src/providers/provider.js'
import { openProvider } from '../../src/providers/registry.js'
import { s3Kind } from '../../src/providers/s3/kind.js'

const MiB = 1024 * 1024
const s3 = inject('s3')
const client = seedClient(s3)
const bucket = `${s3.bucketPrefix}-plane`
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex')
const small = randomBytes(100_000)
const big = randomBytes(24 * MiB)

let provider: Provider
let ref: SourceRef
beforeAll(async () => {
  await createBucket(client, bucket)
  await putObject(client, bucket, 'small.bin', small)
  await putMultipart(client, bucket, 'big.bin', big, 8 * MiB)
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true' })
  const options = transferOptions({ endpointUrl: s3.endpoint, region: s3.region })
  ref = { location: s3Kind.parse(`s3://${bucket}/`), options }
  provider = await openProvider(ref.location, { options, env: process.env, retry: callOnce })
})
afterAll(() => provider?.close())

/** A file of `size` zero bytes, open for writing, and its path. */
function openFile(size: number): { fd: number; path: string } {
  const path = join(mkdtempSync(join(tmpdir(), 'soaker-plane-')), 'file')
  writeFileSync(path, Buffer.alloc(size))
  return { fd: openSync(path, 'r+'), path }
}

/** Runs `use` with a plane of `threads` threads, the test bucket registered as its source, the threads ready; closes it after. */
async function withPlane(threads: number, use: (plane: DataPlane, source: number) => Promise<void>): Promise<void> {
  const plane = new DataPlane(threads)
  try {
    const source = plane.source(ref, provider)
    await plane.ready()
    await use(plane, source)
  } finally {
    await plane.close()
  }
}

function fillJob(source: number, file: { fd: number; path: string }, start: number, end: number, more: Partial<DataJob> = {}): DataJob {
  return { op: 'fill', source, key: 'big.bin', range: { start, end }, fd: file.fd, path: file.path, position: start, digest: 'md5', name: 'big.bin', ...more } as DataJob
}

describe('the data plane on worker threads', () => {
  test('a fill on a data thread writes its range in place, and the MD5 taken as it streamed is that of the bytes on disk', async () => {
    await withPlane(2, async (plane, source) => {
    expect(plane.readyThreads).toBe(2)
    const file = openFile(big.length)
    let moved = 0
    const ranges = [[0, 8 * MiB - 1], [8 * MiB, 16 * MiB - 1], [16 * MiB, big.length - 1]] as const
    const results = await Promise.all(ranges.map(([start, end]) => plane.run(fillJob(source, file, start, end), AbortSignal.timeout(30_000), (n) => { moved += n })))
    closeSync(file.fd)
    const onDisk = readFileSync(file.path)
    expect(md5(onDisk)).toBe(md5(big))
    expect(results.map((r) => r.bytes)).toEqual([8 * MiB, 8 * MiB, 8 * MiB])
    expect(results.map((r) => r.md5)).toEqual(ranges.map(([start, end]) => md5(onDisk.subarray(start, end + 1))))
    expect(moved).toBe(big.length)
    })
  })

  test('a fill asked for a CRC takes it as the bytes stream, on a thread or inline; the ranges\' CRCs combine into the object\'s', async () => {
    const whole = await digester('crc64nvme')
    whole.update(big)
    const expected = whole.digest().toString('hex')
    for (const threads of [1, 0]) {
      await withPlane(threads, async (plane, source) => {
        const file = openFile(big.length)
        const ranges = [[0, 5 * MiB - 1], [5 * MiB, 17 * MiB - 1], [17 * MiB, big.length - 1]] as const
        const results = await Promise.all(ranges.map(([start, end]) =>
          plane.run(fillJob(source, file, start, end, { digest: 'crc64nvme' }), AbortSignal.timeout(30_000), () => undefined)))
        closeSync(file.fd)
        expect(md5(readFileSync(file.path))).toBe(md5(big))
        expect(results.map((r) => r.md5)).toEqual([undefined, undefined, undefined])
        const combined = combineRanges('crc64nvme', results.map((r, i) => ({ digest: Buffer.from(r.crc!, 'hex'), length: ranges[i]![1] - ranges[i]![0] + 1 })))
        expect(combined.toString('hex')).toBe(expected)
      })
    }
  })

  test('a read-whole asked for the store\'s CRC takes none where the answer names none (Ceph 16 sends no checksums)', async () => {
    await withPlane(1, async (plane, source) => {
    const r = await plane.run({ op: 'read-whole', source, key: 'small.bin', size: small.length, name: 'small.bin', storeCrc: true }, AbortSignal.timeout(30_000), () => undefined)
    expect(md5(r.body!)).toBe(md5(small))
    expect(r.details!.crc).toBeUndefined()
    expect(r.crc).toBeUndefined()
    })
  })

  test('a small object read whole on a data thread comes back with its bytes and its response facts', async () => {
    await withPlane(1, async (plane, source) => {
    const r = await plane.run({ op: 'read-whole', source, key: 'small.bin', size: small.length, digest: 'md5', name: 'small.bin' }, AbortSignal.timeout(30_000), () => undefined)
    expect(Buffer.isBuffer(r.body)).toBe(true)
    expect(md5(r.body!)).toBe(md5(small))
    expect(r.md5).toBe(md5(small))
    expect(r.details).toMatchObject({ etag: md5(small), size: small.length })
    })
  })

  test('a store\'s errors cross from the thread as their own classes', async () => {
    await withPlane(1, async (plane, source) => {
    const missing = plane.run({ op: 'read-whole', source, key: 'nope.bin', size: 1, name: 'nope.bin' }, AbortSignal.timeout(30_000), () => undefined)
    await expect(missing).rejects.toBeInstanceOf(NotFoundError)
    const file = openFile(10)
    const changed = plane.run(fillJob(source, file, 0, 9, { ifMatch: md5(Buffer.from('other')) }), AbortSignal.timeout(30_000), () => undefined)
    await expect(changed).rejects.toBeInstanceOf(SourceChangedError)
    closeSync(file.fd)
    })
  })

  test('a thread that dies in the middle of a request fails it with SOAKER_DATA_THREAD; the next request runs on a new thread', async () => {
    await withPlane(1, async (plane, source) => {
    const file = openFile(big.length)
    // The thread is stopped as soon as the request is handed to it: 24 MiB take far longer to arrive.
    const dying = plane.run(fillJob(source, file, 0, big.length - 1), AbortSignal.timeout(30_000), () => undefined)
    const stopping = plane.stopThreads()
    const err = await dying.catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TransientError)
    expect((err as TransientError).code).toBe('SOAKER_DATA_THREAD')
    expect((err as TransientError).lowLevel).toBe(true)
    await stopping
    await plane.ready()
    const again = await plane.run(fillJob(source, file, 0, big.length - 1), AbortSignal.timeout(30_000), () => undefined)
    closeSync(file.fd)
    expect(again.md5).toBe(md5(big))
    expect(md5(readFileSync(file.path))).toBe(md5(big))
    })
  })

  test('a cancelled request rejects with its signal\'s reason', async () => {
    await withPlane(1, async (plane, source) => {
    const file = openFile(big.length)
    const cancel = new AbortController()
    const why = new Error('stop here')
    let moved = 0
    const run = plane.run(fillJob(source, file, 0, big.length - 1), cancel.signal, (n) => { moved += n })
    cancel.abort(why)
    await expect(run).rejects.toBe(why)
    expect(moved).toBeLessThan(big.length)
    closeSync(file.fd)
    })
  })

  test('with no threads, the same jobs run on the calling thread', async () => {
    await withPlane(0, async (plane, source) => {
      const file = openFile(big.length)
      const r = await plane.run(fillJob(source, file, 8 * MiB, 16 * MiB - 1), AbortSignal.timeout(30_000), () => undefined)
      closeSync(file.fd)
      expect(r.md5).toBe(md5(big.subarray(8 * MiB, 16 * MiB)))
      expect(md5(readFileSync(file.path).subarray(8 * MiB, 16 * MiB))).toBe(md5(big.subarray(8 * MiB, 16 * MiB)))
    })
  })
})
