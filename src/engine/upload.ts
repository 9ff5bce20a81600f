import { createHash } from 'node:crypto'
import { closeSync, createReadStream, openSync, readFileSync, statSync } from 'node:fs'
import { Readable } from 'node:stream'
import { crc32 } from 'node:zlib'
import {
  ChecksumMismatchError, errorCode, errorMessage, FileChangedError, LocalReadError, NotFoundError, UnsupportedError,
} from '../errors.js'
import type { MultipartUploads, Provider, UploadChecksum } from '../providers/provider.js'
import type { UploadChecksumChoice, UploadOrder } from '../options.js'
import type { Cursor, ObjectRow, UploadStateStore } from '../state/store.js'
import { fileMetadata, parseMtime } from './file-metadata.js'
import type { HashPool } from './hash-pool.js'
import { multipartDigest } from './integrity.js'
import type { Logger } from './logger.js'
import { metered } from './meter.js'
import { ChunkedObject, type ChunkHandler } from './chunked.js'
import { minUploadPartSize, partSizeForRate } from './part-size.js'
import type { Task } from './pool.js'
import type { UploadBudget } from './upload-budget.js'
import type { RateLimiter } from './rate-limiter.js'
import { withRetry, type RetryPolicy } from './retry.js'
import { retriedCall, stallSeconds, watched, type IdleLimit, type StallWatch } from './stall-watch.js'
import { retryHooks } from './run-tasks.js'
import type { Stats } from './stats.js'
import type { WalkEntry } from './walk.js'

const MiB = 1024 * 1024
/** Files up to this size are read into memory in one synchronous read; larger ones stream. */
const inlineMax = 1 * MiB
export { minUploadPartSize }
const defaultUploadPartSize = 8 * MiB
const maxParts = 10_000
/** Pending rows read from the state store at a time. */
const batchSize = 256
/** An mtime in the bucket's metadata this close to the file's is the same mtime (float seconds lose ns). */
const mtimeToleranceMs = 1


/**
 * Part size of a multipart upload of `size` bytes: the user's, else one that takes about a
 * second at `perRequestBytesPerSecond` (partSizeForRate, at most 8 MiB, aws cli's default),
 * grown to whole MiB where needed so that no file takes more than 10,000 parts.
 */
export function uploadPartSize(size: number, userPartSize?: number, perRequestBytesPerSecond?: number): number {
  const floor = Math.ceil(size / maxParts / MiB) * MiB
  const wanted = userPartSize ?? partSizeForRate(perRequestBytesPerSecond, defaultUploadPartSize)
  return Math.max(wanted, minUploadPartSize, floor)
}

/** Wakes whoever waits for something to change (the walk went on, an object finished). */
export class Wakeup {
  private waiters: Array<() => void> = []
  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve))
  }
  notify(): void {
    const w = this.waiters
    this.waiters = []
    for (const resolve of w) resolve()
  }
}

export interface UploadContext {
  provider: Provider & { put: NonNullable<Provider['put']>; multipart: MultipartUploads }
  store: UploadStateStore
  stats: Stats
  log: Logger
  retry: RetryPolicy
  signal: AbortSignal
  hashes: HashPool
  limiter?: RateLimiter
  checksum: UploadChecksumChoice
  order: UploadOrder
  /** The user's --part-size; absent: automatic. */
  partSize?: number
  /** Bounds the bytes of requests in flight; measures the per-request rate part sizes fit. */
  budget: UploadBudget
  /** The destination key of a path relative to the walked root (`` for a single file). */
  keyFor: (rel: string) => string
  /** The local path of a destination key. */
  pathFor: (key: string) => string
  /** An error after which no object can succeed: the run stops. */
  stopRun: (err: unknown) => void
  /** The run's learnt limits: when a HEAD or a ListParts is sent a second time (see CallPace). */
  idle?: IdleLimit
}

