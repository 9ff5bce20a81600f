import type { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, type CreateMultipartUploadCommandInput, DeleteObjectCommand, HeadBucketCommand,
  HeadObjectCommand, ListObjectsV2Command, type ListObjectsV2CommandOutput, ListPartsCommand, PutObjectCommand, type S3Client,
} from '@aws-sdk/client-s3'
import { checksumHeader, fullObjectCrc } from '../../checksums/s3-checksum.js'
import { InvalidResponseError, NotFoundError, type SoakerError, SourceChangedError } from '../../errors.js'
import {
  attemptSignal, callOnce, type CopySource, type MultipartUploads, type ObjectDetails, type ObjectInfo, type Provider, type PutOptions, type ReadOptions,
  type ReadResult, type RetryCalls, type StoreCrc, type UploadChecksum, type UploadedPart, type UploadParts,
} from '../provider.js'
import { mappedBody } from '../network-errors.js'
import { mapCheckError, mapS3Error } from './errors.js'
import type { S3Connection } from './client.js'
import { encodeKeyPath, FastS3 } from './fast-request.js'

export interface S3ProviderOptions {
  connection: S3Connection
  bucket: string
  /** For messages. */
  endpoint?: string
  /** The --endpoint-url, if any: requests go to it with path-style addressing. */
  endpointUrl?: string
  /** Wraps each page request of a listing and the bucket check (the engine passes its retry policy). */
  retry?: RetryCalls
  /** HEADs and whole GETs ask for the checksums the store keeps (--store-checksums). @default true */
  askChecksums?: boolean
}

const unquote = (etag: string | undefined): string | undefined => etag?.replace(/^"|"$/g, '') || undefined

export class S3Provider implements Provider {
  readonly name = 's3'
  readonly capabilities = { rangedReads: true, uploadPartInfo: true }
  private readonly client: S3Client
  private readonly bucket: string
  private readonly endpoint: string
  private readonly retry: RetryCalls
  private readonly fast: FastS3
  readonly multipart: MultipartUploads
  /** HEADs and whole GETs ask for the object's checksums, until the store refuses the header (withChecksums). */
  private asksChecksums: boolean

  constructor(options: S3ProviderOptions) {
    this.client = options.connection.client
    this.bucket = options.bucket
    this.endpoint = options.endpoint ?? 'the S3 endpoint'
    this.retry = options.retry ?? callOnce
    this.asksChecksums = options.askChecksums ?? true
    this.fast = new FastS3(options.connection.client, options.connection.transport, options.bucket, options.endpointUrl)
    this.multipart = new S3Multipart(this.client, this.bucket, this.fast, (err, key, uploadId) => this.fail(err, key, uploadId),
      (err, key, from, uploadId) => this.copyFailed(err, key, from, uploadId))
  }

  private fail(err: unknown, key?: string, uploadId?: string): SoakerError {
    return mapS3Error(err, { bucket: this.bucket, key, endpoint: this.endpoint, uploadId })
  }

