import type { Readable } from 'node:stream'

/** One object as a provider lists or stats it. */
export interface ObjectInfo {
  /** Full key within the bucket (or path relative to the root for the local provider). */
  key: string
  size: number
  /** Entity tag without quotes; `<md5>` for single-part uploads, `<md5-of-md5s>-<n>` for multipart. */
  etag?: string
  lastModified?: Date
}

/** What stat adds to a listing entry: facts needed to verify a download. */
export interface ObjectDetails extends ObjectInfo {
  /** Server-side encryption with KMS or customer keys makes the ETag something other than an MD5. */
  encrypted?: boolean
  /** User metadata, keys in lower case. */
  metadata?: Record<string, string>
}

/** Size of the parts a multipart object was uploaded with, where the store can tell. */
export interface UploadParts {
  count: number
  /** Size of every part but the last. */
  partSize: number
  /** Guessed from the size and the ETag's part count rather than told by the store. */
  inferred?: boolean
}

export interface ReadOptions {
  /** Inclusive byte range. Absent: the whole object. */
  range?: { start: number; end: number }
  /** Fail with SourceChangedError if the object's ETag is no longer this. */
  ifMatch?: string
  signal: AbortSignal
}

export interface ReadResult {
  body: Readable
  /** Facts from the response headers, for verification of whole-object reads. */
  details: Pick<ObjectDetails, 'etag' | 'encrypted' | 'size'>
}

export interface ProviderCapabilities {
  /** `read` honours byte ranges. */
  rangedReads: boolean
  /** `uploadParts` can tell how a multipart object was split, so its ETag can be verified. */
  uploadPartInfo: boolean
}

/**
 * The one interface every store implements. Listing streams; nothing collects a whole bucket.
 * Keys passed in and out are full keys (the provider knows its bucket or root).
 */
export interface Provider {
  readonly name: string
  readonly capabilities: ProviderCapabilities
  /** Checks the store can be reached and the bucket exists. Rejects with a LocationError. */
  check(signal: AbortSignal): Promise<void>
  /** Every object whose key starts with `prefix`, in key order, page by page. */
  list(prefix: string, signal: AbortSignal): AsyncIterable<ObjectInfo>
  /** Metadata of `key`. Rejects with NotFoundError (code SOAKER_NOT_FOUND) when absent. */
  stat(key: string, signal: AbortSignal): Promise<ObjectDetails>
  /** The bytes of `key`, or of a range of it. Rejects with NotFoundError or SourceChangedError. */
  read(key: string, options: ReadOptions): Promise<ReadResult>
  /** Stores `body` whole as `key`. */
  write(key: string, body: Buffer, signal: AbortSignal): Promise<void>
  /** How a multipart object was split; undefined when unknown or not multipart. */
  uploadParts?(key: string, signal: AbortSignal): Promise<UploadParts | undefined>
  close(): void
}