/** How the walk is going, for the scheduler that takes pending rows while it runs. */
export interface WalkProgress {
  done: boolean
  wakeup: Wakeup
}

interface FileState {
  size: number
  mtimeNs: bigint
  mode: number
}

const mtimeMsOf = (ns: bigint): number => Number(ns / 1_000_000n)

/** The file as it is now; read errors become LocalReadError naming the path. */
function statFile(path: string): FileState {
  try {
    const st = statSync(path, { bigint: true })
    if (!st.isFile()) throw new LocalReadError(`${path} is no longer a regular file`)
    return { size: Number(st.size), mtimeNs: st.mtimeNs, mode: Number(st.mode & 0o7777n) }
  } catch (err) {
    if (err instanceof LocalReadError) throw err
    const code = errorCode(err)
    const why = code === 'ENOENT' ? 'it no longer exists' : errorMessage(err)
    throw new LocalReadError(`cannot read ${path}: ${why}`, { cause: err })
  }
}

function checkReadable(path: string): void {
  try {
    closeSync(openSync(path, 'r'))
  } catch (err) {
    throw new LocalReadError(`cannot read ${path}: ${errorMessage(err)}`, { cause: err })
  }
}

function sameFile(a: FileState, b: FileState): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs
}

function changedError(path: string, before: FileState, after: FileState): FileChangedError {
  const what = before.size !== after.size ? `size ${before.size} → ${after.size}` : 'mtime changed'
  return new FileChangedError(`${path} changed while it was being uploaded (${what})`)
}

/**
 * Records each walked entry in the state store: files that need uploading become pending rows,
 * unchanged files (same size and mtime as when they were uploaded) are skipped, and what cannot
 * or should not be uploaded is recorded with the reason. The scheduler takes pending rows as
 * they appear, so uploads start while the walk goes on.
 */
export interface WalkRecording extends Pick<UploadContext, 'store' | 'stats' | 'log' | 'keyFor' | 'signal'> {
  /** Gives up the multipart upload of a file that changed since it started. */
  abandon: (key: string, uploadId: string) => void
  /** Told of each file that needs uploading (--dry-run lists the first ones). */
  onPlanned?: (key: string) => void
}

export async function recordWalk(entries: AsyncIterable<WalkEntry>, ctx: WalkRecording, progress: WalkProgress): Promise<void> {
  const { store, stats, log } = ctx
  let n = 0
  try {
    for await (const e of entries) {
      if (ctx.signal.aborted) return
      if (++n % 64 === 0) progress.wakeup.notify()
      const key = ctx.keyFor(e.rel)
      if (e.kind === 'skipped') {
        store.putObject({ key, size: 0 }, 'skipped', e.reason)
        stats.skip(key, 0, e.reason)
        log.warn(`skipping ${e.path}: ${e.reason}`)
        continue
      }
      if (e.kind === 'failed') {
        store.putObject({ key, size: 0 }, 'failed', e.reason, e.code)
        stats.fail(key, e.code, e.reason)
        log.warn(e.reason)
        continue
      }
      const size = e.kind === 'file' ? e.size : 0
      const mtimeMs = e.kind === 'file' ? mtimeMsOf(e.mtimeNs) : null
      stats.listed++
      stats.listedBytes += size
      const row = store.getObject(key)
      const same = row !== undefined && row.size === size && row.lastModified === mtimeMs
      if (same && (row.status === 'done' || row.status === 'skipped')) {
        stats.skip(key, size, 'unchanged since it was uploaded')
        continue
      }
      if (row?.uploadId && !same) ctx.abandon(key, row.uploadId) // the file changed: its parts are of no use
      if (same) store.setStatus(key, 'pending') // keeps its multipart upload and parts
      else store.putObject({ key, size, lastModified: mtimeMs === null ? undefined : new Date(mtimeMs) }, 'pending')
      stats.planned++
      stats.plannedBytes += size
      ctx.onPlanned?.(key)
    }
  } finally {
    stats.listingDone = true
    progress.done = true
    progress.wakeup.notify()
  }
}

