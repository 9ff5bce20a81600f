import { createHash } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { crc32c } from '@node-rs/crc32'
import { describe, expect, test } from 'vitest'
import { digester, digestSize, type ChecksumAlgorithm, type CrcAlgorithm } from '../../src/checksums/digester.js'
import {
  checksumHeader, compositeChecksum, fullObjectChecksum, fullObjectCrc, parseS3Checksum, toBase64, type CompositeAlgorithm,
} from '../../src/checksums/s3-checksum.js'
import { seeded } from '../support/seeded.js'

async function digestOf(algorithm: ChecksumAlgorithm, data: Uint8Array): Promise<Buffer> {
  const d = await digester(algorithm)
  d.update(data)
  return d.digest()
}

/** 4 bytes, big-endian: a CRC32 or CRC32C as S3 base64-encodes it. */
function be32(crc: number): Buffer {
  const out = Buffer.alloc(4)
  out.writeUInt32BE(crc >>> 0)
  return out
}

describe('toBase64', () => {
  // The check values of "123456789" (cbf43926, e3069283, ae8b14860a799888, and SHA-256's and MD5's) in S3's form.
  test.each<[ChecksumAlgorithm, string]>([
    ['crc32', 'y/Q5Jg=='],
    ['crc32c', '4waSgw=='],
    ['crc64nvme', 'rosUhgp5mIg='],
    ['sha256', 'FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU='],
    ['md5', 'JfnnlDI7RTiF9RgfG2JNCw=='],
  ])('%s of "123456789" is %s', async (algorithm, expected) => {
    expect(toBase64(algorithm, await digestOf(algorithm, Buffer.from('123456789')))).toBe(expected)
  })

  test('a digest of the wrong size is refused', () => {
    expect(() => toBase64('crc64nvme', Buffer.alloc(4))).toThrow('Expected a crc64nvme digest of 8 bytes, got 4 bytes')
  })

  test('each algorithm has its header', () => {
    expect(checksumHeader).toEqual({
      md5: 'content-md5', sha256: 'x-amz-checksum-sha256', crc32: 'x-amz-checksum-crc32',
      crc32c: 'x-amz-checksum-crc32c', crc64nvme: 'x-amz-checksum-crc64nvme',
    })
  })
})

describe('parseS3Checksum', () => {
  const crc64 = Buffer.from('ae8b14860a799888', 'hex')
  test.each<[string, ChecksumAlgorithm, string, { digest: Buffer; parts?: number } | undefined]>([
    ['a full-object CRC64NVME', 'crc64nvme', 'rosUhgp5mIg=', { digest: crc64 }],
    ['a CRC32', 'crc32', 'y/Q5Jg==', { digest: Buffer.from('cbf43926', 'hex') }],
    ['a composite CRC32C of 3 parts', 'crc32c', '4waSgw==-3', { digest: Buffer.from('e3069283', 'hex'), parts: 3 }],
    ['a composite SHA-256 of 10,000 parts', 'sha256', 'FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=-10000',
      { digest: Buffer.from('15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225', 'hex'), parts: 10_000 }],
    ['a composite of 1 part', 'crc32', 'y/Q5Jg==-1', { digest: Buffer.from('cbf43926', 'hex'), parts: 1 }],
    ['10,001 parts, more than S3 takes', 'crc32', 'y/Q5Jg==-10001', undefined],
    ['0 parts', 'crc32', 'y/Q5Jg==-0', undefined],
    ['a part count with a leading zero', 'crc32', 'y/Q5Jg==-01', undefined],
    ['a dash and no count', 'crc32', 'y/Q5Jg==-', undefined],
    ['a CRC32 where a CRC64NVME is expected', 'crc64nvme', 'y/Q5Jg==', undefined],
    ['a CRC64NVME where a CRC32 is expected', 'crc32', 'rosUhgp5mIg=', undefined],
    ['base64 without its padding', 'crc32', 'y/Q5Jg', undefined],
    ['stray bits in the last character', 'crc32', 'y/Q5Jh==', undefined],
    ['URL-safe base64', 'crc64nvme', 'rosUhgp5mIg_', undefined],
    ['hex, as an ETag is', 'crc32', 'cbf43926', undefined],
    ['spaces around it', 'crc32', ' y/Q5Jg== ', undefined],
    ['nothing', 'crc32', '', undefined],
  ])('%s', (_label, algorithm, value, expected) => {
    expect(parseS3Checksum(algorithm, value)).toEqual(expected)
  })

  test('reads back what toBase64 and compositeChecksum write', async () => {
    const digest = await digestOf('crc64nvme', seeded(1).bytes(1000))
    expect(parseS3Checksum('crc64nvme', toBase64('crc64nvme', digest))).toEqual({ digest })
    const composite = await compositeChecksum('crc32c', [Buffer.alloc(4, 1), Buffer.alloc(4, 2)])
    expect(parseS3Checksum('crc32c', composite)?.parts).toBe(2)
  })
})

