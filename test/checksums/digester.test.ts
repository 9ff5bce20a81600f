import { createHash } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { Crc64Nvme } from '@aws-sdk/crc64-nvme'
import { crc32c } from '@node-rs/crc32'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { Crc64NvmeJs } from '../../src/checksums/crc64nvme-js.js'
import { checksumAlgorithms, digestSize, digester, type ChecksumAlgorithm } from '../../src/checksums/digester.js'
import { seeded } from '../support/seeded.js'

/** Each algorithm's digest of a whole buffer, by an implementation other than the digester's. */
const reference: Record<ChecksumAlgorithm, (b: Buffer) => Promise<string>> = {
  md5: async (b) => createHash('md5').update(b).digest('hex'),
  sha256: async (b) => createHash('sha256').update(b).digest('hex'),
  crc32: async (b) => crc32(b).toString(16).padStart(8, '0'),
  crc32c: async (b) => crc32c(b).toString(16).padStart(8, '0'),
  crc64nvme: async (b) => {
    const sdk = new Crc64Nvme()
    sdk.update(b)
    return Buffer.from(await sdk.digest()).toString('hex')
  },
}

async function digestOf(algorithm: ChecksumAlgorithm, chunks: Uint8Array[]): Promise<string> {
  const d = await digester(algorithm)
  for (const c of chunks) d.update(c)
  return d.digest().toString('hex')
}

/** `data` cut at `cuts` (sorted offsets). */
function cutAt(data: Buffer, cuts: number[]): Buffer[] {
  const bounds = [0, ...cuts, data.length]
  return bounds.slice(1).map((end, i) => data.subarray(bounds[i], end))
}

describe('digester', () => {
  // The check values of the CRC catalogue (reveng) and the digests of the test vectors everyone quotes.
  test.each<[ChecksumAlgorithm, string]>([
    ['md5', '25f9e794323b453885f5181f1b624d0b'],
    ['sha256', '15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225'],
    ['crc32', 'cbf43926'],
    ['crc32c', 'e3069283'],
    ['crc64nvme', 'ae8b14860a799888'],
  ])('%s of ASCII "123456789" is its check value %s', async (algorithm, check) => {
    expect(await digestOf(algorithm, [Buffer.from('123456789')])).toBe(check)
  })

  test.each<[ChecksumAlgorithm, string]>([
    ['md5', 'd41d8cd98f00b204e9800998ecf8427e'],
    ['sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['crc32', '00000000'],
    ['crc32c', '00000000'],
    ['crc64nvme', '0000000000000000'],
  ])('%s of nothing is %s', async (algorithm, empty) => {
    expect(await digestOf(algorithm, [])).toBe(empty)
    expect(await digestOf(algorithm, [new Uint8Array(0)])).toBe(empty)
  })

  test.each(checksumAlgorithms)('%s gives digestSize bytes, big-endian as a CRC is written', async (algorithm) => {
    const d = await digester(algorithm)
    d.update(Buffer.from('123456789'))
    const digest = d.digest()
    expect(digest).toHaveLength(digestSize[algorithm])
    expect(digest.toString('hex')).toBe(await reference[algorithm](Buffer.from('123456789')))
  })

  test.each(checksumAlgorithms)('%s fed in random chunks equals its digest of the whole buffer', async (algorithm) => {
    const random = seeded(14)
    for (const size of [1, 7, 8, 9, 15, 16, 17, 1000, 64 * 1024 + 3, 3 * 1024 * 1024 + 5]) {
      const data = random.bytes(size)
      const cuts = Array.from({ length: random.int(12) }, () => random.int(size + 1)).sort((a, b) => a - b)
      const expected = await reference[algorithm](data)
      expect(await digestOf(algorithm, cutAt(data, cuts)), `${size} bytes cut at ${cuts}`).toBe(expected)
    }
  })

  test.each(checksumAlgorithms)('%s reads a Uint8Array view at an odd offset, not a Buffer', async (algorithm) => {
    const data = seeded(7).bytes(4099)
    const backing = new Uint8Array(data.length + 3)
    backing.set(data, 3)
    const view = new Uint8Array(backing.buffer, 3, data.length)
    expect(await digestOf(algorithm, [view.subarray(0, 1001), view.subarray(1001)])).toBe(await reference[algorithm](data))
  })

  test.each(checksumAlgorithms)('%s is spent after digest(): update and digest throw', async (algorithm) => {
    const d = await digester(algorithm)
    d.update(Buffer.from('abc'))
    d.digest()
    expect(() => d.update(Buffer.from('more'))).toThrow()
    expect(() => d.digest()).toThrow()
  })

  test('crc64nvme digesters in flight at once keep their own state, and a reused one starts afresh', async () => {
    const random = seeded(3)
    const a = random.bytes(100_000)
    const b = random.bytes(70_001)
    for (let round = 0; round < 3; round++) {
      const [da, db] = await Promise.all([digester('crc64nvme'), digester('crc64nvme')])
      for (let at = 0; at < a.length; at += 8192) {
        da.update(a.subarray(at, at + 8192))
        db.update(b.subarray(at, at + 8192))
      }
      expect(da.digest().toString('hex')).toBe(await reference.crc64nvme(a))
      expect(db.digest().toString('hex')).toBe(await reference.crc64nvme(b))
    }
  })
})

describe('crc64nvme without WebAssembly (node --jitless)', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
  })

  test('falls back to the JavaScript CRC, with the same digests', async () => {
    vi.stubGlobal('WebAssembly', undefined)
    const data = seeded(5).bytes(200_003)
    expect(await digestOf('crc64nvme', [Buffer.from('123456789')])).toBe('ae8b14860a799888')
    expect(await digestOf('crc64nvme', cutAt(data, [1, 9, 100_000]))).toBe(await reference.crc64nvme(data))
  })
})

describe('Crc64NvmeJs', () => {
  test('agrees with the SDK over every length up to 40 bytes and every cut of them', async () => {
    const data = seeded(11).bytes(40)
    for (let length = 0; length <= data.length; length++) {
      const whole = data.subarray(0, length)
      const expected = await reference.crc64nvme(whole)
      for (let cut = 0; cut <= length; cut++) {
        const crc = new Crc64NvmeJs()
        crc.update(whole.subarray(0, cut))
        crc.update(whole.subarray(cut))
        expect(crc.digest().toString('hex'), `${length} bytes cut at ${cut}`).toBe(expected)
      }
    }
  })
})
