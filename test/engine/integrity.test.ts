import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { ChecksumMismatchError } from '../../src/errors.js'
import { checkWhole, digestFromEtag, downloadDigest, etagPromise, expectedDigest, multipartDigest, wholeHash, type ExpectedDigest } from '../../src/engine/integrity.js'

const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex')
const dir = mkdtempSync(join(tmpdir(), 'soaker-integrity-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('digestFromEtag', () => {
  test.each<[string, string | undefined, boolean, ExpectedDigest]>([
    ['a plain MD5', '5d41402abc4b2a76b9719d911017c592', false, { kind: 'md5', md5: '5d41402abc4b2a76b9719d911017c592' }],
    ['an upper-case MD5, lowered', '5D41402ABC4B2A76B9719D911017C592', false, { kind: 'md5', md5: '5d41402abc4b2a76b9719d911017c592' }],
    ['a multipart ETag', 'e2fc714c4727ee9395f324cd2e7f331f-12', false, { kind: 'multipart', md5: 'e2fc714c4727ee9395f324cd2e7f331f', parts: 12 }],
    ['a multipart ETag of 10,000 parts', 'e2fc714c4727ee9395f324cd2e7f331f-10000', false, { kind: 'multipart', md5: 'e2fc714c4727ee9395f324cd2e7f331f', parts: 10_000 }],
    ['an encrypted object’s MD5-looking ETag', '5d41402abc4b2a76b9719d911017c592', true, { kind: 'none' }],
    ['an encrypted multipart ETag', 'e2fc714c4727ee9395f324cd2e7f331f-3', true, { kind: 'none' }],
    ['no ETag', undefined, false, { kind: 'none' }],
    ['an empty ETag', '', false, { kind: 'none' }],
    ['garbage', 'not-an-etag', false, { kind: 'none' }],
    ['31 hex digits', '5d41402abc4b2a76b9719d911017c59', false, { kind: 'none' }],
    ['33 hex digits', '5d41402abc4b2a76b9719d911017c5920', false, { kind: 'none' }],
    ['non-hex characters', 'zd41402abc4b2a76b9719d911017c592', false, { kind: 'none' }],
    ['a dash with no count', '5d41402abc4b2a76b9719d911017c592-', false, { kind: 'none' }],
    ['a quoted ETag (quotes are stripped before this)', '"5d41402abc4b2a76b9719d911017c592"', false, { kind: 'none' }],
    ['an Azure-style ETag', '0x8DB1E2F3A4B5C6D', false, { kind: 'none' }],
  ])('%s', (_label, etag, encrypted, expected) => {
    expect(digestFromEtag(etag, encrypted)).toEqual(expected)
  })
})

describe('digestFromEtag by the kind of ETag a provider has', () => {
  const sha256 = 'a'.repeat(64)
  test.each<[string, string, 'md5' | 'content-id' | 'none', ExpectedDigest]>([
    ['a Hub LFS file: SHA-256', sha256.toUpperCase(), 'content-id', { kind: 'whole', algorithm: 'sha256', hex: sha256 }],
    ['a Hub plain file: git blob id', 'ce013625030ba8dba906f756967f9e9ca394464a', 'content-id', { kind: 'whole', algorithm: 'git-sha1', hex: 'ce013625030ba8dba906f756967f9e9ca394464a' }],
    ['an MD5 from the Hub promises nothing', '5d41402abc4b2a76b9719d911017c592', 'content-id', { kind: 'none' }],
    ['64 hex digits from an S3-style store promise nothing', sha256, 'md5', { kind: 'none' }],
    ['an MD5-looking version stamp', '5d41402abc4b2a76b9719d911017c592', 'none', { kind: 'none' }],
  ])('%s', (_label, etag, kind, expected) => {
    expect(digestFromEtag(etag, false, kind)).toEqual(expected)
  })
})

