import { createHash, randomBytes } from 'node:crypto'
import { appendFileSync, existsSync, readdirSync, readFileSync, readlinkSync, renameSync, writeFileSync, writeSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, test, vi } from 'vitest'
import { ChecksumMismatchError, LocalWriteError, NotFoundError, SizeMismatchError, UsageError } from '../../src/errors.js'
import { HashPool } from '../../src/providers/local/hash-pool.js'
import { LocalProvider } from '../../src/providers/local/local-provider.js'
import type { FileFill } from '../../src/providers/provider.js'
import { tempDir } from '../e2e/helpers.js'

const signal = new AbortController().signal
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex')
const partialDir = (root: string): string => join(root, '.soaker', 'partial')
const partialsOf = (root: string): string[] => existsSync(partialDir(root)) ? readdirSync(partialDir(root)) : []
const logOf = (root: string): string => join(partialDir(root), partialsOf(root).find((f) => f.endsWith('.parts'))!)
/** Descriptors this process holds open on files under `dir` (Linux). */
const openUnder = (dir: string): string[] => readdirSync('/proc/self/fd').flatMap((fd) => {
  try {
    const target = readlinkSync(`/proc/self/fd/${fd}`)
    return target.startsWith(dir) ? [target] : []
  } catch {
    return [] // closed since it was listed
  }
})

const pool = new HashPool(2)
afterAll(() => pool.close())
const hashing = [['inline', undefined], ['on the HashPool', pool]] as const

const partSize = 64 * 1024
const data = randomBytes(3 * partSize - 100)
const slice = (n: number): Buffer => data.subarray((n - 1) * partSize, n * partSize)