  async check(signal: AbortSignal): Promise<void> {
    try {
      await this.retry((attempt) => this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: attemptSignal(signal, attempt) })
        .catch((err: unknown) => { throw this.fail(err) }))
    } catch (err) {
      throw mapCheckError(err, this.bucket, this.endpoint)
    }
  }

  async *list(prefix: string, signal: AbortSignal, startAfter?: string): AsyncIterable<ObjectInfo> {
    let token: string | undefined
    do {
      const page = await this.retry(async (attempt) => {
        const from = token === undefined ? startAfter : undefined
        const p = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix || undefined, ContinuationToken: token, StartAfter: from }),
          { abortSignal: attemptSignal(signal, attempt) }).catch((err: unknown) => { throw this.fail(err) })
        if (!isListResult(p)) {
          throw new InvalidResponseError(`${this.endpoint} answered a ListObjectsV2 of s3://${this.bucket}/${prefix} with a body that is not a listing ` +
            '(no <ListBucketResult> with Name and IsTruncated): it is not taken for an empty bucket')
        }
        return p
      })
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue
        yield { key: o.Key, size: o.Size ?? 0, etag: unquote(o.ETag), lastModified: o.LastModified }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token)
  }

  /**
   * `call`, asking for the object's checksums (`x-amz-checksum-mode: ENABLED`) where the store
   * takes the header. A store that refuses it (some S3-compatible ones answer 501 NotImplemented to
   * a header they do not know) is asked again without it, and not asked again by this provider:
   * such a store is verified by ETags, as one that ignores the header is. `asked`: whether the
   * answer came to a request that asked, the only answer whose checksums are taken.
   */
  private async withChecksums<T>(call: (ask: boolean) => Promise<T>): Promise<{ answer: T; asked: boolean }> {
    if (!this.asksChecksums) return { answer: await call(false), asked: false }
    try {
      return { answer: await call(true), asked: true }
    } catch (err) {
      if (!refusesChecksumMode(err)) throw err
      this.asksChecksums = false
      return { answer: await call(false), asked: false }
    }
  }

  async stat(key: string, signal: AbortSignal): Promise<ObjectDetails> {
    try {
      const { answer: r, asked } = await this.withChecksums((ask) =>
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key, ChecksumMode: ask ? 'ENABLED' : undefined }), { abortSignal: signal }))
      const etag = unquote(r.ETag)
      const checksums = {
        'x-amz-checksum-crc64nvme': r.ChecksumCRC64NVME, 'x-amz-checksum-crc32c': r.ChecksumCRC32C,
        'x-amz-checksum-crc32': r.ChecksumCRC32, 'x-amz-checksum-type': r.ChecksumType,
      }
      return {
        key,
        size: r.ContentLength ?? 0,
        etag,
        lastModified: r.LastModified,
        encrypted: isEncrypted(r.ServerSideEncryption, r.SSECustomerAlgorithm),
        metadata: r.Metadata,
        contentType: r.ContentType,
        crc: asked ? storeCrc(checksums, etag) : undefined,
      }
    } catch (err) {
      throw this.fail(err, key)
    }
  }

  async read(key: string, options: ReadOptions): Promise<ReadResult> {
    const range = options.range ? `bytes=${options.range.start}-${options.range.end}` : undefined
    try {
      const ifMatch = options.ifMatch ? `"${options.ifMatch}"` : undefined
      // A range's answer carries no checksum of the whole object: only a whole read asks for one.
      const { answer: r, asked } = range === undefined
        ? await this.withChecksums((checksums) => this.fast.get(key, { ifMatch, checksums, signal: options.signal }))
        : { answer: await this.fast.get(key, { range, ifMatch, signal: options.signal }), asked: false }
      const h = r.headers
      if (ignoredIfMatch(options.ifMatch, unquote(h.etag))) {
        r.body.destroy()
        throw new SourceChangedError(`s3://${this.bucket}/${key} changed while it was being copied (the store served ETag ${unquote(h.etag)} ` +
          `for If-Match ${options.ifMatch})`)
      }
      return {
        body: mappedBody(r.body, (err) => this.fail(err, key)),
        details: {
          etag: unquote(h.etag), size: Number(h['content-length'] ?? 0),
          encrypted: isEncrypted(h['x-amz-server-side-encryption'], h['x-amz-server-side-encryption-customer-algorithm']),
          metadata: userMetadata(h),
          contentType: h['content-type'],
          crc: asked ? storeCrc(h, unquote(h.etag)) : undefined,
        },
      }
    } catch (err) {
      throw this.fail(err, key)
    }
  }

  async write(key: string, body: Buffer, signal: AbortSignal): Promise<void> {
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body }), { abortSignal: signal })
    } catch (err) {
      throw this.fail(err, key)
    }
  }

  async put(key: string, body: Buffer | Readable, options: PutOptions): Promise<string | undefined> {
    try {
      const r = await this.fast.send({ method: 'PUT', key, headers: uploadHeaders(options), body, signal: options.signal })
      r.body.resume()
      return unquote(r.headers.etag)
    } catch (err) {
      throw this.fail(err, key)
    }
  }

  async copyObject(key: string, from: CopySource, signal: AbortSignal): Promise<string | undefined> {
    try {
      const r = await this.fast.send({ method: 'PUT', key, headers: { 'content-length': '0', ...copyHeaders(from) }, signal })
      return await copyResultEtag(r.body)
    } catch (err) {
      throw this.copyFailed(err, key, from)
    }
  }

  /** A failed copy names its source; a failed If-Match there means the source changed. */
  private copyFailed(err: unknown, key: string, from: CopySource, uploadId?: string): SoakerError {
    const mapped = this.fail(err, key, uploadId)
    if (mapped instanceof SourceChangedError) {
      return new SourceChangedError(`s3://${from.bucket}/${from.key} changed while it was being copied (its ETag is no longer ${from.ifMatch})`, { cause: err })
    }
    return mapped
  }

  /**
   * Deletes `key` (`soaker bench` removes the objects it wrote, and only those). A key that is
   * absent already is not an error: S3 answers its DELETE as any other.
   */
  async delete(key: string, signal: AbortSignal): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal })
    } catch (err) {
      throw this.fail(err, key)
    }
  }

  /** Asks for part 1 of the object: its length is the upload's part size, PartsCount the count. */
  async uploadParts(key: string, signal: AbortSignal): Promise<UploadParts | undefined> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key, PartNumber: 1 }), { abortSignal: signal })
      if (!r.PartsCount || !r.ContentLength) return undefined
      return { count: r.PartsCount, partSize: r.ContentLength }
    } catch {
      return undefined // stores that do not support partNumber: the ETag cannot be verified
    }
  }

  close(): void {
    this.client.destroy()
  }
}

