import { createHash } from 'node:crypto'
import { closeSync, openSync } from 'node:fs'
import { buffer } from 'node:stream/consumers'
import { describe, expect, test } from 'vitest'
import { DataPlane } from '../../src/data/data-plane.js'
import { FatalError, NotFoundError, SourceChangedError, UsageError } from '../../src/errors.js'
import { parseLocation } from '../../src/location.js'
import { callOnce, type Provider } from '../../src/providers/provider.js'
import { openProvider } from '../../src/providers/registry.js'
import { blockSize, chunkSize } from '../../src/providers/synthetic/synthetic-bodies.js'
import { syntheticKind } from '../../src/providers/synthetic/kind.js'
import { SyntheticProvider } from '../../src/providers/synthetic/synthetic-provider.js'
import { transferOptions } from '../../src/options.js'
import { thrown } from '../support/thrown.js'

const KiB = 1024
const MiB = 1024 * KiB
const signal = new AbortController().signal
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex')

function open(uri: string): SyntheticProvider {
  return new SyntheticProvider(syntheticKind.parse(uri))
}

async function bytesOf(p: SyntheticProvider, key: string, range?: { start: number; end: number }): Promise<Buffer> {
  return await buffer((await p.read(key, { range, signal })).body)
}

async function listed(p: SyntheticProvider, prefix = ''): Promise<Array<{ key: string; size: number; etag?: string }>> {
  const out = []
  for await (const o of p.list(prefix, signal)) out.push({ key: o.key, size: o.size, etag: o.etag })
  return out
}

describe('synthetic:// URIs', () => {
  test.each([
    ['synthetic://1000x16KiB', 1000, 16 * KiB, ''],
    ['synthetic://4x256MiB', 4, 256 * MiB, ''],
    ['synthetic://1x0', 1, 0, ''],
    ['synthetic://3x1.5MB/obj-000001', 3, 1_500_000, 'obj-000001'],
    ['SYNTHETIC://2X10', 2, 10, ''],
  ])('%s is %i objects of %i bytes, key %j', (uri, count, size, key) => {
    expect(syntheticKind.parse(uri)).toMatchObject({ kind: 'synthetic', count, size, key, uri })
  })

  test.each(['synthetic://', 'synthetic://1000', 'synthetic://x16KiB', 'synthetic://0x1MiB', 'synthetic://10x', 'synthetic://10x8XB',
    'synthetic://-1x1', 'synthetic://1.5x1MiB', 'synthetic:1x1'])('%s is refused with a UsageError naming it and the shape expected', (uri) => {
    const err = thrown(() => syntheticKind.parse(uri), UsageError)
    expect(err.message).toBe(`Expected a synthetic URI like synthetic://1000x16KiB or synthetic://4x256MiB (a count of objects, x, the size of each), got \`${uri}\``)
    expect(err.exitCode).toBe(2)
  })

  test('parseLocation knows the scheme, and its examples do not offer it to users', () => {
    expect(parseLocation('synthetic://2x1KiB')).toMatchObject({ kind: 'synthetic', count: 2, size: KiB })
    expect(thrown(() => parseLocation('ftp://x'), UsageError).message).not.toContain('synthetic')
  })
})

