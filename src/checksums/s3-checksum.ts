import { combineRanges, type CrcRange } from './crc-combine.js'
import { digestSize, digester, type ChecksumAlgorithm, type CrcAlgorithm } from './digester.js'

/**
 * Digests in the form S3 sends and stores them. What S3 defines (its API reference, Checksum and
 * ObjectPart, and the user guide's "Checking object integrity"):
 *
 * - A checksum travels as the base64 of the digest's bytes, a CRC's big-endian: CRC32 and CRC32C
 *   4 bytes (8 characters), CRC64NVME 8 (12), SHA-1 20, SHA-256 32 (44). Requests and answers
 *   carry it in `x-amz-checksum-crc32`, `-crc32c`, `-crc64nvme`, `-sha1` or `-sha256` (the
 *   ChecksumCRC32 ... fields of the XML); Content-MD5 carries an MD5 in the same form.
 * - An object sent in one PUT has a full-object checksum: that of its bytes.
 * - A multipart upload chooses its type (`x-amz-checksum-type`) when it is created:
 *   - FULL_OBJECT, for CRC64NVME, CRC32 and CRC32C: the CRC of the whole object's bytes, the
 *     same whatever the part sizes, which a client gets from its parts' CRCs by combining them
 *     (fullObjectChecksum). CRC64NVME has only this type; it is S3's default checksum.
 *   - COMPOSITE, for CRC32, CRC32C, SHA-1 and SHA-256: a checksum of checksums, computed as the
 *     multipart ETag is (the MD5 of the parts' binary MD5s, then `-` and the part count): the
 *     algorithm over the parts' digests (the bytes, not the base64) concatenated in part-number
 *     order, which must run 1, 2, 3 ... without gaps when checksums are used. Its value depends on
 *     the part sizes and equals no checksum of the object's bytes.
 * - Where S3 answers with a composite checksum (HeadObject, GetObject) it is followed by `-N`, N
 *   the part count: the AWS SDK for JavaScript reads a value ending in `-N` (1 ≤ N ≤ 10,000, no
 *   leading zero) as one and does not check the body against it. The user guide's own example
 *   compares GetObjectAttributes' composite value with a bare checksum of checksums, so a value
 *   without the suffix may be either type: only `x-amz-checksum-type` tells them apart.
 */

/** The types of checksum a multipart upload can have, as `x-amz-checksum-type` spells them. */
export type S3ChecksumType = 'FULL_OBJECT' | 'COMPOSITE'

/** The algorithms soaker digests that have S3 COMPOSITE checksums (SHA-1 has one too; soaker computes none). */
export type CompositeAlgorithm = 'crc32' | 'crc32c' | 'sha256'

/** The header that carries each algorithm's checksum; MD5's is Content-MD5 (on requests: answers give an ETag). */
export const checksumHeader: Readonly<Record<ChecksumAlgorithm, string>> = {
  md5: 'content-md5',
  sha256: 'x-amz-checksum-sha256',
  crc32: 'x-amz-checksum-crc32',
  crc32c: 'x-amz-checksum-crc32c',
  crc64nvme: 'x-amz-checksum-crc64nvme',
}

/** S3 caps a multipart upload at 10,000 parts, and so the `-N` of a composite checksum. */
const maxParts = 10_000

/** A digest as S3 writes it: base64 of its bytes. Throws RangeError for a digest of the wrong size. */
export function toBase64(algorithm: ChecksumAlgorithm, digest: Uint8Array): string {
  const size = digestSize[algorithm]
  if (digest.length !== size) {
    throw new RangeError(`Expected a ${algorithm} digest of ${size} bytes, got ${digest.length} bytes`)
  }
  return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString('base64')
}

/** A checksum S3 sent: the digest, and the part count of a composite checksum's `-N` where it has one. */
export interface S3Checksum {
  digest: Buffer
  parts?: number
}

/**
 * What an `x-amz-checksum-*` value (or a Checksum* field) says, read strictly: canonical base64
 * of exactly digestSize bytes, then optionally `-N` with N from 1 to 10,000 and no leading zero.
 * Undefined for anything else: such a value promises nothing about the bytes.
 */