describe('expectedDigest: the ETag first, then an MD5 the store keeps beside it', () => {
  const md5 = '5d41402abc4b2a76b9719d911017c592'
  const other = '0123456789abcdef0123456789abcdef'
  test.each<[string, string | undefined, { encrypted?: boolean; contentMd5?: string }, 'md5' | 'content-id' | 'none', ExpectedDigest]>([
    ['an Azure blob with Content-MD5', '0x8DB1234567890AB', { contentMd5: md5.toUpperCase() }, 'none',
      { kind: 'whole', algorithm: 'md5', hex: md5, source: 'Content-MD5' }],
    ['an Azure blob without one: size only', '0x8DB1234567890AB', {}, 'none', { kind: 'none' }],
    ['a Content-MD5 that is not 32 hex digits is ignored', '0x8DB1234567890AB', { contentMd5: 'abc' }, 'none', { kind: 'none' }],
    ['an S3 ETag that is an MD5 wins over a Content-MD5', md5, { contentMd5: other }, 'md5', { kind: 'md5', md5 }],
    ['an encrypted S3 object with a Content-MD5 beside its ETag', md5, { encrypted: true, contentMd5: other }, 'md5',
      { kind: 'whole', algorithm: 'md5', hex: other, source: 'Content-MD5' }],
    ['no ETag at all, a Content-MD5', undefined, { contentMd5: md5 }, 'none', { kind: 'whole', algorithm: 'md5', hex: md5, source: 'Content-MD5' }],
  ])('%s', (_label, etag, details, kind, expected) => {
    expect(expectedDigest(etag, details, kind)).toEqual(expected)
  })
})

describe('wholeHash', () => {
  test('git-sha1 is git\'s blob id: SHA-1 of `blob <size>\\0` and the bytes', () => {
    // `printf 'hello\n' | git hash-object --stdin`
    expect(wholeHash('git-sha1', 6).update('hello\n').digest('hex')).toBe('ce013625030ba8dba906f756967f9e9ca394464a')
    expect(wholeHash('sha256', 0).digest('hex')).toBe(createHash('sha256').digest('hex'))
  })
})

describe('multipartDigest', () => {
  test('is the MD5 of the concatenated binary MD5s of the parts', () => {
    const parts = [randomBytes(1000), randomBytes(2000), randomBytes(17)]
    const partMd5s = parts.map((p) => md5(p))
    const expected = md5(Buffer.concat(parts.map((p) => createHash('md5').update(p).digest())))
    expect(multipartDigest(partMd5s)).toBe(expected)
  })

  test('matches a known S3 multipart ETag: two parts "a" and "b"', () => {
    // MD5("a") = 0cc175b9c0f1b6a831c399e269772661, MD5("b") = 92eb5ffee6ae2fec3ad71c777531578f
    const expected = md5(Buffer.from('0cc175b9c0f1b6a831c399e26977266192eb5ffee6ae2fec3ad71c777531578f', 'hex'))
    expect(multipartDigest(['0cc175b9c0f1b6a831c399e269772661', '92eb5ffee6ae2fec3ad71c777531578f'])).toBe(expected)
  })

  test('depends on the order of the parts', () => {
    const a = md5('a'), b = md5('b')
    expect(multipartDigest([a, b])).not.toBe(multipartDigest([b, a]))
  })

  test('of one part is not the part’s own MD5', () => {
    const a = md5('a')
    expect(multipartDigest([a])).toBe(md5(Buffer.from(a, 'hex')))
    expect(multipartDigest([a])).not.toBe(a)
  })

  test('accepts upper-case hex', () => {
    const a = md5('a'), b = md5('b')
    expect(multipartDigest([a.toUpperCase(), b.toUpperCase()])).toBe(multipartDigest([a, b]))
  })
})

describe('downloadDigest', () => {
  const crc = { algorithm: 'crc64nvme', hex: 'ae8b14860a799888', source: 'x-amz-checksum-crc64nvme' } as const
  const etag = '5d41402abc4b2a76b9719d911017c592'

  test('prefers the CRC the store keeps, keeping what the ETag promises beside it', () => {
    expect(downloadDigest(etag, { crc })).toEqual({ kind: 'crc', ...crc, etag: { kind: 'md5', md5: etag } })
    expect(etagPromise(downloadDigest(etag, { crc }))).toEqual({ kind: 'md5', md5: etag })
  })

  test('without a CRC is what expectedDigest finds', () => {
    expect(downloadDigest(`${etag}-3`, {})).toEqual({ kind: 'multipart', md5: etag, parts: 3 })
    expect(downloadDigest(undefined, { encrypted: true })).toEqual({ kind: 'none' })
  })
})

describe('checkWhole with a CRC', () => {
  const expected = downloadDigest(undefined, { crc: { algorithm: 'crc32c', hex: 'e3069283', source: 'crc32c' } })

  test('passes the same CRC', () => {
    expect(() => checkWhole('gs://b/k', expected, 'e3069283')).not.toThrow()
  })

  test('a different CRC throws ChecksumMismatchError naming the object, the algorithm and both values as the store writes them', () => {
    expect(() => checkWhole('gs://b/k', expected, '00000001')).toThrow(ChecksumMismatchError)
    expect(() => checkWhole('gs://b/k', expected, '00000001')).toThrow('gs://b/k: CRC32C AAAAAQ== does not match the store\'s crc32c 4waSgw==')
  })
})