/** One request of an upload and the bytes it sends (0 for a Complete). */
interface SizedTask {
  bytes: number
  run: Task
}

/**
 * Takes pending rows from the state store in the chosen order, while the walk is still adding
 * them, and turns each into tasks of one request: a whole PUT, or one part of a multipart
 * upload. Only the objects under way are held in memory. Uploads an earlier run left unfinished
 * go first, nearest to done first, and the parts of an object go before the next object: work
 * in progress is finished before new work starts, so a kill finds little of it. A request is
 * handed out only once its bytes fit the budget of bytes in flight (UploadBudget).
 */
export async function* uploadTasks(ctx: UploadContext, walk: WalkProgress): AsyncIterable<Task> {
  const busy = new Set<string>()
  const objectDone = new Wakeup()
  const release = (key: string): void => { busy.delete(key); objectDone.notify() }
  const attempts = new Map<string, number>()
  const track = { release, attempts }
  async function* admitted(tasks: Iterable<SizedTask>): AsyncIterable<Task> {
    for (const t of tasks) {
      await ctx.budget.admit(t.bytes, ctx.signal)
      if (ctx.signal.aborted) return ctx.budget.release(t.bytes)
      yield () => t.run().finally(() => ctx.budget.release(t.bytes))
    }
  }
  for (const row of unfinishedUploads(ctx.store)) {
    if (ctx.signal.aborted) return
    busy.add(row.key)
    yield* admitted(await tasksFor(row, ctx, track))
  }
  for (;;) {
    const walkWasDone = walk.done
    let found = 0
    let cursor: Cursor | undefined
    for (;;) {
      const rows = ctx.store.pendingRows(ctx.order, cursor, batchSize)
      for (const row of rows) {
        if (ctx.signal.aborted) return
        cursor = { size: row.size, key: row.key }
        if (busy.has(row.key)) continue
        busy.add(row.key)
        found++
        yield* admitted(await tasksFor(row, ctx, track))
      }
      if (rows.length < batchSize) break
    }
    if (found > 0) continue // rows may have appeared behind the cursor: scan again from the start
    if (walkWasDone && busy.size === 0) return
    if (walk.done && !walkWasDone) continue // the walk ended during the scan: one more
    // Wait for an object under way to finish or come back, or (while it runs) for the walk to add rows.
    await (walk.done ? objectDone.wait() : Promise.race([walk.wakeup.wait(), objectDone.wait()]))
  }
}

interface Tracking {
  release: (key: string) => void
  /** How many times a file was found changed while it was uploaded. */
  attempts: Map<string, number>
}

/**
 * Pending rows with a multipart upload an earlier run left open, those with the fewest bytes
 * left to send first (by the parts recorded: the store's answer comes when each is opened).
 */
function unfinishedUploads(store: UploadStateStore): ObjectRow[] {
  const rows: Array<{ row: ObjectRow; left: number }> = []
  for (const { key } of store.openUploads()) {
    const row = store.getObject(key)
    if (row?.status !== 'pending' || !row.partSize) continue
    let sent = 0
    for (const i of store.doneParts(key).keys()) sent += Math.min(row.partSize, row.size - i * row.partSize)
    rows.push({ row, left: row.size - sent })
  }
  return rows.sort((a, b) => a.left - b.left).map((r) => r.row)
}

/** The tasks of one file: a whole PUT, or the parts of a multipart upload (none if it cannot start). */
async function tasksFor(row: ObjectRow, ctx: UploadContext, track: Tracking): Promise<Iterable<SizedTask>> {
  if (row.key.endsWith('/') || row.size <= uploadPartSize(row.size, ctx.partSize)) return [{ bytes: row.size, run: () => putWhole(row, ctx, track) }]
  try {
    return (await MultipartUpload.open(row, ctx, track))?.tasks() ?? []
  } catch (err) {
    fail(row.key, err, ctx, track)
    return []
  }
}