/**
 * A store that ignores If-Match (s3rver) serves whatever the object is now; the ETag of its
 * answer still tells, so the contract of ReadOptions.ifMatch holds on any store.
 */
function ignoredIfMatch(ifMatch: string | undefined, served: string | undefined): boolean {
  return ifMatch !== undefined && served !== undefined && served.toLowerCase() !== ifMatch.toLowerCase()
}

/**
 * Every ListObjectsV2 result names its bucket and says whether it is truncated. The SDK parses
 * an empty body, or a web page from a proxy, under status 200 into an object with neither: taken
 * as a page, it would be an empty bucket, and "0 listed, exit 0" a lie.
 */
function isListResult(page: ListObjectsV2CommandOutput): boolean {
  return typeof page.IsTruncated === 'boolean' || page.Name !== undefined
}

/** The full-object CRC an answer's checksum headers (or HeadObject's fields, named as the headers) give, if any. */
function storeCrc(headers: Record<string, string | undefined>, etag: string | undefined): StoreCrc | undefined {
  const crc = fullObjectCrc(headers, etag)
  return crc && { algorithm: crc.algorithm, hex: crc.digest.toString('hex'), source: crc.header }
}

/** The store refused `x-amz-checksum-mode`: 501 NotImplemented, or an error that names the header. */
function refusesChecksumMode(err: unknown): boolean {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } }
  return e.$metadata?.httpStatusCode === 501 || e.name === 'NotImplemented' || /x-amz-checksum-mode/i.test(e.message ?? '')
}

function isEncrypted(sse: string | undefined, sseCustomer: string | undefined): boolean {
  return sseCustomer !== undefined || (sse !== undefined && sse.startsWith('aws:kms'))
}

/** `x-amz-meta-*` response headers as metadata, keys without the prefix. */
function userMetadata(headers: Record<string, string | undefined>): Record<string, string> | undefined {
  let out: Record<string, string> | undefined
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && name.startsWith('x-amz-meta-')) (out ??= {})[name.slice(11)] = value
  }
  return out
}

/** The headers of a copy the store makes from `from` (CopyObject keeps the source's metadata). */
function copyHeaders(from: CopySource): Record<string, string> {
  const headers: Record<string, string> = { 'x-amz-copy-source': `/${from.bucket}/${encodeKeyPath(from.key)}` }
  if (from.ifMatch) headers['x-amz-copy-source-if-match'] = `"${from.ifMatch}"`
  if (from.range) headers['x-amz-copy-source-range'] = `bytes=${from.range.start}-${from.range.end}`
  return headers
}

/**
 * The ETag of a CopyObjectResult or CopyPartResult. S3 may answer a copy with 200 and then an
 * <Error> in the body (it fails after the headers went out): that is an error, not a copy.
 */
async function copyResultEtag(body: Readable): Promise<string> {
  const xml = await text(body)
  const code = /<Error>[\s\S]*?<Code>([^<]*)<\/Code>/.exec(xml)?.[1]
  if (code !== undefined) {
    const message = /<Message>([^<]*)<\/Message>/.exec(xml)?.[1] ?? code
    throw Object.assign(new Error(message), { name: code, Code: code, $metadata: { httpStatusCode: code === 'SlowDown' ? 503 : 500 } })
  }
  const etag = /<ETag>([^<]*)<\/ETag>/.exec(xml)?.[1]?.replace(/&quot;/g, '"')
  if (!etag) throw new InvalidResponseError(`the store answered a copy without an ETag: ${xml.slice(0, 200)}`)
  return unquote(etag)!
}

function checksumHeaders(checksum: UploadChecksum | undefined): Record<string, string> {
  return checksum === undefined ? {} : { [checksumHeader[checksum.algorithm]]: checksum.value }
}

/**
 * How CreateMultipartUpload declares the parts' checksums: CRC32 COMPOSITE (S3's default type for
 * it), CRC64NVME FULL_OBJECT (its only type): the object keeps the CRC of its bytes, which a
 * download verifies by. An MD5 is no S3 checksum algorithm: each part's Content-MD5 stands alone.
 */
function uploadChecksumAlgorithm(algorithm: UploadChecksum['algorithm'] | undefined): Pick<CreateMultipartUploadCommandInput, 'ChecksumAlgorithm' | 'ChecksumType'> {
  if (algorithm === 'crc32') return { ChecksumAlgorithm: 'CRC32' }
  if (algorithm === 'crc64nvme') return { ChecksumAlgorithm: 'CRC64NVME', ChecksumType: 'FULL_OBJECT' }
  return {}
}

