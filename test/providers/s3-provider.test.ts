import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startFaultProxy, type FaultProxy } from '../../scripts/support/fault-proxy.js'
import { NotFoundError } from '../../src/errors.js'
import { createS3Connection } from '../../src/providers/s3/client.js'
import { S3Provider } from '../../src/providers/s3/s3-provider.js'
import { freshBucket, s3 } from '../e2e/helpers.js'
import { providerConformance } from './conformance.js'

// The real client code against the test server (Ceph's radosgw, or s3rver without Ceph).
process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId
process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey
const opened: S3Provider[] = []
afterAll(() => { for (const p of opened) p.close() })

providerConformance('s3', async () => {
  const connection = await createS3Connection({ endpointUrl: s3.endpoint, region: s3.region, connectTimeout: 5, maxSockets: 64 })
  const provider = new S3Provider({ connection, bucket: await freshBucket(), endpoint: s3.endpoint, endpointUrl: s3.endpoint })
  const missing = new S3Provider({ connection, bucket: 'no-such-bucket-conformance', endpoint: s3.endpoint, endpointUrl: s3.endpoint })
  opened.push(provider)
  return { provider, missing }
})

test('delete removes an object; deleting one that is absent is no error', async () => {
  const connection = await createS3Connection({ endpointUrl: s3.endpoint, region: s3.region, connectTimeout: 5, maxSockets: 8 })
  const provider = new S3Provider({ connection, bucket: await freshBucket(), endpoint: s3.endpoint, endpointUrl: s3.endpoint })
  opened.push(provider)
  const signal = AbortSignal.timeout(30_000)
  await provider.write('gone.txt', Buffer.from('x'), signal)
  await provider.delete('gone.txt', signal)
  await expect(provider.stat('gone.txt', signal)).rejects.toBeInstanceOf(NotFoundError)
  await provider.delete('never-there.txt', signal)
})

describe('the checksums the store keeps', () => {
  let proxy: FaultProxy
  beforeAll(async () => { proxy = await startFaultProxy(s3.endpoint) })
  afterAll(async () => { await proxy.stop() })

  async function throughProxy(askChecksums?: boolean): Promise<{ provider: S3Provider; bucket: string }> {
    const connection = await createS3Connection({ endpointUrl: proxy.url, region: s3.region, connectTimeout: 5, maxSockets: 8 })
    const bucket = await freshBucket()
    const provider = new S3Provider({ connection, bucket, endpoint: proxy.url, endpointUrl: proxy.url, askChecksums })
    opened.push(provider)
    return { provider, bucket }
  }

  const crc64 = 'rosUhgp5mIg=' // CRC64NVME of "123456789"
  const asked = (headers: Record<string, unknown>): boolean => headers['x-amz-checksum-mode'] === 'ENABLED'

  test('stat and a whole read ask for them and give the full-object CRC the answer carries; a ranged read asks for none', async () => {
    const { provider, bucket } = await throughProxy()
    const signal = AbortSignal.timeout(30_000)
    await provider.write('k.bin', Buffer.from('123456789'), signal)
    proxy.setHeaders(({ path, headers }) => path === `/${bucket}/k.bin` && asked(headers) ? { 'x-amz-checksum-crc64nvme': crc64, 'x-amz-checksum-type': 'FULL_OBJECT' } : undefined)
    const mark = proxy.requests.length
    try {
      const crc = { algorithm: 'crc64nvme', hex: 'ae8b14860a799888', source: 'x-amz-checksum-crc64nvme' }
      expect((await provider.stat('k.bin', signal)).crc).toEqual(crc)
      const whole = await provider.read('k.bin', { signal })
      whole.body.resume()
      expect(whole.details.crc).toEqual(crc)
      const ranged = await provider.read('k.bin', { range: { start: 0, end: 3 }, signal })
      ranged.body.resume()
      expect(ranged.details.crc).toBeUndefined()
      expect(proxy.requests.slice(mark).map((r) => [r.method, asked(r.headers)])).toEqual([['HEAD', true], ['GET', true], ['GET', false]])
    } finally {
      proxy.setHeaders(undefined)
    }
  })

  test('a composite checksum is no full-object CRC; an answer without checksums (Ceph 16) gives none', async () => {
    const { provider, bucket } = await throughProxy()
    const signal = AbortSignal.timeout(30_000)
    await provider.write('c.bin', Buffer.from('123456789'), signal)
    expect((await provider.stat('c.bin', signal)).crc).toBeUndefined()
    proxy.setHeaders(({ path }) => path === `/${bucket}/c.bin` ? { 'x-amz-checksum-crc32c': '4waSgw==-2', 'x-amz-checksum-type': 'COMPOSITE' } : undefined)
    try {
      expect((await provider.stat('c.bin', signal)).crc).toBeUndefined()
    } finally {
      proxy.setHeaders(undefined)
    }
  })

  test('askChecksums false (--store-checksums false): nothing asked, and checksums an answer carries anyway are not taken', async () => {
    const { provider, bucket } = await throughProxy(false)
    const signal = AbortSignal.timeout(30_000)
    await provider.write('n.bin', Buffer.from('123456789'), signal)
    proxy.setHeaders(({ path }) => path === `/${bucket}/n.bin` ? { 'x-amz-checksum-crc64nvme': crc64, 'x-amz-checksum-type': 'FULL_OBJECT' } : undefined)
    const mark = proxy.requests.length
    try {
      expect((await provider.stat('n.bin', signal)).crc).toBeUndefined()
      const whole = await provider.read('n.bin', { signal })
      whole.body.resume()
      expect(whole.details.crc).toBeUndefined()
      expect(proxy.requests.slice(mark).map((r) => [r.method, asked(r.headers)])).toEqual([['HEAD', false], ['GET', false]])
    } finally {
      proxy.setHeaders(undefined)
    }
  })

  test('a store that refuses x-amz-checksum-mode (501 NotImplemented) is asked again without it, and then never with it', async () => {
    const { provider, bucket } = await throughProxy()
    const signal = AbortSignal.timeout(30_000)
    await provider.write('r.bin', Buffer.from('123456789'), signal)
    proxy.setRule(({ headers }) => asked(headers) ? { status: 501, code: 'NotImplemented' } : undefined)
    const mark = proxy.requests.length
    try {
      expect((await provider.stat('r.bin', signal)).size).toBe(9)
      const whole = await provider.read('r.bin', { signal })
      expect(Buffer.concat(await whole.body.toArray() as Buffer[]).toString()).toBe('123456789')
      expect(proxy.requests.slice(mark).filter((r) => r.path === `/${bucket}/r.bin`).map((r) => [r.method, asked(r.headers), r.status]))
        .toEqual([['HEAD', true, 501], ['HEAD', false, 200], ['GET', false, 200]])
    } finally {
      proxy.setRule(undefined)
    }
  })
})