describe('the synthetic provider', () => {
  test('lists count keys in key order, each of the size, with the MD5 of its bytes as ETag', async () => {
    const p = open('synthetic://12x3KiB')
    const objects = await listed(p)
    expect(objects.map((o) => o.key)).toEqual(Array.from({ length: 12 }, (_, i) => `obj-${String(i).padStart(6, '0')}`))
    for (const o of objects) {
      expect(o.size).toBe(3 * KiB)
      expect(o.etag).toBe(md5(await bytesOf(p, o.key)))
    }
    expect(new Set(objects.map((o) => o.etag)).size).toBeGreaterThan(1) // neighbours differ
    expect(await listed(p, 'obj-00001')).toHaveLength(2)
    expect(await listed(p, 'nothing')).toEqual([])
  })

  test('keys have as many digits as the last needs, so that key order is number order', async () => {
    const p = open('synthetic://1000001x1')
    expect(p.keyOf(0)).toBe('obj-0000000')
    expect(p.keyOf(1_000_000)).toBe('obj-1000000')
    expect(await p.stat('obj-1000000', signal)).toMatchObject({ key: 'obj-1000000', size: 1 })
    await expect(p.stat('obj-000001', signal)).rejects.toBeInstanceOf(NotFoundError)
  })

  test('bodies are the same from one provider to the next, and stat agrees with the listing', async () => {
    const a = open('synthetic://3x2MiB')
    const b = open('synthetic://3x2MiB')
    expect(md5(await bytesOf(a, 'obj-000002'))).toBe(md5(await bytesOf(b, 'obj-000002')))
    const [first] = await listed(a)
    expect(await a.stat('obj-000000', signal)).toMatchObject({ key: 'obj-000000', size: 2 * MiB, etag: first!.etag })
  })

  test('a range is exactly those bytes of the whole, across block boundaries, in chunks of at most chunkSize', async () => {
    const p = open('synthetic://2x3MiB')
    const whole = await bytesOf(p, 'obj-000001')
    expect(whole).toHaveLength(3 * MiB)
    for (const [start, end] of [[0, 0], [blockSize - 10, blockSize + 9], [100, 2 * MiB + 5], [3 * MiB - 1, 3 * MiB - 1]] as const) {
      expect((await bytesOf(p, 'obj-000001', { start, end })).equals(whole.subarray(start, end + 1))).toBe(true)
    }
    const chunks: Buffer[] = []
    for await (const c of (await p.read('obj-000001', { range: { start: 7, end: MiB }, signal })).body) chunks.push(c as Buffer)
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(chunkSize)
  })

  test('a range past the end is cut at the end; one that starts past it fails as InvalidRange', async () => {
    const p = open('synthetic://1x100')
    expect(await bytesOf(p, 'obj-000000', { start: 90, end: 500 })).toHaveLength(10)
    const err = await p.read('obj-000000', { range: { start: 100, end: 200 }, signal }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FatalError)
    expect((err as FatalError).code).toBe('InvalidRange')
  })

  test('a read tells the ETag and the length it serves; If-Match with another ETag fails as SourceChangedError', async () => {
    const p = open('synthetic://1x5KiB')
    const { etag } = await p.stat('obj-000000', signal)
    const r = await p.read('obj-000000', { ifMatch: etag, signal })
    expect(r.details).toMatchObject({ etag, size: 5 * KiB })
    r.body.destroy()
    await expect(p.read('obj-000000', { ifMatch: 'd41d8cd98f00b204e9800998ecf8427e', signal })).rejects.toBeInstanceOf(SourceChangedError)
  })

  test('a missing key is NotFoundError naming the keys the set holds', async () => {
    const p = open('synthetic://10x1KiB')
    const err = await p.stat('obj-000010', signal).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NotFoundError)
    expect((err as Error).message).toBe('synthetic://10x1KiB/obj-000010 does not exist: the set holds obj-000000 to obj-000009')
    await expect(p.read('other', { signal })).rejects.toBeInstanceOf(NotFoundError)
  })

  test('empty objects read as no bytes, with the MD5 of nothing', async () => {
    const p = open('synthetic://2x0')
    expect(await bytesOf(p, 'obj-000001')).toHaveLength(0)
    expect((await p.stat('obj-000001', signal)).etag).toBe('d41d8cd98f00b204e9800998ecf8427e')
  })

  test('a read cancelled by its signal fails its body with the reason', async () => {
    const p = open('synthetic://1x8MiB')
    const cancel = new AbortController()
    const r = await p.read('obj-000000', { signal: cancel.signal })
    const why = new Error('stop')
    cancel.abort(why)
    await expect(buffer(r.body)).rejects.toThrow()
  })

  test('it is read-only: a write is refused as a UsageError', async () => {
    await expect(open('synthetic://1x1').write('obj-000000', Buffer.from('x'), signal)).rejects.toBeInstanceOf(UsageError)
    const p: Provider = open('synthetic://1x1')
    expect(p.put).toBeUndefined()
    expect(p.multipart).toBeUndefined()
  })

  test('the registry opens it from its location, as a data thread does', async () => {
    const location = syntheticKind.parse('synthetic://2x1KiB')
    const p = await openProvider(location, { options: transferOptions(), env: {}, retry: callOnce })
    await p.check(signal)
    expect((await p.stat('obj-000001', signal)).size).toBe(KiB)
    p.close()
  })

  test('a data thread opens it from its location and fills a range of it into /dev/null, with the MD5 of those bytes', async () => {
    const location = syntheticKind.parse('synthetic://3x3MiB')
    const options = transferOptions()
    const plane = new DataPlane(1)
    const fd = openSync('/dev/null', 'w')
    try {
      const source = plane.source({ location, options }, await openProvider(location, { options, env: {}, retry: callOnce }))
      await plane.ready()
      expect(plane.readyThreads).toBe(1)
      let moved = 0
      const range = { start: MiB - 3, end: 2 * MiB + 2 }
      const r = await plane.run({ op: 'fill', source, key: 'obj-000002', range, fd, path: '/dev/null', position: range.start, digest: 'md5', name: 'obj-000002' },
        AbortSignal.timeout(30_000), (n) => { moved += n })
      expect(r.bytes).toBe(MiB + 6)
      expect(moved).toBe(MiB + 6)
      expect(r.md5).toBe(md5(await bytesOf(open('synthetic://3x3MiB'), 'obj-000002', range)))
    } finally {
      closeSync(fd)
      await plane.close()
    }
  })
})
