import {
  HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import type { ObjectDetails, ObjectInfo, Provider, ReadOptions, ReadResult, UploadParts } from '../provider.js'
import { mapCheckError, mapS3Error } from './errors.js'
import { FastGet } from './fast-get.js'

export interface S3ProviderOptions {
  client: S3Client
  bucket: string
  /** For messages. */
  endpoint?: string
  /** The --endpoint-url, if any: requests go to it with path-style addressing. */
  endpointUrl?: string
  /** Wraps each page request of a listing (the engine passes its retry policy). */
  retry?: <T>(fn: () => Promise<T>) => Promise<T>
}

const unquote = (etag: string | undefined): string | undefined => etag?.replace(/^"|"$/g, '') || undefined

export class S3Provider implements Provider {
  readonly name = 's3'
  readonly capabilities = { rangedReads: true, uploadPartInfo: true }
  private readonly client: S3Client
  private readonly bucket: string
  private readonly endpoint: string
  private readonly retry: <T>(fn: () => Promise<T>) => Promise<T>
  private readonly fastGet: FastGet

  constructor(options: S3ProviderOptions) {
    this.client = options.client
    this.bucket = options.bucket
    this.endpoint = options.endpoint ?? 'the S3 endpoint'
    this.retry = options.retry ?? ((fn) => fn())
    this.fastGet = new FastGet(options.client, options.bucket, options.endpointUrl)
  }

  private fail(err: unknown, key?: string): unknown {
    return mapS3Error(err, { bucket: this.bucket, key, endpoint: this.endpoint })
  }

  async check(signal: AbortSignal): Promise<void> {
    try {
      await this.retry(() => this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: signal }))
    } catch (err) {
      throw mapCheckError(err, this.bucket, this.endpoint)
    }
  }

  async *list(prefix: string, signal: AbortSignal): AsyncIterable<ObjectInfo> {
    let token: string | undefined
    do {
      const page = await this.retry(() =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix || undefined, ContinuationToken: token }), { abortSignal: signal }),
      ).catch((err: unknown) => { throw this.fail(err) })
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue
        yield { key: o.Key, size: o.Size ?? 0, etag: unquote(o.ETag), lastModified: o.LastModified }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token)
  }

  async stat(key: string, signal: AbortSignal): Promise<ObjectDetails> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal })
      return {
        key,
        size: r.ContentLength ?? 0,
        etag: unquote(r.ETag),
        lastModified: r.LastModified,
        encrypted: isEncrypted(r.ServerSideEncryption, r.SSECustomerAlgorithm),
        metadata: r.Metadata,
      }
    } catch (err) {
      throw this.fail(err, key)
    }
  }

  async read(key: string, options: ReadOptions): Promise<ReadResult> {
    const range = options.range ? `bytes=${options.range.start}-${options.range.end}` : undefined
    try {
      const r = await this.fastGet.get(key, { range, ifMatch: options.ifMatch ? `"${options.ifMatch}"` : undefined, signal: options.signal })
      const h = r.headers
      return {
        body: r.body,
        details: {
          etag: unquote(h.etag), size: Number(h['content-length'] ?? 0),
          encrypted: isEncrypted(h['x-amz-server-side-encryption'], h['x-amz-server-side-encryption-customer-algorithm']),
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

function isEncrypted(sse: string | undefined, sseCustomer: string | undefined): boolean {
  return sseCustomer !== undefined || (sse !== undefined && sse.startsWith('aws:kms'))
}