describe.each(hashing)('LocalProvider uploads in parts, digests %s', (_name, hashes) => {
  test('a part cut short by a crash resumes from its checkpoint: progress tells how far, uploadPart sends the rest with offset', async () => {
    const root = tempDir('local-resume')
    const first = new LocalProvider(root, { hashes, checkpointEveryMs: 10 })
    const id = await first.multipart.create('r.bin', { size: data.length, partSize, signal })
    const body = new PassThrough()
    const cut = first.multipart.uploadPart('r.bin', id, 2, body, { size: partSize, signal }).catch((e: unknown) => e)
    body.write(slice(2).subarray(0, 40_000))
    // The run after the crash, on the same directory: what the log says once a checkpoint is in.
    const again = new LocalProvider(root, { hashes })
    await vi.waitFor(async () => expect(await again.multipart.progress('r.bin', id, signal)).toEqual(new Map([[2, 40_000]])), { timeout: 5000, interval: 20 })
    body.destroy(new Error('killed'))
    expect(await cut).toBeInstanceOf(Error)
    first.close()

    expect(await again.multipart.listParts('r.bin', id, signal)).toEqual([])
    const rest = slice(2).subarray(40_000)
    const etag2 = await again.multipart.uploadPart('r.bin', id, 2, rest, { size: rest.length, offset: 40_000, signal })
    expect(etag2).toBe(md5(slice(2))) // the whole part, not only the rest sent
    expect(await again.multipart.progress('r.bin', id, signal)).toEqual(new Map()) // a finished part has no progress
    const etags = [await again.multipart.uploadPart('r.bin', id, 1, slice(1), { size: partSize, signal }), etag2,
      await again.multipart.uploadPart('r.bin', id, 3, slice(3), { size: slice(3).length, signal })]
    expect(etags).toEqual([1, 2, 3].map((n) => md5(slice(n))))
    await again.multipart.complete('r.bin', id, etags.map((etag, i) => ({ partNumber: i + 1, etag })), signal)
    expect(readFileSync(join(root, 'r.bin')).equals(data)).toBe(true)
    expect(partialsOf(root)).toEqual([])
    again.close()
  })

  test('a part held whole already (its checkpoint reached its end) is finished with an empty body and offset = its size', async () => {
    const root = tempDir('local-held')
    const first = new LocalProvider(root, { hashes })
    const id = await first.multipart.create('h.bin', { size: data.length, partSize, signal })
    first.close()
    // What a crash between the last checkpoint and the part's own line leaves: its bytes, no line.
    const partial = join(partialDir(root), partialsOf(root).find((f) => !f.endsWith('.parts'))!)
    const file = await open(partial, 'r+')
    await file.write(slice(1), 0, partSize, 0)
    await file.close()
    appendFileSync(logOf(root), `~1 ${partSize}\n`)
    const again = new LocalProvider(root, { hashes })
    expect(await again.multipart.progress('h.bin', id, signal)).toEqual(new Map([[1, partSize]]))
    await expect(again.multipart.uploadPart('h.bin', id, 1, Buffer.alloc(1), { size: 1, offset: partSize, signal })).rejects.toBeInstanceOf(UsageError)
    await expect(again.multipart.uploadPart('h.bin', id, 1, Buffer.alloc(0), { size: 0, offset: partSize + 1, signal })).rejects.toBeInstanceOf(UsageError)
    expect(await again.multipart.uploadPart('h.bin', id, 1, Buffer.alloc(0), { size: 0, offset: partSize, signal })).toBe(md5(slice(1)))
    expect(await again.multipart.listParts('h.bin', id, signal)).toEqual([{ partNumber: 1, size: partSize, etag: md5(slice(1)) }])
    await again.multipart.abort('h.bin', id, signal)
  })

  test('digest reads the bytes back: MD5, SHA-256 and git blob SHA-1 of any range equal node:crypto\'s', async () => {
    const root = tempDir('local-digest')
    const p = new LocalProvider(root, { hashes })
    const id = await p.multipart.create('d.bin', { size: data.length, partSize, signal })
    for (const n of [1, 2, 3]) await p.multipart.uploadPart('d.bin', id, n, slice(n), { size: slice(n).length, signal })
    for (const [start, length] of [[0, data.length], [100, partSize], [data.length - 1, 1], [5, 0]] as const) {
      const bytes = data.subarray(start, start + length)
      expect(await p.multipart.digest('d.bin', id, start, length, 'md5', signal)).toBe(md5(bytes))
      expect(await p.multipart.digest('d.bin', id, start, length, 'sha256', signal)).toBe(createHash('sha256').update(bytes).digest('hex'))
      const blob = createHash('sha1').update(`blob ${length}\0`).update(bytes).digest('hex')
      expect(await p.multipart.digest('d.bin', id, start, length, 'git-sha1', signal)).toBe(blob)
    }
    await expect(p.multipart.digest('d.bin', id, 10, data.length, 'md5', signal)).rejects.toBeInstanceOf(UsageError)
    await p.multipart.abort('d.bin', id, signal)
  })
})

