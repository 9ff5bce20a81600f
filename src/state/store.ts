import type { Shard, UploadOrder } from '../options.js'
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

/** The static shard a state database holds the objects of, and the hash that assigned them (engine/shard.ts). */
export interface ShardRow extends Shard {
  hash: string
}

/** The order pending objects are claimed in: by size either way, or by key. */
export type ClaimOrder = UploadOrder

/**
 * Everything soaker remembers about one job, and the only place the engine keeps it. The engine
 * talks to this interface alone, so that a fleet of machines can share a job in a store other
 * than SQLite (PostgreSQL). Reads are asynchronous. Writes are buffered: they take effect for
 * later reads of this process at once, and are durable after `flush()` (or the store's own
 * grouping, every 100 ms in SQLite). Only the control side of a run writes.
 *
 * Work is handed out by `claim`: pending objects planned since the run began (put, or set
 * pending) are claimed once each, and again only once released (`release`, or set pending again).
 * `beginRun` forgets the claims and plans of earlier runs: a run claims only what it planned, so
 * an object that left the source since an earlier listing is never fetched. A store shared by a
 * fleet (PostgresStateStore) has one run of the job at a time: a worker that begins while others
 * work joins their run, and forgets only the claims whose lease ran out.
 */
/** An object of the destination's listing, as recorded to recognise what an earlier run put there. */
export interface RemoteRow {
  size: number
  etag: string | null
}

export interface StateStore {
  /** The rows of those of `keys` the job has, in one round trip. */
  lookup(keys: readonly string[]): Promise<Map<string, ObjectRow>>
  /** The row of `key`, if the job has one (a lookup of one key). */
  getObject(key: string): Promise<ObjectRow | undefined>
  /** Inserts or replaces the row for `info` (pending: ready to claim); any parts recorded for an older version go. */
  putObject(info: ObjectInfo, status: ObjectStatus, reason?: string, errorCode?: string): void
  /** Sets the status of `key` (pending: ready to claim, claimed or not before). */
  setStatus(key: string, status: ObjectStatus, reason?: string | null, errorCode?: string | null): void
  /**
   * Up to `limit` pending objects planned in this run that nobody has claimed, with keys under
   * `under`, in `order`; they are claimed before they are returned.
   */
  claim(limit: number, order: ClaimOrder, under?: string): Promise<ObjectRow[]>
  /** Gives up the claim on a pending `key`: it is ready to claim again (an object to start over). */
  release(key: string): void
  /**
   * Records the multipart upload of a pending object (null: none); parts of another upload go, but
   * with `keepParts` (an upload completed whose parts stay as the record of what was checked).
   */
  setUpload(key: string, uploadId: string | null, partSize: number | null, keepParts?: boolean): void
  /** Finished parts of `key`: index to the part's digest (an MD5 or ETag) where one is known. */
  doneParts(key: string): Promise<Map<number, string | null>>
  /** Records part `index` as finished. */
  recordPart(key: string, index: number, md5: string | null): void
  /** Drops every finished part of `key`. */
  clearParts(key: string): void
  /** Local destinations: the mtime given to the file, when it is not the object's LastModified. */
  setFileMtime(key: string, mtimeMs: number): void
  /** Every row with an open multipart upload (`soaker abort`, resuming the nearest to done first). */
  openUploads(): Promise<Array<{ key: string; uploadId: string }>>
  /** The destination's listing, kept for this run: compared with sources that have no row. */
  clearRemote(): void
  putRemote(info: ObjectInfo): void
  getRemote(key: string): Promise<RemoteRow | undefined>
  counts(): Promise<Record<ObjectStatus, StatusCount>>
  failures(limit: number): Promise<Array<{ key: string; errorCode: string | null; reason: string | null }>>
  /**
   * The first key in key order that starts with `prefix`, leaving out rows failed with one of
   * `exceptErrorCodes` (keys refused by a rule, which never reach the disk). One index seek.
   */
  firstKeyUnder(prefix: string, exceptErrorCodes: readonly string[]): Promise<string | undefined>
  /** firstKeyUnder of each of `prefixes` at once (one round trip): prefix to its first key, for those that have one. */
  firstKeysUnder(prefixes: readonly string[], exceptErrorCodes: readonly string[]): Promise<Map<string, string>>
  /** Up to `limit` rows with keys after `afterKey`, in key order, whatever their status. */
  objects(afterKey: string, limit: number): Promise<ObjectRow[]>
  /** Up to `limit` objects of `status` with keys after `afterKey`, in key order (retries, stored plans). */
  objectsWithStatus(status: ObjectStatus, afterKey: string, limit: number): Promise<ObjectInfo[]>
  /** `soaker check`: the verdict recorded for `key` when its two sides were at these versions. */
  checked(key: string, srcVersion: string, dstVersion: string): Promise<CheckedPair | undefined>
  /** Records a check's verdict on `key`. */
  recordCheck(key: string, srcVersion: string, dstVersion: string, pair: CheckedPair): void
  /** Makes every write so far durable. */
  flush(): Promise<void>
  recordSample(runId: number, sample: Sample): void
  /** Records a run's start; the plans and claims of earlier runs are forgotten (they have ended, or died). */
  beginRun(source: string, destination: string): Promise<number>
  endRun(id: number, status: string, totals: RunTotals): Promise<void>
  /** The most recent runs, newest first. */
  runs(limit: number): Promise<RunRow[]>
  /** The controller's samples of run `runId`, oldest first. */
  samples(runId: number): Promise<Sample[]>
  close(): Promise<void>
  /** Present where several workers share the job (PostgreSQL): see SharedJob. */
  readonly shared?: SharedJob
}

