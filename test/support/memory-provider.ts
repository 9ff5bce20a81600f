import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { crc32 } from 'node:zlib'
import {
  FatalError, NoSuchBucketError, NotFoundError, SourceChangedError, ThrottledError, TransientError,
} from '../../src/errors.js'
import {
  attemptSignal, callOnce, type CopySource, type MultipartUploads, type ObjectDetails, type ObjectInfo, type Provider, type PutOptions,
  type ReadOptions, type ReadResult, type RetryCalls, type UploadChecksum, type UploadedPart, type UploadParts,
} from '../../src/providers/provider.js'

/**
 * An object store in memory that keeps S3's contracts (the ones soaker relies on: key order,
 * ranges, If-Match, MD5 ETags, multipart rules), and lets a test inject the faults a network
 * and a busy store produce: errors before an answer, bodies cut mid-way, objects replaced
 * between two calls. Every call is recorded, so a test can assert what went over the wire.
 */

const MiB = 1024 * 1024
/** S3's smallest part, the last one excepted (EntityTooSmall at complete). */
const minPartSize = 5 * MiB
/** S3's part numbers run from 1 to 10,000. */
const maxPartNumber = 10_000
/** How large the chunks of a read body are (a socket's reads are of this order). */
const readChunk = 64 * 1024

/** Every call the provider answers, by the name of its S3 request's kind. */
export type Op =
  | 'check' | 'list' | 'stat' | 'read' | 'write' | 'put' | 'copyObject' | 'uploadParts'
  | 'create' | 'uploadPart' | 'copyPart' | 'listParts' | 'complete' | 'abort'

/** A call as the fault rule sees it, before it is answered. */
export interface Request {
  op: Op
  /** The object's key; for `list`, the prefix. */
  key: string
  /** A read's range, or the source range of a copyPart (inclusive). */
  range?: { start: number; end: number }
  partNumber?: number
  /** 1-based: how many times this same request (op, key, range, part number) has been made, this one included. */
  attempt: number
}

/**
 * What the rule does to a call:
 * - `fail`: the call rejects with `error` (a TransientError, a ThrottledError...) instead of its
 *   answer. Uploads (put, uploadPart) receive their body first: the store answers the error
 *   after the bytes went, as a 500 or a 503 does, so the sender counts them and discards them.
 * - `cut`: a read's body fails with a TransientError (ECONNRESET) after `afterBytes` bytes,
 *   as a provider maps a reset mid-body.
 * - `replace`: the object becomes a new version (these bytes, a new ETag, its metadata kept)
 *   before the call is answered.
 */
export type Fault =
  | { kind: 'fail'; error: Error }
  | { kind: 'cut'; afterBytes: number }
  | { kind: 'replace'; body: Buffer }

/** Decides, call by call, whether a fault strikes it. Undefined: the call is answered as the store would. */
export type FaultRule = (request: Request) => Fault | undefined

/** One call recorded. `bytes`: those that crossed the wire (a read's as its body is consumed, an upload's as received). */
export interface Call extends Request {
  bytes: number
  uploadId?: string
  /** The source of a copyObject or a copyPart. */
  from?: CopySource
  /** The fault that struck the call, if any (an upload's `fail` strikes once its body came whole, not when the body failed first). */
  fault?: Fault['kind']
  /** The call resolved with its answer (a read: its body then streams, and may still be cut). */
  answered: boolean
}

/** A 500 InternalError: retried, on the --retries budget. */
export const internalError = (what = 'injected'): TransientError =>
  new TransientError(`We encountered an internal error (${what})`, { code: 'InternalError' })

/** A 503 SlowDown: retried as a low-level fault, and a throttle the tuner answers. */
export const slowDown = (what = 'injected', retryAfterSeconds?: number): ThrottledError =>
  new ThrottledError(`Please reduce your request rate (${what})`, { code: 'SlowDown', retryAfterSeconds })

/** A connection reset: a low-level fault. */
export const connectionReset = (what = 'injected'): TransientError =>
  new TransientError(`read ECONNRESET (${what})`, { code: 'ECONNRESET', lowLevel: true })

/** An object as the store keeps it. Buffers are never changed in place: a new version is a new object. */
export interface StoredObject {
  data: Buffer
  etag: string
  lastModified: Date
  /** User metadata, keys in lower case (S3 lowercases them). */
  metadata: Record<string, string>
  contentType?: string
  /** Sizes of the parts of a multipart object, in order; undefined for an object stored whole. */
  partSizes?: number[]
}