describe('compositeChecksum', () => {
  const parts = ['The quick brown fox ', 'jumps over ', 'the lazy dog'].map((p) => Buffer.from(p))

  // The checksum of the concatenated part digests, computed here without soaker's digesters.
  test.each<[CompositeAlgorithm, (b: Buffer) => Buffer]>([
    ['crc32', (b) => be32(crc32(b))],
    ['crc32c', (b) => be32(crc32c(b))],
    ['sha256', (b) => createHash('sha256').update(b).digest()],
  ])('%s: the algorithm over the parts\' digests in order, then -N', async (algorithm, digest) => {
    const expected = `${digest(Buffer.concat(parts.map(digest))).toString('base64')}-3`
    expect(await compositeChecksum(algorithm, await Promise.all(parts.map((p) => digestOf(algorithm, p))))).toBe(expected)
  })

  test('depends on the order of the parts and on where they are cut, unlike the full-object CRC', async () => {
    const whole = Buffer.concat(parts)
    const cut = [whole.subarray(0, 10), whole.subarray(10)]
    const composite = async (ps: Buffer[]): Promise<string> =>
      compositeChecksum('crc32', await Promise.all(ps.map((p) => digestOf('crc32', p))))
    const inOrder = await composite(parts)
    expect(await composite([parts[1]!, parts[0]!, parts[2]!])).not.toBe(inOrder)
    expect(await composite(cut)).not.toBe(inOrder)
    const crc32Range = async (p: Buffer) => ({ digest: await digestOf('crc32', p), length: p.length })
    const full = async (ps: Buffer[]): Promise<string> =>
      fullObjectChecksum('crc32', await Promise.all(ps.map(crc32Range)))
    expect(await full(parts)).toBe(await full(cut))
  })

  test('a single part is its digest\'s checksum with -1, not the part\'s checksum', async () => {
    const digest = await digestOf('sha256', parts[0]!)
    const value = await compositeChecksum('sha256', [digest])
    expect(value).toBe(`${createHash('sha256').update(digest).digest('base64')}-1`)
    expect(value).not.toBe(`${digest.toString('base64')}-1`)
  })

  test('CRC64NVME, no parts, more than 10,000 parts and digests of the wrong size are refused', async () => {
    // @ts-expect-error S3 has no composite CRC64NVME: full-object only
    await expect(compositeChecksum('crc64nvme', [Buffer.alloc(8)])).rejects.toThrow('Expected an algorithm with S3 composite')
    await expect(compositeChecksum('crc32', [])).rejects.toThrow('Expected 1 to 10000 part digests, got 0')
    const tooMany = Array.from({ length: 10_001 }, () => Buffer.alloc(4))
    await expect(compositeChecksum('crc32', tooMany)).rejects.toThrow('Expected 1 to 10000 part digests, got 10001')
    await expect(compositeChecksum('crc32', [Buffer.alloc(4), Buffer.alloc(8)]))
      .rejects.toThrow('Expected part 2\'s crc32 digest to be 4 bytes, got 8')
  })
})