/**
 * What a job shared by a fleet of workers adds to its store (PostgreSQL). One worker at a time
 * lists and plans (it holds the listing lock); the others claim what it planned. A claim holds
 * for a lease that its worker renews: the claims of a worker that stops renewing go back to the
 * pool when the lease runs out, and a listing left without its lister is taken over from the
 * cursor it recorded.
 */
export interface SharedJob {
  /** Takes the listing lock unless another worker holds it: true when this worker is the one to list. */
  tryLeadListing(): Promise<boolean>
  /** Where the listing has got to: the token its lister recorded last, and whether it finished. */
  listingCursor(): Promise<ListingCursor>
  /** Records how far the listing got, committed with the writes buffered before it (the lister only). */
  setListingCursor(token: string): void
  /** Records that the listing is complete (the lister only). */
  finishListing(): void
  /** Extends this worker's claims by a lease from now and records its heartbeat with what it has done. */
  renewLeases(progress: { objects: number; bytes: number }): Promise<number>
  /** Whether pending objects of the job's current run are claimed by other workers (a lease may give them back). */
  heldElsewhere(): Promise<boolean>
  /** The job's workers, oldest first, live or not. */
  workers(): Promise<WorkerRow[]>
}

/** Where a shared job's listing has got to: the token its lister recorded last, and whether it finished. */
export interface ListingCursor {
  token: string | null
  done: boolean
}

/** One worker of a shared job, for `soaker status`. Times in milliseconds since the epoch, by the database's clock. */
export interface WorkerRow {
  id: string
  host: string
  pid: number
  startedAt: number
  heartbeatAt: number
  /** When it closed the store; null while it runs, or if it died. */
  stoppedAt: number | null
  /** Running and heard from within its lease. */
  alive: boolean
  /** Objects and bytes done so far, as its last renewLeases said. */
  objects: number
  bytes: number
  /** Its bytes over the time from its start to its last heartbeat; null before a heartbeat after the start. */
  bytesPerSecond: number | null
  /** Objects it holds a live claim on. */
  claims: number
}

/** What `soaker check` concluded of a key present on both sides. */
export interface CheckedPair {
  same: boolean
  /** Compared by size alone: no digest common to both sides, and the bytes not read. */
  sizeOnly: boolean
  detail: string
}