interface StoredPart {
  data: Buffer
  etag: string
  /** Base64 CRC32, as S3 keeps it for an upload created with that checksum algorithm. */
  crc32: string
}

interface OpenUpload {
  bucket: string
  key: string
  metadata: Record<string, string>
  contentType?: string
  checksum?: UploadChecksum['algorithm']
  parts: Map<number, StoredPart>
}

/** Buckets by name, each key → object; shared by the providers of one store, which copy between them. */
export class MemoryStore {
  readonly buckets = new Map<string, Map<string, StoredObject>>()
  /** Multipart uploads in progress, by upload id. */
  readonly uploads = new Map<string, OpenUpload>()
  private nextUpload = 1

  newUploadId(): string {
    return `upload-${this.nextUpload++}`
  }
}

export interface MemoryProviderOptions {
  /** @default 'bucket' */
  bucket?: string
  /** The store the bucket is in; a new one by default. Providers of one store copy from each other's buckets. */
  store?: MemoryStore
  /** Make the bucket where it does not exist. false: a provider of a missing bucket (check rejects). @default true */
  create?: boolean
  /** Keys per listing page. @default 1000 */
  pageSize?: number
  /** Wraps each listing page and the bucket check, as the engine wraps a real provider's (its retry policy). */
  retry?: RetryCalls
  /** Name for messages and `Provider.name`. @default 'memory' */
  name?: string
}

const md5Hex = (data: Buffer): string => createHash('md5').update(data).digest('hex')
const md5Base64 = (data: Buffer): string => createHash('md5').update(data).digest('base64')
function crc32Base64(data: Buffer): string {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(crc32(data) >>> 0)
  return b.toString('base64')
}

/** S3's ETag of a multipart object: the MD5 of the parts' binary MD5s, then `-<count>`. */
export function multipartEtag(partEtags: readonly string[]): string {
  const h = createHash('md5')
  for (const e of partEtags) h.update(Buffer.from(e, 'hex'))
  return `${h.digest('hex')}-${partEtags.length}`
}

const lowerKeys = (m: Record<string, string> | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k.toLowerCase(), v]))

/** What an HTTP client rejects with when its request is aborted, as a provider maps it. */
function aborted(signal: AbortSignal): TransientError {
  return new TransientError('The operation was aborted', { code: 'AbortError', lowLevel: true, cause: signal.reason })
}

export class MemoryProvider implements Provider {
  readonly name: string
  readonly capabilities = { rangedReads: true, uploadPartInfo: true }
  readonly store: MemoryStore
  readonly bucket: string
  readonly multipart: MultipartUploads
  /** Every call made, in the order made. */
  readonly calls: Call[] = []
  /** The fault rule the test sets; none by default. */
  faults: FaultRule = () => undefined
  private readonly attempts = new Map<string, number>()
  private readonly pageSize: number
  private readonly retry: RetryCalls

  constructor(options: MemoryProviderOptions = {}) {
    this.store = options.store ?? new MemoryStore()
    this.bucket = options.bucket ?? 'bucket'
    this.name = options.name ?? 'memory'
    this.pageSize = options.pageSize ?? 1000
    this.retry = options.retry ?? callOnce
    if ((options.create ?? true) && !this.store.buckets.has(this.bucket)) this.store.buckets.set(this.bucket, new Map())
    this.multipart = new MemoryMultipart(this)
  }

  // --- for tests: seeding and inspecting the store without a call recorded ---

  /** Stores `data` as `key` (whole, or as a multipart object of `partSize` parts), as if uploaded earlier. */
  seed(key: string, data: Buffer, options: { metadata?: Record<string, string>; contentType?: string; partSize?: number; lastModified?: Date } = {}): StoredObject {
    const partSizes = options.partSize === undefined ? undefined : splitSizes(data.length, options.partSize)
    const object = this.stored(data, options.metadata, options.contentType, partSizes)
    if (options.lastModified) object.lastModified = options.lastModified
    this.objects().set(key, object)
    return object
  }

  /** The object stored as `key`, if any. */
  get(key: string): StoredObject | undefined {
    return this.store.buckets.get(this.bucket)?.get(key)
  }

  /** Keys in the bucket, in key order. */
  keys(): string[] {
    return [...this.objects().keys()].sort(byteOrder)
  }

