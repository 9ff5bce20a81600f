import { join } from 'node:path'
import {
  CompleteMultipartUploadCommand, CreateMultipartUploadCommand, HeadObjectCommand, ListMultipartUploadsCommand, PutObjectCommand, UploadPartCommand,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startFaultProxy, type FaultProxy, type SeenRequest } from '../../scripts/support/fault-proxy.js'
import { putMultipart } from '../../scripts/support/seed.js'
import { body, client, freshBucket, keysOf, md5, objectBytes, readState, s3, soaker, startSoaker, tempDir, waitFor } from './helpers.js'

const MiB = 1024 * 1024

/**
 * Two endpoints of one radosgw: the server itself, and a counting proxy in front of it. To soaker
 * they are two stores (their endpoints differ), so a copy between them streams through it; the
 * proxy counts what the source sent.
 */
let proxy: FaultProxy
beforeAll(async () => { proxy = await startFaultProxy(s3.endpoint) })
afterAll(async () => { await proxy.stop() })

/** Response and request body bytes of the requests since `mark` that pass `which`. */
function bytesSince(mark: number, which: (r: SeenRequest) => boolean = () => true): { served: number; sent: number } {
  let served = 0
  let sent = 0
  for (const r of proxy.requests.slice(mark)) {
    if (!which(r)) continue
    served += r.bytes
    sent += r.sent
  }
  return { served, sent }
}

/** GETs of objects (listings are GETs too). */
const objectGet = (q: SeenRequest): boolean => q.method === 'GET' && !/list-type=/.test(q.query)

/** A source bucket: small objects with metadata and a content type, a folder marker, and a multipart object. */
async function seedSource(bigSize = 24 * MiB): Promise<{ bucket: string; small: Record<string, Buffer>; big: Buffer }> {
  const bucket = await freshBucket()
  const small: Record<string, Buffer> = { 'data/a.txt': body(1000), 'data/sub/b.bin': body(300 * 1024), 'data/empty': Buffer.alloc(0), 'data/mid.bin': body(9 * MiB) }
  for (const [key, bytes] of Object.entries(small)) {
    await client.send(new PutObjectCommand({
      Bucket: bucket, Key: key, Body: bytes, ContentType: 'text/x-soaker', Metadata: { mtime: '1600000000.25', mode: '0640', owner: 'ann' },
    }))
  }
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'data/dir/', Body: Buffer.alloc(0) }))
  const big = body(bigSize)
  await putMultipart(client, bucket, 'data/big.bin', big, 8 * MiB)
  return { bucket, small, big }
}