function fail(key: string, err: unknown, ctx: UploadContext, track: Tracking): void {
  ctx.stats.end(key)
  track.release(key)
  if (ctx.signal.aborted) return // interrupted, not failed: the file stays pending
  ctx.store.setStatus(key, 'failed', errorMessage(err), errorCode(err))
  ctx.stats.fail(key, errorCode(err), errorMessage(err))
  ctx.log.warn(`failed ${key}: ${errorMessage(err)}`)
}

function complete(key: string, size: number, ctx: UploadContext, track: Tracking, status: 'done' | 'skipped' = 'done', reason?: string): void {
  ctx.store.setStatus(key, status, reason ?? null)
  if (status === 'done') {
    ctx.stats.done++
    ctx.stats.doneBytes += size
    ctx.stats.emit({ type: 'object_done', key, size, seconds: ctx.stats.end(key) })
  } else {
    ctx.stats.end(key)
    ctx.stats.skip(key, size, reason ?? '')
  }
  track.release(key)
}

/**
 * True when the bucket already holds `key` with the file's size and an `mtime` in its metadata
 * equal to the file's: uploaded before by soaker or rclone, with the state database lost since.
 * Asks the store (HEAD) only when the listing showed an object of the same size.
 */
async function alreadyInBucket(key: string, file: FileState, ctx: UploadContext): Promise<boolean> {
  const remote = ctx.store.getRemote(key)
  if (remote?.size !== file.size) return false
  const details = await retriedCall(ctx, key, (signal) => ctx.provider.stat(key, signal), { hedge: 'head' }).catch((err: unknown) => {
    if (err instanceof NotFoundError) return undefined
    throw err
  })
  const remoteMs = parseMtime(details?.metadata)
  return details?.size === file.size && remoteMs !== undefined && Math.abs(remoteMs - Number(file.mtimeNs) / 1e6) < mtimeToleranceMs
}

const alreadyThere = 'already in the bucket with the same size and mtime'

function checksumOf(buf: Buffer, choice: UploadChecksumChoice): UploadChecksum | undefined {
  if (choice === 'md5') return { algorithm: 'md5', value: createHash('md5').update(buf).digest('base64') }
  if (choice === 'crc32') return { algorithm: 'crc32', value: crc32Base64(crc32(buf)) }
  return undefined
}

function crc32Base64(crc: number): string {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(crc >>> 0)
  return b.toString('base64')
}

/** The checksum of a file range, computed on a worker thread. */
async function rangeChecksum(path: string, start: number, length: number, ctx: UploadContext): Promise<{ checksum?: UploadChecksum }> {
  if (ctx.checksum === 'none') return {}
  const hex = await ctx.hashes.digest(path, start, length, ctx.checksum).catch((err: unknown) => {
    throw new LocalReadError(`cannot read ${path}: ${errorMessage(err)}`, { cause: err })
  })
  return { checksum: { algorithm: ctx.checksum, value: Buffer.from(hex, 'hex').toString('base64') } }
}

interface FileBody {
  body: Readable
  /** The run's signal, also aborted when reading the file fails, so the request ends at once. */
  signal: AbortSignal
  /** Bytes sent so far, to be discarded if the attempt fails. */
  sent: () => number
  /** Why reading the file failed, if it did. */
  readError: () => LocalReadError | undefined
}

/**
 * A byte range of a file as a request body, counted by the meter as it is sent and held back by
 * the rate limiter.
 */