  /** Multipart uploads in progress in this bucket. */
  openUploads(): Array<{ key: string; uploadId: string; parts: number[] }> {
    return [...this.store.uploads].filter(([, u]) => u.bucket === this.bucket)
      .map(([uploadId, u]) => ({ key: u.key, uploadId, parts: [...u.parts.keys()].sort((a, b) => a - b) }))
  }

  /** The calls recorded of `op` (all of them without one), optionally of `key` alone. */
  callsOf(op?: Op, key?: string): Call[] {
    return this.calls.filter((c) => (op === undefined || c.op === op) && (key === undefined || c.key === key))
  }

  // --- the Provider interface ---

  async check(signal: AbortSignal): Promise<void> {
    await this.retry((attempt) => this.serve({ op: 'check', key: '' }, attemptSignal(signal, attempt), {}, () => {
      if (!this.store.buckets.has(this.bucket)) throw new NoSuchBucketError(`Bucket \`${this.bucket}\` does not exist in memory`)
    }))
  }

  async *list(prefix: string, signal: AbortSignal): AsyncIterable<ObjectInfo> {
    // A page starts after the last key of the one before (ListObjectsV2's continuation), so keys
    // written during a listing appear in it where they sort after the page it is at.
    let after: string | undefined
    for (;;) {
      const page = await this.retry(async (attempt) => {
        return await this.serve({ op: 'list', key: prefix }, attemptSignal(signal, attempt), {}, () => {
          const keys = [...this.objects().keys()].filter((k) => k.startsWith(prefix) && (after === undefined || byteOrder(k, after) > 0)).sort(byteOrder)
          return keys.slice(0, this.pageSize).map((key) => ({ key, object: this.objects().get(key)! }))
        })
      })
      for (const { key, object } of page) yield { key, size: object.data.length, etag: object.etag, lastModified: object.lastModified }
      if (page.length < this.pageSize) return
      after = page[page.length - 1]!.key
    }
  }

  async stat(key: string, signal: AbortSignal): Promise<ObjectDetails> {
    return await this.serve({ op: 'stat', key }, signal, {}, () => {
      const o = this.existing(key)
      return { key, size: o.data.length, etag: o.etag, lastModified: o.lastModified, encrypted: false, metadata: { ...o.metadata }, contentType: o.contentType }
    })
  }

  async read(key: string, options: ReadOptions): Promise<ReadResult> {
    return await this.serve({ op: 'read', key, range: options.range }, options.signal, {}, (call, fault) => this.serveRead(key, options, call, fault))
  }

  private serveRead(key: string, options: ReadOptions, call: Call, fault: Fault | undefined): ReadResult {
    const o = this.existing(key)
    if (options.ifMatch !== undefined && options.ifMatch !== o.etag) {
      throw new SourceChangedError(`memory://${this.bucket}/${key} changed (its ETag is ${o.etag}, not ${options.ifMatch})`)
    }
    let data = o.data
    if (options.range) {
      const { start, end } = options.range
      if (start >= o.data.length || end < start) throw new FatalError(`The requested range ${start}-${end} is not satisfiable (size ${o.data.length})`, { code: 'InvalidRange' })
      data = o.data.subarray(start, Math.min(end, o.data.length - 1) + 1) // S3 clips an end past the object
    }
    const cutAt = fault?.kind === 'cut' ? fault.afterBytes : undefined
    const body = Readable.from(served(data, call, cutAt), { objectMode: false })
    // An aborted request's body fails, as one whose socket is destroyed under it.
    const onAbort = (): void => { body.destroy(aborted(options.signal)) }
    options.signal.addEventListener('abort', onAbort, { once: true })
    body.once('close', () => options.signal.removeEventListener('abort', onAbort))
    return {
      body,
      details: { etag: o.etag, size: data.length, encrypted: false, metadata: { ...o.metadata }, contentType: o.contentType },
    }
  }

  async write(key: string, body: Buffer, signal: AbortSignal): Promise<void> {
    await this.serve({ op: 'write', key }, signal, {}, (call) => {
      call.bytes = body.length
      this.objects().set(key, this.stored(Buffer.from(body)))
    })
  }

  async put(key: string, body: Buffer | Readable, options: PutOptions): Promise<string> {
    return await this.serve({ op: 'put', key }, options.signal, { uploads: true }, async (call, fault) => {
      const data = await received(body, options, call)
      strike(call, fault)
      const object = this.stored(data, options.metadata, options.contentType)
      this.objects().set(key, object)
      return object.etag
    })
  }

