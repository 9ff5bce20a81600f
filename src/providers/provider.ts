import type { Readable } from 'node:stream'
import type { CrcAlgorithm } from '../checksums/digester.js'

/** One object as a provider lists or stats it. */
/** What a provider's ETags are (ProviderCapabilities.etagDigest). */
export type EtagDigestKind = 'md5' | 'content-id' | 'none'

/**
 * How a provider sends its own small requests (listing pages, the bucket check): retried under
 * the run's policy, each attempt with a signal of its own, which the run cancels when the
 * attempt's answer takes longer than --timeout (undefined where nothing watches the attempt).
 */
export type RetryCalls = <T>(call: (attempt: AbortSignal | undefined) => Promise<T>) => Promise<T>

/** Runs each call once: the default where no retry policy is given. */
export const callOnce: RetryCalls = (call) => call(undefined)

/** `signal`, also cancelled by an attempt's own signal where it has one. */
export function attemptSignal(signal: AbortSignal, attempt: AbortSignal | undefined): AbortSignal {
  return attempt ? AbortSignal.any([signal, attempt]) : signal
}

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
  /**
   * MD5 (hex) of the whole object that the store keeps apart from the ETag, where it keeps one:
   * Azure's Content-MD5. Checked when the ETag promises nothing; never assumed present.
   */
  contentMd5?: string
  /** The object's Content-Type, where the store keeps one. */
  contentType?: string
  /**
   * A CRC of the whole object's bytes that the store keeps beside the ETag, where it gives one:
   * S3's full-object checksum, GCS's crc32c. Preferred over the ETag's MD5 to verify a download:
   * ranges' CRCs combine into the object's, at any part size. Never assumed present.
   */
  crc?: StoreCrc
}

/** A CRC of some bytes: big-endian, in hex. */
export interface Crc {
  algorithm: CrcAlgorithm
  hex: string
}

/** A CRC the store keeps of a whole object (ObjectDetails.crc). */
export interface StoreCrc extends Crc {
  /** Where the store gives it, for messages: `x-amz-checksum-crc64nvme`, GCS's `crc32c`. */
  source: string
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
  /** Fails mid-way (a reset, a cut) with the provider's soaker errors, as its requests do. */
  body: Readable
  /** Facts from the response headers, for verification of whole-object reads. */
  details: Pick<ObjectDetails, 'etag' | 'encrypted' | 'size' | 'metadata' | 'contentMd5' | 'contentType' | 'crc'>
}

/** A checksum of an upload's body that the store verifies before it accepts the bytes. */
export interface UploadChecksum {
  algorithm: 'md5' | 'crc32' | 'crc64nvme'
  /** Base64 of the digest, as the headers carry it. */
  value: string
}

/**
 * A request body: in memory, a stream, or the source's chunks as they come (an AsyncIterable),
 * which only a provider that says so takes (Provider.takesIterables); or bytes that write
 * themselves into a file (FileFill), which only a provider that says so takes (Provider.takesFills).
 */
export type Body = Buffer | Readable | AsyncIterable<Buffer> | FileFill

/** Where a FileFill writes: an open file, from a position. */
export interface FillTarget {
  fd: number
  /** The file's path, for messages. */
  path: string
  position: number
  /** Exactly this many bytes are written, or the fill rejects (SizeMismatchError). */
  size: number
  signal: AbortSignal
  /** Told of bytes once they are in the file (written, not yet synced). */
  moved: (bytes: number) => void
}

/**
 * A body that writes itself into an open file (a ranged read the data plane writes in place, on
 * another thread). Its promise settles only once no byte more will be written: the caller may
 * close the descriptor then, never before.
 */
export interface FileFill {
  readonly kind: 'fill'
  /** It takes a digest of its bytes as they stream: their MD5, or the CRC the object is verified by. */
  readonly hashes: boolean
  /** Resolves with the digest of the bytes where it took one. */
  into(target: FillTarget): Promise<FillDigest>
}

