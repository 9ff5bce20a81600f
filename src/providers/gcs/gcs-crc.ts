import type { StoreCrc } from '../provider.js'

/**
 * The crc32c GCS keeps of every object, composite ones included (base64 of the big-endian CRC32C,
 * as the object's `crc32c` field and `x-goog-hash: crc32c=` give it), as the CRC a download is
 * verified by: given for an object without an md5Hash (a composite object, an XML API multipart
 * upload), which has nothing else to be verified by. An object with an md5Hash is verified by its
 * MD5 ETag, as before. Undefined for a value that is not 4 bytes in canonical base64.
 */
export function gcsCrc(crc32c: string | undefined, md5Hash: string | undefined): StoreCrc | undefined {
  if (crc32c === undefined || md5Hash) return undefined
  const digest = Buffer.from(crc32c, 'base64')
  if (digest.length !== 4 || digest.toString('base64') !== crc32c) return undefined
  return { algorithm: 'crc32c', hex: digest.toString('hex'), source: 'crc32c' }
}
