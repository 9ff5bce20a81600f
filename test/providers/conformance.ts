import { setMaxListeners } from 'node:events'
import { text } from 'node:stream/consumers'
import { describe, expect, test } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { LocationError, NotFoundError, SourceChangedError } from '../../src/errors.js'
import type { Provider } from '../../src/providers/provider.js'

export interface ConformanceSubject {
  /** A provider over an empty bucket or directory. */
  provider: Provider
  /** A provider over a bucket or directory that does not exist. */
  missing: Provider
  /** Stores test data where `provider` reads it, for a provider that cannot write (the Hub); default `provider.write`. */
  seed?: (key: string, body: Buffer) => Promise<void>
  /**
   * The provider reads one immutable snapshot (the Hub at the commit its revision named when it
   * opened): an object rewritten since is not seen, so it never changes under a read.
   */
  snapshot?: boolean
}

const signal = new AbortController().signal
setMaxListeners(0, signal) // one signal shared by many requests
/** The subject, with `put` storing test data: its `seed` where it has one, else `provider.write`. */
async function open(subject: () => Promise<ConformanceSubject>): Promise<ConformanceSubject & { put: (key: string, body: Buffer) => Promise<void> }> {
  const s = await subject()
  return { ...s, put: s.seed ?? ((key, body) => s.provider.write(key, body, signal)) }
}
const read = async (p: Provider, key: string, range?: { start: number; end: number }): Promise<string> =>
  text((await p.read(key, { range, signal })).body)

async function collect(p: Provider, prefix: string): Promise<Array<{ key: string; size: number }>> {
  const out: Array<{ key: string; size: number }> = []
  for await (const o of p.list(prefix, signal)) out.push({ key: o.key, size: o.size })
  return out
}

