import { createHash } from 'node:crypto'
import { text } from 'node:stream/consumers'
import { describe, expect, test } from 'vitest'
import { FatalError, NotFoundError, SourceChangedError, ThrottledError, TransientError } from '../../src/errors.js'
import { providerConformance } from '../providers/conformance.js'
import { MemoryProvider, MemoryStore, multipartEtag, slowDown } from './memory-provider.js'

// The in-memory store passes the suite every real provider passes: its answers are a store's.
providerConformance('memory', async () => ({
  provider: new MemoryProvider(),
  missing: new MemoryProvider({ bucket: 'absent', create: false }),
}))

const signal = new AbortController().signal
const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex')
const MiB = 1024 * 1024

describe('MemoryProvider', () => {
  test('lists in pages, each a call the rule sees, in UTF-8 byte order', async () => {
    const p = new MemoryProvider({ pageSize: 2 })
    for (const k of ['a/3', 'a/1', 'a/\u{1F600}', 'a/\uFFFD', 'a/2']) p.seed(k, Buffer.from(k))
    const keys: string[] = []
    for await (const o of p.list('a/', signal)) keys.push(o.key)
    // U+FFFD is ef bf bd in UTF-8, the emoji f0 9f 98 80: bytes put the emoji last (UTF-16 would not).
    expect(keys).toEqual(['a/1', 'a/2', 'a/3', 'a/\uFFFD', 'a/\u{1F600}'])
    expect(p.callsOf('list')).toHaveLength(3)
  })

  test('a rule fails the nth attempt of a request, and the call log records each', async () => {
    const p = new MemoryProvider()
    p.seed('k', Buffer.from('0123456789'))
    p.faults = (r) => (r.op === 'read' && r.attempt === 1 ? { kind: 'fail', error: slowDown() } : undefined)
    await expect(p.read('k', { range: { start: 2, end: 4 }, signal })).rejects.toBeInstanceOf(ThrottledError)
    expect(await text((await p.read('k', { range: { start: 2, end: 4 }, signal })).body)).toBe('234')
    await expect(p.read('k', { range: { start: 5, end: 5 }, signal })).rejects.toBeInstanceOf(ThrottledError) // another range: its own first attempt
    expect(p.callsOf('read').map((c) => [c.attempt, c.fault, c.bytes])).toEqual([[1, 'fail', 0], [2, undefined, 3], [1, 'fail', 0]])
  })

  test('a cut body fails with a low-level TransientError after the bytes asked for', async () => {
    const p = new MemoryProvider()
    p.seed('big', Buffer.alloc(300_000, 7))
    p.faults = (r) => (r.op === 'read' ? { kind: 'cut', afterBytes: 100_000 } : undefined)
    const r = await p.read('big', { signal })
    let got = 0
    const err = await (async () => {
      for await (const c of r.body as AsyncIterable<Buffer>) got += c.length
    })().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TransientError)
    expect((err as TransientError).lowLevel).toBe(true)
    expect(got).toBe(100_000)
    expect(p.callsOf('read')[0]!.bytes).toBe(100_000)
  })

  test('a replaced object has a new ETag: reads on the old one reject with SourceChangedError', async () => {
    const p = new MemoryProvider()
    const old = p.seed('v', Buffer.from('one'), { metadata: { mtime: '1' }, contentType: 'text/plain' })
    p.faults = (r) => (r.op === 'stat' ? { kind: 'replace', body: Buffer.from('two') } : undefined)
    const st = await p.stat('v', signal)
    expect(st.etag).toBe(md5('two'))
    expect(st.metadata).toEqual({ mtime: '1' })
    await expect(p.read('v', { ifMatch: old.etag, signal })).rejects.toBeInstanceOf(SourceChangedError)
  })

  test('put refuses a body whose MD5 is not the one declared, and one shorter than its size', async () => {
    const p = new MemoryProvider()
    const body = Buffer.from('payload')
    const wrong = { algorithm: 'md5' as const, value: createHash('md5').update('other').digest('base64') }
    await expect(p.put('k', body, { size: body.length, checksum: wrong, signal })).rejects.toMatchObject({ code: 'BadDigest' })
    await expect(p.put('k', body, { size: body.length + 1, signal })).rejects.toMatchObject({ code: 'IncompleteBody' })
    expect(p.get('k')).toBeUndefined()
    expect(await p.put('k', body, { size: body.length, signal })).toBe(md5(body))
  })

  test('multipart: ETags as S3 gives them, the part count told, small parts and wrong ETags refused', async () => {
    const p = new MemoryProvider()
    const mp = p.multipart
    const parts = [Buffer.alloc(5 * MiB, 1), Buffer.alloc(5 * MiB, 2), Buffer.from('tail')]
    const id = await mp.create('m', { metadata: { Mtime: '5' }, contentType: 'application/x-test', signal })
    const etags = await Promise.all(parts.map((b, i) => mp.uploadPart('m', id, i + 1, b, { size: b.length, signal })))
    expect(etags).toEqual(parts.map((b) => md5(b)))
    await expect(mp.complete('m', id, [{ partNumber: 1, etag: etags[0]! }, { partNumber: 2, etag: md5('x') }], signal)).rejects.toMatchObject({ code: 'InvalidPart' })
    await expect(mp.complete('m', id, [{ partNumber: 3, etag: etags[2]! }, { partNumber: 1, etag: etags[0]! }], signal)).rejects.toMatchObject({ code: 'InvalidPartOrder' })
    await expect(mp.complete('m', id, [{ partNumber: 3, etag: etags[2]! }, { partNumber: 2, etag: etags[1]! }], signal))
      .rejects.toBeInstanceOf(FatalError) // part 3 is 4 bytes and not the last one
    const etag = await mp.complete('m', id, etags.map((etag, i) => ({ partNumber: i + 1, etag })), signal)
    expect(etag).toBe(multipartEtag(etags))
    expect(etag).toMatch(/^[0-9a-f]{32}-3$/)
    const st = await p.stat('m', signal)
    expect(st).toMatchObject({ size: 10 * MiB + 4, etag, metadata: { mtime: '5' }, contentType: 'application/x-test' })
    expect(await p.uploadParts('m', signal)).toEqual({ count: 3, partSize: 5 * MiB })
    await expect(mp.listParts('m', id, signal)).rejects.toBeInstanceOf(NotFoundError) // completed: gone
    await expect(mp.uploadPart('m', id, 4, Buffer.from('late'), { size: 4, signal })).rejects.toBeInstanceOf(NotFoundError)
  })

  test('copies between buckets of one store keep bytes, metadata and content type, and check If-Match', async () => {
    const store = new MemoryStore()
    const src = new MemoryProvider({ store, bucket: 'src' })
    const dst = new MemoryProvider({ store, bucket: 'dst' })
    const o = src.seed('s', Buffer.alloc(6 * MiB, 3), { metadata: { a: 'b' }, contentType: 'x/y', partSize: 5 * MiB })
    expect(await dst.copyObject('d', { bucket: 'src', key: 's', ifMatch: o.etag }, signal)).toBe(md5(o.data))
    expect(dst.get('d')).toMatchObject({ metadata: { a: 'b' }, contentType: 'x/y' })
    await expect(dst.copyObject('d', { bucket: 'src', key: 's', ifMatch: md5('old') }, signal)).rejects.toBeInstanceOf(SourceChangedError)
    const id = await dst.multipart.create('p', { signal })
    const etag = await dst.multipart.copyPart!('p', id, 1, { bucket: 'src', key: 's', range: { start: 5 * MiB, end: 6 * MiB - 1 } }, signal)
    expect(etag).toBe(md5(o.data.subarray(5 * MiB)))
    expect(src.calls).toEqual([]) // the store copied: nothing went through the source's provider
  })
})
