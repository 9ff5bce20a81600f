/**
 * soaker's ETag of a GCS object: its MD5 as lowercase hex where GCS keeps one, so that the engine
 * verifies a download against it; `g<generation>` for objects without one (composite objects,
 * XML API multipart uploads), a stamp of that version that promises nothing about the bytes.
 */
export function gcsEtag(md5Hash: string | undefined, generation: string | number | undefined): string | undefined {
  if (md5Hash) {
    const md5 = Buffer.from(md5Hash, 'base64')
    if (md5.length === 16) return md5.toString('hex')
  }
  return generation === undefined || generation === '' ? undefined : `g${generation}`
}

/** The generation a `g<generation>` ETag names; undefined for an MD5 ETag. */
export function etagGeneration(etag: string): string | undefined {
  return /^g(\d+)$/.exec(etag)?.[1]
}