  /** S3's CopyObject: the source's bytes, metadata and content type; the copy's ETag is the MD5 of its bytes (one request). */
  async copyObject(key: string, from: CopySource, signal: AbortSignal): Promise<string> {
    return await this.serve({ op: 'copyObject', key }, signal, { from }, () => {
      const source = this.copySource(from)
      const object = this.stored(source.data, source.metadata, source.contentType)
      this.objects().set(key, object)
      return object.etag
    })
  }

  /** As S3 tells with a HEAD of part 1: the part count and the size of the first part. */
  async uploadParts(key: string, signal: AbortSignal): Promise<UploadParts | undefined> {
    try {
      return await this.serve({ op: 'uploadParts', key }, signal, {}, () => {
        const sizes = this.existing(key).partSizes
        return sizes ? { count: sizes.length, partSize: sizes[0]! } : undefined
      })
    } catch {
      return undefined // as S3Provider: a store that cannot tell
    }
  }

  close(): void {}

  // --- shared with MemoryMultipart ---

  /**
   * Answers one call: records it, lets the event loop turn (a network call is never synchronous),
   * applies the rule, then `answer`. `uploads`: a `fail` fault is the answer's to throw, after
   * the body (see `strike`).
   */
  async serve<T>(request: Omit<Request, 'attempt'>, signal: AbortSignal, o: CallOptions, answer: (call: Call, fault?: Fault) => T | Promise<T>): Promise<T> {
    const { call, fault } = await this.begin(request, signal, o)
    const value = await answer(call, fault)
    call.answered = true
    return value
  }

  private async begin(request: Omit<Request, 'attempt'>, signal: AbortSignal, o: CallOptions): Promise<{ call: Call; fault?: Fault }> {
    const id = [request.op, request.key, request.range?.start, request.range?.end, request.partNumber].join('\0')
    const attempt = (this.attempts.get(id) ?? 0) + 1
    this.attempts.set(id, attempt)
    const call: Call = { ...request, attempt, bytes: 0, answered: false, uploadId: o.uploadId, from: o.from }
    this.calls.push(call)
    await new Promise((resolve) => setImmediate(resolve))
    const fault = this.faults({ ...request, attempt })
    if (fault && !(fault.kind === 'fail' && o.uploads)) call.fault = fault.kind
    if (fault?.kind === 'replace') {
      const old = this.existing(request.key)
      this.objects().set(request.key, this.stored(fault.body, old.metadata, old.contentType))
    }
    if (signal.aborted) throw aborted(signal)
    if (fault?.kind === 'fail' && !o.uploads) throw fault.error
    return { call, fault }
  }

  objects(): Map<string, StoredObject> {
    const b = this.store.buckets.get(this.bucket)
    if (!b) throw new NoSuchBucketError(`Bucket \`${this.bucket}\` does not exist in memory`)
    return b
  }

  existing(key: string): StoredObject {
    const o = this.objects().get(key)
    if (!o) throw new NotFoundError(`No object at memory://${this.bucket}/${key}`)
    return o
  }

  stored(data: Buffer, metadata?: Record<string, string>, contentType?: string, partSizes?: number[]): StoredObject {
    let etag = md5Hex(data)
    if (partSizes) {
      let at = 0
      etag = multipartEtag(partSizes.map((n) => md5Hex(data.subarray(at, (at += n)))))
    }
    return { data, etag, lastModified: new Date(), metadata: lowerKeys(metadata), contentType, partSizes }
  }

  /** The object a copy reads, in this store, If-Match checked (PreconditionFailed names the source). */
  copySource(from: CopySource): StoredObject {
    const bucket = this.store.buckets.get(from.bucket)
    if (!bucket) throw new NoSuchBucketError(`Bucket \`${from.bucket}\` does not exist in memory`)
    const o = bucket.get(from.key)
    if (!o) throw new NotFoundError(`No object at memory://${from.bucket}/${from.key}`)
    if (from.ifMatch !== undefined && from.ifMatch !== o.etag) {
      throw new SourceChangedError(`memory://${from.bucket}/${from.key} changed while it was being copied (its ETag is no longer ${from.ifMatch})`)
    }
    return o
  }
}

/** S3's multipart uploads: parts kept per upload id until complete or abort. */
class MemoryMultipart implements MultipartUploads {
  readonly listsDigests = true
  readonly abortDeletes = true

  constructor(private readonly p: MemoryProvider) {}

