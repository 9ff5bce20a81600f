import { createHash } from 'node:crypto'
import type { UploadChecksum } from '../../providers/provider.js'
import type { S3Provider } from '../../providers/s3/s3-provider.js'
import { bodyChunks } from '../../providers/synthetic/synthetic-bodies.js'
import type { SyntheticProvider } from '../../providers/synthetic/synthetic-provider.js'
import type { BenchSettings } from './bench-settings.js'
import { runLanes } from './lanes.js'
import { RangeCursor, type RangeRequest } from './ranges.js'

/** What an upload pass writes with, and what it leaves for the download and the cleaning up. */
export interface UploadTarget {
  store: S3Provider
  synthetic: SyntheticProvider
  /** The store's key of synthetic object number `n`. */
  keyOf: (n: number) => string
  settings: BenchSettings
  /** Every key a request was sent for: what the bench deletes. */
  written: Set<string>
  /** Multipart uploads not completed yet, key → upload id: aborted if the bench stops. */
  openUploads: Map<string, string>
  /** The MD5 (hex) of each range sent (by sentKey), for the downloads to check. */
  sent: Map<string, string>
}

/** How UploadTarget.sent names a range: `<object number>:<part>`. */
export function sentKey(r: Pick<RangeRequest, 'n' | 'part'>): string {
  return `${r.n}:${r.part}`
}

/** One object's multipart upload under way: its id once created, and its parts' ETags. */
interface Multipart {
  id: Promise<string>
  etags: string[]
  done: number
}

/**
 * Uploads the `count` synthetic objects once, `concurrency` requests at a time, as soaker's
 * uploads send them: a PUT per object up to `partSize`, else a multipart upload of parts of
 * `partSize` (the parts of one object in flight at once), each request with its Content-MD5
 * where verifying (the store checks it), computed per request as an upload of files does.
 * Resolves with the bytes sent.
 */
export async function uploadPass(t: UploadTarget, concurrency: number, signal: AbortSignal): Promise<number> {
  const { count, size, partSize, verify } = t.settings
  const uploads = new Map<number, Multipart>()
  const cursor = new RangeCursor(count, size, partSize, (started) => started < count)
  let bytes = 0
  await runLanes(concurrency, () => cursor.next(), async (r, laneSignal) => {
    const key = t.keyOf(r.n)
    t.written.add(key)
    const length = r.end - r.start + 1
    const md5 = verify ? rangeMd5(r.n, r.start, r.end) : undefined
    if (md5 !== undefined) t.sent.set(sentKey(r), md5.hex)
    const body = (await t.synthetic.read(t.synthetic.keyOf(r.n), { range: { start: r.start, end: r.end }, signal: laneSignal })).body
    const options = { size: length, checksum: md5?.checksum, signal: laneSignal }
    if (r.parts === 1) {
      await t.store.put(key, body, options)
    } else {
      const upload = multipartOf(t, uploads, r, key, laneSignal)
      upload.etags[r.part] = await t.store.multipart.uploadPart(key, await upload.id, r.part + 1, body, options)
      if (++upload.done === r.parts) {
        await t.store.multipart.complete(key, await upload.id, upload.etags.map((etag, i) => ({ partNumber: i + 1, etag })), laneSignal)
        t.openUploads.delete(key)
      }
    }
    bytes += length
  }, signal)
  return bytes
}

/** The multipart upload of `r`'s object: created by its first part's request, which the others wait for. */
function multipartOf(t: UploadTarget, uploads: Map<number, Multipart>, r: RangeRequest, key: string, signal: AbortSignal): Multipart {
  let upload = uploads.get(r.n)
  if (upload === undefined) {
    const id = t.store.multipart.create(key, { signal }).then((uploadId) => {
      t.openUploads.set(key, uploadId)
      return uploadId
    })
    id.catch(() => undefined) // its failure is that of every part waiting for it
    upload = { id, etags: [], done: 0 }
    uploads.set(r.n, upload)
  }
  return upload
}

/** The Content-MD5 of a synthetic range, and its MD5 in hex: what a verified upload sends and a download checks. */
export function rangeMd5(n: number, start: number, end: number): { hex: string; checksum: UploadChecksum } {
  const hash = createHash('md5')
  for (const chunk of bodyChunks(n, start, end)) hash.update(chunk)
  const digest = hash.digest()
  return { hex: digest.toString('hex'), checksum: { algorithm: 'md5', value: digest.toString('base64') } }
}
