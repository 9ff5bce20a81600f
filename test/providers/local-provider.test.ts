import { createHash, randomBytes } from 'node:crypto'
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, test } from 'vitest'
import { ChecksumMismatchError, NotFoundError, SizeMismatchError } from '../../src/errors.js'
import { LocalProvider } from '../../src/providers/local/local-provider.js'
import { tempDir } from '../e2e/helpers.js'
import { providerConformance } from './conformance.js'

providerConformance('local', async () => {
  const root = tempDir('local-provider')
  return { provider: new LocalProvider(root), missing: new LocalProvider(join(root, 'does-not-exist')) }
})

describe('LocalProvider as a destination', () => {
  const signal = new AbortController().signal
  const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex')
  const partialsOf = (root: string): string[] => { try { return readdirSync(join(root, '.soaker', 'partial')) } catch { return [] } }

  test('put: the file appears whole at its path with the mtime and mode of its metadata; a wrong MD5 leaves nothing', async () => {
    const root = tempDir('local-put')
    const p = new LocalProvider(root)
    const data = randomBytes(3000)
    const checksum = { algorithm: 'md5' as const, value: createHash('md5').update(data).digest('base64') }
    expect(await p.put('a/b.bin', Readable.from([data.subarray(0, 1000), data.subarray(1000)]), { size: data.length, checksum, metadata: { mtime: '1600000000.5', mode: '0600' }, signal })).toBe(md5(data))
    expect(readFileSync(join(root, 'a/b.bin')).equals(data)).toBe(true)
    const st = statSync(join(root, 'a/b.bin'))
    expect(st.mtimeMs).toBe(1_600_000_000_500)
    expect(st.mode & 0o777).toBe(0o600)
    const bad = p.put('a/c.bin', data, { size: data.length, checksum: { algorithm: 'md5', value: Buffer.alloc(16).toString('base64') }, signal })
    await expect(bad).rejects.toBeInstanceOf(ChecksumMismatchError)
    await expect(p.put('a/d.bin', data, { size: data.length + 1, signal })).rejects.toBeInstanceOf(SizeMismatchError)
    expect(existsSync(join(root, 'a/c.bin'))).toBe(false)
    expect(existsSync(join(root, 'a/d.bin'))).toBe(false)
    expect(partialsOf(root)).toEqual([])
  })

  test('parts written out of order and in parallel land in place; a new instance (a run after a crash) lists them; complete publishes', async () => {
    const root = tempDir('local-parts')
    const data = randomBytes(5 * 1024 + 17)
    const partSize = 1024
    const slice = (n: number): Buffer => data.subarray((n - 1) * partSize, n * partSize)
    const first = new LocalProvider(root)
    const id = await first.multipart.create('big.bin', { size: data.length, partSize, signal })
    const etags = new Map<number, string>()
    await Promise.all([6, 2, 4].map(async (n) => { etags.set(n, await first.multipart.uploadPart('big.bin', id, n, slice(n), { size: slice(n).length, signal })) }))
    expect(existsSync(join(root, 'big.bin'))).toBe(false) // nothing at the final path before complete

    const again = new LocalProvider(root)
    expect(await again.multipart.listParts('big.bin', id, signal)).toEqual([2, 4, 6].map((n) => ({ partNumber: n, size: slice(n).length, etag: md5(slice(n)) })))
    for (const n of [1, 3, 5]) etags.set(n, await again.multipart.uploadPart('big.bin', id, n, slice(n), { size: slice(n).length, signal }))
    const parts = [1, 2, 3, 4, 5, 6].map((n) => ({ partNumber: n, etag: etags.get(n)! }))
    await expect(again.multipart.complete('big.bin', id, parts.map((p) => p.partNumber === 3 ? { ...p, etag: md5(Buffer.from('x')) } : p), signal))
      .rejects.toBeInstanceOf(ChecksumMismatchError)
    await again.multipart.complete('big.bin', id, parts, signal, { metadata: { mtime: '1600000000', mode: '0640' } })
    expect(readFileSync(join(root, 'big.bin')).equals(data)).toBe(true)
    expect(statSync(join(root, 'big.bin')).mode & 0o777).toBe(0o640)
    expect((await again.stat('big.bin', signal)).metadata).toEqual({ mtime: '1600000000', mode: '0640' })
    expect(partialsOf(root)).toEqual([])
    await expect(again.multipart.listParts('big.bin', id, signal)).rejects.toBeInstanceOf(NotFoundError)
  })

  test('a part of the wrong size is refused; a log line cut by a crash names no part', async () => {
    const root = tempDir('local-torn')
    const p = new LocalProvider(root)
    const id = await p.multipart.create('t.bin', { size: 2048, partSize: 1024, signal })
    await expect(p.multipart.uploadPart('t.bin', id, 1, Buffer.alloc(1000), { size: 1000, signal })).rejects.toThrow(/Expected part 1 of `t.bin` to hold 1024 bytes/)
    await p.multipart.uploadPart('t.bin', id, 2, Buffer.alloc(1024, 7), { size: 1024, signal })
    const log = partialsOf(root).find((f) => f.endsWith('.parts'))!
    appendFileSync(join(root, '.soaker', 'partial', log), '1 1024 0cc175b9') // torn: no whole MD5
    expect((await p.multipart.listParts('t.bin', id, signal)).map((x) => x.partNumber)).toEqual([2])
    await p.multipart.abort('t.bin', id, signal)
    expect(partialsOf(root)).toEqual([])
  })
})
