import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, test } from 'vitest'
import { LocalWriteError, SizeMismatchError, UnsafeKeyError } from '../../src/errors.js'
import { localError } from '../../src/providers/local/local-files.js'
import { LocalProvider } from '../../src/providers/local/local-provider.js'
import { tempDir } from '../e2e/helpers.js'

const signal = new AbortController().signal
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex')
const partialsOf = (root: string): string[] => existsSync(join(root, '.soaker', 'partial')) ? readdirSync(join(root, '.soaker', 'partial')) : []

describe('LocalProvider put', () => {
  test('a random body of many chunks arrives whole', async () => {
    const root = tempDir('local-chunks')
    const data = randomBytes(200_000)
    const chunks = Array.from({ length: 20 }, (_, i) => data.subarray(i * 10_000, (i + 1) * 10_000))
    expect(await new LocalProvider(root).put('c.bin', Readable.from(chunks), { size: data.length, signal })).toBe(md5(data))
    expect(readFileSync(join(root, 'c.bin')).equals(data)).toBe(true)
  })

  test('an empty body, as a Buffer or a stream, is published with the mtime and mode of its metadata', async () => {
    const root = tempDir('local-empty')
    const p = new LocalProvider(root)
    expect(await p.put('e/a', Buffer.alloc(0), { size: 0, metadata: { mtime: '1600000000.25', mode: '0751' }, signal })).toBe(md5(Buffer.alloc(0)))
    expect(await p.put('e/b', Readable.from([]), { size: 0, metadata: { mtime: '0' }, signal })).toBe(md5(Buffer.alloc(0)))
    const a = statSync(join(root, 'e/a'))
    expect([a.size, a.mtimeMs, a.mode & 0o777]).toEqual([0, 1_600_000_000_250, 0o751])
    expect(statSync(join(root, 'e/b')).mtimeMs).toBe(0)
    expect(partialsOf(root)).toEqual([])
  })

  test('a body longer than its size is refused, and nothing is published', async () => {
    const root = tempDir('local-long')
    const p = new LocalProvider(root)
    const body = Readable.from([Buffer.alloc(10), Buffer.alloc(10)])
    await expect(p.put('long', body, { size: 15, signal })).rejects.toBeInstanceOf(SizeMismatchError)
    expect(existsSync(join(root, 'long'))).toBe(false)
    expect(partialsOf(root)).toEqual([])
  })

  test('write stores a file whole through the same path as put', async () => {
    const root = tempDir('local-write')
    const p = new LocalProvider(root)
    await p.write('w/x.txt', Buffer.from('whole'), signal)
    expect(readFileSync(join(root, 'w/x.txt'), 'utf8')).toBe('whole')
    expect(partialsOf(root)).toEqual([])
  })

  test('pathOf maps keys to paths for every operation on a key', async () => {
    const root = tempDir('local-pathof')
    const p = new LocalProvider(root, { pathOf: (key) => join(root, 'mapped', key.replace(/^prefix\//, '')) })
    await p.put('prefix/a/b.txt', Buffer.from('mapped'), { size: 6, signal })
    expect(readFileSync(join(root, 'mapped/a/b.txt'), 'utf8')).toBe('mapped')
    expect((await p.stat('prefix/a/b.txt', signal)).size).toBe(6)
    const id = await p.multipart.create('prefix/c.bin', { size: 4, partSize: 4, signal })
    const etag = await p.multipart.uploadPart('prefix/c.bin', id, 1, Buffer.from('four'), { size: 4, signal })
    await p.multipart.complete('prefix/c.bin', id, [{ partNumber: 1, etag }], signal)
    expect(readFileSync(join(root, 'mapped/c.bin'), 'utf8')).toBe('four')
  })
})

/** A destination root whose folder `name` is a symbolic link to `outside`, an empty folder beside it. */
function linkedDest(name: string): { root: string; outside: string } {
  const base = tempDir('local-link')
  const root = join(base, 'dest')
  const outside = join(base, 'outside')
  mkdirSync(root)
  mkdirSync(outside)
  symlinkSync(outside, join(root, name))
  return { root, outside }
}

describe('LocalProvider and symbolic links in the destination', () => {
  test.each([
    ['put', (p: LocalProvider) => p.put('linked/x.bin', Buffer.from('x'), { size: 1, signal })],
    ['write', (p: LocalProvider) => p.write('linked/deeper/x.bin', Buffer.from('x'), signal)],
    ['an upload in parts', (p: LocalProvider) => p.multipart.create('linked/y.bin', { size: 10, partSize: 5, signal })],
  ])('%s of a key under a linked folder is refused with UnsafeKeyError, and nothing is written outside', async (_name, write) => {
    const { root, outside } = linkedDest('linked')
    await expect(write(new LocalProvider(root))).rejects.toBeInstanceOf(UnsafeKeyError)
    expect(readdirSync(outside)).toEqual([])
  })

  test('a linked .soaker folder is refused too: partial files are never written through it', async () => {
    const { root, outside } = linkedDest('.soaker')
    await expect(new LocalProvider(root).put('a.bin', Buffer.from('a'), { size: 1, signal })).rejects.toBeInstanceOf(UnsafeKeyError)
    expect(readdirSync(outside)).toEqual([])
  })
})

describe('local write errors', () => {
  test.each([['ENOSPC', 'the destination disk is full'], ['EDQUOT', 'the disk quota is exhausted'], ['EROFS', 'the destination file system is read-only']])(
    '%s becomes a LocalWriteError with that errno, naming the path', (code, says) => {
      const err = localError(Object.assign(new Error(`${code}: no`), { code }), '/dest/a.bin')
      expect(err).toBeInstanceOf(LocalWriteError)
      expect((err as LocalWriteError).errno).toBe(code)
      expect((err as LocalWriteError).message).toBe(`cannot write \`/dest/a.bin\`: ${says} (${code})`)
    })
})
