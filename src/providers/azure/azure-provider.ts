import { randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import { ContainerClient, type StoragePipelineOptions } from '@azure/storage-blob'
import { NotFoundError, type SoakerError } from '../../errors.js'
import { mappedBody } from '../network-errors.js'
import {
  attemptSignal, callOnce, type CopySource, type MultipartUploads, type ObjectDetails, type ObjectInfo, type Provider, type PutOptions, type ReadOptions, type ReadResult,
  type RetryCalls, type UploadChecksum, type UploadedPart,
} from '../provider.js'
import { mapAzureCheckError, mapAzureError } from './errors.js'
import { fromAzureMetadata, toAzureMetadata } from './metadata.js'

export interface AzureProviderOptions {
  /** The container every key lives in. Its URL names the account and, with a SAS, carries the token. */
  container: ContainerClient
  /** Blobs per listing page; Azure's maximum is 5,000. @default 5000 */
  pageSize?: number
  /** Wraps each page request of a listing (the engine passes its retry policy). */
  retry?: RetryCalls
}

const unquote = (etag: string | undefined): string | undefined => etag?.replace(/^"|"$/g, '') || undefined
const hex = (md5: Uint8Array | undefined): string | undefined =>
  md5 && md5.length === 16 ? Buffer.from(md5).toString('hex') : undefined

/**
 * An Azure Blob Storage container. An Azure ETag (`0x8DB...`) is a version stamp, never an MD5
 * of the data: it serves for resume and If-Match, while integrity checks find nothing in it
 * (etagDigest 'none'). Downloads are checked against the blob's Content-MD5 instead, where the
 * blob has one: Azure sets it on single-request uploads and keeps whatever a client set for
 * block-list uploads, which is often nothing (Azurite sets it on every upload; Azure does not).
 */
export class AzureProvider implements Provider {
  readonly name = 'azure'
  readonly capabilities = { rangedReads: true, uploadPartInfo: false, etagDigest: 'none' as const }
  private readonly container: ContainerClient
  private readonly pageSize: number
  private readonly retry: RetryCalls
  /** The blob service URL without the container or any SAS token, for messages. */
  readonly endpoint: string
  readonly multipart: MultipartUploads

  constructor(options: AzureProviderOptions) {
    this.container = options.container
    this.pageSize = options.pageSize ?? 5_000
    this.retry = options.retry ?? callOnce
    const url = new URL(this.container.url)
    url.search = ''
    this.endpoint = url.href.slice(0, url.href.lastIndexOf('/'))
    this.multipart = new AzureBlocks(this.container, (err, key) => this.fail(err, key))
  }

  /**
   * A provider over `containerName` in the account a connection string names. The SDK does not
   * retry on its own unless `pipeline` says so: soaker's retry policy decides, counts and waits.
   */
  static fromConnectionString(
    connectionString: string, containerName: string,
    options: Omit<AzureProviderOptions, 'container'> & { pipeline?: StoragePipelineOptions } = {},
  ): AzureProvider {
    const container = new ContainerClient(connectionString, containerName, { retryOptions: { maxTries: 1 }, ...options.pipeline })
    return new AzureProvider({ ...options, container })
  }

  private fail(err: unknown, key?: string): SoakerError {
    return mapAzureError(err, { container: this.container.containerName, key, endpoint: this.endpoint })
  }

  async check(signal: AbortSignal): Promise<void> {
    try {
      await this.retry((attempt) => this.container.getProperties({ abortSignal: attemptSignal(signal, attempt) })
        .catch((err: unknown) => { throw this.fail(err) }))
    } catch (err) {
      throw mapAzureCheckError(err, this.container.containerName, this.endpoint)
    }
  }

  async *list(prefix: string, signal: AbortSignal): AsyncIterable<ObjectInfo> {
    // One request per page, each on its own iterator from the last continuation token, so the
    // retry policy can repeat exactly the page that failed.
    let token: string | undefined
    do {
      const page = await this.retry(async (attempt) => {
        const pages = this.container
          .listBlobsFlat({ prefix: prefix || undefined, abortSignal: attemptSignal(signal, attempt) })
          .byPage({ continuationToken: token, maxPageSize: this.pageSize })
        const next = await pages.next().catch((err: unknown) => { throw this.fail(err) })
        return next.done ? undefined : next.value
      })
      if (page === undefined) return
      for (const b of page.segment.blobItems) {
        yield { key: b.name, size: b.properties.contentLength ?? 0, etag: unquote(b.properties.etag), lastModified: b.properties.lastModified }
      }
      token = page.continuationToken || undefined
    } while (token)
  }

  async stat(key: string, signal: AbortSignal): Promise<ObjectDetails> {
    try {
      const r = await this.container.getBlobClient(key).getProperties({ abortSignal: signal })
      return {
        key,
        size: r.contentLength ?? 0,
        etag: unquote(r.etag),
        lastModified: r.lastModified,
        encrypted: false, // server-side encryption does not change what the ETag is: never an MD5
        metadata: fromAzureMetadata(r.metadata),
        contentMd5: hex(r.contentMD5),
        contentType: r.contentType,
      }
    } catch (err) {
      throw this.fail(err, key)
    }
  }

  async read(key: string, options: ReadOptions): Promise<ReadResult> {
    const { range, ifMatch, signal } = options
    try {
      const r = await this.container.getBlobClient(key).download(range?.start ?? 0, range ? range.end - range.start + 1 : undefined, {
        abortSignal: signal,
        conditions: ifMatch ? { ifMatch: `"${ifMatch}"` } : undefined,
        // A broken body is the engine's to retry, counted like any other failure.
        maxRetryRequests: 0,
      })
      if (r.readableStreamBody === undefined) throw new Error(`the download of az://${this.container.containerName}/${key} returned no body`)
      return {
        body: mappedBody(r.readableStreamBody as Readable, (err) => this.fail(err, key)),
        details: {
          etag: unquote(r.etag),
          size: r.contentLength ?? 0,
          encrypted: false,
          metadata: fromAzureMetadata(r.metadata),
          // A ranged response's Content-MD5 would be of the range, and only when asked for; the
          // blob's own is x-ms-blob-content-md5.
          contentMd5: hex(range ? r.blobContentMD5 : r.contentMD5 ?? r.blobContentMD5),
          contentType: r.contentType,
        },
      }
    } catch (err) {
      throw this.fail(err, key)
    }
  }

  /**
   * Put Blob. Returns the MD5 Azure computed of the bytes it stored (its ETag is no digest), so
   * that the caller can check it; an MD5 checksum is also kept as the blob's Content-MD5.
   */
  async put(key: string, body: Buffer | Readable, options: PutOptions): Promise<string | undefined> {
    try {
      const r = await this.container.getBlockBlobClient(key).upload(body, options.size, {
        abortSignal: options.signal, metadata: toAzureMetadata(options.metadata),
        blobHTTPHeaders: { blobContentType: options.contentType, blobContentMD5: md5Bytes(options.checksum) },
      })
      return hex(r.contentMD5)
    } catch (err) {
      throw this.fail(err, key)
    }
  }

  /**
   * Copy Blob from another container of the same account, made by Azure: the source's bytes,
   * metadata and content type, whatever its size (Azure copies within an account at once; the
   * copy is polled until it has). Authorized as this container is: the account's key, or the
   * same SAS. Returns nothing to check: an Azure ETag is no digest.
   */
  async copyObject(key: string, from: CopySource, signal: AbortSignal): Promise<string | undefined> {
    const source = `${this.endpoint}/${encodeURIComponent(from.bucket)}/${from.key.split('/').map(encodeURIComponent).join('/')}${new URL(this.container.url).search}`
    try {
      const poller = await this.container.getBlobClient(key).beginCopyFromURL(source, {
        abortSignal: signal, intervalInMs: 100, sourceConditions: from.ifMatch ? { ifMatch: `"${from.ifMatch}"` } : undefined,
      })
      const done = await poller.pollUntilDone()
      if (done.copyStatus !== 'success') throw new Error(`the copy from az://${from.bucket}/${from.key} ended ${done.copyStatus ?? 'without a status'}`)
      return undefined
    } catch (err) {
      // What fails a copy is its source: missing, or changed since it was listed.
      throw mapAzureError(err, { container: from.bucket, key: from.key, endpoint: this.endpoint })
    }
  }

  async write(key: string, body: Buffer, signal: AbortSignal): Promise<void> {
    try {
      await this.container.getBlockBlobClient(key).uploadData(body, { abortSignal: signal })
    } catch (err) {
      throw this.fail(err, key)
    }
  }

  close(): void {
    // Nothing to release: the SDK keeps idle keep-alive sockets that do not hold the process open.
  }
}

const md5Bytes = (checksum: UploadChecksum | undefined): Uint8Array | undefined =>
  checksum?.algorithm === 'md5' ? Buffer.from(checksum.value, 'base64') : undefined

/** `<upload id>.<part number>` as a block id: base64, and of one length for every block of a blob, as Azure requires. */
const blockId = (uploadId: string, partNumber: number): string => Buffer.from(`${uploadId}.${String(partNumber).padStart(5, '0')}`).toString('base64')

/**
 * A block blob uploaded in parts: each part a staged block named after its upload and number,
 * the blob assembled by Put Block List. Nothing is created until then, so an upload id is only
 * the name its blocks share; Azure keeps uncommitted blocks for a week and lists them (Get Block
 * List), which is what a resumed upload asks for. There is no deleting them: abort leaves them to
 * that expiry, and a later upload of the same blob, whose blocks are named otherwise, ignores them.
 */
class AzureBlocks implements MultipartUploads {
  readonly listsDigests = false
  readonly abortDeletes = false

  constructor(private readonly container: ContainerClient, private readonly fail: (err: unknown, key: string) => SoakerError) {}

  async create(): Promise<string> {
    return randomBytes(8).toString('hex')
  }

  /** Put Block, checked against its Content-MD5 where one is given; returns the MD5 Azure computed of it. */
  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer | Readable, options: Omit<PutOptions, 'metadata'>): Promise<string> {
    try {
      const r = await this.container.getBlockBlobClient(key).stageBlock(blockId(uploadId, partNumber), body, options.size, {
        abortSignal: options.signal, transactionalContentMD5: md5Bytes(options.checksum),
      })
      return hex(r.contentMD5) ?? blockId(uploadId, partNumber)
    } catch (err) {
      throw this.fail(err, key)
    }
  }

  /** The uncommitted blocks of this upload; Azure lists no digest of them. */
  async listParts(key: string, uploadId: string, signal: AbortSignal): Promise<UploadedPart[]> {
    try {
      const r = await this.container.getBlockBlobClient(key).getBlockList('uncommitted', { abortSignal: signal })
      const parts: UploadedPart[] = []
      for (const b of r.uncommittedBlocks ?? []) {
        const m = /^([0-9a-f]+)\.(\d{5})$/.exec(Buffer.from(b.name, 'base64').toString())
        if (m?.[1] === uploadId) parts.push({ partNumber: Number(m[2]), size: b.size })
      }
      return parts
    } catch (err) {
      const e = this.fail(err, key)
      if (e instanceof NotFoundError) return [] // no blob and no block yet: an upload with no part
      throw e
    }
  }

  async complete(key: string, uploadId: string, parts: Array<{ partNumber: number; etag: string }>, signal: AbortSignal,
    object: { metadata?: Record<string, string>; contentType?: string } = {}): Promise<string | undefined> {
    try {
      const r = await this.container.getBlockBlobClient(key).commitBlockList(parts.map((p) => blockId(uploadId, p.partNumber)), {
        abortSignal: signal, metadata: toAzureMetadata(object.metadata), blobHTTPHeaders: { blobContentType: object.contentType },
      })
      return unquote(r.etag)
    } catch (err) {
      throw this.fail(err, key)
    }
  }

  async abort(): Promise<void> {}
}