  async create(key: string, options: { metadata?: Record<string, string>; contentType?: string; checksum?: UploadChecksum['algorithm']; signal: AbortSignal }): Promise<string> {
    return await this.p.serve({ op: 'create', key }, options.signal, {}, (call) => {
      this.p.objects() // NoSuchBucket
      const uploadId = this.p.store.newUploadId()
      call.uploadId = uploadId
      this.p.store.uploads.set(uploadId, {
        bucket: this.p.bucket, key, metadata: lowerKeys(options.metadata), contentType: options.contentType, checksum: options.checksum, parts: new Map(),
      })
      return uploadId
    })
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer | Readable, options: Omit<PutOptions, 'metadata'>): Promise<string> {
    return await this.p.serve({ op: 'uploadPart', key, partNumber }, options.signal, { uploads: true, uploadId }, async (call, fault) => {
      const upload = this.upload(key, uploadId)
      checkPartNumber(partNumber)
      const data = await received(body, options, call)
      strike(call, fault)
      if (this.p.store.uploads.get(uploadId) !== upload) throw noSuchUpload(key, uploadId) // aborted while the body came
      return this.keep(upload, partNumber, data)
    })
  }

  async copyPart(key: string, uploadId: string, partNumber: number, from: CopySource, signal: AbortSignal): Promise<string> {
    return await this.p.serve({ op: 'copyPart', key, partNumber, range: from.range }, signal, { uploadId, from }, () => this.copyRange(key, uploadId, partNumber, from))
  }

  private copyRange(key: string, uploadId: string, partNumber: number, from: CopySource): string {
    const upload = this.upload(key, uploadId)
    checkPartNumber(partNumber)
    const source = this.p.copySource(from)
    let data = source.data
    if (from.range) {
      const { start, end } = from.range
      if (start > end || end >= source.data.length) throw new FatalError(`The copy range ${start}-${end} is outside the source (size ${source.data.length})`, { code: 'InvalidRange' })
      data = source.data.subarray(start, end + 1)
    }
    return this.keep(upload, partNumber, data)
  }

  async listParts(key: string, uploadId: string, signal: AbortSignal): Promise<UploadedPart[]> {
    return await this.p.serve({ op: 'listParts', key }, signal, { uploadId }, () => {
      const upload = this.upload(key, uploadId)
      return [...upload.parts].sort(([a], [b]) => a - b).map(([partNumber, part]) => ({ partNumber, size: part.data.length, etag: part.etag }))
    })
  }

  /** S3's rules: parts in ascending order, each with the ETag the store gave it, all but the last at least 5 MiB. */
  async complete(key: string, uploadId: string, parts: Array<{ partNumber: number; etag: string; checksum?: UploadChecksum }>, signal: AbortSignal): Promise<string> {
    return await this.p.serve({ op: 'complete', key }, signal, { uploadId }, () => this.assemble(key, uploadId, parts))
  }