function uploadHeaders(options: Omit<PutOptions, 'signal'>): Record<string, string> {
  const headers: Record<string, string> = { 'content-length': String(options.size), ...checksumHeaders(options.checksum) }
  if (options.contentType) headers['content-type'] = options.contentType
  for (const [k, v] of Object.entries(options.metadata ?? {})) headers[`x-amz-meta-${k}`] = v
  return headers
}

/**
 * S3 multipart uploads. Parts go through the fast path (they carry the bytes); the calls that
 * exchange XML documents go through the SDK.
 */
class S3Multipart implements MultipartUploads {
  readonly listsDigests = true
  readonly abortDeletes = true

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly fast: FastS3,
    private readonly fail: (err: unknown, key: string, uploadId?: string) => SoakerError,
    private readonly copyFailed: (err: unknown, key: string, from: CopySource, uploadId?: string) => SoakerError,
  ) {}

  async create(key: string, options: { metadata?: Record<string, string>; contentType?: string; checksum?: UploadChecksum['algorithm']; signal: AbortSignal }): Promise<string> {
    try {
      const r = await this.client.send(new CreateMultipartUploadCommand({
        Bucket: this.bucket, Key: key, Metadata: options.metadata, ContentType: options.contentType, ...uploadChecksumAlgorithm(options.checksum),
      }), { abortSignal: options.signal })
      if (!r.UploadId) throw new Error(`CreateMultipartUpload of s3://${this.bucket}/${key} returned no upload id`)
      return r.UploadId
    } catch (err) {
      throw this.fail(err, key)
    }
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer | Readable, options: Omit<PutOptions, 'metadata'>): Promise<string> {
    try {
      const r = await this.fast.send({
        method: 'PUT', key, query: { partNumber: String(partNumber), uploadId }, headers: uploadHeaders(options), body, signal: options.signal,
      })
      r.body.resume()
      const etag = unquote(r.headers.etag)
      if (!etag) throw new Error(`the store answered part ${partNumber} of s3://${this.bucket}/${key} without an ETag`)
      return etag
    } catch (err) {
      throw this.fail(err, key, uploadId)
    }
  }

  async copyPart(key: string, uploadId: string, partNumber: number, from: CopySource, signal: AbortSignal): Promise<string> {
    try {
      const r = await this.fast.send({
        method: 'PUT', key, query: { partNumber: String(partNumber), uploadId }, headers: { 'content-length': '0', ...copyHeaders(from) }, signal,
      })
      return await copyResultEtag(r.body)
    } catch (err) {
      throw this.copyFailed(err, key, from, uploadId)
    }
  }

  async listParts(key: string, uploadId: string, signal: AbortSignal): Promise<UploadedPart[]> {
    const parts: UploadedPart[] = []
    let marker: string | undefined
    try {
      do {
        const r = await this.client.send(new ListPartsCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }), { abortSignal: signal })
        for (const p of r.Parts ?? []) {
          if (p.PartNumber !== undefined && p.ETag) parts.push({ partNumber: p.PartNumber, size: p.Size ?? 0, etag: unquote(p.ETag)! })
        }
        marker = r.IsTruncated ? r.NextPartNumberMarker : undefined
      } while (marker)
    } catch (err) {
      throw this.fail(err, key, uploadId)
    }
    return parts
  }

  async complete(key: string, uploadId: string, parts: Array<{ partNumber: number; etag: string; checksum?: UploadChecksum }>, signal: AbortSignal,
    object: { checksum?: UploadChecksum } = {}): Promise<string | undefined> {
    const whole = object.checksum?.algorithm === 'crc64nvme' ? { ChecksumCRC64NVME: object.checksum.value, ChecksumType: 'FULL_OBJECT' as const } : {}
    try {
      const r = await this.client.send(new CompleteMultipartUploadCommand({
        Bucket: this.bucket, Key: key, UploadId: uploadId,
        MultipartUpload: {
          Parts: parts.map((p) => ({
            PartNumber: p.partNumber, ETag: `"${p.etag}"`,
            ChecksumCRC32: p.checksum?.algorithm === 'crc32' ? p.checksum.value : undefined,
            ChecksumCRC64NVME: p.checksum?.algorithm === 'crc64nvme' ? p.checksum.value : undefined,
          })),
        },
        ...whole,
      }), { abortSignal: signal })
      return unquote(r.ETag)
    } catch (err) {
      throw this.fail(err, key, uploadId)
    }
  }

  async abort(key: string, uploadId: string, signal: AbortSignal): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }), { abortSignal: signal })
    } catch (err) {
      const e = this.fail(err, key, uploadId)
      if (!(e instanceof NotFoundError)) throw e
    }
  }
}