/** The behaviour every provider shares; each provider's test file runs it on a fresh store. */
export function providerConformance(name: string, subject: () => Promise<ConformanceSubject>): void {
  describe(`${name} provider conformance`, () => {
    test('write then read returns the same bytes; stat gives size and modification time', async () => {
      const { provider, put } = await open(subject)
      await put('dir/hello.txt', Buffer.from('hello, world'))
      expect(await read(provider, 'dir/hello.txt')).toBe('hello, world')
      const st = await provider.stat('dir/hello.txt', signal)
      expect(st.size).toBe(12)
      expect(Math.abs(st.lastModified!.getTime() - Date.now())).toBeLessThan(120_000)
    })

    test('read with a range returns exactly those bytes, the last byte included', async () => {
      const { provider, put } = await open(subject)
      await put('r.txt', Buffer.from('0123456789'))
      expect(await read(provider, 'r.txt', { start: 2, end: 5 })).toBe('2345')
      expect(await read(provider, 'r.txt', { start: 9, end: 9 })).toBe('9')
    })

    test('list streams the keys under a prefix in byte order, with sizes', async () => {
      const { provider, put } = await open(subject)
      for (const k of ['p/b', 'p/a/x', 'p/a.txt', 'p/é', 'q/other', 'p2/not-under-p-slash']) await put(k, Buffer.from(k))
      expect(await collect(provider, 'p/')).toEqual([
        { key: 'p/a.txt', size: 7 }, { key: 'p/a/x', size: 5 }, { key: 'p/b', size: 3 }, { key: 'p/é', size: 4 },
      ])
      expect((await collect(provider, '')).map((o) => o.key)).toContain('q/other')
      expect(await collect(provider, 'nothing/')).toEqual([])
    })

    test('list goes past 1,000 keys', async () => {
      const { provider, put } = await open(subject)
      const keys = Array.from({ length: 1_010 }, (_, i) => `many/${String(i).padStart(4, '0')}`)
      for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => put(k, Buffer.from('x'))))
      const listed = await collect(provider, 'many/')
      expect(listed.map((o) => o.key)).toEqual(keys)
    })

    test('stat and read of a missing key reject with NotFoundError', async () => {
      const { provider } = await subject()
      await expect(provider.stat('absent', signal)).rejects.toBeInstanceOf(NotFoundError)
      await expect(provider.read('absent', { signal })).rejects.toBeInstanceOf(NotFoundError)
    })

    test('an empty object is written, listed, stat and read with zero bytes', async () => {
      const { provider, put } = await open(subject)
      await put('empty/zero', Buffer.alloc(0))
      expect(await collect(provider, 'empty/')).toEqual([{ key: 'empty/zero', size: 0 }])
      expect((await provider.stat('empty/zero', signal)).size).toBe(0)
      expect(await read(provider, 'empty/zero')).toBe('')
    })

    test('where stat gives an ETag, a read made on an ETag the object no longer has rejects with SourceChangedError', async (ctx) => {
      const { provider, put, snapshot } = await open(subject)
      if (snapshot) return ctx.skip() // nothing changes under a snapshot's reads
      await put('v.txt', Buffer.from('first version'))
      const before = (await provider.stat('v.txt', signal)).etag
      if (before === undefined) return ctx.skip() // a store without versions (a local directory)
      await put('v.txt', Buffer.from('second version, longer'))
      const now = (await provider.stat('v.txt', signal)).etag
      expect(now).toBeDefined()
      expect(now).not.toBe(before)
      await expect(provider.read('v.txt', { ifMatch: before, signal })).rejects.toBeInstanceOf(SourceChangedError)
      expect(await text((await provider.read('v.txt', { ifMatch: now, signal })).body)).toBe('second version, longer')
    })

    test('put stores the body with its metadata and checksum; stat gives the metadata back', async (ctx) => {
      const { provider } = await subject()
      if (!provider.put) return ctx.skip() // a store soaker only reads
      const body = Buffer.from('with metadata')
      const checksum = { algorithm: 'md5' as const, value: createHash('md5').update(body).digest('base64') }
      await provider.put('m.txt', body, { size: body.length, checksum, metadata: { mtime: '1700000000.25', mode: '0640' }, signal })
      const st = await provider.stat('m.txt', signal)
      expect(st.size).toBe(body.length)
      expect(st.metadata).toMatchObject({ mtime: '1700000000.25', mode: '0640' })
      expect(await read(provider, 'm.txt')).toBe('with metadata')
    })

    test('multipart: the parts stored are listed after a crash, complete assembles them in order, abort forgets an upload', async (ctx) => {
      const { provider } = await subject()
      const mp = provider.multipart
      if (!mp) return ctx.skip() // a store without uploads in parts
      const parts = [randomBytes(5 * 1024 * 1024), randomBytes(1000)]
      const id = await mp.create('mp.bin', { metadata: { mtime: '1700000000' }, size: parts[0]!.length + parts[1]!.length, partSize: parts[0]!.length, signal })
      const first = await mp.uploadPart('mp.bin', id, 1, parts[0]!, { size: parts[0]!.length, signal })
      // What a new run finds of an upload it did not finish: the parts the store holds.
      const listed = await mp.listParts('mp.bin', id, signal)
      expect(listed).toEqual([{ partNumber: 1, size: parts[0]!.length, ...(mp.listsDigests ? { etag: first } : {}) }])
      if (!mp.listsDigests) expect(listed[0]!.etag).toBeUndefined()
      const second = await mp.uploadPart('mp.bin', id, 2, parts[1]!, { size: parts[1]!.length, signal })
      await mp.complete('mp.bin', id, [{ partNumber: 1, etag: first }, { partNumber: 2, etag: second }], signal, { metadata: { mtime: '1700000000' } })
      const whole = Buffer.concat(parts)
      const got = Buffer.concat(await (await provider.read('mp.bin', { signal })).body.toArray())
      expect(got.equals(whole)).toBe(true)
      expect((await provider.stat('mp.bin', signal)).metadata).toMatchObject({ mtime: '1700000000' })

      const gone = await mp.create('gone.bin', { size: parts[1]!.length, partSize: parts[1]!.length, signal })
      await mp.uploadPart('gone.bin', gone, 1, parts[1]!, { size: parts[1]!.length, signal })
      await mp.abort('gone.bin', gone, signal)
      if (mp.abortDeletes) await expect(mp.listParts('gone.bin', gone, signal)).rejects.toBeInstanceOf(NotFoundError)
      await expect(mp.abort('gone.bin', gone, signal)).resolves.toBeUndefined() // aborting again is not an error
      await expect(provider.stat('gone.bin', signal)).rejects.toBeInstanceOf(NotFoundError)
    })

    test('check passes on the store and rejects with a LocationError where there is none', async () => {
      const { provider, missing } = await subject()
      await expect(provider.check(signal)).resolves.toBeUndefined()
      await expect(missing.check(signal)).rejects.toBeInstanceOf(LocationError)
    })
  })
}
