import { setMaxListeners } from 'node:events'
import { text } from 'node:stream/consumers'
import { describe, expect, test } from 'vitest'
import { LocationError, NotFoundError } from '../../src/errors.js'
import type { Provider } from '../../src/providers/provider.js'

export interface ConformanceSubject {
  /** A provider over an empty bucket or directory. */
  provider: Provider
  /** A provider over a bucket or directory that does not exist. */
  missing: Provider
  /** Stores test data where `provider` reads it, for a provider that cannot write (the Hub); default `provider.write`. */
  seed?: (key: string, body: Buffer) => Promise<void>
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

    test('check passes on the store and rejects with a LocationError where there is none', async () => {
      const { provider, missing } = await subject()
      await expect(provider.check(signal)).resolves.toBeUndefined()
      await expect(missing.check(signal)).rejects.toBeInstanceOf(LocationError)
    })
  })
}
