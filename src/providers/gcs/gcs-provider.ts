import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import { Storage, type Bucket, type FileMetadata } from '@google-cloud/storage'
import { NotFoundError, SoakerError, SourceChangedError, UnsupportedError } from '../../errors.js'
import { mappedBody } from '../network-errors.js'
import {
  attemptSignal, callOnce, type CopySource, type MultipartUploads, type ObjectDetails, type ObjectInfo, type Provider, type PutOptions,
  type ReadOptions, type ReadResult, type RetryCalls, type StoreCrc,
} from '../provider.js'
import { gcsStatus, mapGcsCheckError, mapGcsError, type GcsWhere } from './errors.js'
import { GcsComposedParts } from './gcs-composed.js'
import { gcsCrc } from './gcs-crc.js'
import { etagGeneration, gcsEtag } from './gcs-etag.js'
import { GcsHttp, type GcsObjectResource } from './gcs-http.js'

export { gcsEtag }

export interface GcsProviderOptions {
  /** The bucket every key lives in. */
  bucket: string
  /** Where STORAGE_EMULATOR_HOST and GOOGLE_APPLICATION_CREDENTIALS are read (not process.env). */
  env: NodeJS.ProcessEnv
  /** A service account's JSON key file; wins over GOOGLE_APPLICATION_CREDENTIALS. */
  credentialsFile?: string
  /** Only needed by calls that name a project (creating buckets); object calls do not. */
  projectId?: string
  /** Wraps each request of a listing and of `check` (the engine passes its retry policy). */
  retry?: RetryCalls
  /** Objects per listing page; GCS's maximum is 1,000. @default 1000 */
  pageSize?: number
  /** Stats and whole reads give the crc32c of objects without an MD5 (gcsCrc; --store-checksums). @default true */
  crcs?: boolean
}

export const gcsApiEndpoint = 'https://storage.googleapis.com'

