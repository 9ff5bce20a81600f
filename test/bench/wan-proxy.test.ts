import { createHash, randomBytes } from 'node:crypto'
import { DeleteBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { inject } from 'vitest'
import { startWanProxy, type WanOptions, type WanProxy } from '../../bench/wan/wan-proxy.js'
import { createBucket, deleteObject, putObject, seedClient } from '../../scripts/support/seed.js'

const s3 = inject('s3')
const seeder = seedClient(s3)
const bucket = `wan${process.pid}-${Date.now().toString(36)}`
const small = randomBytes(256 * 1024)
const large = randomBytes(3_000_000)
const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex')

const proxies: WanProxy[] = []
async function proxy(options: Omit<WanOptions, 'target'>): Promise<WanProxy> {
  const p = await startWanProxy({ target: s3.endpoint, ...options })
  proxies.push(p)
  return p
}

/** A real SDK client through `p`: no SDK retries, so a SlowDown reaches the test as an error. */
function clientVia(p: WanProxy): S3Client {
  return new S3Client({
    endpoint: p.url, region: s3.region, forcePathStyle: true, maxAttempts: 1,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: new NodeHttpHandler({ httpAgent: { keepAlive: true, maxSockets: 32 } }),
  })
}

async function get(client: S3Client, key: string, range?: string): Promise<Buffer> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }))
  return Buffer.from(await out.Body!.transformToByteArray())
}

beforeAll(async () => {
  await createBucket(seeder, bucket)
  await putObject(seeder, bucket, 'small', small)
  await putObject(seeder, bucket, 'large', large)
})
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.stop()))
  await Promise.all(['small', 'large'].map((key) => deleteObject(seeder, bucket, key)))
  await seeder.send(new DeleteBucketCommand({ Bucket: bucket }))
})

describe('the WAN proxy (bench/wan/wan-proxy.ts)', () => {
  test('passes bytes through unchanged, whole and ranged, with the SigV4 signature still valid', async () => {
    const p = await proxy({ perConnectionBytesPerSec: 50e6, linkBytesPerSec: 100e6, latencyMs: 2 })
    const client = clientVia(p)
    expect(md5(await get(client, 'large'))).toBe(md5(large))
    expect(md5(await get(client, 'small', 'bytes=1000-99999'))).toBe(md5(small.subarray(1000, 100000)))
    expect(p.stats()).toMatchObject({ requests: 2, slowDowns: 0, bytesSent: large.length + 99000 })
  })

  test('with paceRequests, caps request bodies at the link rate too, and counts them', async () => {
    // 3 MB at 6 MB/s takes about half a second.
    const p = await proxy({ linkBytesPerSec: 6e6, paceRequests: true })
    const client = clientVia(p)
    const started = performance.now()
    await putObject(client, bucket, 'paced', large)
    expect(performance.now() - started).toBeGreaterThan(400)
    expect(p.stats().bytesReceived).toBe(large.length)
    expect(md5(await get(seeder, 'paced'))).toBe(md5(large))
    await deleteObject(seeder, bucket, 'paced')
  })

  test('caps one connection at its per-connection rate, and the link below that', async () => {
    // 3 MB at 4 MB/s takes about 0.75 s; loopback alone would take milliseconds.
    const perConnection = await proxy({ perConnectionBytesPerSec: 4e6 })
    const client = clientVia(perConnection)
    await get(client, 'small') // the connection is open and warm: the measurement is the body alone
    let start = performance.now()
    await get(client, 'large')
    const rate = large.length / ((performance.now() - start) / 1000)
    expect(rate).toBeGreaterThan(4e6 / 2)
    expect(rate).toBeLessThan(4e6 * 1.5)

    // Two connections at once share a 4 MB/s link: together they take about 1.5 s, not 0.75 s.
    const linked = await proxy({ perConnectionBytesPerSec: 100e6, linkBytesPerSec: 4e6 })
    const two = clientVia(linked)
    start = performance.now()
    await Promise.all([get(two, 'large'), get(two, 'large')])
    const together = (2 * large.length) / ((performance.now() - start) / 1000)
    expect(together).toBeGreaterThan(4e6 / 2)
    expect(together).toBeLessThan(4e6 * 1.5)
  })

  test('adds a round trip of latency to each request, and one more for a new connection', async () => {
    const p = await proxy({ latencyMs: 100 })
    const client = clientVia(p)
    let start = performance.now()
    await get(client, 'small', 'bytes=0-9')
    expect(performance.now() - start).toBeGreaterThanOrEqual(390) // handshake + request + response
    start = performance.now()
    await get(client, 'small', 'bytes=0-9')
    const again = performance.now() - start
    expect(again).toBeGreaterThanOrEqual(195)
    expect(again).toBeLessThan(390)
  })

  test('answers 503 SlowDown, as S3 does, to requests beyond K in flight', async () => {
    // Each GET of `large` takes about 1.5 s at 2 MB/s, so six started together overlap.
    const p = await proxy({ perConnectionBytesPerSec: 2e6, slowDownAbove: 2 })
    const client = clientVia(p)
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => get(client, 'large')))
    const ok = results.filter((r) => r.status === 'fulfilled')
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as { name: string; $metadata: { httpStatusCode: number } }] : []))
    expect(ok).toHaveLength(2)
    expect(refused).toHaveLength(4)
    for (const err of refused) {
      expect(err.name).toBe('SlowDown')
      expect(err.$metadata.httpStatusCode).toBe(503)
    }
    for (const r of ok) expect(md5((r as PromiseFulfilledResult<Buffer>).value)).toBe(md5(large))
    expect(p.stats()).toMatchObject({ requests: 6, slowDowns: 4, peakInFlight: 2 })
  })
})
