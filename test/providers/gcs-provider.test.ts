import { createHash } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { Storage } from '@google-cloud/storage'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  AccessDeniedError, ChecksumMismatchError, EndpointUnreachableError, MissingCredentialsError, NoSuchBucketError, NotFoundError, SourceChangedError,
} from '../../src/errors.js'
import { digestFromEtag } from '../../src/engine/integrity.js'
import { classify } from '../../src/engine/retry.js'
import { emulatorEndpoint, gcsEtag, GcsProvider } from '../../src/providers/gcs/gcs-provider.js'
import type { RetryCalls } from '../../src/providers/provider.js'
import { startGcsEmulator, type TestGcs } from '../../scripts/support/gcs-emulator.js'
import { crc32c } from '../../scripts/support/gcs-server.js'
import { providerConformance } from './conformance.js'

// The store is soaker's own GCS JSON API server (scripts/support/gcs-server.ts: in this process,
// on a free loopback port, objects in memory), spoken to through the real @google-cloud/storage
// client with STORAGE_EMULATOR_HOST. It implements what that client calls for soaker and for
// seeding, as GCS answers it; it does no authentication and no resumable uploads. firebase-tools'
// storage emulator was measured and not taken: 625 packages, 242 MB, and re2's install script,
// which downloads a binary from GitHub or compiles one.
let gcs: TestGcs
beforeAll(async () => { gcs = await startGcsEmulator() })
afterAll(async () => { await gcs?.stop() })

const signal = new AbortController().signal
setMaxListeners(0, signal)
let buckets = 0
const bucketName = (): string => `t-${Date.now().toString(36)}-${++buckets}`
const env = (): NodeJS.ProcessEnv => ({ STORAGE_EMULATOR_HOST: gcs.host })
const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex')

/** A provider over a new, empty bucket, and a client of its own for setting up. */
function fresh(options: { pageSize?: number; retry?: RetryCalls } = {}): { provider: GcsProvider; name: string; storage: Storage } {
  const name = bucketName()
  gcs.createBucket(name)
  const storage = new Storage({ apiEndpoint: gcs.host, projectId: 'test', retryOptions: { autoRetry: false } })
  return { provider: GcsProvider.create({ bucket: name, env: env(), ...options }), name, storage }
}

providerConformance('gcs', async () => ({
  provider: fresh().provider,
  missing: GcsProvider.create({ bucket: 'no-such-bucket', env: env() }),
}))

const read = async (p: GcsProvider, key: string, range?: { start: number; end: number }, ifMatch?: string): Promise<string> =>
  text((await p.read(key, { range, ifMatch, signal })).body)