  private assemble(key: string, uploadId: string, parts: Array<{ partNumber: number; etag: string; checksum?: UploadChecksum }>): string {
    const upload = this.upload(key, uploadId)
    if (parts.length === 0) throw new FatalError('You must specify at least one part', { code: 'MalformedXML' })
    const chosen: StoredPart[] = []
    parts.forEach((given, i) => {
      if (i > 0 && given.partNumber <= parts[i - 1]!.partNumber) throw new FatalError('The list of parts was not in ascending order', { code: 'InvalidPartOrder' })
      const part = upload.parts.get(given.partNumber)
      if (!part || part.etag !== given.etag.replace(/"/g, '')) {
        throw new FatalError(`Part ${given.partNumber} could not be found or its ETag is not ${given.etag}`, { code: 'InvalidPart' })
      }
      if (upload.checksum === 'crc32' && given.checksum?.value !== part.crc32) {
        throw new FatalError(`Part ${given.partNumber}: the upload was created with CRC32 checksums and the part's is missing or wrong`, { code: 'InvalidPart' })
      }
      chosen.push(part)
    })
    chosen.forEach((part, i) => {
      if (i < chosen.length - 1 && part.data.length < minPartSize) {
        throw new FatalError(`Part ${parts[i]!.partNumber} is ${part.data.length} bytes, smaller than the minimum allowed`, { code: 'EntityTooSmall' })
      }
    })
    // S3 takes the metadata and content type given when the upload was created; complete's are for stores that set them only now.
    const object: StoredObject = {
      data: Buffer.concat(chosen.map((p) => p.data)), etag: multipartEtag(chosen.map((p) => p.etag)), lastModified: new Date(),
      metadata: upload.metadata, contentType: upload.contentType, partSizes: chosen.map((p) => p.data.length),
    }
    this.p.store.uploads.delete(uploadId)
    this.p.objects().set(key, object)
    return object.etag
  }

  async abort(key: string, uploadId: string, signal: AbortSignal): Promise<void> {
    await this.p.serve({ op: 'abort', key }, signal, { uploadId }, () => {
      const upload = this.p.store.uploads.get(uploadId)
      if (upload?.key === key && upload.bucket === this.p.bucket) this.p.store.uploads.delete(uploadId)
    })
  }

  private upload(key: string, uploadId: string): OpenUpload {
    const upload = this.p.store.uploads.get(uploadId)
    if (!upload || upload.key !== key || upload.bucket !== this.p.bucket) throw noSuchUpload(key, uploadId)
    return upload
  }

  /** Stores a part (a part sent again replaces the one before); returns its ETag, the MD5 of its bytes. */
  private keep(upload: OpenUpload, partNumber: number, data: Buffer): string {
    const part = { data, etag: md5Hex(data), crc32: crc32Base64(data) }
    upload.parts.set(partNumber, part)
    return part.etag
  }
}

interface CallOptions {
  /** The call sends a body: a `fail` fault strikes after it came whole (see `strike`). */
  uploads?: boolean
  uploadId?: string
  from?: CopySource
}

/** An upload's `fail` fault, once its body came whole: the store answers the error after the bytes went. */
function strike(call: Call, fault: Fault | undefined): void {
  if (fault?.kind !== 'fail') return
  call.fault = 'fail'
  throw fault.error
}

function noSuchUpload(key: string, uploadId: string): NotFoundError {
  return new NotFoundError(`The multipart upload ${uploadId} of ${key} no longer exists`)
}

function checkPartNumber(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > maxPartNumber) throw new FatalError(`Part number ${n} is not between 1 and ${maxPartNumber}`, { code: 'InvalidArgument' })
}

/** Keys compare as S3 lists them: by their UTF-8 bytes. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

/** Sizes of the parts of `size` bytes split in parts of `partSize` (one empty part for an empty object). */
function splitSizes(size: number, partSize: number): number[] {
  const sizes: number[] = []
  for (let at = 0; at < size; at += partSize) sizes.push(Math.min(partSize, size - at))
  return sizes.length > 0 ? sizes : [0]
}

/** A read body's chunks, counted into the call as the reader takes them; cut after `cutAt` bytes when asked. */
async function* served(data: Buffer, call: Call, cutAt: number | undefined): AsyncIterable<Buffer> {
  const end = cutAt === undefined ? data.length : Math.min(cutAt, data.length)
  for (let at = 0; at < end; at += readChunk) {
    const chunk = data.subarray(at, Math.min(at + readChunk, end))
    call.bytes += chunk.length
    yield chunk
    await new Promise((resolve) => setImmediate(resolve)) // bytes arrive over time: others interleave
  }
  if (cutAt !== undefined) throw connectionReset(`the body was cut after ${end} bytes`)
}

/**
 * The body of an upload as the store receives it: all of it, or the request fails (the sender's
 * stream failing, or the request aborted, rejects with that failure). The store then checks the
 * length the request declared and the checksum it carries, as S3 does.
 */
async function received(body: Buffer | Readable, options: { size: number; checksum?: UploadChecksum; signal: AbortSignal }, call: Call): Promise<Buffer> {
  let data: Buffer
  if (Buffer.isBuffer(body)) {
    data = Buffer.from(body)
    call.bytes = data.length
  } else {
    const chunks: Buffer[] = []
    const onAbort = (): void => { body.destroy(aborted(options.signal)) }
    options.signal.addEventListener('abort', onAbort, { once: true })
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        chunks.push(chunk)
        call.bytes += chunk.length
      }
    } finally {
      options.signal.removeEventListener('abort', onAbort)
    }
    if (options.signal.aborted) throw aborted(options.signal)
    data = Buffer.concat(chunks)
  }
  if (data.length !== options.size) {
    throw new TransientError(`You did not provide the number of bytes specified by the Content-Length (${data.length} of ${options.size})`, { code: 'IncompleteBody', lowLevel: true })
  }
  const c = options.checksum
  if (c) {
    const got = c.algorithm === 'md5' ? md5Base64(data) : crc32Base64(data)
    if (got !== c.value) throw new TransientError(`The ${c.algorithm} you specified did not match what we received`, { code: 'BadDigest' })
  }
  return data
}
