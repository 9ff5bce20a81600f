import { randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import { ChecksumMismatchError, NotFoundError, type SoakerError } from '../../errors.js'
import { attemptSignal, type MultipartUploads, type PutOptions, type RetryCalls, type UploadChecksum, type UploadedPart } from '../provider.js'
import { gcsEtag } from './gcs-etag.js'
import type { GcsHttp, GcsObjectResource } from './gcs-http.js'

/** GCS composes at most this many objects in one request. */
export const composeMax = 32
/** Composes or deletes of one upload in flight at once. */
const requestsInFlight = 16

/** The folder an upload's temporaries share: next to the key, so that a permission on a prefix covers them. */
export const uploadFolder = (key: string, uploadId: string): string => `${key}.soaker-upload/${uploadId}/`
/** Part `n`'s temporary, `00001` to `10000`: names sort as the parts do. */
const partName = (key: string, uploadId: string, n: number): string => uploadFolder(key, uploadId) + String(n).padStart(5, '0')
/** The empty object that says the upload exists, carrying create's metadata and content type. */
const markerName = (key: string, uploadId: string): string => `${uploadFolder(key, uploadId)}upload`
/** A composite of up to 32 parts or composites, for objects of more than 32 parts: round `r`, its `i`th. */
const roundName = (key: string, uploadId: string, round: number, i: number): string =>
  `${uploadFolder(key, uploadId)}c${round}-${String(i).padStart(5, '0')}`

const partRe = /^(\d{5})$/

const lowerKeys = (m: GcsObjectResource['metadata']): Record<string, string> | undefined =>
  m ? Object.fromEntries(Object.entries(m).filter(([, v]) => v != null).map(([k, v]) => [k.toLowerCase(), String(v)])) : undefined

/**
 * Uploads in parts composed by GCS. Each part is a temporary object,
 * `<key>.soaker-upload/<upload id>/<5-digit part number>`, beside an empty `…/upload` marker that
 * create writes: the upload exists while its marker does, so an upload with no part yet is told
 * apart from one aborted or completed. Complete checks the parts listed against the ETags given
 * (their MD5s), composes them (in rounds of 32 where there are more: 10,000 parts take 313, then
 * 10, then 1 compose), the last compose giving the object its metadata and content type, and
 * then deletes every temporary, the marker last. Abort deletes them too. The object composed is a
 * GCS composite object: it has a CRC32C and no MD5, so its soaker ETag is `g<generation>`.
 */
export class GcsComposedParts implements MultipartUploads {
  readonly listsDigests = true
  readonly abortDeletes = true

  /**
   * `retry`: each delete of the clean-up goes through it (the engine's policy for small
   * requests), so that one failed delete does not leave the others behind.
   */
  constructor(
    private readonly http: GcsHttp,
    private readonly bucket: string,
    private readonly fail: (err: unknown, key: string) => SoakerError,
    private readonly retry: RetryCalls,
  ) {}

  /** Writes the upload's marker with the object's metadata and content type; returns a new upload id. */
  async create(key: string, options: { metadata?: Record<string, string>; contentType?: string; signal: AbortSignal }): Promise<string> {
    const uploadId = randomBytes(8).toString('hex')
    try {
      await this.http.upload(this.bucket, { name: markerName(key, uploadId), metadata: options.metadata, contentType: options.contentType },
        Buffer.alloc(0), 0, { query: { ifGenerationMatch: '0' }, signal: options.signal })
      return uploadId
    } catch (err) {
      throw this.fail(err, key)
    }
  }

  /** Stores the part as its temporary, checked by GCS against an MD5 checksum; returns the part's MD5 (hex). */
  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer | Readable, options: Omit<PutOptions, 'metadata'>): Promise<string> {
    const name = partName(key, uploadId, partNumber)
    try {
      const md5Hash = options.checksum?.algorithm === 'md5' ? options.checksum.value : undefined
      const r = await this.http.upload(this.bucket, { name, md5Hash }, body, options.size, { signal: options.signal })
      const etag = gcsEtag(r.md5Hash, r.generation)
      if (etag === undefined) throw new Error(`GCS answered the upload of gs://${this.bucket}/${name} without an md5Hash or generation`)
      return etag
    } catch (err) {
      throw this.fail(err, key)
    }
  }

  /** The parts stored, with their MD5s. Rejects with NotFoundError when the upload's marker is gone. */
  async listParts(key: string, uploadId: string, signal: AbortSignal): Promise<UploadedPart[]> {
    const { parts } = await this.held(key, uploadId, signal)
    return parts.map((p) => ({ partNumber: p.partNumber, size: p.size, etag: p.etag }))
  }

  /**
   * Composes the parts, in part-number order, into `key`; returns the object's soaker ETag. Each
   * part must be held with the ETag given (else ChecksumMismatchError, and the upload is kept for
   * the parts to be sent again); each compose names the generation of every source it listed.
   */
  async complete(key: string, uploadId: string, parts: Array<{ partNumber: number; etag: string; checksum?: UploadChecksum }>, signal: AbortSignal,
    object?: { metadata?: Record<string, string>; contentType?: string }): Promise<string | undefined> {
    const upload = await this.held(key, uploadId, signal)
    const byNumber = new Map(upload.parts.map((p) => [p.partNumber, p]))
    const sources: Source[] = []
    for (const { partNumber, etag } of [...parts].sort((a, b) => a.partNumber - b.partNumber)) {
      const held = byNumber.get(partNumber)
      if (held === undefined) {
        throw new NotFoundError(`Part ${partNumber} of the upload ${uploadId} of gs://${this.bucket}/${key} is gone from the bucket`)
      }
      if (held.etag !== etag) {
        throw new ChecksumMismatchError(`Part ${partNumber} of the upload ${uploadId} of gs://${this.bucket}/${key} has MD5 ${held.etag}, expected ${etag}`)
      }
      sources.push({ name: held.name, generation: held.generation })
    }
    if (sources.length === 0) throw new NotFoundError(`The upload ${uploadId} of gs://${this.bucket}/${key} has no part to compose`)
    const destination = {
      contentType: object?.contentType ?? upload.marker.contentType,
      metadata: object?.metadata ?? lowerKeys(upload.marker.metadata),
    }
    let etag: string | undefined
    try {
      let round = 0
      let level = sources
      while (level.length > composeMax) {
        round++
        const groups = chunks(level, composeMax)
        level = await inBatches(groups, requestsInFlight, async (group, i) => {
          const r = await this.compose(roundName(key, uploadId, round, i + 1), group, {}, signal)
          return { name: r.name, generation: r.generation }
        })
      }
      const r = await this.compose(key, level, destination, signal)
      etag = gcsEtag(r.md5Hash, r.generation)
    } catch (err) {
      throw this.fail(err, key)
    }
    await this.removeAll(key, uploadId, signal)
    return etag
  }

  /** Deletes every temporary of the upload, the marker last. An upload that is gone already is not an error. */
  async abort(key: string, uploadId: string, signal: AbortSignal): Promise<void> {
    await this.removeAll(key, uploadId, signal)
  }

  private async compose(name: string, sources: Source[], destination: object, signal: AbortSignal): Promise<GcsObjectResource> {
    const json = {
      destination,
      sourceObjects: sources.map((s) => ({ name: s.name, objectPreconditions: s.generation ? { ifGenerationMatch: s.generation } : undefined })),
    }
    const r = await this.http.call<GcsObjectResource>('POST', `${this.http.objectPath(this.bucket, name)}/compose`, { json, signal })
    if (r === undefined) throw new Error(`GCS answered the compose of gs://${this.bucket}/${name} with no object`)
    return r
  }

  /** The upload's marker and parts as listed. Rejects with NotFoundError when the marker is gone. */
  private async held(key: string, uploadId: string, signal: AbortSignal): Promise<{ marker: GcsObjectResource; parts: HeldPart[] }> {
    let marker: GcsObjectResource | undefined
    const parts: HeldPart[] = []
    const folder = uploadFolder(key, uploadId)
    try {
      for await (const o of this.listFolder(folder, signal)) {
        const rest = o.name.slice(folder.length)
        if (o.name === markerName(key, uploadId)) marker = o
        else if (partRe.test(rest)) parts.push({ partNumber: Number(rest), size: Number(o.size ?? 0), etag: gcsEtag(o.md5Hash, o.generation), name: o.name, generation: o.generation })
      }
    } catch (err) {
      throw this.fail(err, key)
    }
    if (marker === undefined) {
      throw new NotFoundError(`No upload ${uploadId} of gs://${this.bucket}/${key}: it was completed or aborted, or its temporaries were deleted`)
    }
    return { marker, parts }
  }

  private async *listFolder(folder: string, signal: AbortSignal): AsyncIterable<GcsObjectResource> {
    let pageToken: string | undefined
    do {
      const page = await this.http.call<{ items?: GcsObjectResource[]; nextPageToken?: string }>('GET', this.http.objectPath(this.bucket), {
        query: { prefix: folder, pageToken, fields: 'items(name,size,generation,md5Hash,contentType,metadata),nextPageToken' }, signal,
      })
      yield* page?.items ?? []
      pageToken = page?.nextPageToken || undefined
    } while (pageToken)
  }

  /** Deletes the upload's temporaries, each through the retry policy, the marker only once the others are gone. */
  private async removeAll(key: string, uploadId: string, signal: AbortSignal): Promise<void> {
    const names: string[] = []
    try {
      for await (const o of this.listFolder(uploadFolder(key, uploadId), signal)) names.push(o.name)
    } catch (err) {
      throw this.fail(err, key)
    }
    const marker = markerName(key, uploadId)
    await inBatches(names.filter((n) => n !== marker), requestsInFlight, (name) => this.remove(key, name, signal))
    if (names.includes(marker)) await this.remove(key, marker, signal)
  }

  /** Deletes one temporary; one already gone is not an error. */
  private async remove(key: string, name: string, signal: AbortSignal): Promise<void> {
    await this.retry(async (attempt) => {
      try {
        await this.http.call('DELETE', this.http.objectPath(this.bucket, name), { signal: attemptSignal(signal, attempt) })
      } catch (err) {
        const e = this.fail(err, key)
        if (!(e instanceof NotFoundError)) throw e
      }
    })
  }
}

interface Source {
  name: string
  generation?: string
}

interface HeldPart extends UploadedPart, Source {}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** `work` over every item, at most `limit` at once; the results in the items' order. The first failure rejects. */
async function inBatches<T, R>(items: T[], limit: number, work: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      results[i] = await work(items[i]!, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}