describe('soaker cp between two stores', () => {
  test('s3 → s3 across endpoints: every object byte for byte under the new prefix, metadata and content type carried, a multipart object keeps its ETag; a rerun copies nothing', async () => {
    const { bucket: src, small, big } = await seedSource()
    const dst = await freshBucket()
    const state = join(tempDir(), 's.db')
    const args = ['cp', `s3://${src}/data`, `s3://${dst}/copy`, '--source-endpoint-url', proxy.url, '--endpoint-url', s3.endpoint, '--state', state]
    const mark = proxy.requests.length
    const r = await soaker(args)
    expect(r.stderr).toMatch(/copying s3:\/\/.*\/data → s3:\/\/.*\/copy/)
    expect(r.stderr).not.toMatch(/server-side/)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/6 copied/)
    // The bytes came from the source's endpoint: every object once.
    const total = big.length + Object.values(small).reduce((n, b) => n + b.length, 0)
    const read = bytesSince(mark, objectGet).served
    expect(read).toBeGreaterThanOrEqual(total)
    expect(read).toBeLessThan(total + 64 * 1024)

    expect(await keysOf(dst)).toEqual(['copy/a.txt', 'copy/big.bin', 'copy/dir/', 'copy/empty', 'copy/mid.bin', 'copy/sub/b.bin'])
    for (const [key, bytes] of Object.entries(small)) {
      const to = key.replace(/^data\//, 'copy/')
      expect(md5(await objectBytes(dst, to))).toBe(md5(bytes))
      const head = await client.send(new HeadObjectCommand({ Bucket: dst, Key: to }))
      expect(head.Metadata).toEqual({ mtime: '1600000000.25', mode: '0640', owner: 'ann' })
      expect(head.ContentType).toBe('text/x-soaker')
    }
    expect(md5(await objectBytes(dst, 'copy/big.bin'))).toBe(md5(big))
    const [from, to] = await Promise.all([src, dst].map((b, i) => client.send(new HeadObjectCommand({ Bucket: b, Key: i === 0 ? 'data/big.bin' : 'copy/big.bin' }))))
    expect(to!.ETag).toBe(from!.ETag)
    expect(to!.ETag).toMatch(/-3"$/)
    // An object without mtime metadata gets its Last-Modified as rclone reads it.
    expect(Number((await client.send(new HeadObjectCommand({ Bucket: dst, Key: 'copy/big.bin' }))).Metadata?.mtime)).toBeCloseTo(from!.LastModified!.getTime() / 1000, 0)

    const mark2 = proxy.requests.length
    const again = await soaker(args)
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/0 copied .* 6 skipped/)
    expect(bytesSince(mark2, objectGet).served).toBe(0)
  })

  test('one object to a key, and into a folder', async () => {
    const { bucket: src, small } = await seedSource(6 * MiB)
    const dst = await freshBucket()
    const one = await soaker(['cp', `s3://${src}/data/a.txt`, `s3://${dst}/renamed.txt`, '--source-endpoint-url', proxy.url, '--endpoint-url', s3.endpoint, '--state', join(tempDir(), 's.db')])
    expect(one.code).toBe(0)
    const into = await soaker(['cp', `s3://${src}/data/a.txt`, `s3://${dst}/folder/`, '--source-endpoint-url', proxy.url, '--endpoint-url', s3.endpoint, '--state', join(tempDir(), 's.db')])
    expect(into.code).toBe(0)
    expect(await keysOf(dst)).toEqual(['folder/a.txt', 'renamed.txt'])
    expect(md5(await objectBytes(dst, 'folder/a.txt'))).toBe(md5(small['data/a.txt']!))
  })

  test('same store: the store copies the objects (CopyObject, and UploadPartCopy above --part-size), their bytes never cross the machine; --server-side-copy false streams them', async () => {
    const { bucket: src, small, big } = await seedSource(24 * MiB)
    const total = big.length + Object.values(small).reduce((n, b) => n + b.length, 0)
    const dst = await freshBucket()
    const mark = proxy.requests.length
    const r = await soaker(['cp', `s3://${src}/data/`, `s3://${dst}/`, '--endpoint-url', proxy.url, '--state', join(tempDir(), 's.db'), '--part-size', '8MiB'])
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/copying \(server-side\)/)
    const moved = bytesSince(mark)
    expect(moved.served + moved.sent).toBeLessThan(total / 100)
    // Parts of 8 MiB: three of big.bin, two of mid.bin (9 MiB); the rest one CopyObject each.
    const copies = proxy.requests.slice(mark).filter((q) => q.headers['x-amz-copy-source'] !== undefined)
    expect(copies.filter((q) => /partNumber=/.test(q.query))).toHaveLength(5)
    expect(copies.filter((q) => !/partNumber=/.test(q.query))).toHaveLength(3)
    expect(md5(await objectBytes(dst, 'big.bin'))).toBe(md5(big))
    for (const [key, bytes] of Object.entries(small)) {
      const to = key.replace(/^data\//, '')
      expect(md5(await objectBytes(dst, to))).toBe(md5(bytes))
      expect((await client.send(new HeadObjectCommand({ Bucket: dst, Key: to }))).Metadata).toMatchObject({ mtime: '1600000000.25', owner: 'ann' })
    }

    // Without --part-size, each object in one CopyObject (up to 5 GiB).
    const whole = await freshBucket()
    const mark1 = proxy.requests.length
    expect((await soaker(['cp', `s3://${src}/data/`, `s3://${whole}/`, '--endpoint-url', proxy.url, '--state', join(tempDir(), 's.db')])).code).toBe(0)
    const wholeCopies = proxy.requests.slice(mark1).filter((q) => q.headers['x-amz-copy-source'] !== undefined)
    expect(wholeCopies.map((q) => q.query.includes('partNumber='))).toEqual([false, false, false, false, false])
    expect(md5(await objectBytes(whole, 'big.bin'))).toBe(md5(big))

    const streamed = await freshBucket()
    const mark2 = proxy.requests.length
    const s = await soaker(['cp', `s3://${src}/data/`, `s3://${streamed}/`, '--endpoint-url', proxy.url, '--state', join(tempDir(), 's.db'), '--server-side-copy', 'false'])
    expect(s.code).toBe(0)
    expect(s.stderr).not.toMatch(/server-side/)
    const through = bytesSince(mark2)
    expect(through.served).toBeGreaterThanOrEqual(total)
    expect(through.sent).toBeGreaterThanOrEqual(total)
    expect(md5(await objectBytes(streamed, 'big.bin'))).toBe(md5(big))
  })

  test('kill -9 in the middle of a multipart copy between two stores: the same command reads only the parts the destination does not hold', async () => {
    const src = await freshBucket()
    const big = body(40 * MiB)
    await putMultipart(client, src, 'big.bin', big, 5 * MiB)
    const dst = await freshBucket()
    const state = join(tempDir(), 's.db')
    const args = (...more: string[]): string[] => ['cp', `s3://${src}/big.bin`, `s3://${dst}/big.bin`, '--source-endpoint-url', proxy.url,
      '--endpoint-url', s3.endpoint, '--state', state, '--concurrency', '4', ...more]
    const read = (from: number): number => bytesSince(from, objectGet).served
    // 10 MB/s, parts of 5 MiB, four at once: the first parts land after about two seconds.
    const first = startSoaker(args('--max-speed', '10MB/s'))
    const recorded = async (): Promise<number> => (await readState(state)).partCount
    await waitFor(async () => await recorded() >= 2, 60_000, 'two copied parts')
    first.child.kill('SIGKILL')
    expect((await first.done).signal).toBe('SIGKILL')
    const held = await recorded()
    expect(held).toBeLessThan(8)

    const mark2 = proxy.requests.length
    const second = await soaker(args())
    expect(second.code).toBe(0)
    expect(second.stderr).toMatch(/resuming the upload of big.bin: the store holds \d of 8 parts/)
    // Only the parts the destination did not hold were read again from the source.
    expect(read(mark2)).toBeLessThanOrEqual(big.length - held * 5 * MiB)
    expect(md5(await objectBytes(dst, 'big.bin'))).toBe(md5(big))
    const [from, to] = await Promise.all([[src, 'big.bin'], [dst, 'big.bin']].map(([b, k]) => client.send(new HeadObjectCommand({ Bucket: b, Key: k }))))
    expect(to!.ETag).toBe(from!.ETag)
  })

  test('a source uploaded in parts of unequal sizes: the guessed layout fails the check of the parts against its ETag before anything is published, and the object is copied again with each part hashed', async () => {
    const src = await freshBucket()
    const big = body(20 * MiB)
    // Three parts of 6, 10 and 4 MiB: from its size and part count, 8 MiB parts are the guess.
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: src, Key: 'odd.bin' }))
    const cuts = [0, 6 * MiB, 16 * MiB, 20 * MiB]
    const parts = []
    for (let i = 0; i < 3; i++) {
      const r = await client.send(new UploadPartCommand({ Bucket: src, Key: 'odd.bin', UploadId, PartNumber: i + 1, Body: big.subarray(cuts[i], cuts[i + 1]) }))
      parts.push({ PartNumber: i + 1, ETag: r.ETag })
    }
    await client.send(new CompleteMultipartUploadCommand({ Bucket: src, Key: 'odd.bin', UploadId, MultipartUpload: { Parts: parts } }))
    const dst = await freshBucket()
    const r = await soaker(['cp', `s3://${src}/odd.bin`, `s3://${dst}/odd.bin`, '--source-endpoint-url', proxy.url, '--endpoint-url', s3.endpoint,
      '--state', join(tempDir(), 's.db')])
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/odd.bin: the parts the store holds hash to ETag [0-9a-f]{32}-3, the source's is [0-9a-f]{32}-3: the source was not split in the parts guessed/)
    expect(md5(await objectBytes(dst, 'odd.bin'))).toBe(md5(big))
    expect((await client.send(new ListMultipartUploadsCommand({ Bucket: dst }))).Uploads ?? []).toEqual([])
  })

  test('bad pairs are refused before anything is contacted', async () => {
    const two = await soaker(['cp', 's3://a-bucket/x', 's3://b-bucket/y', 's3://c-bucket/z', '--endpoint-url', s3.endpoint])
    expect(two.code).toBe(2)
    expect(two.stderr).toMatch(/Expected one source to copy to `s3:\/\/c-bucket\/z`/)
    // The Hub is a source only (gs:// takes writes since the GCS destination: cp-into-gcs.test.ts).
    const hf = await soaker(['cp', 's3://a-bucket/x', 'hf://org/model', '--endpoint-url', s3.endpoint])
    expect(hf.code).toBe(2)
    expect(hf.stderr).toMatch(/does not write to hf:\/\/ yet/)
  })
})