describe('gcs provider', () => {
  test('list asks for one page at a time, in key order, past a page of 7', async () => {
    let wrapped = 0
    const { provider, name } = fresh({ pageSize: 7, retry: (fn) => { wrapped++; return fn(undefined) } })
    const keys = Array.from({ length: 20 }, (_, i) => `k/${String(i).padStart(2, '0')}`)
    await Promise.all(keys.map((k) => provider.write(k, Buffer.from(k), signal)))
    const seen = gcs.requests.length
    const listed: string[] = []
    for await (const o of provider.list('k/', signal)) listed.push(o.key)
    expect(listed).toEqual(keys)
    expect(wrapped).toBe(3)
    const pages = gcs.requests.slice(seen).filter((r) => r.path === `/b/${name}/o`)
    expect(pages.map((r) => [r.query.get('maxResults'), r.query.get('prefix'), r.query.has('pageToken')])).toEqual([
      ['7', 'k/', false], ['7', 'k/', true], ['7', 'k/', true],
    ])
  })

  test('a ranged read asks GCS for exactly that range and returns exactly those bytes', async () => {
    const { provider } = fresh()
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251))
    await provider.write('big', data, signal)
    const seen = gcs.requests.length
    const r = await provider.read('big', { range: { start: 990, end: 999 }, signal })
    expect(Buffer.compare(Buffer.from(await r.body.toArray().then((c) => Buffer.concat(c))), data.subarray(990))).toBe(0)
    expect(r.details.size).toBe(10)
    expect(gcs.requests.slice(seen).map((q) => q.range)).toEqual(['bytes=990-999'])
    const middle = await provider.read('big', { range: { start: 100, end: 355 }, signal })
    expect(md5(Buffer.concat(await middle.body.toArray()))).toBe(md5(data.subarray(100, 356)))
  })

  test('an empty object reads as no bytes', async () => {
    const { provider } = fresh()
    await provider.write('empty', Buffer.alloc(0), signal)
    expect(await read(provider, 'empty')).toBe('')
    expect((await provider.stat('empty', signal)).size).toBe(0)
  })

  test('the ETag is the MD5 as hex, the same in list, stat and read (ranged too), and verifiable', async () => {
    const { provider } = fresh()
    const body = Buffer.from('etag body')
    await provider.write('e', body, signal)
    const st = await provider.stat('e', signal)
    expect(st.etag).toBe(md5(body))
    expect(digestFromEtag(st.etag, st.encrypted, provider.capabilities.etagDigest)).toEqual({ kind: 'md5', md5: md5(body) })
    const listed: Array<string | undefined> = []
    for await (const o of provider.list('e', signal)) listed.push(o.etag)
    expect(listed).toEqual([md5(body)])
    expect((await provider.read('e', { signal })).details.etag).toBe(md5(body))
    expect((await provider.read('e', { range: { start: 0, end: 1 }, signal })).details.etag).toBe(md5(body))
  })

  test('a composite object has no MD5: its ETag is g<generation>, promises nothing, and still guards reads', async () => {
    const { provider, name, storage } = fresh()
    await provider.write('c/1', Buffer.from('first '), signal)
    await provider.write('c/2', Buffer.from('second'), signal)
    await storage.bucket(name).combine(['c/1', 'c/2'], 'combined')
    const [md] = await storage.bucket(name).file('combined').getMetadata()
    expect(md.md5Hash).toBeUndefined()
    const st = await provider.stat('combined', signal)
    expect(st.etag).toBe(`g${md.generation}`)
    expect(digestFromEtag(st.etag, st.encrypted, provider.capabilities.etagDigest)).toEqual({ kind: 'none' })
    expect(await read(provider, 'combined', undefined, st.etag)).toBe('first second')
    await storage.bucket(name).combine(['c/2', 'c/1'], 'combined')
    await expect(provider.read('combined', { ifMatch: st.etag, signal })).rejects.toBeInstanceOf(SourceChangedError)
  })

  test('a composite object\'s crc32c is the CRC it is verified by, from a stat and a whole read (not a range\'s); an object with an MD5 gives none', async () => {
    const { provider, name, storage } = fresh()
    await provider.write('c/1', Buffer.from('1234'), signal)
    await provider.write('c/2', Buffer.from('56789'), signal)
    await storage.bucket(name).combine(['c/1', 'c/2'], 'combined')
    const crc = { algorithm: 'crc32c', hex: 'e3069283', source: 'crc32c' } // CRC32C of "123456789"
    expect((await provider.stat('combined', signal)).crc).toEqual(crc)
    const whole = await provider.read('combined', { signal })
    expect(await text(whole.body)).toBe('123456789')
    expect(whole.details.crc).toEqual(crc)
    const ranged = await provider.read('combined', { range: { start: 0, end: 3 }, signal })
    expect(await text(ranged.body)).toBe('1234')
    expect(ranged.details.crc).toBeUndefined()
    expect((await provider.stat('c/1', signal)).crc).toBeUndefined()
    const plain = await provider.read('c/1', { signal })
    expect(await text(plain.body)).toBe('1234')
    expect(plain.details.crc).toBeUndefined()
    const without = GcsProvider.create({ bucket: name, env: env(), crcs: false })
    expect((await without.stat('combined', signal)).crc).toBeUndefined()
    const unasked = await without.read('combined', { signal })
    expect(await text(unasked.body)).toBe('123456789')
    expect(unasked.details.crc).toBeUndefined()
    without.close()
  })

  test('read with the current ETag succeeds; after an overwrite the old ETag gives SourceChangedError', async () => {
    const { provider, name } = fresh()
    await provider.write('v', Buffer.from('one'), signal)
    const { etag } = await provider.stat('v', signal)
    expect(await read(provider, 'v', undefined, etag)).toBe('one')
    await provider.write('v', Buffer.from('two'), signal)
    const err = await provider.read('v', { ifMatch: etag, signal }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SourceChangedError)
    expect((err as Error).message).toBe(`gs://${name}/v changed while it was being copied (its ETag is ${md5('two')}, was ${md5('one')})`)
    await expect(provider.read('v', { range: { start: 0, end: 1 }, ifMatch: etag, signal })).rejects.toBeInstanceOf(SourceChangedError)
  })

  test('stat and read give the user metadata with lower-case keys', async () => {
    const { provider, name, storage } = fresh()
    await storage.bucket(name).file('m').save(Buffer.from('with metadata'), { resumable: false, metadata: { metadata: { Mtime: '1700000000.5', mode: '644' } } })
    expect((await provider.stat('m', signal)).metadata).toEqual({ mtime: '1700000000.5', mode: '644' })
    expect((await provider.read('m', { signal })).details.metadata).toEqual({ mtime: '1700000000.5', mode: '644' })
  })

  test('stat and read of a missing key name the object', async () => {
    const { provider, name } = fresh()
    for (const p of [provider.stat('absent/k', signal), provider.read('absent/k', { signal }), provider.read('absent/k', { range: { start: 0, end: 3 }, signal })]) {
      const err = await p.catch((e: unknown) => e)
      expect(err).toBeInstanceOf(NotFoundError)
      expect((err as Error).message).toBe(`No object at gs://${name}/absent/k`)
    }
  })

  test('stat and read of a key in a missing bucket reject with the bucket error, not NotFoundError', async () => {
    const provider = GcsProvider.create({ bucket: 'gone-bucket', env: env() })
    for (const p of [provider.stat('k', signal), provider.read('k', { signal })]) {
      const err = await p.catch((e: unknown) => e)
      expect(err).toBeInstanceOf(NoSuchBucketError)
      expect(err).not.toBeInstanceOf(NotFoundError)
    }
  })

  test('check of a missing bucket rejects with NoSuchBucketError naming it and the endpoint', async () => {
    const err = await GcsProvider.create({ bucket: 'absent-bucket', env: env() }).check(signal).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NoSuchBucketError)
    expect((err as Error).message).toBe(`Bucket \`absent-bucket\` does not exist at ${gcs.host}`)
  })

  test('STORAGE_EMULATOR_HOST of the env given wins over the process environment, and may omit http://', async () => {
    const { name } = fresh()
    const before = process.env.STORAGE_EMULATOR_HOST
    process.env.STORAGE_EMULATOR_HOST = 'http://127.0.0.1:1' // the client reads it when constructed
    let provider: GcsProvider
    try {
      provider = GcsProvider.create({ bucket: name, env: { STORAGE_EMULATOR_HOST: gcs.host.replace('http://', '') } })
    } finally {
      if (before === undefined) delete process.env.STORAGE_EMULATOR_HOST
      else process.env.STORAGE_EMULATOR_HOST = before
    }
    expect(provider.endpoint).toBe(gcs.host)
    await expect(provider.check(signal)).resolves.toBeUndefined()
    expect(emulatorEndpoint('https://gcs.example:4443/')).toBe('https://gcs.example:4443')
  })

  test('check of a port where nothing listens rejects with EndpointUnreachableError at once', async () => {
    const port = await closedPort()
    const started = Date.now()
    const err = await GcsProvider.create({ bucket: 'box', env: { STORAGE_EMULATOR_HOST: `http://127.0.0.1:${port}` } }).check(signal).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(EndpointUnreachableError)
    expect((err as Error).message).toBe(`Cannot reach http://127.0.0.1:${port} (ECONNREFUSED): check STORAGE_EMULATOR_HOST if set, and the network`)
    expect(Date.now() - started).toBeLessThan(5_000) // the client's own retries are off
  })

  test('check of a web server that is not GCS rejects with EndpointUnreachableError, not a missing bucket', async () => {
    await withServer((_, res) => { res.statusCode = 404; res.end('<html>not here</html>') }, async (host) => {
      const err = await GcsProvider.create({ bucket: 'box', env: { STORAGE_EMULATOR_HOST: host } }).check(signal).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(EndpointUnreachableError)
      expect((err as Error).message).toMatch(/answered HTTP 404 without a Google Cloud Storage JSON API error/)
    })
  })

  test('an anonymous 401 is missing credentials; a 403 is access denied with GCS\'s reason', async () => {
    let status = 401
    await withServer((_, res) => gcsError(res, status, status === 401 ? 'required' : 'forbidden',
      status === 401 ? 'Anonymous caller does not have storage.objects.list access to the Google Cloud Storage bucket.' : 'sa@p.iam.gserviceaccount.com does not have storage.objects.get access.'), async (host) => {
      const provider = GcsProvider.create({ bucket: 'box', env: { STORAGE_EMULATOR_HOST: host } })
      const anonymous = await provider.check(signal).catch((e: unknown) => e)
      expect(anonymous).toBeInstanceOf(MissingCredentialsError)
      expect((anonymous as Error).message).toMatch(/^No Google Cloud credentials for gs:\/\/box \(GCS says: Anonymous caller .*\): set GOOGLE_APPLICATION_CREDENTIALS/)
      status = 403
      const denied = await provider.read('k', { signal }).catch((e: unknown) => e)
      expect(denied).toBeInstanceOf(AccessDeniedError)
      expect((denied as Error).message).toBe('Access denied to gs://box/k (HTTP 403 forbidden): sa@p.iam.gserviceaccount.com does not have storage.objects.get access.')
    })
  })

  test('a 503 is retried and a 429 throttled by soaker\'s policy; the client itself sends each request once', async () => {
    let requests = 0
    let status = 503
    await withServer((_, res) => { requests++; gcsError(res, status, status === 503 ? 'backendError' : 'rateLimitExceeded', 'try later') }, async (host) => {
      const provider = GcsProvider.create({ bucket: 'box', env: { STORAGE_EMULATOR_HOST: host } })
      const unavailable = await provider.stat('k', signal).catch((e: unknown) => e)
      expect(classify(unavailable)).toBe('retry')
      expect((unavailable as Error).message).toBe('GCS answered HTTP 503 (backendError) for gs://box/k: try later')
      status = 429
      const listing = provider.list('', signal)[Symbol.asyncIterator]()
      expect(classify(await listing.next().catch((e: unknown) => e))).toBe('throttle')
      expect(classify(await provider.read('k', { range: { start: 0, end: 9 }, signal }).catch((e: unknown) => e))).toBe('throttle')
      expect(requests).toBe(3)
    })
  })

  test('a key file that cannot be read is missing credentials, before any request', async () => {
    const provider = GcsProvider.create({ bucket: 'box', env: {}, credentialsFile: '/nonexistent/soaker-key.json' })
    const err = await provider.check(signal).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MissingCredentialsError)
    expect((err as Error).message).toBe('Cannot read the Google Cloud credentials file /nonexistent/soaker-key.json (ENOENT)')
  })

  test('a body destroyed mid-read closes its own connection and leaves another read in flight whole', async () => {
    const { provider } = fresh()
    const data = Buffer.alloc(16 * 1024 * 1024, 7)
    await provider.write('big', data, signal)
    const idle = await gcs.connections()
    const kept = await provider.read('big', { signal })
    for (let i = 0; i < 3; i++) {
      const dropped = await provider.read('big', { signal })
      await new Promise<void>((resolve) => dropped.body.once('data', () => { dropped.body.destroy(); resolve() }))
    }
    const aborting = new AbortController()
    const aborted = await provider.read('big', { signal: aborting.signal })
    aborted.body.on('error', () => undefined)
    aborting.abort()
    const got = Buffer.concat(await kept.body.toArray())
    expect(got.length).toBe(data.length)
    expect(md5(got)).toBe(md5(data))
    await new Promise((r) => setTimeout(r, 100))
    expect(await gcs.connections()).toBeLessThanOrEqual(idle + 1) // the kept read's, idle in the pool
    provider.close()
  })

  test('an aborted read or stat rejects without waiting', async () => {
    const { provider } = fresh()
    await provider.write('a', Buffer.from('abc'), signal)
    await expect(provider.read('a', { signal: AbortSignal.abort() })).rejects.toThrow()
    await expect(provider.stat('a', AbortSignal.abort())).rejects.toThrow()
  })

  test('gcsEtag: hex of a 16-byte md5Hash, else g<generation>', () => {
    expect(gcsEtag('XrY7u+Ae7tCTyyK7j1rNww==', '5')).toBe('5eb63bbbe01eeed093cb22bb8f5acdc3')
    expect(gcsEtag(undefined, '1700000000000001')).toBe('g1700000000000001')
    expect(gcsEtag('bm90LWFuLW1kNQ==', 7)).toBe('g7')
    expect(gcsEtag(undefined, undefined)).toBeUndefined()
  })

  test('the test server\'s CRC32C is Castagnoli\'s, big-endian', () => {
    expect(Buffer.from(crc32c(Buffer.from('123456789')), 'base64').toString('hex')).toBe('e3069283')
  })
})