export function parseS3Checksum(algorithm: ChecksumAlgorithm, value: string): S3Checksum | undefined {
  const m = /^([A-Za-z0-9+/]+={0,2})(?:-([1-9][0-9]*))?$/.exec(value)
  if (!m) return undefined
  const [, base64, count] = m
  const digest = Buffer.from(base64!, 'base64')
  // Buffer skips what is not base64 and ignores stray bits in the last character: a value that
  // does not encode back to itself is not one S3 wrote.
  if (digest.length !== digestSize[algorithm] || digest.toString('base64') !== base64) return undefined
  if (count === undefined) return { digest }
  const parts = Number(count)
  return parts <= maxParts ? { digest, parts } : undefined
}

/**
 * S3's COMPOSITE checksum of a multipart object, with its `-N`: `algorithm` over the parts'
 * digests concatenated in part order. Throws RangeError where there are no parts, more than
 * 10,000, or a digest of the wrong size, and for CRC64NVME, which has no composite checksum.
 */
export async function compositeChecksum(
  algorithm: CompositeAlgorithm,
  partDigests: readonly Uint8Array[],
): Promise<string> {
  if (!isComposite(algorithm)) {
    throw new RangeError(`Expected an algorithm with S3 composite checksums (crc32, crc32c, sha256), got ${algorithm}`)
  }
  if (partDigests.length < 1 || partDigests.length > maxParts) {
    throw new RangeError(`Expected 1 to ${maxParts} part digests, got ${partDigests.length}`)
  }
  const ofDigests = await digester(algorithm)
  const size = digestSize[algorithm]
  for (const [i, d] of partDigests.entries()) {
    if (d.length !== size) {
      throw new RangeError(`Expected part ${i + 1}'s ${algorithm} digest to be ${size} bytes, got ${d.length}`)
    }
    ofDigests.update(d)
  }
  return `${toBase64(algorithm, ofDigests.digest())}-${partDigests.length}`
}

function isComposite(algorithm: string): algorithm is CompositeAlgorithm {
  return algorithm === 'crc32' || algorithm === 'crc32c' || algorithm === 'sha256'
}

/**
 * S3's FULL_OBJECT checksum of an object from its parts' (or any ranges') CRCs and lengths, in
 * order: the base64 of the CRC of all their bytes. Throws as combineRanges().
 */
export function fullObjectChecksum(algorithm: CrcAlgorithm, parts: Iterable<CrcRange>): string {
  return toBase64(algorithm, combineRanges(algorithm, parts))
}

/** The CRCs S3 keeps full-object checksums of, in the order they are preferred: the fastest here first. */
const fullObjectCrcs: readonly CrcAlgorithm[] = ['crc64nvme', 'crc32c', 'crc32']

/** A full-object CRC S3 gave, and the header it came in. */
export interface S3FullObjectCrc {
  algorithm: CrcAlgorithm
  digest: Buffer
  header: string
}

/**
 * The full-object CRC of an object as S3 answers HeadObject or GetObject asked with
 * `x-amz-checksum-mode: ENABLED`, from the answer's headers (names in lower case): a CRC64NVME
 * (which has no other type); a CRC32C or CRC32 of `x-amz-checksum-type` FULL_OBJECT; or, from an
 * answer without a type, one with no `-N` of an object whose `etag` is not a multipart one (sent in
 * one PUT, its checksum is that of its bytes). Undefined where there is none: a COMPOSITE checksum
 * (or any `-N`), a SHA alone, a value that does not parse, or an answer without checksums.
 */
export function fullObjectCrc(headers: Readonly<Record<string, string | undefined>>, etag: string | undefined): S3FullObjectCrc | undefined {
  const type = headers['x-amz-checksum-type']?.toUpperCase()
  if (type !== undefined && type !== 'FULL_OBJECT') return undefined
  const onePut = etag !== undefined && !/-\d+$/.test(etag)
  for (const algorithm of fullObjectCrcs) {
    const header = checksumHeader[algorithm]
    const value = headers[header]
    if (value === undefined) continue
    const parsed = parseS3Checksum(algorithm, value.trim())
    const isFullObject = type === 'FULL_OBJECT' || algorithm === 'crc64nvme' || onePut
    if (parsed !== undefined && parsed.parts === undefined && isFullObject) return { algorithm, digest: parsed.digest, header }
  }
  return undefined
}