function fileBody(key: string, path: string, start: number, length: number, watch: StallWatch, ctx: UploadContext): FileBody {
  let sent = 0
  let readError: LocalReadError | undefined
  const failed = new AbortController()
  if (length === 0) return { body: Readable.from([]), signal: watch.signal, sent: () => 0, readError: () => undefined }
  const stream = createReadStream(path, { start, end: start + length - 1, highWaterMark: 256 * 1024 })
  // The socket pulls the file as it drains: a store that stops reading stops the chunks too.
  async function* counted(): AsyncIterable<Buffer> {
    for await (const chunk of metered(key, stream as AsyncIterable<Buffer>, ctx.stats, ctx.limiter, ctx.signal, watch)) {
      sent += chunk.length
      yield chunk
    }
  }
  const body = Readable.from(counted(), { objectMode: false })
  body.on('error', (err) => {
    // The run's own abort ends the request anyway; anything else is the file failing to read.
    if (!watch.signal.aborted) readError = new LocalReadError(`cannot read ${path}: ${errorMessage(err)}`, { cause: err })
    failed.abort(err)
  })
  return { body, signal: AbortSignal.any([watch.signal, failed.signal]), sent: () => sent, readError: () => readError }
}

/** A file (or a `dir/` marker for an empty directory) in one PUT, with its metadata. */
async function putWhole(row: ObjectRow, ctx: UploadContext, track: Tracking): Promise<void> {
  const { key } = row
  const marker = key.endsWith('/')
  const path = marker ? '' : ctx.pathFor(key)
  ctx.stats.begin(key, row.size)
  try {
    if (marker) {
      if (ctx.store.getRemote(key) !== undefined) return complete(key, 0, ctx, track, 'skipped', 'directory marker already in the bucket')
      await withRetry(ctx.retry, ctx.signal, () => watched(ctx.signal, stallSeconds(ctx), key, (watch) =>
        ctx.provider.put(key, Buffer.alloc(0), { size: 0, checksum: checksumOf(Buffer.alloc(0), ctx.checksum), signal: watch.signal })), retryHooks(ctx, key))
      return complete(key, 0, ctx, track)
    }
    // The first attempt uses the stat the bucket was compared with; a retry looks again.
    let known: FileState | undefined = statFile(path)
    if (await alreadyInBucket(key, known, ctx)) return complete(key, known.size, ctx, track, 'skipped', alreadyThere)
    let size = known.size
    await withRetry(ctx.retry, ctx.signal, () => watched(ctx.signal, stallSeconds(ctx), key, async (watch) => {
      const before = known ?? statFile(path)
      known = undefined
      size = before.size
      const metadata = fileMetadata(before)
      if (before.size <= inlineMax) {
        // One synchronous read: from the page cache it costs microseconds, a thread-pool hop more.
        let buf: Buffer
        try {
          buf = readFileSync(path)
        } catch (err) {
          throw new LocalReadError(`cannot read ${path}: ${errorMessage(err)}`, { cause: err })
        }
        const after = statFile(path)
        if (!sameFile(before, after) || buf.length !== before.size) throw changedError(path, before, after)
        if (ctx.limiter) {
          watch.pause()
          await ctx.limiter.take(buf.length, ctx.signal)
          watch.touch()
        }
        await ctx.provider.put(key, buf, { size: buf.length, checksum: checksumOf(buf, ctx.checksum), metadata, signal: watch.signal })
        ctx.stats.count(key, buf.length)
        return
      }
      watch.pause() // hashing the file first is local work, not the request's idle time
      const { checksum } = await rangeChecksum(path, 0, before.size, ctx)
      watch.touch()
      const file = fileBody(key, path, 0, before.size, watch, ctx)
      try {
        await ctx.provider.put(key, file.body, { size: before.size, checksum, metadata, signal: file.signal })
        const after = statFile(path)
        if (!sameFile(before, after)) throw changedError(path, before, after)
      } catch (err) {
        ctx.stats.discard(key, file.sent())
        const now = statFile(path)
        // A checksum the store refused, from a file that changed while it was read.
        if (!sameFile(before, now)) throw changedError(path, before, now)
        throw file.readError() ?? err
      }
    }), retryHooks(ctx, key))
    complete(key, size, ctx, track)
  } catch (err) {
    fail(key, err, ctx, track)
  }
}