describe('LocalProvider uploads in parts', () => {
  test('with a HashPool, the MD5 of a part is read back on it, off the event loop', async () => {
    const root = tempDir('local-pool')
    const p = new LocalProvider(root, { hashes: pool })
    const id = await p.multipart.create('p.bin', { size: data.length, partSize, signal })
    const digest = vi.spyOn(pool, 'digest')
    try {
      expect(await p.multipart.uploadPart('p.bin', id, 2, slice(2), { size: partSize, signal })).toBe(md5(slice(2)))
      expect(digest).toHaveBeenCalledWith(expect.stringContaining(partialDir(root)), partSize, partSize, 'md5')
    } finally {
      digest.mockRestore()
    }
    await p.multipart.abort('p.bin', id, signal)
  })

  test('a FileFill that took a CRC of its part makes that CRC the receipt: logged, listed, completed against; nothing is read back', async () => {
    const root = tempDir('local-crc')
    const p = new LocalProvider(root, { hashes: pool })
    const id = await p.multipart.create('c.bin', { size: data.length, partSize, signal })
    const digest = vi.spyOn(pool, 'digest')
    const fill = (n: number, hex: string): FileFill => ({
      kind: 'fill', hashes: true,
      into: async (target) => {
        writeSync(target.fd, slice(n), 0, slice(n).length, target.position)
        target.moved(slice(n).length)
        return { crc: { algorithm: 'crc64nvme', hex } }
      },
    })
    const receipts = ['0123456789abcdef', 'fedcba9876543210', '00000000000000ff']
    try {
      for (const [i, hex] of receipts.entries()) {
        expect(await p.multipart.uploadPart('c.bin', id, i + 1, fill(i + 1, hex), { size: slice(i + 1).length, signal })).toBe(`crc64nvme:${hex}`)
      }
      expect(digest).not.toHaveBeenCalled()
    } finally {
      digest.mockRestore()
    }
    const again = new LocalProvider(root, { hashes: pool })
    expect(await again.multipart.listParts('c.bin', id, signal)).toEqual(receipts.map((hex, i) => ({ partNumber: i + 1, size: slice(i + 1).length, etag: `crc64nvme:${hex}` })))
    const wrong = receipts.map((hex, i) => ({ partNumber: i + 1, etag: i === 1 ? `crc64nvme:${receipts[0]}` : `crc64nvme:${hex}` }))
    await expect(again.multipart.complete('c.bin', id, wrong, signal)).rejects.toThrow(`Part 2 of \`c.bin\` has receipt crc64nvme:${receipts[1]}, the caller's is crc64nvme:${receipts[0]}`)
    await again.multipart.complete('c.bin', id, receipts.map((hex, i) => ({ partNumber: i + 1, etag: `crc64nvme:${hex}` })), signal)
    expect(md5(readFileSync(join(root, 'c.bin')))).toBe(md5(data))
  })

  test('checkpoints record only what was synced, stop when no part is in flight, and the file is closed then', async () => {
    const root = tempDir('local-idle')
    const p = new LocalProvider(root, { checkpointEveryMs: 10 })
    const id = await p.multipart.create('i.bin', { size: data.length, partSize, signal })
    const body = new PassThrough()
    const writing = p.multipart.uploadPart('i.bin', id, 1, body, { size: partSize, signal })
    body.write(slice(1).subarray(0, 1000))
    await vi.waitFor(() => expect(readFileSync(logOf(root), 'utf8')).toContain('~1 1000\n'), { timeout: 5000, interval: 10 })
    expect(openUnder(root).filter((f) => !f.endsWith('.parts'))).toHaveLength(1) // the log may be open for a moment: an append
    await sleep(50) // ticks with nothing new to record append nothing
    expect(readFileSync(logOf(root), 'utf8').match(/~1 /g)).toHaveLength(1)
    body.end(slice(1).subarray(1000))
    expect(await writing).toBe(md5(slice(1)))
    await vi.waitFor(() => expect(openUnder(root)).toEqual([]), { timeout: 5000, interval: 10 })
    const log = readFileSync(logOf(root), 'utf8')
    await sleep(50)
    expect(readFileSync(logOf(root), 'utf8')).toBe(log) // stopped: nothing more is appended
    // Parts after the pause open the same file again.
    await p.multipart.uploadPart('i.bin', id, 2, slice(2), { size: partSize, signal })
    await p.multipart.uploadPart('i.bin', id, 3, slice(3), { size: slice(3).length, signal })
    await p.multipart.complete('i.bin', id, [1, 2, 3].map((n) => ({ partNumber: n, etag: md5(slice(n)) })), signal)
    expect(readFileSync(join(root, 'i.bin')).equals(data)).toBe(true)
    expect(openUnder(root)).toEqual([])
  })

  test('a body with an MD5 checksum is not checkpointed (its bytes are good only once all match), and a wrong one is refused', async () => {
    const root = tempDir('local-checked')
    const p = new LocalProvider(root, { checkpointEveryMs: 5 })
    const id = await p.multipart.create('c.bin', { size: partSize, partSize, signal })
    const body = new PassThrough()
    const checksum = { algorithm: 'md5' as const, value: Buffer.alloc(16).toString('base64') }
    const writing = p.multipart.uploadPart('c.bin', id, 1, body, { size: partSize, checksum, signal }).catch((e: unknown) => e)
    body.write(slice(1).subarray(0, 1000))
    await sleep(50)
    body.end(slice(1).subarray(1000))
    expect(await writing).toBeInstanceOf(ChecksumMismatchError)
    expect(readFileSync(logOf(root), 'utf8')).toBe(`${partSize} ${partSize}\n`)
    await p.multipart.abort('c.bin', id, signal)
  })

  test('a body longer than its part is refused before it overwrites the next part', async () => {
    const root = tempDir('local-overrun')
    const p = new LocalProvider(root)
    const id = await p.multipart.create('o.bin', { size: 2 * partSize, partSize, signal })
    const second = await p.multipart.uploadPart('o.bin', id, 2, slice(2), { size: partSize, signal })
    const body = new PassThrough()
    const writing = p.multipart.uploadPart('o.bin', id, 1, body, { size: partSize, signal })
    body.end(Buffer.concat([slice(1), Buffer.alloc(100)]))
    await expect(writing).rejects.toBeInstanceOf(SizeMismatchError)
    const first = await p.multipart.uploadPart('o.bin', id, 1, slice(1), { size: partSize, signal })
    await p.multipart.complete('o.bin', id, [{ partNumber: 1, etag: first }, { partNumber: 2, etag: second }], signal)
    expect(readFileSync(join(root, 'o.bin')).equals(data.subarray(0, 2 * partSize))).toBe(true)
  })

  test('a torn checkpoint line and one beyond its part are no progress; progress of a finished part is not reported', async () => {
    const root = tempDir('local-torn-progress')
    const p = new LocalProvider(root)
    const id = await p.multipart.create('t.bin', { size: 3 * partSize, partSize, signal })
    await p.multipart.uploadPart('t.bin', id, 1, slice(1), { size: partSize, signal })
    p.close()
    appendFileSync(logOf(root), `~1 500\n~2 700\n~3 ${partSize + 1}\n~2 9`) // the last line cut by a crash
    const again = new LocalProvider(root)
    expect(await again.multipart.progress('t.bin', id, signal)).toEqual(new Map([[2, 700]]))
    again.close()
  })

  test('complete publishes nothing when the partial file was replaced, whether its descriptor stayed open or not', async () => {
    for (const checkpointEveryMs of [60_000, 5]) {
      const root = tempDir('local-replaced')
      const p = new LocalProvider(root, { checkpointEveryMs })
      const id = await p.multipart.create('x.bin', { size: partSize, partSize, signal })
      const etag = await p.multipart.uploadPart('x.bin', id, 1, slice(1), { size: partSize, signal })
      await sleep(30)
      const partial = join(partialDir(root), partialsOf(root).find((f) => !f.endsWith('.parts'))!)
      renameSync(partial, `${partial}.moved`)
      writeFileSync(partial, Buffer.alloc(partSize))
      await expect(p.multipart.complete('x.bin', id, [{ partNumber: 1, etag }], signal)).rejects.toBeInstanceOf(LocalWriteError)
      expect(existsSync(join(root, 'x.bin'))).toBe(false)
      p.close()
    }
  })

  test('abort removes the partial file and its log, closes the file, and forgets the upload', async () => {
    const root = tempDir('local-abort')
    const p = new LocalProvider(root, { checkpointEveryMs: 60_000 })
    const id = await p.multipart.create('a.bin', { size: 2 * partSize, partSize, signal })
    await p.multipart.uploadPart('a.bin', id, 1, slice(1), { size: partSize, signal })
    expect(partialsOf(root)).toHaveLength(2)
    await p.multipart.abort('a.bin', id, signal)
    expect(partialsOf(root)).toEqual([])
    expect(openUnder(root)).toEqual([])
    await expect(p.multipart.listParts('a.bin', id, signal)).rejects.toBeInstanceOf(NotFoundError)
    await expect(p.multipart.uploadPart('a.bin', id, 2, slice(2), { size: partSize, signal })).rejects.toBeInstanceOf(NotFoundError)
  })

  test('an upload whose partial file is gone is gone: listParts rejects with NotFoundError', async () => {
    const root = tempDir('local-gone')
    const p = new LocalProvider(root)
    const id = await p.multipart.create('g.bin', { size: partSize, partSize, signal })
    p.close()
    const partial = join(partialDir(root), partialsOf(root).find((f) => !f.endsWith('.parts'))!)
    renameSync(partial, join(root, 'elsewhere'))
    await expect(new LocalProvider(root).multipart.listParts('g.bin', id, signal)).rejects.toBeInstanceOf(NotFoundError)
  })
})
