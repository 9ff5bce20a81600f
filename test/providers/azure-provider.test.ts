import { createHash } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { text } from 'node:stream/consumers'
import { ContainerClient } from '@azure/storage-blob'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { AccessDeniedError, EndpointUnreachableError, NoSuchBucketError, NotFoundError, SourceChangedError } from '../../src/errors.js'
import { digestFromEtag } from '../../src/engine/integrity.js'
import { AzureProvider } from '../../src/providers/azure/azure-provider.js'
import type { RetryCalls } from '../../src/providers/provider.js'
import { startAzurite, type TestAzurite } from '../../scripts/support/azurite.js'
import { providerConformance } from './conformance.js'

// The store is Azurite's blob service from npm (started here, on a free loopback port, data in a
// temp directory), spoken to through the real @azure/storage-blob client. Azurite is lax where
// real Azure is not in one way that matters here: it sets Content-MD5 on every upload.
let azurite: TestAzurite
beforeAll(async () => { azurite = await startAzurite() })
afterAll(async () => { await azurite?.stop() })

const signal = new AbortController().signal
setMaxListeners(0, signal)
let containers = 0
const containerName = (): string => `t${Date.now().toString(36)}-${++containers}`

/** A provider over a new, empty container, and a client of its own on that container for setting up. */
async function fresh(options: { pageSize?: number; retry?: RetryCalls } = {}): Promise<{ provider: AzureProvider; name: string; container: ContainerClient }> {
  const name = containerName()
  const container = new ContainerClient(azurite.connectionString, name)
  await container.create()
  return { provider: AzureProvider.fromConnectionString(azurite.connectionString, name, options), name, container }
}

providerConformance('azure', async () => ({
  provider: (await fresh()).provider,
  missing: AzureProvider.fromConnectionString(azurite.connectionString, 'no-such-container'),
}))

const read = async (p: AzureProvider, key: string, range?: { start: number; end: number }, ifMatch?: string): Promise<string> =>
  text((await p.read(key, { range, ifMatch, signal })).body)