/** The digest a FileFill took of its bytes: an MD5, or a CRC (then the part's receipt is that CRC). */
export interface FillDigest {
  md5?: Buffer
  crc?: Crc
}

export function isFileFill(body: Body): body is FileFill {
  return (body as Partial<FileFill>).kind === 'fill'
}

export interface PutOptions {
  /** Exact length of the body in bytes. */
  size: number
  checksum?: UploadChecksum
  /** User metadata (keys without the provider's prefix, e.g. `mtime`). */
  metadata?: Record<string, string>
  contentType?: string
  signal: AbortSignal
}

/**
 * An object of the same store (same endpoint and credentials), which the store copies itself:
 * its bytes never cross the machine.
 */
export interface CopySource {
  bucket: string
  key: string
  /** The copy fails with SourceChangedError if the source's ETag is no longer this. */
  ifMatch?: string
  /** Inclusive byte range, for a part of a multipart copy. */
  range?: { start: number; end: number }
}

export interface UploadedPart {
  /** 1-based, as stores number them. */
  partNumber: number
  size: number
  /** Undefined where the store lists no digest of a part (Azure's uncommitted blocks). */
  etag?: string
}

/** Uploads in parts that the store assembles; an unfinished one survives a crash and can resume. */
export interface MultipartUploads {
  /** listParts gives each part's ETag (S3); false: only numbers and sizes (Azure's uncommitted blocks). */
  readonly listsDigests: boolean
  /** abort deletes the parts stored (S3); false: the store keeps them until they expire (Azure: a week). */
  readonly abortDeletes: boolean
  /**
   * Starts an upload and returns its id. `size` and `partSize`: what the upload will hold and how
   * it is split (every part but the last `partSize` bytes), for a store that assembles the parts
   * in place (local files); stores that assemble them on Complete need neither.
   */
  create(key: string, options: {
    metadata?: Record<string, string>; contentType?: string; checksum?: UploadChecksum['algorithm']; size?: number; partSize?: number; signal: AbortSignal
  }): Promise<string>
  /**
   * Stores one part; returns its ETag (where the store keeps none, the MD5 it computed of the
   * part). `offset`: where the store keeps a part's bytes as they arrive (see progress), the bytes
   * of the part it holds already; `body` (of `size` bytes) is the rest, and the ETag covers the
   * whole part.
   */
  uploadPart(key: string, uploadId: string, partNumber: number, body: Body, options: Omit<PutOptions, 'metadata'> & { offset?: number }): Promise<string>
  /** Stores one part copied by the store from a range of another object of it (S3 UploadPartCopy); returns its ETag. */
  copyPart?(key: string, uploadId: string, partNumber: number, from: CopySource, signal: AbortSignal): Promise<string>
  /** The parts the store holds. Rejects with NotFoundError when the upload no longer exists. */
  listParts(key: string, uploadId: string, signal: AbortSignal): Promise<UploadedPart[]>
  /**
   * Assembles the parts (in part-number order); returns the object's ETag where the store tells
   * it. `object`: the metadata and content type create was given, for stores that set them only
   * now (Azure's Put Block List); and, for an upload created with a CRC64NVME checksum, that of
   * the whole object (the parts' CRCs combined), which the store checks and keeps.
   */
  complete(key: string, uploadId: string, parts: Array<{ partNumber: number; etag: string; checksum?: UploadChecksum }>, signal: AbortSignal,
    object?: { metadata?: Record<string, string>; contentType?: string; checksum?: UploadChecksum }): Promise<string | undefined>
  /** Deletes the upload and every part stored for it. An upload that is gone already is not an error. */
  abort(key: string, uploadId: string, signal: AbortSignal): Promise<void>
  /**
   * Where the store keeps a part's bytes as they arrive and checkpoints them (a local partial
   * file): how far each unfinished part got durably, part number to bytes from its start. A
   * later uploadPart sends only the rest (its `offset`). Absent: a part is stored whole or not at all.
   */
  progress?(key: string, uploadId: string, signal: AbortSignal): Promise<Map<number, number>>
  /**
   * The digest (hex) of `length` bytes from `start` of an unfinished upload, read back where the
   * store holds its bytes in place (a local partial file): for a whole-object digest that no
   * part's ETag gives (a large object's plain MD5, Azure's Content-MD5, the Hub's SHA-256), or to
   * try another part layout against a multipart ETag.
   */
  digest?(key: string, uploadId: string, start: number, length: number, algorithm: 'md5' | 'sha256' | 'git-sha1', signal: AbortSignal): Promise<string>
}