/** The value of STORAGE_EMULATOR_HOST as an origin: a bare `host:port` is plain HTTP, as emulators are. */
export function emulatorEndpoint(raw: string): string {
  const trimmed = raw.trim().replace(/\/+$/, '')
  return /^https?:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`
}

type Headers = Record<string, string | string[] | undefined>
const header = (h: Headers, name: string): string | undefined => [h[name] ?? []].flat().join(', ') || undefined

/**
 * What a media response's headers say of the object: `x-goog-hash: crc32c=…,md5=…` (or two such
 * headers, which Node joins with `, `), `x-goog-generation`, and the user metadata as
 * `x-goog-meta-*` headers.
 */
function fromHeaders(h: Headers): { md5Hash?: string; crc32c?: string; generation?: string; metadata?: Record<string, string> } {
  const hashes = (header(h, 'x-goog-hash') ?? '').split(',').map((p) => p.trim())
  const md5Hash = hashes.find((p) => p.startsWith('md5='))?.slice(4)
  const crc32c = hashes.find((p) => p.startsWith('crc32c='))?.slice(7)
  const meta = Object.entries(h).filter(([k]) => k.startsWith('x-goog-meta-'))
  const metadata = meta.length ? Object.fromEntries(meta.map(([k]) => [k.slice('x-goog-meta-'.length), header(h, k) ?? ''])) : undefined
  return { md5Hash, crc32c, generation: header(h, 'x-goog-generation'), metadata }
}

const stringValues = (m: FileMetadata['metadata']): Record<string, string> | undefined =>
  m ? Object.fromEntries(Object.entries(m).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k.toLowerCase(), String(v)])) : undefined

const info = (key: string, md: FileMetadata): ObjectInfo => ({
  key,
  size: Number(md.size ?? 0),
  etag: gcsEtag(md.md5Hash, md.generation),
  lastModified: md.updated ? new Date(md.updated) : undefined,
})

/**
 * A promise that rejects when `signal` aborts. The client takes no signal for its JSON calls;
 * the request itself runs to its end, unread.
 */
function abortable<T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    work().then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/**
 * A Google Cloud Storage bucket. Listings, stats and the bucket check go through
 * @google-cloud/storage's JSON API client; media downloads, uploads, composes and rewrites are
 * sent on node:http with the client's credentials (GcsHttp). The client's own retries are off:
 * soaker's retry policy decides, counts and waits. ETags follow S3's convention (see gcsEtag), so
 * downloads are verified against GCS's MD5 where an object has one. Objects of more than one part
 * are composed from temporary objects (GcsComposedParts); copies within GCS are rewrites.
 */
export class GcsProvider implements Provider {
  readonly name = 'gcs'
  readonly capabilities = { rangedReads: true, uploadPartInfo: false, etagDigest: 'md5' as const }
  /** The API origin, for messages: GCS's, or the emulator's. */
  readonly endpoint: string
  readonly multipart: MultipartUploads
  private readonly bucket: Bucket
  private readonly where: GcsWhere & { endpoint: string }
  private readonly pageSize: number
  private readonly retry: RetryCalls
  private readonly http: GcsHttp
  private readonly crcs: boolean

  private constructor(bucket: Bucket, where: GcsWhere & { endpoint: string }, auth: Storage['authClient'] | undefined, options: GcsProviderOptions) {
    this.bucket = bucket
    this.where = where
    this.endpoint = where.endpoint
    this.http = new GcsHttp(where.endpoint, auth)
    this.pageSize = options.pageSize ?? 1_000
    this.retry = options.retry ?? callOnce
    this.crcs = options.crcs ?? true
    this.multipart = new GcsComposedParts(this.http, where.bucket, (err, key) => this.fail(err, key), this.retry)
  }

  /**
   * A provider over `bucket`. With STORAGE_EMULATOR_HOST in `env` it talks to that emulator,
   * unauthenticated; otherwise to GCS with the key file given, GOOGLE_APPLICATION_CREDENTIALS, or
   * Application Default Credentials. Without any, the client sends requests anonymously (public
   * buckets allow that), and GCS's 401 becomes MissingCredentialsError.
   */
  static create(options: GcsProviderOptions): GcsProvider {
    const emulator = options.env.STORAGE_EMULATOR_HOST?.trim() || undefined
    const endpoint = emulator ? emulatorEndpoint(emulator) : gcsApiEndpoint
    const keyFilename = options.credentialsFile ?? (options.env.GOOGLE_APPLICATION_CREDENTIALS || undefined)
    const storage = new Storage({
      apiEndpoint: endpoint,
      projectId: options.projectId,
      keyFilename: emulator ? undefined : keyFilename,
      // The client treats any endpoint but its default as custom and skips authentication there,
      // which must only happen for an emulator.
      useAuthWithCustomEndpoint: !emulator,
      retryOptions: { autoRetry: false },
    })
    // The client builds its JSON API base from process.env.STORAGE_EMULATOR_HOST when that is set
    // (without /storage/v1); the environment soaker was given decides instead.
    storage.baseUrl = `${endpoint}/storage/v1`
    const where = { bucket: options.bucket, endpoint, credentialsFile: keyFilename }
    return new GcsProvider(storage.bucket(options.bucket), where, emulator ? undefined : storage.authClient, options)
  }

  private fail(err: unknown, key?: string): SoakerError {
    return mapGcsError(err, { ...this.where, key })
  }

  async check(signal: AbortSignal): Promise<void> {
    // Listing one object needs only storage.objects.list, which a download needs anyway; reading
    // the bucket's metadata would need storage.buckets.get, which Storage Object Viewer lacks.
    // An answer from something that is not GCS fails at once; a connection that cannot be made
    // is retried, and named as such once the retries are spent.
    try {
      await this.retry((attempt) => abortable(attemptSignal(signal, attempt), () => this.bucket.getFiles({ maxResults: 1, autoPaginate: false }))
        .catch((err: unknown) => { throw gcsStatus(err) === undefined ? this.fail(err) : mapGcsCheckError(err, this.where) }))
    } catch (err) {
      throw mapGcsCheckError(err, this.where)
    }
  }

  async *list(prefix: string, signal: AbortSignal): AsyncIterable<ObjectInfo> {
    // One request per page, from the last page token, so the retry policy repeats exactly the
    // page that failed. GCS lists in UTF-8 byte order of the names.
    let pageToken: string | undefined
    do {
      const [files, next] = await this.retry((attempt) => abortable(attemptSignal(signal, attempt), () => this.bucket.getFiles({
        prefix: prefix || undefined, maxResults: this.pageSize, pageToken, autoPaginate: false,
      })).catch((err: unknown) => { throw this.fail(err) }))
      for (const f of files) yield info(f.name, f.metadata)
      pageToken = (next as { pageToken?: string } | null)?.pageToken || undefined
    } while (pageToken)
  }

  async stat(key: string, signal: AbortSignal): Promise<ObjectDetails> {
    try {
      const [md] = await abortable(signal, () => this.bucket.file(key).getMetadata())
      // GCS's md5Hash is of the stored bytes whatever the encryption (Google-managed, CMEK or CSEK).
      const crc = this.crcOf(md.crc32c, md.md5Hash)
      return { ...info(key, md), encrypted: false, metadata: stringValues(md.metadata), contentType: md.contentType, crc }
    } catch (err) {
      throw this.fail(err, key)
    }
  }

  /**
   * A media download (`alt=media`), ranged where asked, with the bytes as GCS stores them: sent
   * with Accept-Encoding: gzip so that GCS never transcodes, and never decompressed here.
   * `ifMatch` is compared with the ETag of the very response whose bytes are returned, from its
   * x-goog-hash (which gives the hashes of the whole object on ranged responses too) or
   * x-goog-generation: GCS's own preconditions are on generations, not on these ETags.
   */
  async read(key: string, options: ReadOptions): Promise<ReadResult> {
    const { range, ifMatch, signal } = options
    try {
      const res = await this.http.media(this.where.bucket, key, range, signal)
      const { md5Hash, crc32c, generation, metadata } = fromHeaders(res.headers)
      const etag = gcsEtag(md5Hash, generation)
      if (ifMatch !== undefined && etag !== ifMatch) {
        res.destroy()
        throw new SourceChangedError(`gs://${this.where.bucket}/${key} changed while it was being copied (its ETag is ${etag ?? 'unknown'}, was ${ifMatch})`)
      }
      const length = Number(header(res.headers, 'content-length'))
      const body = mappedBody(res, (err) => this.fail(err, key))
      const contentType = header(res.headers, 'content-type')
      // x-goog-hash is of the whole object on a range's answer too; only a whole read's details are checked against it.
      const crc = range === undefined ? this.crcOf(crc32c, md5Hash) : undefined
      return { body, details: { etag, size: Number.isFinite(length) ? length : 0, encrypted: false, metadata, contentType, crc } }
    } catch (err) {
      throw this.fail(err, key)
    }
  }

  /** The CRC a download of the object is verified by (gcsCrc), where asked for (--store-checksums). */
  private crcOf(crc32c: string | undefined, md5Hash: string | undefined): StoreCrc | undefined {
    return this.crcs ? gcsCrc(crc32c, md5Hash) : undefined
  }

  async write(key: string, body: Buffer, signal: AbortSignal): Promise<void> {
    try {
      // A simple upload with the MD5 in its metadata, which GCS checks before it keeps the bytes.
      const md5Hash = createHash('md5').update(body).digest('base64')
      await abortable(signal, () => this.bucket.file(key).save(body, { resumable: false, validation: false, metadata: { md5Hash } }))
    } catch (err) {
      throw this.fail(err, key)
    }
  }

  /**
   * A multipart upload of the body (streamed) with the object's metadata and content type, and
   * an MD5 checksum as its md5Hash, which GCS checks before it keeps the bytes (GCS checks
   * CRC32C, not CRC32: a CRC32 checksum is not sent). Returns the new object's soaker ETag: the
   * MD5 GCS computed of the bytes it stored.
   */
  async put(key: string, body: Buffer | Readable, options: PutOptions): Promise<string | undefined> {
    try {
      const md5Hash = options.checksum?.algorithm === 'md5' ? options.checksum.value : undefined
      const resource = { name: key, metadata: options.metadata, contentType: options.contentType, md5Hash }
      const r = await this.http.upload(this.where.bucket, resource, body, options.size, { signal: options.signal })
      return gcsEtag(r.md5Hash, r.generation)
    } catch (err) {
      throw this.fail(err, key)
    }
  }

  /**
   * A copy GCS makes (objects.rewrite, called again with its rewriteToken until done), with the
   * source's metadata and content type. `from.ifMatch` pins the source's generation
   * (ifSourceGenerationMatch): an MD5 ETag is first checked against the source's metadata for
   * its generation. A source that is no longer that version rejects with SourceChangedError.
   * Returns the copy's soaker ETag.
   */
  async copyObject(key: string, from: CopySource, signal: AbortSignal): Promise<string | undefined> {
    if (from.range) throw new UnsupportedError(`GCS copies whole objects only: a range of gs://${from.bucket}/${from.key} cannot be copied`)
    const source = `gs://${from.bucket}/${from.key}`
    try {
      const generation = from.ifMatch === undefined ? undefined : await this.generationOf(from.bucket, from.key, from.ifMatch, signal)
      const path = `${this.http.objectPath(from.bucket, from.key)}/rewriteTo${this.http.objectPath(this.where.bucket, key).slice('/storage/v1'.length)}`
      let rewriteToken: string | undefined
      for (;;) {
        const r = await this.http.call<RewriteAnswer>('POST', path, { query: { ifSourceGenerationMatch: generation, rewriteToken }, signal })
        if (r?.done && r.resource) return gcsEtag(r.resource.md5Hash, r.resource.generation)
        if (!r?.rewriteToken) throw new Error(`GCS answered a rewrite of ${source} to gs://${this.where.bucket}/${key} neither done nor with a rewriteToken`)
        rewriteToken = r.rewriteToken
      }
    } catch (err) {
      if (err instanceof SoakerError) throw err
      // The answers that name the source: its generation no longer matches, or it is gone.
      const e = this.fail(err, key)
      if (e instanceof SourceChangedError) throw new SourceChangedError(`${source} changed while it was being copied (its ETag is no longer ${from.ifMatch})`, { cause: err })
      if (e instanceof NotFoundError) throw new NotFoundError(`No object at ${source}`, { cause: err })
      throw e
    }
  }

  /**
   * The generation of the version of `bucket`/`name` whose ETag is `etag`: named in a
   * `g<generation>` ETag itself, else the object's now, if its MD5 is the one named (else SourceChangedError).
   */
  private async generationOf(bucket: string, name: string, etag: string, signal: AbortSignal): Promise<string> {
    const named = etagGeneration(etag)
    if (named !== undefined) return named
    const md = await this.http.call<GcsObjectResource>('GET', this.http.objectPath(bucket, name), { query: { fields: 'generation,md5Hash' }, signal })
    const now = gcsEtag(md?.md5Hash, md?.generation)
    if (md?.generation === undefined || now !== etag) {
      throw new SourceChangedError(`gs://${bucket}/${name} changed before it was copied (its ETag is ${now ?? 'unknown'}, was ${etag})`)
    }
    return md.generation
  }

  close(): void {
    // The client's own keep-alive sockets do not hold the process open; soaker's own are ended.
    this.http.close()
  }
}

/** What objects.rewrite answers: the copy's resource once done, else a token to call again with. */
interface RewriteAnswer {
  done?: boolean
  rewriteToken?: string
  resource?: GcsObjectResource
}