describe('azure provider', () => {
  test('list asks for one page at a time, in key order, past a page of 7', async () => {
    let requests = 0
    const { provider } = await fresh({ pageSize: 7, retry: (fn) => { requests++; return fn(undefined) } })
    const keys = Array.from({ length: 20 }, (_, i) => `k/${String(i).padStart(2, '0')}`)
    await Promise.all(keys.map((k) => provider.write(k, Buffer.from(k), signal)))
    const listed: string[] = []
    for await (const o of provider.list('k/', signal)) listed.push(o.key)
    expect(listed).toEqual(keys)
    expect(requests).toBe(3)
  })

  test('a ranged read of the last bytes returns exactly them, and details give the range length', async () => {
    const { provider } = await fresh()
    const data = Buffer.from(Array.from({ length: 100 }, (_, i) => `${i % 10}`).join(''))
    await provider.write('big', data, signal)
    const r = await provider.read('big', { range: { start: 90, end: 99 }, signal })
    expect(await text(r.body)).toBe(data.subarray(90).toString())
    expect(r.details.size).toBe(10)
  })

  test('an empty blob reads as no bytes', async () => {
    const { provider } = await fresh()
    await provider.write('empty', Buffer.alloc(0), signal)
    expect(await read(provider, 'empty')).toBe('')
    expect((await provider.stat('empty', signal)).size).toBe(0)
  })

  test('read with the current ETag succeeds; after an overwrite the old ETag gives SourceChangedError', async () => {
    const { provider } = await fresh()
    await provider.write('v', Buffer.from('one'), signal)
    const { etag } = await provider.stat('v', signal)
    expect(await read(provider, 'v', undefined, etag)).toBe('one')
    await provider.write('v', Buffer.from('two'), signal)
    const err = await provider.read('v', { ifMatch: etag, signal }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SourceChangedError)
    expect((err as Error).message).toMatch(/az:\/\/.+\/v changed/)
    await expect(provider.read('v', { range: { start: 0, end: 1 }, ifMatch: etag, signal })).rejects.toBeInstanceOf(SourceChangedError)
  })

  test('the ETag is a version stamp without quotes, the same in list, stat and read, and never taken for an MD5', async () => {
    const { provider } = await fresh()
    await provider.write('e', Buffer.from('etag'), signal)
    const st = await provider.stat('e', signal)
    expect(st.etag).toMatch(/^0x[0-9A-F]+$/)
    expect(st.encrypted).toBe(false)
    expect(digestFromEtag(st.etag, st.encrypted)).toEqual({ kind: 'none' })
    const listed: Array<string | undefined> = []
    for await (const o of provider.list('e', signal)) listed.push(o.etag)
    expect(listed).toEqual([st.etag])
    expect((await provider.read('e', { signal })).details.etag).toBe(st.etag)
  })

  test('stat and read give metadata with lower-case keys, and the blob\'s Content-MD5 as hex, ranged reads too', async () => {
    const { provider, container } = await fresh()
    const body = Buffer.from('with metadata')
    const md5 = createHash('md5').update(body).digest('hex')
    await container.getBlockBlobClient('m').uploadData(body, { metadata: { Mtime: '1700000000.5', mode: '644' } })
    const st = await provider.stat('m', signal)
    expect(st.metadata).toEqual({ mtime: '1700000000.5', mode: '644' })
    expect(st.contentMd5).toBe(md5)
    const whole = await provider.read('m', { signal })
    whole.body.resume()
    expect(whole.details).toMatchObject({ metadata: { mtime: '1700000000.5', mode: '644' }, contentMd5: md5 })
    // A range's response carries the whole blob's MD5 (x-ms-blob-content-md5), never the range's.
    const ranged = await provider.read('m', { signal, range: { start: 0, end: 3 } })
    ranged.body.resume()
    expect(ranged.details.contentMd5).toBe(md5)
  })

  test('copyObject: Azure copies a blob of another container with its metadata; a changed source gives SourceChangedError, a missing one NotFoundError', async () => {
    const src = await fresh()
    const dst = await fresh()
    await src.container.getBlockBlobClient('a/b c.txt').uploadData(Buffer.from('copied by Azure'), { metadata: { owner: 'ann' } })
    const etag = (await src.provider.stat('a/b c.txt', signal)).etag!
    expect(await dst.provider.copyObject('x/y.txt', { bucket: src.name, key: 'a/b c.txt', ifMatch: etag }, signal)).toBeUndefined()
    expect(await read(dst.provider, 'x/y.txt')).toBe('copied by Azure')
    expect((await dst.provider.stat('x/y.txt', signal)).metadata).toMatchObject({ owner: 'ann' })
    await src.container.getBlockBlobClient('a/b c.txt').uploadData(Buffer.from('changed'))
    const changed = await dst.provider.copyObject('x/z.txt', { bucket: src.name, key: 'a/b c.txt', ifMatch: etag }, signal).catch((e: unknown) => e)
    expect(changed).toBeInstanceOf(SourceChangedError)
    const missing = await dst.provider.copyObject('x/w.txt', { bucket: src.name, key: 'absent.txt' }, signal).catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(NotFoundError)
    expect((missing as Error).message).toContain('absent.txt')
  })

  test('stat and read of a key in a missing container reject with the container error, not NotFoundError', async () => {
    const provider = AzureProvider.fromConnectionString(azurite.connectionString, 'gone-container')
    for (const p of [provider.stat('k', signal), provider.read('k', { signal })]) {
      const err = await p.catch((e: unknown) => e)
      expect(err).toBeInstanceOf(NoSuchBucketError)
      expect(err).not.toBeInstanceOf(NotFoundError)
    }
  })

  test('check of a missing container rejects with NoSuchBucketError naming it and the endpoint', async () => {
    const provider = AzureProvider.fromConnectionString(azurite.connectionString, 'absent-box')
    const err = await provider.check(signal).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NoSuchBucketError)
    expect((err as Error).message).toBe(`Container \`absent-box\` does not exist at ${azurite.blobEndpoint}`)
  })

  test('a wrong account key gives AccessDeniedError from check and from read', async () => {
    const { provider, name } = await fresh()
    await provider.write('k', Buffer.from('x'), signal)
    const wrongKey = Buffer.alloc(64, 7).toString('base64')
    const denied = AzureProvider.fromConnectionString(azurite.connectionString.replace(/AccountKey=[^;]+/, `AccountKey=${wrongKey}`), name)
    const err = await denied.check(signal).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AccessDeniedError)
    expect((err as Error).message).toMatch(new RegExp(`^Access denied to az://${name} \\(\\w+\\): check the account key or SAS token`))
    await expect(denied.read('k', { signal })).rejects.toBeInstanceOf(AccessDeniedError)
  })

  test('check of a port where nothing listens rejects with EndpointUnreachableError at once', async () => {
    const port = await closedPort()
    const provider = AzureProvider.fromConnectionString(azurite.connectionString.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${port}`), 'box')
    const started = Date.now()
    const err = await provider.check(signal).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(EndpointUnreachableError)
    expect((err as Error).message).toMatch(new RegExp(`^Cannot reach http://127\\.0\\.0\\.1:${port}/devstoreaccount1 \\(ECONNREFUSED\\)`))
    expect(Date.now() - started).toBeLessThan(5_000) // the SDK's own retries are off
  })

  test('check of a web server that is not Azure Storage rejects with EndpointUnreachableError, not a missing container', async () => {
    const server = await listen(createServer((_, res) => { res.statusCode = 404; res.end('not here') }))
    try {
      const { port } = server.address() as AddressInfo
      const provider = AzureProvider.fromConnectionString(azurite.connectionString.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${port}`), 'box')
      const err = await provider.check(signal).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(EndpointUnreachableError)
      expect((err as Error).message).toMatch(/answered HTTP 404 without Azure Storage's x-ms-request-id header/)
    } finally {
      await new Promise((r) => server.close(r))
    }
  })

  test('a SAS token in the container URL never reaches messages', async () => {
    const provider = new AzureProvider({ container: new ContainerClient(`${azurite.blobEndpoint}/sas-box?sv=2024-01-01&sig=SECRET`) })
    expect(provider.endpoint).toBe(azurite.blobEndpoint)
    const err = await provider.check(signal).catch((e: unknown) => e)
    expect((err as Error).message).not.toContain('SECRET')
  })

  test('an aborted read rejects without waiting', async () => {
    const { provider } = await fresh()
    await provider.write('a', Buffer.from('abc'), signal)
    await expect(provider.read('a', { signal: AbortSignal.abort() })).rejects.toThrow()
  })
})

async function listen(server: Server): Promise<Server> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return server
}

/** A loopback port that was free a moment ago and has nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = await listen(createServer())
  const { port } = server.address() as AddressInfo
  await new Promise((r) => server.close(r))
  return port
}
