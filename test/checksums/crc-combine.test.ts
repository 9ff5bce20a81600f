import { describe, expect, test } from 'vitest'
import { combine, combineRanges } from '../../src/checksums/crc-combine.js'
import { digester, digestSize, type CrcAlgorithm } from '../../src/checksums/digester.js'
import { seeded } from '../support/seeded.js'

const crcAlgorithms: CrcAlgorithm[] = ['crc32', 'crc32c', 'crc64nvme']

async function crcOf(algorithm: CrcAlgorithm, data: Uint8Array): Promise<Buffer> {
  const d = await digester(algorithm)
  d.update(data)
  return d.digest()
}

const hex = (b: Buffer): string => b.toString('hex')

describe.each(crcAlgorithms)('combine %s', (algorithm) => {
  test('crc("12345") with crc("6789") and 4 bytes is crc("123456789"), the check value', async () => {
    const a = await crcOf(algorithm, Buffer.from('12345'))
    const b = await crcOf(algorithm, Buffer.from('6789'))
    expect(hex(combine(algorithm, a, b, 4))).toBe(hex(await crcOf(algorithm, Buffer.from('123456789'))))
  })

  test('A‖B from crc(A), crc(B) and |B|, for random buffers cut at random points', async () => {
    const random = seeded(1414)
    // Lengths of the whole; each is cut at a random point, at its ends (an empty A or B) and near them.
    for (const size of [0, 1, 7, 8, 9, 64, 1000, 64 * 1024 + 3, 5 * 1024 * 1024 + 11]) {
      const data = random.bytes(size)
      const whole = hex(await crcOf(algorithm, data))
      const near = [0, 1, size - 1, size].filter((c) => c >= 0 && c <= size)
      const cuts = new Set([...near, random.int(size + 1), random.int(size + 1)])
      for (const cut of cuts) {
        const a = await crcOf(algorithm, data.subarray(0, cut))
        const b = await crcOf(algorithm, data.subarray(cut))
        expect(hex(combine(algorithm, a, b, size - cut)), `${size} bytes cut at ${cut}`).toBe(whole)
      }
    }
  })

  test('B of 1, 7, 8 and 64 KiB + 3 bytes after an A of any length', async () => {
    const random = seeded(8)
    for (const lengthB of [1, 7, 8, 64 * 1024 + 3]) {
      const a = random.bytes(random.int(100_000))
      const b = random.bytes(lengthB)
      const whole = await crcOf(algorithm, Buffer.concat([a, b]))
      expect(hex(combine(algorithm, await crcOf(algorithm, a), await crcOf(algorithm, b), lengthB))).toBe(hex(whole))
    }
  })

  test('many ranges combined in order are the CRC of the whole, empty ranges included', async () => {
    const random = seeded(99)
    const data = random.bytes(3 * 1024 * 1024 + 17)
    const cuts = [0, 0, ...Array.from({ length: 40 }, () => random.int(data.length + 1)), data.length].sort((a, b) => a - b)
    const ranges = []
    for (let i = 1; i < cuts.length; i++) {
      const range = data.subarray(cuts[i - 1], cuts[i])
      ranges.push({ digest: await crcOf(algorithm, range), length: range.length })
    }
    expect(ranges.some((r) => r.length === 0)).toBe(true)
    expect(hex(combineRanges(algorithm, ranges))).toBe(hex(await crcOf(algorithm, data)))
  })

  test('10,000 parts, the most S3 takes, combine to the CRC of the whole object', async () => {
    const random = seeded(10_000)
    const data = random.bytes(10_000 * 100 - 37)
    const ranges = []
    for (let at = 0; at < data.length; at += 100) {
      const part = data.subarray(at, at + 100)
      ranges.push({ digest: await crcOf(algorithm, part), length: part.length })
    }
    expect(ranges).toHaveLength(10_000)
    expect(hex(combineRanges(algorithm, ranges))).toBe(hex(await crcOf(algorithm, data)))
  })

  test('no ranges are the CRC of nothing, all zeros', () => {
    expect(combineRanges(algorithm, [])).toEqual(Buffer.alloc(digestSize[algorithm]))
  })

  test('lengths past 4 GiB: a shift by n twice is a shift by 2n, from a length hashed here up to 2^53', () => {
    // combine(a, zeros, n) is a · x^(8n) mod P. The shift by 12,345 bytes is right (the tests
    // above hash such lengths); each doubling then checks the next bit of the length, which is
    // how objects of terabytes, that no test can hash, are reached.
    const random = seeded(5)
    const zero = Buffer.alloc(digestSize[algorithm])
    const a = random.bytes(digestSize[algorithm])
    for (let n = 12_345; 2 * n <= Number.MAX_SAFE_INTEGER; n *= 2) {
      const twice = combine(algorithm, combine(algorithm, a, zero, n), zero, n)
      expect(hex(twice), `${n} twice`).toBe(hex(combine(algorithm, a, zero, 2 * n)))
    }
  })

  test('combining is associative: (A‖B)‖C is A‖(B‖C)', () => {
    const random = seeded(6)
    const [a, b, c] = [0, 1, 2].map(() => random.bytes(digestSize[algorithm]))
    const [lengthB, lengthC] = [123_456_789, 5 * 2 ** 40]
    const left = combine(algorithm, combine(algorithm, a!, b!, lengthB), c!, lengthC)
    const right = combine(algorithm, a!, combine(algorithm, b!, c!, lengthC), lengthB + lengthC)
    expect(hex(left)).toBe(hex(right))
  })

  test('a digest of the wrong size or a length that is not a whole number of bytes is refused', () => {
    const ok = Buffer.alloc(digestSize[algorithm])
    const wrong = Buffer.alloc(digestSize[algorithm] + 1)
    expect(() => combine(algorithm, wrong, ok, 1)).toThrow(/Expected `crcA` to be a .* digest of \d+ bytes, got \d+ bytes/)
    expect(() => combine(algorithm, ok, wrong, 1)).toThrow(RangeError)
    expect(() => combine(algorithm, ok, ok, -1)).toThrow('Expected `lengthB` to be a whole number of bytes, got -1')
    expect(() => combine(algorithm, ok, ok, 1.5)).toThrow(RangeError)
    expect(() => combine(algorithm, ok, ok, 2 ** 53)).toThrow(RangeError)
    const ranges = [{ digest: ok, length: 1 }, { digest: ok, length: NaN }]
    expect(() => combineRanges(algorithm, ranges)).toThrow('Expected `ranges[1].length` to be a whole number of bytes, got NaN')
  })
})
