import type { UploadOrder } from '../options.js'
import type { ObjectInfo } from '../providers/provider.js'

/** pending: to do (or half-done: see parts); done: at its final path, verified; skipped: nothing to do. */
export type ObjectStatus = 'pending' | 'done' | 'skipped' | 'failed'

export interface ObjectRow {
  key: string
  size: number
  etag: string | null
  /** Milliseconds since the epoch. */
  lastModified: number | null
  status: ObjectStatus
  /** Why it was skipped or failed. */
  reason: string | null
  errorCode: string | null
  /** Byte-range part size the finished parts were fetched with; parts are valid only for it. */
  partSize: number | null
  /** Uploads: the multipart upload the recorded parts belong to. */
  uploadId: string | null
  /** Downloads: the mtime (ms) given to the file when it came from the object's metadata. */
  fileMtime: number | null
}

/** Where a scan of pending rows in an order got to. */
export interface Cursor {
  size: number
  key: string
}

export interface StatusCount {
  objects: number
  bytes: number
}

/** One interval of the concurrency controller. */
export interface Sample {
  at: number
  target: number
  inFlight: number
  bytesPerSecond: number
  throttles: number
  errors: number
  /** The most sources with requests in flight at once. @default 1 */
  sources?: number
}

/** What a run achieved, recorded when it ends. */
export interface RunTotals {
  copied: number
  failed: number
  /** Bytes that arrived over the network. */
  transferred: number
}

export interface RunRow extends RunTotals {
  id: number
  startedAt: number
  endedAt: number | null
  status: string
  source: string
  destination: string
  /** The best interval's throughput in bytes/s, from the controller's samples. */
  peakBytesPerSecond: number | null
}

/**
 * Everything soaker remembers about a job. The engine only talks to this interface, so that a
 * fleet of machines can later share a store other than SQLite.
 */
export interface StateStore {
  getObject(key: string): ObjectRow | undefined
  /** Inserts or replaces the row for `info`; any parts recorded for an older version go. */
  putObject(info: ObjectInfo, status: ObjectStatus, reason?: string, errorCode?: string): void
  setStatus(key: string, status: ObjectStatus, reason?: string | null, errorCode?: string | null): void
  /** Sets the part size of a pending object; recorded parts of another size are dropped. */
  setPartSize(key: string, partSize: number): void
  /** Finished parts of `key`: index to the part's MD5 (hex) where one was computed. */
  doneParts(key: string): Map<number, string | null>
  /** Records part `index` as finished; its progress row (see recordProgress) goes. */
  recordPart(key: string, index: number, md5: string | null): void
  /** Drops every finished part of `key` and every part's progress. */
  clearParts(key: string): void
  /**
   * Downloads: the first `bytes` bytes of unfinished part `index` are durable in the partial file
   * (the caller has synced them before it records them). Replaces the part's earlier progress.
   */
  recordProgress(key: string, index: number, bytes: number): void
  /** Unfinished parts of `key` with bytes recorded by recordProgress: index to bytes. */
  partProgress(key: string): Map<number, number>
  /** Downloads: the mtime given to the local file, when it is not the object's LastModified. */
  setFileMtime(key: string, mtimeMs: number): void
  counts(): Record<ObjectStatus, StatusCount>
  failures(limit: number): Array<{ key: string; errorCode: string | null; reason: string | null }>
  /**
   * The first key in key order that starts with `prefix`, leaving out rows failed with one of
   * `exceptErrorCodes` (keys refused by a rule, which never reach the disk). One index seek.
   */
  firstKeyUnder(prefix: string, exceptErrorCodes: readonly string[]): string | undefined
  /** Up to `limit` objects of `status` with keys after `afterKey`, in key order (retries, stored plans). */
  objectsWithStatus(status: ObjectStatus, afterKey: string, limit: number): ObjectInfo[]
  /** Makes every write so far durable (writes are otherwise committed in groups). */
  commit(): void
  recordSample(runId: number, sample: Sample): void
  beginRun(source: string, destination: string): number
  endRun(id: number, status: string, totals: RunTotals): void
  /** The most recent runs, newest first. */
  runs(limit: number): RunRow[]
  /** The controller's samples of run `runId`, oldest first. */
  samples(runId: number): Sample[]
  close(): void
}

/** What uploads need beyond the shared interface. */
export interface UploadStateStore extends StateStore {
  /** Records the multipart upload of a pending object (null: none); parts of another upload go. */
  setUpload(key: string, uploadId: string | null, partSize: number | null): void
  /** Pending rows after `after` in `order`, at most `limit`. */
  pendingRows(order: UploadOrder, after: Cursor | undefined, limit: number): ObjectRow[]
  /** Every row with an open multipart upload, for `soaker abort`. */
  openUploads(): Array<{ key: string; uploadId: string }>
  /** The destination's listing, kept for this run: compared with local files that have no row. */
  clearRemote(): void
  putRemote(info: ObjectInfo): void
  getRemote(key: string): { size: number; etag: string | null } | undefined
}

/** What `soaker check` concluded of a key present on both sides. */
export interface CheckedPair {
  same: boolean
  /** Compared by size alone: no digest common to both sides, and the bytes not read. */
  sizeOnly: boolean
  detail: string
}
