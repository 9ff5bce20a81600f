import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { digester } from '../../src/checksums/digester.js'
import { HashPool } from '../../src/providers/local/hash-pool.js'

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex')
const dir = mkdtempSync(join(tmpdir(), 'soaker-hash-'))
const content = randomBytes(3 * 1024 * 1024 + 777) // more than the worker's 1 MiB read buffer
const file = join(dir, 'data.bin')
writeFileSync(file, content)
const pool = new HashPool(2)
afterAll(() => pool.close())

describe('HashPool', () => {
  test.each([
    ['the whole file', 0, content.length],
    ['an empty range', 10, 0],
    ['a range inside the first MiB', 100, 5000],
    ['a range across MiB boundaries', 1024 * 1024 - 3, 2 * 1024 * 1024 + 10],
    ['the last byte', content.length - 1, 1],
  ])('md5 of %s equals the MD5 of those bytes', async (_label, offset, length) => {
    expect(await pool.md5(file, offset, length)).toBe(md5(content.subarray(offset, offset + length)))
  })

  test('sha256 and git-sha1 of the whole file are its SHA-256 and its git blob id', async () => {
    expect(await pool.digest(file, 0, content.length, 'sha256')).toBe(createHash('sha256').update(content).digest('hex'))
    const header = Buffer.from(`blob ${content.length}\0`)
    expect(await pool.digest(file, 0, content.length, 'git-sha1')).toBe(createHash('sha1').update(header).update(content).digest('hex'))
    // git's own id of the blob `hello\n`, as `git hash-object` prints it.
    const hello = join(dir, 'hello.txt')
    writeFileSync(hello, 'hello\n')
    expect(await pool.digest(hello, 0, 6, 'git-sha1')).toBe('ce013625030ba8dba906f756967f9e9ca394464a')
  })

  test('crc64nvme of any range is the CRC64NVME digester\'s, big-endian hex', async () => {
    const ranges = [[0, content.length], [100, 5000], [1024 * 1024 - 3, 2 * 1024 * 1024 + 9], [7, 0]] as const
    const results = await Promise.all(ranges.map(([offset, length]) => pool.digest(file, offset, length, 'crc64nvme')))
    for (const [i, [offset, length]] of ranges.entries()) {
      const d = await digester('crc64nvme')
      d.update(content.subarray(offset, offset + length))
      expect(results[i]).toBe(d.digest().toString('hex'))
    }
  })

  test('many ranges at once, spread over the workers, each get their own answer', async () => {
    const parts = Array.from({ length: 12 }, (_, i) => ({ offset: i * 250_000, length: 250_000 }))
    const got = await Promise.all(parts.map((p) => pool.md5(file, p.offset, p.length)))
    expect(got).toEqual(parts.map((p) => md5(content.subarray(p.offset, p.offset + p.length))))
  })

  test('a range past the end of the file rejects, naming the cause', async () => {
    await expect(pool.md5(file, content.length - 10, 20)).rejects.toThrow(/unexpected end of file/)
  })

  test('a missing file rejects', async () => {
    await expect(pool.md5(join(dir, 'missing'), 0, 1)).rejects.toThrow(/ENOENT/)
  })
})