function gcsError(res: Parameters<RequestListener>[1], status: number, reason: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' })
  res.end(JSON.stringify({ error: { code: status, message, errors: [{ message, domain: 'global', reason }] } }))
}

async function listen(server: Server): Promise<Server> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return server
}

async function withServer(handler: RequestListener, fn: (host: string) => Promise<void>): Promise<void> {
  const server = await listen(createServer(handler))
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
  } finally {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  }
}

/** A loopback port that was free a moment ago and has nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = await listen(createServer())
  const { port } = server.address() as AddressInfo
  await new Promise((r) => server.close(r))
  return port
}

describe('gcs provider writes', () => {
  const part = (n: number, size = 16): Buffer => Buffer.alloc(size, n % 251)
  /** Names of the objects of `bucket` on the server, sorted. */
  const names = (bucket: string): string[] => [...gcs.buckets.get(bucket)!.keys()].sort()
  const composes = (from: number): Array<{ path: string }> => gcs.requests.slice(from).filter((r) => r.method === 'POST' && r.path.endsWith('/compose'))

  test('put stores the bytes with metadata, content type and a checked MD5, and returns the MD5 as the ETag', async () => {
    const { provider, name } = fresh()
    const body = Buffer.from('put body')
    const checksum = { algorithm: 'md5' as const, value: createHash('md5').update(body).digest('base64') }
    const etag = await provider.put('dir/p.txt', body, { size: body.length, checksum, metadata: { mtime: '1700000000.5', mode: '0640' }, contentType: 'text/x-soaker', signal })
    expect(etag).toBe(md5(body))
    const stored = gcs.buckets.get(name)!.get('dir/p.txt')!
    expect(stored.data.equals(body)).toBe(true)
    expect(stored.metadata).toEqual({ mtime: '1700000000.5', mode: '0640' })
    expect(stored.contentType).toBe('text/x-soaker')
    const st = await provider.stat('dir/p.txt', signal)
    expect([st.etag, st.contentType, st.metadata]).toEqual([md5(body), 'text/x-soaker', { mtime: '1700000000.5', mode: '0640' }])
  })

  test('put streams a body of known length, and a body whose MD5 GCS refuses is a ChecksumMismatchError naming the object', async () => {
    const { provider, name } = fresh()
    const data = Buffer.alloc(3 * 1024 * 1024 + 5, 9)
    expect(await provider.put('s.bin', Readable.from([data.subarray(0, 1000), data.subarray(1000)]), { size: data.length, signal })).toBe(md5(data))
    expect(gcs.buckets.get(name)!.get('s.bin')!.data.equals(data)).toBe(true)
    const wrong = { algorithm: 'md5' as const, value: createHash('md5').update('other').digest('base64') }
    const err = await provider.put('bad.bin', Buffer.from('body'), { size: 4, checksum: wrong, signal }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ChecksumMismatchError)
    expect((err as Error).message).toMatch(new RegExp(`^GCS refused the bytes sent for gs://${name}/bad\\.bin: Provided MD5 hash`))
    expect(names(name)).toEqual(['s.bin'])
  })

  test('a part is a temporary named by upload and part number; listParts after a crash gives each part\'s size and MD5, not the marker', async () => {
    const { provider, name } = fresh()
    const id = await provider.multipart.create('k/big.bin', { metadata: { mtime: '1700000000' }, contentType: 'text/x-soaker', signal })
    expect(id).toMatch(/^[0-9a-f]{16}$/)
    expect(await provider.multipart.listParts('k/big.bin', id, signal)).toEqual([])
    const checksum = { algorithm: 'md5' as const, value: createHash('md5').update(part(3, 100)).digest('base64') }
    expect(await provider.multipart.uploadPart('k/big.bin', id, 3, part(3, 100), { size: 100, checksum, signal })).toBe(md5(part(3, 100)))
    await provider.multipart.uploadPart('k/big.bin', id, 1, part(1, 200), { size: 200, signal })
    expect(names(name)).toEqual([`k/big.bin.soaker-upload/${id}/00001`, `k/big.bin.soaker-upload/${id}/00003`, `k/big.bin.soaker-upload/${id}/upload`])
    // Another run, another provider: what the bucket holds is all it knows.
    const again = GcsProvider.create({ bucket: name, env: env() })
    expect(await again.multipart.listParts('k/big.bin', id, signal)).toEqual([
      { partNumber: 1, size: 200, etag: md5(part(1, 200)) }, { partNumber: 3, size: 100, etag: md5(part(3, 100)) },
    ])
    const unknown = await again.multipart.listParts('k/big.bin', 'feedfacefeedface', signal).catch((e: unknown) => e)
    expect(unknown).toBeInstanceOf(NotFoundError)
    expect((unknown as Error).message).toBe(`No upload feedfacefeedface of gs://${name}/k/big.bin: it was completed or aborted, or its temporaries were deleted`)
    const wrong = { algorithm: 'md5' as const, value: createHash('md5').update('x').digest('base64') }
    await expect(again.multipart.uploadPart('k/big.bin', id, 2, part(2), { size: 16, checksum: wrong, signal })).rejects.toBeInstanceOf(ChecksumMismatchError)
  })

  test('complete of 1,025 parts composes in three rounds of at most 32, gives the object its metadata and content type, and deletes every temporary', async () => {
    const { provider, name } = fresh()
    const count = 1_025
    const id = await provider.multipart.create('many.bin', { signal })
    const etags: string[] = []
    for (let i = 0; i < count; i += 64) {
      const batch = Array.from({ length: Math.min(64, count - i) }, (_, j) => i + j + 1)
      etags.push(...await Promise.all(batch.map((n) => provider.multipart.uploadPart('many.bin', id, n, part(n), { size: 16, signal }))))
    }
    const from = gcs.requests.length
    const parts = etags.map((etag, i) => ({ partNumber: i + 1, etag }))
    const etag = await provider.multipart.complete('many.bin', id, parts, signal, { metadata: { mtime: '1700000000.25', mode: '0600' }, contentType: 'text/x-many' })
    // 1,025 parts: 33 composites of up to 32 parts, then 2 of those, then the object.
    expect(composes(from)).toHaveLength(33 + 2 + 1)
    expect(composes(from).at(-1)!.path).toBe(`/b/${name}/o/many.bin/compose`)
    const stored = gcs.buckets.get(name)!.get('many.bin')!
    expect(stored.data.equals(Buffer.concat(Array.from({ length: count }, (_, i) => part(i + 1))))).toBe(true)
    expect([stored.componentCount, stored.md5Hash, stored.contentType, stored.metadata]).toEqual([count, undefined, 'text/x-many', { mtime: '1700000000.25', mode: '0600' }])
    expect(etag).toBe(`g${stored.generation}`)
    expect(names(name)).toEqual(['many.bin'])
    await expect(provider.multipart.listParts('many.bin', id, signal)).rejects.toBeInstanceOf(NotFoundError)
  })

  test('complete refuses a part held with another MD5 (ChecksumMismatchError) or gone (NotFoundError), and keeps the upload', async () => {
    const { provider, name } = fresh()
    const id = await provider.multipart.create('c.bin', { signal })
    const first = await provider.multipart.uploadPart('c.bin', id, 1, part(1), { size: 16, signal })
    const second = await provider.multipart.uploadPart('c.bin', id, 2, part(2), { size: 16, signal })
    const mismatch = await provider.multipart.complete('c.bin', id, [{ partNumber: 1, etag: first }, { partNumber: 2, etag: first }], signal).catch((e: unknown) => e)
    expect(mismatch).toBeInstanceOf(ChecksumMismatchError)
    expect((mismatch as Error).message).toBe(`Part 2 of the upload ${id} of gs://${name}/c.bin has MD5 ${second}, expected ${first}`)
    gcs.buckets.get(name)!.delete(`c.bin.soaker-upload/${id}/00002`)
    const gone = await provider.multipart.complete('c.bin', id, [{ partNumber: 1, etag: first }, { partNumber: 2, etag: second }], signal).catch((e: unknown) => e)
    expect(gone).toBeInstanceOf(NotFoundError)
    expect((gone as Error).message).toBe(`Part 2 of the upload ${id} of gs://${name}/c.bin is gone from the bucket`)
    expect(names(name)).toEqual([`c.bin.soaker-upload/${id}/00001`, `c.bin.soaker-upload/${id}/upload`])
    const missingBucket = GcsProvider.create({ bucket: 'no-such-bucket', env: env() })
    await expect(missingBucket.multipart.listParts('c.bin', id, signal)).rejects.toBeInstanceOf(NoSuchBucketError)
  })

  test('complete without metadata takes what create was given; a retry after the parts were composed finds the upload gone', async () => {
    const { provider, name } = fresh()
    const id = await provider.multipart.create('m.bin', { metadata: { Mtime: '1700000001', mode: '0644' }, contentType: 'text/x-created', signal })
    const etag = await provider.multipart.uploadPart('m.bin', id, 1, part(1), { size: 16, signal })
    await provider.multipart.complete('m.bin', id, [{ partNumber: 1, etag }], signal)
    const stored = gcs.buckets.get(name)!.get('m.bin')!
    expect([stored.contentType, stored.metadata]).toEqual(['text/x-created', { mtime: '1700000001', mode: '0644' }])
    await expect(provider.multipart.complete('m.bin', id, [{ partNumber: 1, etag }], signal)).rejects.toBeInstanceOf(NotFoundError)
  })

  test('abort deletes the parts, the composites of a complete cut short and the marker; aborting again is not an error', async () => {
    const { provider, name } = fresh()
    await provider.write('keep.bin', Buffer.from('not an upload\'s'), signal)
    const id = await provider.multipart.create('a.bin', { signal })
    for (let n = 1; n <= 3; n++) await provider.multipart.uploadPart('a.bin', id, n, part(n), { size: 16, signal })
    // What a complete killed between its rounds leaves behind.
    gcs.buckets.get(name)!.set(`a.bin.soaker-upload/${id}/c1-00001`, { ...gcs.buckets.get(name)!.get(`a.bin.soaker-upload/${id}/00001`)! })
    await provider.multipart.abort('a.bin', id, signal)
    expect(names(name)).toEqual(['keep.bin'])
    await expect(provider.multipart.listParts('a.bin', id, signal)).rejects.toBeInstanceOf(NotFoundError)
    await expect(provider.multipart.abort('a.bin', id, signal)).resolves.toBeUndefined()
  })

  test('copyObject is a rewrite GCS makes, pinned to the source\'s generation, with its metadata; a changed or missing source is named', async () => {
    const { provider, name } = fresh()
    const other = fresh()
    const data = Buffer.from('copied by the store')
    await provider.put('src.txt', data, { size: data.length, metadata: { owner: 'ann' }, contentType: 'text/x-src', signal })
    const { etag } = await provider.stat('src.txt', signal)
    const from = gcs.requests.length
    expect(await other.provider.copyObject('dst.txt', { bucket: name, key: 'src.txt', ifMatch: etag }, signal)).toBe(md5(data))
    const generation = gcs.buckets.get(name)!.get('src.txt')!.generation
    const rewrites = gcs.requests.slice(from).filter((r) => r.path.includes('/rewriteTo/'))
    expect(rewrites.map((r) => [r.path, r.query.get('ifSourceGenerationMatch')])).toEqual([[`/b/${name}/o/src.txt/rewriteTo/b/${other.name}/o/dst.txt`, generation]])
    expect(gcs.requests.slice(from).filter((r) => r.query.get('alt') === 'media' || r.path.startsWith('/upload'))).toEqual([])
    const copy = gcs.buckets.get(other.name)!.get('dst.txt')!
    expect([copy.data.equals(data), copy.contentType, copy.metadata]).toEqual([true, 'text/x-src', { owner: 'ann' }])

    await provider.put('src.txt', Buffer.from('changed'), { size: 7, signal })
    const changed = await other.provider.copyObject('dst2.txt', { bucket: name, key: 'src.txt', ifMatch: etag }, signal).catch((e: unknown) => e)
    expect(changed).toBeInstanceOf(SourceChangedError)
    expect((changed as Error).message).toBe(`gs://${name}/src.txt changed before it was copied (its ETag is ${md5('changed')}, was ${etag})`)
    // Pinned by a g<generation> ETag: GCS's own precondition refuses the copy.
    const stale = await other.provider.copyObject('dst2.txt', { bucket: name, key: 'src.txt', ifMatch: `g${generation}` }, signal).catch((e: unknown) => e)
    expect(stale).toBeInstanceOf(SourceChangedError)
    expect((stale as Error).message).toBe(`gs://${name}/src.txt changed while it was being copied (its ETag is no longer g${generation})`)
    const missing = await other.provider.copyObject('dst3.txt', { bucket: name, key: 'absent.txt' }, signal).catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(NotFoundError)
    expect((missing as Error).message).toBe(`No object at gs://${name}/absent.txt`)
    expect([...gcs.buckets.get(other.name)!.keys()]).toEqual(['dst.txt'])
  })

  test('copyObject calls the rewrite again with its rewriteToken until GCS says done', async () => {
    const slow = await startGcsEmulator({ rewriteBytesPerCall: 1024 * 1024 })
    try {
      slow.createBucket('rw-src')
      slow.createBucket('rw-dst')
      const source = GcsProvider.create({ bucket: 'rw-src', env: { STORAGE_EMULATOR_HOST: slow.host } })
      const dest = GcsProvider.create({ bucket: 'rw-dst', env: { STORAGE_EMULATOR_HOST: slow.host } })
      const data = Buffer.alloc(2 * 1024 * 1024 + 10, 4)
      await source.put('big.bin', data, { size: data.length, signal })
      expect(await dest.copyObject('big.bin', { bucket: 'rw-src', key: 'big.bin', ifMatch: md5(data) }, signal)).toBe(md5(data))
      const rewrites = slow.requests.filter((r) => r.path.includes('/rewriteTo/'))
      expect(rewrites.map((r) => r.query.has('rewriteToken'))).toEqual([false, true, true])
      expect(slow.buckets.get('rw-dst')!.get('big.bin')!.data.equals(data)).toBe(true)
      source.close()
      dest.close()
    } finally {
      await slow.stop()
    }
  })
})