describe('fullObjectChecksum', () => {
  const crcAlgorithms: CrcAlgorithm[] = ['crc32', 'crc32c', 'crc64nvme']
  test.each(crcAlgorithms)('%s of an object\'s parts is the base64 CRC of all its bytes, with no -N', async (algorithm) => {
    const random = seeded(21)
    const partSize = 5 * 1024 * 1024
    const object = random.bytes(2 * partSize + 12_345)
    const parts = []
    for (let at = 0; at < object.length; at += partSize) {
      const part = object.subarray(at, at + partSize)
      parts.push({ digest: await digestOf(algorithm, part), length: part.length })
    }
    const value = fullObjectChecksum(algorithm, parts)
    expect(value).toBe(toBase64(algorithm, await digestOf(algorithm, object)))
    expect(parseS3Checksum(algorithm, value)).toEqual({ digest: await digestOf(algorithm, object) })
    expect(value).toHaveLength(Math.ceil(digestSize[algorithm] / 3) * 4)
  })
})

describe('fullObjectCrc', () => {
  // The check values of "123456789" in S3's form.
  const crc64 = 'rosUhgp5mIg='
  const crc32c = '4waSgw=='
  const crc32 = 'y/Q5Jg=='
  const single = '0cc175b9c0f1b6a831c399e269772661'
  const multi = '0cc175b9c0f1b6a831c399e269772661-3'
  test.each<[string, Record<string, string>, string, [string, string] | undefined]>([
    ['a CRC64NVME of type FULL_OBJECT', { 'x-amz-checksum-crc64nvme': crc64, 'x-amz-checksum-type': 'FULL_OBJECT' }, multi, ['crc64nvme', 'ae8b14860a799888']],
    ['a CRC64NVME without a type (it has no other)', { 'x-amz-checksum-crc64nvme': crc64 }, multi, ['crc64nvme', 'ae8b14860a799888']],
    ['a CRC32C of type FULL_OBJECT of a multipart object', { 'x-amz-checksum-crc32c': crc32c, 'x-amz-checksum-type': 'FULL_OBJECT' }, multi, ['crc32c', 'e3069283']],
    ['a CRC32 without a type of an object sent in one PUT', { 'x-amz-checksum-crc32': crc32 }, single, ['crc32', 'cbf43926']],
    ['CRC64NVME first where several are given', { 'x-amz-checksum-crc32c': crc32c, 'x-amz-checksum-crc64nvme': crc64, 'x-amz-checksum-type': 'FULL_OBJECT' }, single, ['crc64nvme', 'ae8b14860a799888']],
    ['a malformed CRC64NVME, then a good CRC32C', { 'x-amz-checksum-crc64nvme': 'nope', 'x-amz-checksum-crc32c': crc32c }, single, ['crc32c', 'e3069283']],
    ['a COMPOSITE CRC32C', { 'x-amz-checksum-crc32c': `${crc32c}-3`, 'x-amz-checksum-type': 'COMPOSITE' }, multi, undefined],
    ['a CRC32C with -N and no type', { 'x-amz-checksum-crc32c': `${crc32c}-3` }, multi, undefined],
    ['a CRC32C without -N or type of a multipart object (it may be composite)', { 'x-amz-checksum-crc32c': crc32c }, multi, undefined],
    ['a CRC32C of an unknown type', { 'x-amz-checksum-crc32c': crc32c, 'x-amz-checksum-type': 'SOMETHING' }, single, undefined],
    ['a SHA-256 alone', { 'x-amz-checksum-sha256': 'FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=' }, single, undefined],
    ['no checksum (Ceph 16)', {}, single, undefined],
  ])('%s', (_name, headers, etag, expected) => {
    const crc = fullObjectCrc(headers, etag)
    expect(crc && [crc.algorithm, crc.digest.toString('hex')]).toEqual(expected)
    if (crc) expect(crc.header).toBe(checksumHeader[crc.algorithm])
  })
})