export interface ProviderCapabilities {
  /** `read` honours byte ranges. */
  rangedReads: boolean
  /** `uploadParts` can tell how a multipart object was split, so its ETag can be verified. */
  uploadPartInfo: boolean
  /**
   * What an ETag says about the bytes: `md5`, S3's rule (a 32-hex MD5, or `<md5 of md5s>-<n>`
   * for multipart; anything else promises nothing); `content-id`, the Hugging Face Hub's (an LFS
   * file's SHA-256, a plain file's git blob id); `none`, a version stamp (Azure).
   * @default 'md5'
   */
  etagDigest?: EtagDigestKind
}

/**
 * The one interface every store implements. Listing streams; nothing collects a whole bucket.
 * Keys passed in and out are full keys (the provider knows its bucket or root).
 * A store's failures reach the caller as soaker's classes, which the provider's errors.ts maps
 * its client's errors to: TransientError (ThrottledError, with the store's Retry-After, where
 * the store pushes back), FatalError, or a narrower SoakerError (NotFoundError, ...). Callers
 * judge them by class (engine/retry.ts), never by a client library's error shape.
 */
export interface Provider {
  readonly name: string
  readonly capabilities: ProviderCapabilities
  /**
   * put and multipart.uploadPart take any AsyncIterable of chunks as a body, and pull it as they
   * write (a local file): the engine then hands them the source's chunks with no stream between.
   * Absent: a Buffer or a Readable (what an HTTP client sends).
   */
  readonly takesIterables?: boolean
  /** put and multipart.uploadPart take a FileFill (a local file): the bytes are written by whoever has them. */
  readonly takesFills?: boolean
  /** Checks the store can be reached and the bucket exists. Rejects with a LocationError. */
  check(signal: AbortSignal): Promise<void>
  /**
   * Every object whose key starts with `prefix`, in key order, page by page. `startAfter` says
   * only the keys after it are wanted: a store that can start there does (S3's StartAfter);
   * others list from the start, and the caller skips what it does not want.
   */
  list(prefix: string, signal: AbortSignal, startAfter?: string): AsyncIterable<ObjectInfo>
  /** Metadata of `key`. Rejects with NotFoundError (code SOAKER_NOT_FOUND) when absent. */
  stat(key: string, signal: AbortSignal): Promise<ObjectDetails>
  /** The bytes of `key`, or of a range of it. Rejects with NotFoundError or SourceChangedError. */
  read(key: string, options: ReadOptions): Promise<ReadResult>
  /** Stores `body` whole as `key`. */
  write(key: string, body: Buffer, signal: AbortSignal): Promise<void>
  /**
   * Stores `body` as `key` with metadata and a checksum; returns the new object's ETag if told
   * (where the store's ETag is no digest, the MD5 it computed of the bytes, if it tells).
   */
  put?(key: string, body: Body, options: PutOptions): Promise<string | undefined>
  /**
   * Stores a copy of another object of the same store, made by the store (S3 CopyObject, with
   * the source's metadata); returns the new object's ETag if told.
   */
  copyObject?(key: string, from: CopySource, signal: AbortSignal): Promise<string | undefined>
  /** Present where the store takes uploads in parts. */
  readonly multipart?: MultipartUploads
  /** How a multipart object was split; undefined when unknown or not multipart. */
  uploadParts?(key: string, signal: AbortSignal): Promise<UploadParts | undefined>
  close(): void
}