/**
 * The part size of the upload an earlier run left open for this file, when it can go on with it:
 * the part size is chosen from a measured rate when an upload starts, and a later run, which has
 * measured nothing yet or something else, keeps it rather than abandon the parts already sent.
 * Undefined when the user's --part-size decides, or the recorded size is not one S3 takes.
 */
function resumablePartSize(row: ObjectRow, size: number, unchanged: boolean, ctx: UploadContext): number | undefined {
  if (ctx.partSize !== undefined || !row.uploadId || !row.partSize || !unchanged) return undefined
  const usable = row.partSize >= minUploadPartSize && Math.ceil(size / row.partSize) <= maxParts
  return usable ? row.partSize : undefined
}

/**
 * A large file uploaded in parts, in parallel. Each part is recorded with the upload id before
 * it counts; after any interruption the same command asks the store which parts it holds
 * (ListParts) and sends only the rest.
 */
class MultipartUpload implements ChunkHandler {
  private readonly parts: ChunkedObject
  private failed = false
  private changed: FileChangedError | undefined
  private readonly etags: Array<string | null>
  /** CRC32s of the parts sent by this run (--upload-checksum crc32: Complete lists them). */
  private readonly crcs: Array<UploadChecksum | undefined> = []

  private constructor(
    private readonly row: ObjectRow,
    private readonly path: string,
    private readonly file: FileState,
    private readonly partSize: number,
    private readonly count: number,
    private readonly uploadId: string,
    done: Map<number, string>,
    private readonly ctx: UploadContext,
    private readonly track: Tracking,
  ) {
    this.etags = Array.from({ length: count }, (_, i) => done.get(i) ?? null)
    const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !done.has(i))
    this.parts = new ChunkedObject(missing, ctx.signal, this)
  }

  static async open(row: ObjectRow, ctx: UploadContext, track: Tracking): Promise<MultipartUpload | undefined> {
    const { key } = row
    const path = ctx.pathFor(key)
    const file = statFile(path)
    checkReadable(path) // before an upload is opened on the store for a file that cannot be read
    if (await alreadyInBucket(key, file, ctx)) {
      if (row.uploadId) await abandon(key, row.uploadId, ctx)
      complete(key, file.size, ctx, track, 'skipped', alreadyThere)
      return undefined
    }
    const unchanged = row.size === file.size && row.lastModified === mtimeMsOf(file.mtimeNs)
    const partSize = resumablePartSize(row, file.size, unchanged, ctx) ?? uploadPartSize(file.size, ctx.partSize, ctx.budget.perRequestRate())
    const count = Math.ceil(file.size / partSize)
    let uploadId: string | undefined
    let done = new Map<number, string>()
    if (row.uploadId && row.partSize === partSize && unchanged) {
      const held = await MultipartUpload.partsHeld(row, path, partSize, file.size, ctx)
      if (held) {
        uploadId = row.uploadId
        done = held
        ctx.log.info(`resuming the upload of ${key}: the store holds ${done.size} of ${count} parts`)
      }
    }
    if (row.uploadId && uploadId === undefined) await abandon(key, row.uploadId, ctx)
    if (uploadId === undefined) {
      const algorithm = ctx.checksum === 'none' ? undefined : ctx.checksum
      uploadId = await retriedCall(ctx, key, (signal) => ctx.provider.multipart.create(key, { metadata: fileMetadata(file), checksum: algorithm, signal }), { hooks: retryHooks(ctx, key) })
    }
    if (!unchanged) ctx.store.putObject({ key, size: file.size, lastModified: new Date(mtimeMsOf(file.mtimeNs)) }, 'pending')
    ctx.store.setUpload(key, uploadId, partSize) // a new upload drops the parts of the old one
    ctx.store.commit() // an upload the store knows of is recorded at once, so it is never orphaned
    let resumed = 0
    if (done.size > 0) {
      // The store's answer replaces what the record said: parts it no longer holds are sent again.
      ctx.store.clearParts(key)
      for (const [i, etag] of done) {
        ctx.store.recordPart(key, i, etag)
        resumed += Math.min(partSize, file.size - i * partSize)
      }
    }
    ctx.stats.resumedBytes += resumed
    ctx.stats.begin(key, file.size, resumed)
    return new MultipartUpload({ ...row, size: file.size }, path, file, partSize, count, uploadId, done, ctx, track)
  }

  /**
   * The parts of the recorded upload that the store holds and that match the file: the size of
   * the part, and the ETag recorded for it (or, for a part the store got but the record missed
   * in a crash, the MD5 of the file's range). Undefined when the upload no longer exists or the
   * store cannot list its parts (then the caller aborts it and starts afresh: never failing every run).
   */
  private static async partsHeld(row: ObjectRow, path: string, partSize: number, size: number, ctx: UploadContext): Promise<Map<number, string> | undefined> {
    let parts
    try {
      parts = await retriedCall(ctx, `${row.key} (its uploaded parts)`, (signal) => ctx.provider.multipart.listParts(row.key, row.uploadId!, signal), { hedge: 'list-parts' })
    } catch (err) {
      if (err instanceof NotFoundError) {
        ctx.log.warn(`${row.key}: the recorded multipart upload is gone from the store; starting it over`)
        return undefined
      }
      if (err instanceof UnsupportedError) {
        ctx.log.warn(`${row.key}: the store cannot list the parts of the recorded multipart upload (${errorMessage(err)}); aborting it and starting over`)
        return undefined
      }
      throw err
    }
    const recorded = ctx.store.doneParts(row.key)
    const held = new Map<number, string>()
    for (const p of parts) {
      const i = p.partNumber - 1
      const length = Math.min(partSize, size - i * partSize)
      if (i < 0 || length <= 0 || p.size !== length) continue
      const known = recorded.get(i)
      if (known === p.etag) held.set(i, p.etag)
      else if (known === undefined && /^[0-9a-f]{32}$/.test(p.etag) && await ctx.hashes.md5(path, i * partSize, length) === p.etag) held.set(i, p.etag)
    }
    return held
  }

  private length(i: number): number {
    return Math.min(this.partSize, this.row.size - i * this.partSize)
  }

  *tasks(): Iterable<SizedTask> {
    for (const t of this.parts.tasks()) yield { bytes: t.index < 0 ? 0 : this.length(t.index), run: t.run }
  }

  /** Sends part `i` from the file, if the file is still the one the upload began with, and records it. */
  async move(i: number): Promise<void> {
    const { ctx, row, path } = this
    const start = i * this.partSize
    const length = this.length(i)
    const now = statFile(path)
    if (!sameFile(this.file, now)) throw changedError(path, this.file, now)
    const what = `${row.key} (part ${i + 1}/${this.count})`
    const { etag, checksum } = await withRetry(ctx.retry, ctx.signal, () => watched(ctx.signal, stallSeconds(ctx), what, async (watch) => {
      watch.pause() // hashing the range first is local work, not the request's idle time
      const { checksum } = await rangeChecksum(path, start, length, ctx)
      watch.touch()
      const file = fileBody(row.key, path, start, length, watch, ctx)
      const began = performance.now()
      try {
        const etag = await ctx.provider.multipart.uploadPart(row.key, this.uploadId, i + 1, file.body, { size: length, checksum, signal: file.signal })
        ctx.budget.recordRequest(length, (performance.now() - began) / 1000)
        return { etag, checksum }
      } catch (err) {
        ctx.stats.discard(row.key, file.sent())
        const after = statFile(path)
        if (!sameFile(this.file, after)) throw changedError(path, this.file, after)
        throw file.readError() ?? err
      }
    }), retryHooks(ctx, row.key, what))
    ctx.store.recordPart(row.key, i, etag)
    this.etags[i] = etag
    this.crcs[i] = checksum?.algorithm === 'crc32' ? checksum : undefined
  }

  /** A file that changed under the upload starts it over (see restart); any other failure fails it. */
  partFailed(_i: number, err: unknown): void {
    if (err instanceof FileChangedError) {
      this.changed = err
      return
    }
    this.failed = true
    fail(this.row.key, err, this.ctx, this.track)
  }

  /** Completes the upload once every part is in and checks the ETag the store assembled. */
  async settle(allIn: boolean): Promise<void> {
    const { ctx, row, path } = this
    if (this.failed || (!allIn && !this.changed) || ctx.signal.aborted) {
      ctx.stats.end(row.key)
      this.track.release(row.key)
      return
    }
    try {
      const after = statFile(path)
      if (this.changed || !sameFile(this.file, after)) return await this.restart(this.changed ?? changedError(path, this.file, after))
      const parts: Array<{ partNumber: number; etag: string; checksum?: UploadChecksum }> = []
      for (let i = 0; i < this.count; i++) {
        // Parts sent by an earlier run: their CRC32 is computed again from the file.
        const checksum = ctx.checksum === 'crc32' ? this.crcs[i] ?? (await rangeChecksum(path, i * this.partSize, this.length(i), ctx)).checksum : undefined
        parts.push({ partNumber: i + 1, etag: this.etags[i]!, checksum })
      }
      let etag = await withRetry(ctx.retry, ctx.signal, () => ctx.provider.multipart.complete(row.key, this.uploadId, parts, ctx.signal), retryHooks(ctx, row.key))
      ctx.store.setUpload(row.key, null, this.partSize)
      // Some stores (Ceph) answer CompleteMultipartUpload without the ETag: ask for it.
      etag ||= (await retriedCall(ctx, row.key, (signal) => ctx.provider.stat(row.key, signal), { hedge: 'head' })).etag
      const partEtags = this.etags as string[]
      const expected = partEtags.every((e) => /^[0-9a-f]{32}$/.test(e)) ? `${multipartDigest(partEtags)}-${this.count}` : undefined
      if (expected && etag && /^[0-9a-f]{32}-\d+$/.test(etag) && etag !== expected) {
        throw new ChecksumMismatchError(`${row.key}: the store assembled an object with ETag ${etag}, expected ${expected} from the parts sent`)
      }
      complete(row.key, row.size, ctx, this.track)
    } catch (err) {
      fail(row.key, err, ctx, this.track)
    }
  }

  /** The file changed under the upload: its parts are useless. Try again from scratch, a few times. */
  private async restart(err: FileChangedError): Promise<void> {
    const { ctx, row } = this
    await abandon(row.key, this.uploadId, ctx)
    const n = (this.track.attempts.get(row.key) ?? 0) + 1
    this.track.attempts.set(row.key, n)
    if (n > ctx.retry.retries) {
      this.track.attempts.delete(row.key)
      return fail(row.key, new FileChangedError(`${err.message}; it kept changing over ${n} attempts`), ctx, this.track)
    }
    ctx.stats.retries++
    ctx.log.info(`${err.message}: uploading it again (attempt ${n + 1})`)
    ctx.stats.end(row.key)
    this.track.release(row.key) // still pending: the scheduler takes it again
  }
}

/** Aborts a multipart upload on the store, so that its parts are not kept (and billed). */
export async function abandon(key: string, uploadId: string, ctx: Pick<UploadContext, 'provider' | 'store' | 'log' | 'retry' | 'signal'>): Promise<void> {
  try {
    await retriedCall(ctx, key, (signal) => ctx.provider.multipart.abort(key, uploadId, signal))
    ctx.log.debug(`aborted the multipart upload ${uploadId} of ${key}`)
  } catch (err) {
    ctx.log.warn(`could not abort the multipart upload ${uploadId} of ${key} (soaker abort tries again): ${errorMessage(err)}`)
    return
  }
  if (ctx.store.getObject(key)?.uploadId === uploadId) ctx.store.setUpload(key, null, null)
}
