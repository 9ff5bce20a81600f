import { createHash, type Hash } from 'node:crypto'
import { ChecksumMismatchError } from '../errors.js'
import type { CrcAlgorithm } from '../checksums/digester.js'
import type { EtagDigestKind, StoreCrc } from '../providers/provider.js'

/** What a store's ETag promises about the bytes, where it promises anything (or the MD5 it keeps beside it). */
export type EtagDigest =
  | { kind: 'md5'; md5: string }
  /** S3 multipart: MD5 of the concatenated binary MD5s of `parts` parts, then `-parts`. */
  | { kind: 'multipart'; md5: string; parts: number }
  /**
   * A whole-object digest the ETag is not an S3 MD5 of: a Hugging Face LFS file's SHA-256, a git
   * blob id, or an MD5 the store keeps beside its ETag (`source`: Azure's Content-MD5).
   */
  | { kind: 'whole'; algorithm: WholeDigest; hex: string; source?: 'Content-MD5' }
  | { kind: 'none' }

/** What the bytes of an object must hash to: what its ETag promises, or a CRC its store keeps. */
export type ExpectedDigest =
  | EtagDigest
  /**
   * A CRC of the whole object that the store keeps beside its ETag (ObjectDetails.crc): the CRCs
   * of ranges read apart combine into it, so it verifies an object read in any parts, no MD5 taken.
   * `etag`: what the ETag promises too, for reads that cannot take the CRC (etagPromise).
   */
  | { kind: 'crc'; algorithm: CrcAlgorithm; hex: string; source: string; etag: EtagDigest }

/** Digests of a whole file; `git-sha1` is git's blob id, SHA-1 of `blob <size>\0` and the bytes. */
export type WholeDigest = 'md5' | 'sha256' | 'git-sha1'

export function digestFromEtag(etag: string | undefined, encrypted = false, kind: EtagDigestKind = 'md5'): EtagDigest {
  // With SSE-KMS or SSE-C the ETag is not an MD5 of the data.
  if (etag === undefined || encrypted || kind === 'none') return { kind: 'none' }
  if (kind === 'content-id') {
    // The Hub's file ids: an LFS file's SHA-256 (64 hex), a plain file's git blob id (40 hex).
    if (/^[0-9a-f]{64}$/i.test(etag)) return { kind: 'whole', algorithm: 'sha256', hex: etag.toLowerCase() }
    if (/^[0-9a-f]{40}$/i.test(etag)) return { kind: 'whole', algorithm: 'git-sha1', hex: etag.toLowerCase() }
    return { kind: 'none' }
  }
  const m = /^([0-9a-f]{32})(?:-(\d+))?$/i.exec(etag)
  if (!m) return { kind: 'none' }
  const md5 = m[1]!.toLowerCase()
  return m[2] === undefined ? { kind: 'md5', md5 } : { kind: 'multipart', md5, parts: Number(m[2]) }
}

/**
 * What the bytes of an object must hash to: its ETag's promise where the ETag makes one, else the
 * MD5 the store keeps beside it (`contentMd5`), else nothing.
 */
export function expectedDigest(
  etag: string | undefined,
  details: { encrypted?: boolean; contentMd5?: string },
  kind: EtagDigestKind = 'md5',
): EtagDigest {
  const fromEtag = digestFromEtag(etag, details.encrypted, kind)
  if (fromEtag.kind !== 'none' || details.contentMd5 === undefined || !/^[0-9a-f]{32}$/i.test(details.contentMd5)) return fromEtag
  return { kind: 'whole', algorithm: 'md5', hex: details.contentMd5.toLowerCase(), source: 'Content-MD5' }
}

/**
 * What a download checks the bytes of an object against: the CRC its store keeps of it where
 * there is one (computed at 5-9 GB/s per core, against MD5's 0.6, and at any part size, where a
 * multipart ETag needs parts aligned with the upload's), else what expectedDigest finds.
 */
export function downloadDigest(
  etag: string | undefined,
  details: { encrypted?: boolean; contentMd5?: string; crc?: StoreCrc },
  kind: EtagDigestKind = 'md5',
): ExpectedDigest {
  const promised = expectedDigest(etag, details, kind)
  const { crc } = details
  return crc === undefined ? promised : { kind: 'crc', algorithm: crc.algorithm, hex: crc.hex, source: crc.source, etag: promised }
}

/** What the ETag (or the MD5 kept beside it) promises of the bytes, whatever else is known of them. */
export function etagPromise(expected: ExpectedDigest): EtagDigest {
  return expected.kind === 'crc' ? expected.etag : expected
}

/** The digest of the whole file that `expected` is checked against (MD5 where nothing else is asked). */
export function wholeDigestFor(expected: ExpectedDigest): WholeDigest {
  return expected.kind === 'whole' ? expected.algorithm : 'md5'
}

/** A running hash of `algorithm` over a file of `size` bytes, fed as the bytes stream. */
export function wholeHash(algorithm: WholeDigest, size: number): Hash {
  if (algorithm !== 'git-sha1') return createHash(algorithm)
  return createHash('sha1').update(`blob ${size}\0`)
}

/** The multipart ETag digest of parts given as hex MD5s, in part order. */
export function multipartDigest(partMd5s: string[]): string {
  const h = createHash('md5')
  for (const p of partMd5s) h.update(Buffer.from(p, 'hex'))
  return h.digest('hex')
}

const digestNames: Record<WholeDigest | CrcAlgorithm, string> = {
  md5: 'MD5', sha256: 'SHA-256', 'git-sha1': 'git blob SHA-1', crc32: 'CRC32', crc32c: 'CRC32C', crc64nvme: 'CRC64NVME',
}

/**
 * The whole-object digest `expected` promises (hex), with what names it in messages; undefined
 * where it promises none (a multipart ETag, none at all).
 */
export function wholeDigestOf(expected: ExpectedDigest): { algorithm: WholeDigest; hex: string; source: string } | undefined {
  if (expected.kind === 'md5') return { algorithm: 'md5', hex: expected.md5, source: 'ETag' }
  if (expected.kind === 'whole') return { algorithm: expected.algorithm, hex: expected.hex, source: expected.source ?? 'ETag' }
  return undefined
}

/**
 * Throws ChecksumMismatchError, naming `name`, when `actual` (hex) is not the digest `expected`
 * promises: for a CRC, `actual` is the CRC of the bytes (of all their ranges, combined).
 */
export function checkWhole(name: string, expected: ExpectedDigest, actual: string): void {
  if (expected.kind === 'crc') return checkCrc(name, expected, actual)
  const want = wholeDigestOf(expected)
  if (want === undefined || actual === want.hex) return
  throw new ChecksumMismatchError(`${name}: ${digestNames[want.algorithm]} ${actual} does not match the store's ${want.source} ${want.hex}`)
}

/** S3 and GCS show a CRC in base64, as messages do: what a user compares with the store's answer. */
function base64Of(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64')
}

function checkCrc(name: string, expected: Extract<ExpectedDigest, { kind: 'crc' }>, actual: string): void {
  if (actual === expected.hex) return
  const what = digestNames[expected.algorithm]
  throw new ChecksumMismatchError(`${name}: ${what} ${base64Of(actual)} does not match the store's ${expected.source} ${base64Of(expected.hex)}`)
}
