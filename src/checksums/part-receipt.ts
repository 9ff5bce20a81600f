import { digestSize, type CrcAlgorithm } from './digester.js'

/**
 * A part kept in place (a download into a local partial file) is recorded with a receipt: the
 * digest taken as its bytes streamed, which the part log and the state store keep, so that a run
 * after a crash verifies the object from the receipts of the parts it finds without reading them
 * back. A receipt is the part's MD5 (32 hex digits, as an S3 part's ETag), or, where the object
 * is verified by a CRC the store keeps of it, that CRC: `<algorithm>:<hex>`, e.g.
 * `crc64nvme:ae8b14860a799888`, which no ETag can be mistaken for.
 */

/** A CRC of a part, as a receipt names it. */
export interface CrcReceipt {
  algorithm: CrcAlgorithm
  /** Big-endian, in hex. */
  hex: string
}

const receiptPattern = /^(crc32|crc32c|crc64nvme):([0-9a-f]+)$/

/** The receipt of a part whose CRC is `crc`. Throws RangeError for a digest of the wrong size. */
export function crcReceipt(crc: CrcReceipt): string {
  const digits = 2 * digestSize[crc.algorithm]
  if (!new RegExp(`^[0-9a-f]{${digits}}$`).test(crc.hex)) {
    throw new RangeError(`Expected a ${crc.algorithm} digest of ${digits} hex digits, got \`${crc.hex}\``)
  }
  return `${crc.algorithm}:${crc.hex}`
}

/** The CRC a receipt names; undefined for any other receipt (an MD5, `unhashed`) or a malformed one. */
export function crcOfReceipt(receipt: string | null | undefined): CrcReceipt | undefined {
  const m = receiptPattern.exec(receipt ?? '')
  if (m === null) return undefined
  const algorithm = m[1] as CrcAlgorithm
  const hex = m[2]!
  return hex.length === 2 * digestSize[algorithm] ? { algorithm, hex } : undefined
}
