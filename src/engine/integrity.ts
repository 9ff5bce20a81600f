import { createHash } from 'node:crypto'

/** What a store's ETag promises about the bytes, where it promises anything. */
export type ExpectedDigest =
  | { kind: 'md5'; md5: string }
  /** S3 multipart: MD5 of the concatenated binary MD5s of `parts` parts, then `-parts`. */
  | { kind: 'multipart'; md5: string; parts: number }
  | { kind: 'none' }

export function digestFromEtag(etag: string | undefined, encrypted = false): ExpectedDigest {
  // With SSE-KMS or SSE-C the ETag is not an MD5 of the data.
  if (etag === undefined || encrypted) return { kind: 'none' }
  const m = /^([0-9a-f]{32})(?:-(\d+))?$/i.exec(etag)
  if (!m) return { kind: 'none' }
  const md5 = m[1]!.toLowerCase()
  return m[2] === undefined ? { kind: 'md5', md5 } : { kind: 'multipart', md5, parts: Number(m[2]) }
}

/** The multipart ETag digest of parts given as hex MD5s, in part order. */
export function multipartDigest(partMd5s: string[]): string {
  const h = createHash('md5')
  for (const p of partMd5s) h.update(Buffer.from(p, 'hex'))
  return h.digest('hex')
}
