import { createHash } from 'node:crypto'
import http, { type IncomingMessage } from 'node:http'
import https from 'node:https'
import { text } from 'node:stream/consumers'
import { Storage, type Bucket, type FileMetadata } from '@google-cloud/storage'
import { errorMessage, type SoakerError, SourceChangedError } from '../../errors.js'
import { mappedBody } from '../network-errors.js'
import { attemptSignal, callOnce, type ObjectDetails, type ObjectInfo, type Provider, type ReadOptions, type ReadResult, type RetryCalls } from '../provider.js'
import { gcsStatus, mapGcsCheckError, mapGcsError, type GcsWhere } from './errors.js'

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
}

export const gcsApiEndpoint = 'https://storage.googleapis.com'

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
function fromHeaders(h: Headers): { md5Hash?: string; generation?: string; metadata?: Record<string, string> } {
  const md5Hash = (header(h, 'x-goog-hash') ?? '').split(',').map((p) => p.trim()).find((p) => p.startsWith('md5='))?.slice(4)
  const meta = Object.entries(h).filter(([k]) => k.startsWith('x-goog-meta-'))
  const metadata = meta.length ? Object.fromEntries(meta.map(([k]) => [k.slice('x-goog-meta-'.length), header(h, k) ?? ''])) : undefined
  return { md5Hash, generation: header(h, 'x-goog-generation'), metadata }
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
 * A Google Cloud Storage bucket through @google-cloud/storage's JSON API client, with media
 * downloads sent on node:http with the client's credentials (see `media`). The client's own
 * retries are off: soaker's retry policy decides, counts and waits. ETags follow S3's convention
 * (see gcsEtag), so downloads are verified against GCS's MD5 where an object has one.
 */
export class GcsProvider implements Provider {
  readonly name = 'gcs'
  readonly capabilities = { rangedReads: true, uploadPartInfo: false, etagDigest: 'md5' as const }
  /** The API origin, for messages: GCS's, or the emulator's. */
  readonly endpoint: string
  private readonly bucket: Bucket
  private readonly where: GcsWhere & { endpoint: string }
  private readonly pageSize: number
  private readonly retry: RetryCalls
  /** Signs media requests; undefined for an emulator, which takes none. */
  private readonly auth: Storage['authClient'] | undefined
  /** Media downloads go through this agent, whose sockets `close` ends. */
  private readonly agent: http.Agent

  private constructor(bucket: Bucket, where: GcsWhere & { endpoint: string }, auth: Storage['authClient'] | undefined, options: GcsProviderOptions) {
    this.bucket = bucket
    this.where = where
    this.endpoint = where.endpoint
    this.auth = auth
    this.agent = where.endpoint.startsWith('https:') ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true })
    this.pageSize = options.pageSize ?? 1_000
    this.retry = options.retry ?? callOnce
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
      return { ...info(key, md), encrypted: false, metadata: stringValues(md.metadata), contentType: md.contentType }
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
      const res = await this.media(key, range, signal)
      const { md5Hash, generation, metadata } = fromHeaders(res.headers)
      const etag = gcsEtag(md5Hash, generation)
      if (ifMatch !== undefined && etag !== ifMatch) {
        res.destroy()
        throw new SourceChangedError(`gs://${this.where.bucket}/${key} changed while it was being copied (its ETag is ${etag ?? 'unknown'}, was ${ifMatch})`)
      }
      const length = Number(header(res.headers, 'content-length'))
      const body = mappedBody(res, (err) => this.fail(err, key))
      const contentType = header(res.headers, 'content-type')
      return { body, details: { etag, size: Number.isFinite(length) ? length : 0, encrypted: false, metadata, contentType } }
    } catch (err) {
      throw this.fail(err, key)
    }
  }

  /**
   * The GET itself, on node:http rather than the client's read stream: that stream, when
   * destroyed, destroys the client's shared keep-alive agent, which leaves every other download
   * in flight waiting forever, and an unfinished body otherwise keeps its socket. Here a body
   * destroyed (or aborted through `signal`) closes its own socket and nothing else. Errors are
   * shaped as the client's ApiError (`code` the status, `errors` the JSON API's), so they map alike.
   */
  private async media(key: string, range: ReadOptions['range'], signal: AbortSignal): Promise<IncomingMessage> {
    const url = `${this.endpoint}/storage/v1/b/${encodeURIComponent(this.where.bucket)}/o/${encodeURIComponent(key)}?alt=media`
    const headers: Record<string, string> = { 'accept-encoding': 'gzip', 'user-agent': 'soaker', ...(await this.authHeaders(url)) }
    if (range) headers.range = `bytes=${range.start}-${range.end}`
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const transport = url.startsWith('https:') ? https : http
      transport.get(url, { headers, agent: this.agent, signal }, resolve).once('error', reject)
    })
    const status = res.statusCode ?? 0
    if (status >= 200 && status < 300) return res
    const body = await text(res).catch(() => '')
    let errors: unknown[] | undefined
    let message = body || res.statusMessage || `HTTP ${status}`
    try {
      const parsed = (JSON.parse(body) as { error?: { message?: string; errors?: unknown[] } }).error
      errors = parsed?.errors
      message = parsed?.message ?? message
    } catch {
      // Not the JSON API's error body: mapGcsCheckError tells the user something else answered.
    }
    throw Object.assign(new Error(message), { code: status, errors, response: { statusCode: status, headers: res.headers } })
  }

  /**
   * The Authorization header for a media request. None for an emulator; none either where there
   * are no credentials at all, as the client does for its own calls: public buckets allow that,
   * and GCS's 401 for anyone else becomes MissingCredentialsError.
   */
  private async authHeaders(url: string): Promise<Record<string, string>> {
    if (this.auth === undefined) return {}
    try {
      return await this.auth.getRequestHeaders(url)
    } catch (err) {
      if (/Could not load the default credentials/i.test(errorMessage(err))) return {}
      throw err
    }
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

  close(): void {
    // The client's own keep-alive sockets do not hold the process open; the media agent's are ended.
    this.agent.destroy()
  }
}
