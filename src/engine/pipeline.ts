import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { crc32 } from 'node:zlib'
import {
  ChecksumMismatchError, errorCode, errorMessage, FileChangedError, LocalWriteError, NotFoundError, type SoakerError, SourceChangedError, UnsupportedError,
} from '../errors.js'
import type { Body, FileFill, MultipartUploads, Provider, UploadChecksum, UploadParts } from '../providers/provider.js'
import type { UploadChecksumChoice, UploadOrder } from '../options.js'
import type { ObjectRow, StateStore } from '../state/store.js'
import { parseMtime } from '../providers/file-metadata.js'
import { runStoppingErrno } from '../providers/local/local-files.js'
import { combineRanges } from '../checksums/crc-combine.js'
import { crcOfReceipt } from '../checksums/part-receipt.js'
import { digester } from '../checksums/digester.js'
import { fullObjectChecksum, toBase64 } from '../checksums/s3-checksum.js'
import { checkWhole, digestFromEtag, etagPromise, multipartDigest, wholeDigestOf, type ExpectedDigest } from './integrity.js'
import type { Logger } from './logger.js'
import { metered } from './meter.js'
import { ChunkedObject, type ChunkHandler } from './chunked.js'
import { choosePartLayout, inferUploadParts, minUploadPartSize, partSizeForRate, uploadPartCandidates } from './part-size.js'
import type { Task } from './pool.js'
import type { UploadBudget } from './upload-budget.js'
import type { RateLimiter } from './rate-limiter.js'
import { withRetry, type RetryPolicy } from './retry.js'
import { retriedCall, stallSeconds, watched, type IdleLimit, type RequestIdle, type StallWatch } from './stall-watch.js'
import { retryHooks } from './run-tasks.js'
import type { Stats } from './stats.js'
import { mtimeMsOf, type SourceVersion, type TransferSource } from './transfer-source.js'
import type { WalkEntry } from './walk.js'
import { batches } from './batches.js'
import { claimed, Wakeup, type Planning } from './claims.js'

const MiB = 1024 * 1024
export { minUploadPartSize }
const defaultUploadPartSize = 8 * MiB
const maxParts = 10_000
/** The largest object one CopyObject copies (S3's limit). */
const maxCopyObject = 5 * 1024 * MiB
/**
 * Objects opened at once ahead of the requests. Opening a large object costs one or two HEADs
 * (the source's version and part layout) and the upload's start: done one after another, over a
 * link with latency, they starved the pool of parts near the end of a run (peak in flight 24 of a
 * target of 32, WAN scenario S1).
 */
const openAhead = 8
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

/**
 * One transfer of objects from a source (TransferSource: local files, or another store's objects)
 * to a destination store, in any direction: an upload, a copy between stores, or a download
 * (the destination is then the local directory as a store, LocalProvider). Nothing here knows
 * which: the destination's features decide (server-side copies, parts kept in place, digests
 * read back).
 */
export interface TransferContext {
  /** The destination. */
  provider: Provider & { put: NonNullable<Provider['put']>; multipart: MultipartUploads }
  store: StateStore
  stats: Stats
  log: Logger
  retry: RetryPolicy
  signal: AbortSignal
  /** Where the bytes come from: local files, or another store's objects. */
  source: TransferSource
  limiter?: RateLimiter
  /** The checksum each write carries for the store to verify (--upload-checksum). */
  checksum: UploadChecksumChoice
  /** The order pending rows are claimed in (--order; a download's is by path). */
  order: UploadOrder
  /** The user's --part-size; absent: automatic. */
  partSize?: number
  /**
   * Bounds the bytes of requests in flight; measures the per-request rate part sizes fit. Absent
   * where a kill loses no part in flight (a store that checkpoints parts as they arrive: local files).
   */
  budget?: UploadBudget
  /** Check what arrives against the source's digests (and, where parts follow the source's, its ETag). */
  verify: boolean
  /** How the run's stats and events name an object: its key, qualified by its source in a run of several. */
  nameOf?: (key: string) => string
  /**
   * Each request's idle limit is learnt from the run's reads (IdleLimit.request), --timeout at
   * most, rather than --timeout itself: where every request is a read streaming to local files.
   */
  idleLearnt?: boolean
  /** Told of each object written, with the metadata it was given (downloads record the file's mtime). */
  onWritten?: (key: string, metadata: Record<string, string> | undefined) => void
  /** The destination key of a path relative to the walked root (`` for a single file). */
  keyFor: (rel: string) => string
  /** An error after which no object can succeed: the run stops. */
  stopRun: (err: unknown) => void
  /** The run's learnt limits: when a HEAD or a ListParts is sent a second time (see CallPace). */
  idle?: IdleLimit
}

const nameOf = (ctx: Pick<TransferContext, 'nameOf'>, key: string): string => ctx.nameOf?.(key) ?? key

/** The idle limit of one request (over all its attempts): see TransferContext.idleLearnt. */
function requestLimit(ctx: TransferContext): number | RequestIdle {
  return ctx.idleLearnt && ctx.idle ? ctx.idle.request() : stallSeconds(ctx)
}

/**
 * The store keeps each part's bytes as they arrive, in place (a local partial file): a kill loses
 * no part, so parts follow the reads' sizes (choosePartLayout), not the upload rules of stores
 * that assemble whole parts (S3's 5 MiB least, parts fitted to a second of throughput).
 */
const partsInPlace = (ctx: TransferContext): boolean => ctx.provider.multipart.progress !== undefined

/** A CRC the store keeps of an object, which verifies it. */
type CrcPromise = Extract<ExpectedDigest, { kind: 'crc' }>

/**
 * The CRC that each part of `v` is recorded with (its receipt, taken by the FileFill as the part
 * streams) and that the object is verified by, from its parts' CRCs combined: where verifying, the
 * store keeps a CRC of the object, and its parts are kept in place and filled on the data plane.
 * Undefined otherwise (a read under --max-speed streams through this thread, and its parts are
 * recorded by their MD5s, checked against the ETag as before).
 */
function partCrcs(v: SourceVersion, ctx: TransferContext): CrcPromise | undefined {
  const fills = ctx.provider.takesFills === true && ctx.limiter === undefined && ctx.source.fill !== undefined
  return ctx.verify && partsInPlace(ctx) && fills && v.expected?.kind === 'crc' ? v.expected : undefined
}

/**
 * Records each walked entry in the state store: files that need uploading become pending rows,
 * unchanged files (same size and mtime as when they were uploaded) are skipped, and what cannot
 * or should not be uploaded is recorded with the reason. The scheduler takes pending rows as
 * they appear, so uploads start while the walk goes on.
 */
export interface WalkRecording extends Pick<TransferContext, 'store' | 'stats' | 'log' | 'keyFor' | 'signal'> {
  /** Gives up the multipart upload of a file that changed since it started. */
  abandon: (key: string, uploadId: string) => void
  /** Told of each file that needs uploading (--dry-run lists the first ones). */
  onPlanned?: (key: string) => void
  /**
   * Hears each entry's relative path once its row is written, before anything else is awaited:
   * a shared job's listing cursor, committed with the rows written before it.
   */
  recorded?: (rel: string) => void
}

/** Walked entries whose rows are looked up in the state store at once, at most. */
const walkBatch = 256

export async function recordWalk(entries: AsyncIterable<WalkEntry>, ctx: WalkRecording, planning?: Planning): Promise<void> {
  const { store, stats, log } = ctx
  let n = 0
  try {
    for await (const batch of batches(entries, walkBatch)) {
      const rows = await store.lookup(batch.filter((e) => e.kind !== 'skipped' && e.kind !== 'failed').map((e) => ctx.keyFor(e.rel)))
      for (const e of batch) {
        if (ctx.signal.aborted) return
        if (recordEntry(e, rows.get(ctx.keyFor(e.rel)), ctx)) {
          planning?.planned(++n)
          ctx.onPlanned?.(ctx.keyFor(e.rel))
        }
        ctx.recorded?.(e.rel)
      }
    }
  } finally {
    stats.listingDone = true
  }
}

/** Records one walked entry given its row; true when it needs uploading. */
function recordEntry(e: WalkEntry, row: ObjectRow | undefined, ctx: WalkRecording): boolean {
  const { store, stats, log } = ctx
  const key = ctx.keyFor(e.rel)
  if (e.kind === 'skipped') {
    store.putObject({ key, size: 0 }, 'skipped', e.reason)
    stats.skip(key, 0, e.reason)
    log.warn(`skipping ${e.path}: ${e.reason}`)
    return false
  }
  if (e.kind === 'failed') {
    store.putObject({ key, size: 0 }, 'failed', e.reason, e.code)
    stats.fail(key, e.code, e.reason)
    log.warn(e.reason)
    return false
  }
  const size = e.kind === 'file' ? e.size : 0
  const mtimeMs = e.kind === 'file' ? mtimeMsOf(e.mtimeNs) : null
  const etag = e.kind === 'file' ? e.etag : undefined
  stats.listed++
  stats.listedBytes += size
  const same = row !== undefined && row.size === size && row.lastModified === mtimeMs && (row.etag ?? undefined) === etag
  if (same && (row.status === 'done' || row.status === 'skipped')) {
    stats.skip(key, size, 'unchanged since it was uploaded')
    return false
  }
  if (row?.uploadId && !same) ctx.abandon(key, row.uploadId) // the file changed: its parts are of no use
  if (same) store.setStatus(key, 'pending') // keeps its multipart upload and parts
  else store.putObject({ key, size, etag, lastModified: mtimeMs === null ? undefined : new Date(mtimeMs) }, 'pending')
  stats.planned++
  stats.plannedBytes += size
  return true
}

/** One request of an upload and the bytes it sends (0 for a Complete). */
interface SizedTask {
  bytes: number
  run: Task
}

/**
 * Claims pending rows from the state store in the chosen order, while the walk or the listing is
 * still adding them, and turns each into tasks of one request: a whole object, or one part of a
 * multipart upload (an upload, a copy or a download alike). Only the objects under way are held in memory. Uploads an earlier run left unfinished
 * go first, nearest to done first, and the parts of an object go before the next object: work
 * in progress is finished before new work starts, so a kill finds little of it. A request is
 * handed out only once its bytes fit the budget of bytes in flight (UploadBudget).
 */
export async function* transferTasks(ctx: TransferContext, planning: Planning): AsyncIterable<Task> {
  const busy = new Set<string>()
  const settled = new Wakeup()
  const release = (key: string): void => { busy.delete(key); settled.notify() }
  /** An object to start over: it goes back to the store's pending work. */
  const again = (key: string): void => { ctx.store.release(key); release(key) }
  const attempts = new Map<string, number>()
  const track = { release, again, attempts, hashParts: new Set<string>() }
  const { budget } = ctx
  async function* admitted(tasks: Iterable<SizedTask>): AsyncIterable<Task> {
    for (const t of tasks) {
      if (budget === undefined) {
        yield t.run
        continue
      }
      await budget.admit(t.bytes, ctx.signal)
      if (ctx.signal.aborted) return budget.release(t.bytes)
      yield () => t.run().finally(() => budget.release(t.bytes))
    }
  }
  async function* rows(): AsyncIterable<ObjectRow> {
    // A worker of a shared job takes only what it claims: an unfinished upload may be another's.
    for (const row of planning.shared ? [] : await unfinishedUploads(ctx.store)) {
      if (ctx.signal.aborted) return
      busy.add(row.key)
      yield row
    }
    for await (const row of claimed(ctx.store, ctx.order, planning, ctx.signal, { count: () => busy.size, settled })) {
      if (busy.has(row.key)) continue // an unfinished upload, taken first
      busy.add(row.key)
      yield row
    }
  }
  for await (const tasks of openedAhead(rows(), (row) => tasksFor(row, ctx, track), ctx.signal)) yield* admitted(tasks)
}

/**
 * `open` of each row, up to `openAhead` of them at once, in the rows' order. A small object opens
 * at once (its one task is the transfer); a large one waits for its HEADs and its upload's start.
 */
async function* openedAhead<T>(rows: AsyncIterable<ObjectRow>, open: (row: ObjectRow) => Promise<T>, signal: AbortSignal): AsyncIterable<T> {
  const source = rows[Symbol.asyncIterator]()
  const opening: Array<Promise<T>> = []
  let next: Promise<IteratorResult<ObjectRow>> | undefined
  let exhausted = false
  for (;;) {
    while (!exhausted && opening.length < openAhead && !signal.aborted) {
      // The next row may wait for an object to settle (one that may start over): while it does,
      // the first object opened is handed out, never held back for it.
      next ??= source.next()
      const r = opening.length === 0 ? await next : await Promise.race([next, opening[0]!.then(() => undefined)])
      if (r === undefined) break
      next = undefined
      if (r.done) exhausted = true
      else opening.push(open(r.value))
    }
    const first = opening.shift()
    if (first === undefined || signal.aborted) return
    yield await first
  }
}

interface Tracking {
  /** The object is settled (done, skipped or failed), or interrupted. */
  release: (key: string) => void
  /** The object starts over: it is claimed again. */
  again: (key: string) => void
  /** How many times a file was found changed while it was uploaded. */
  attempts: Map<string, number>
  /** Objects whose parts are hashed as they stream: their source's layout was guessed wrong. */
  hashParts: Set<string>
}

/**
 * Pending rows with a multipart upload an earlier run left open, those with the fewest bytes
 * left to send first (by the parts recorded: the store's answer comes when each is opened).
 */
async function unfinishedUploads(store: StateStore): Promise<ObjectRow[]> {
  const rows: Array<{ row: ObjectRow; left: number }> = []
  const open = await store.openUploads()
  const found = await store.lookup(open.map((u) => u.key))
  for (const { key } of open) {
    const row = found.get(key)
    if (row?.status !== 'pending' || !row.partSize) continue
    let sent = 0
    for (const i of (await store.doneParts(key)).keys()) sent += Math.min(row.partSize, row.size - i * row.partSize)
    rows.push({ row, left: row.size - sent })
  }
  return rows.sort((a, b) => a.left - b.left).map((r) => r.row)
}

/** The tasks of one file: a whole PUT, or the parts of a multipart upload (none if it cannot start). */
async function tasksFor(row: ObjectRow, ctx: TransferContext, track: Tracking): Promise<Iterable<SizedTask>> {
  // A copy the store makes moves no bytes here (none count against the budget).
  const serverSide = copiesServerSide(ctx)
  const wholeUpTo = serverSide ? copiedWholeUpTo(row, ctx)
    : partsInPlace(ctx) ? choosePartLayout(row.size, ctx.partSize).partSize
    : uploadPartSize(row.size, ctx.partSize)
  if (row.key.endsWith('/') || row.size <= wholeUpTo) return [{ bytes: serverSide ? 0 : row.size, run: () => putWhole(row, ctx, track) }]
  try {
    return (await MultipartUpload.open(row, ctx, track))?.tasks() ?? []
  } catch (err) {
    fail(row.key, err, ctx, track)
    return []
  }
}

/**
 * The largest object the store copies in one request: one CopyObject takes up to 5 GiB, in parts
 * (copyPart) only above that or above the user's --part-size; a store that copies no parts (GCS's
 * rewrite takes any size) copies every object whole, since parts would stream through here.
 */
function copiedWholeUpTo(row: ObjectRow, ctx: TransferContext): number {
  if (ctx.provider.multipart.copyPart === undefined) return Infinity
  return ctx.partSize === undefined ? maxCopyObject : uploadPartSize(row.size, ctx.partSize)
}

/** The store copies each object itself: source and destination are one store. */
function copiesServerSide(ctx: TransferContext): boolean {
  return ctx.source.copySource !== undefined && ctx.provider.copyObject !== undefined
}

/** Records `err` as the reason `key` failed; an error that dooms every object (a full disk) stops the run. */
function fail(key: string, err: unknown, ctx: TransferContext, track: Tracking): void {
  const name = nameOf(ctx, key)
  ctx.stats.end(name)
  track.release(key)
  if (ctx.signal.aborted) return // interrupted, not failed: the file stays pending
  ctx.store.setStatus(key, 'failed', errorMessage(err), errorCode(err))
  ctx.stats.fail(name, errorCode(err), errorMessage(err))
  ctx.log.warn(`failed ${key}: ${errorMessage(err)}`)
  if (err instanceof LocalWriteError && runStoppingErrno.includes(err.errno ?? '')) ctx.stopRun(err)
}

function complete(key: string, size: number, ctx: TransferContext, track: Tracking, status: 'done' | 'skipped' = 'done', reason?: string): void {
  const name = nameOf(ctx, key)
  ctx.store.setStatus(key, status, reason ?? null)
  if (status === 'done') {
    ctx.stats.done++
    ctx.stats.doneBytes += size
    ctx.stats.emit({ type: 'object_done', key: name, size, seconds: ctx.stats.end(name) })
    ctx.log.debug(`done ${key}`)
  } else {
    ctx.stats.end(name)
    ctx.stats.skip(name, size, reason ?? '')
  }
  track.release(key)
}

/**
 * True when the destination already holds `key` as the source has it, with the state database
 * lost since: the listing shows the same size and, for an object of another store, the same MD5
 * ETag; else (no ETag to compare: a local file, an Azure or GCS destination, another part layout)
 * the object's `mtime` metadata is the source's (a file's mtime; an object's own `mtime`, or its
 * Last-Modified), as soaker or rclone wrote it. Asks the store (HEAD) only when the sizes match;
 * two plain MD5 ETags that differ are different bytes, whatever the mtime.
 */
async function alreadyInBucket(key: string, file: SourceVersion, ctx: TransferContext): Promise<boolean> {
  const remote = await ctx.store.getRemote(key)
  if (remote?.size !== file.size) return false
  if (file.etag !== undefined && ctx.source.etagIsMd5) {
    if (remote.etag === file.etag) return true
    if (remote.etag !== null && md5Hex.test(remote.etag) && md5Hex.test(file.etag)) return false
  }
  const details = await retriedCall(ctx, key, (signal) => ctx.provider.stat(key, signal), { hedge: 'head' }).catch((err: unknown) => {
    if (err instanceof NotFoundError) return undefined
    throw err
  })
  const remoteMs = parseMtime(details?.metadata)
  if (details?.size !== file.size || remoteMs === undefined) return false
  let sourceMs = parseMtime(file.metadata)
  if (sourceMs === undefined && file.etag !== undefined) {
    // An object as listed: its own mtime, if it has one, is in the metadata a HEAD gives; else
    // the copy was given its Last-Modified as listed (a HEAD's has only whole seconds).
    const now = await withRetry(ctx.retry, ctx.signal, () => ctx.source.current(key, ctx.signal), retryHooks(ctx, key))
    if (now.etag !== file.etag) return false
    sourceMs = parseMtime(now.ownMetadata)
  }
  sourceMs ??= Number(file.mtimeNs) / 1e6
  return Math.abs(remoteMs - sourceMs) < mtimeToleranceMs
}

const alreadyThere = 'already in the bucket with the same size and mtime'

async function checksumOf(buf: Buffer, choice: UploadChecksumChoice): Promise<UploadChecksum | undefined> {
  if (choice === 'md5') return { algorithm: 'md5', value: createHash('md5').update(buf).digest('base64') }
  if (choice === 'crc32') return { algorithm: 'crc32', value: crc32Base64(crc32(buf)) }
  if (choice === 'crc64nvme') {
    const crc = await digester('crc64nvme')
    crc.update(buf)
    return { algorithm: 'crc64nvme', value: toBase64('crc64nvme', crc.digest()) }
  }
  return undefined
}

/** The CRC checksums a part carries, which CompleteMultipartUpload lists again (--upload-checksum crc32, crc64nvme). */
function isPartCrc(checksum: UploadChecksum | undefined): checksum is UploadChecksum & { algorithm: 'crc32' | 'crc64nvme' } {
  return checksum?.algorithm === 'crc32' || checksum?.algorithm === 'crc64nvme'
}

/**
 * The CRC64NVME of the whole object from its parts' (a FULL_OBJECT upload's checksum, checked by
 * the store at Complete), where every part carries one; undefined otherwise.
 */
function fullObjectCrc64(parts: ReadonlyArray<{ checksum?: UploadChecksum }>, length: (i: number) => number): UploadChecksum | undefined {
  const ranges = []
  for (const [i, p] of parts.entries()) {
    if (p.checksum?.algorithm !== 'crc64nvme') return undefined
    ranges.push({ digest: Buffer.from(p.checksum.value, 'base64'), length: length(i) })
  }
  return { algorithm: 'crc64nvme', value: fullObjectChecksum('crc64nvme', ranges) }
}

function crc32Base64(crc: number): string {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(crc >>> 0)
  return b.toString('base64')
}

/** The checksum of a source range sent with it, where the source computes it ahead (a file's, on a worker thread). */
async function rangeChecksum(key: string, start: number, length: number, ctx: TransferContext): Promise<UploadChecksum | undefined> {
  if (ctx.checksum === 'none') return undefined
  const hex = await ctx.source.digest(key, start, length, ctx.checksum)
  return hex === undefined ? undefined : { algorithm: ctx.checksum, value: Buffer.from(hex, 'hex').toString('base64') }
}

interface SourceBody {
  body: Body
  /** The run's signal, also aborted when reading the source fails, so the request ends at once. */
  signal: AbortSignal
  /** Bytes sent so far, to be discarded if the attempt fails. */
  sent: () => number
  /** Why reading the source failed, if it did. */
  readError: () => SoakerError | undefined
  /** MD5 (hex) of the bytes sent, where they were hashed on the way. */
  md5: () => string | undefined
}

/**
 * A byte range of the source as a request body, counted by the meter as it is sent and held back
 * by the rate limiter. `md5`: hashed on the way (where no checksum went ahead of it).
 */
function sourceBody(key: string, v: SourceVersion, start: number, length: number, watch: StallWatch, ctx: TransferContext, md5: boolean,
  wholePart = false): SourceBody {
  const filled = filledBody(key, v, start, length, watch, ctx, md5, wholePart)
  if (filled !== undefined) return filled
  let sent = 0
  let readError: SoakerError | undefined
  const failed = new AbortController()
  const bytes = ctx.source.open(key, v, start, length, watch.signal, md5)
  // The socket pulls the source as it drains: a store that stops reading stops the chunks too.
  async function* counted(): AsyncIterable<Buffer> {
    for await (const chunk of metered(nameOf(ctx, key), bytes.chunks, ctx.stats, ctx.limiter, ctx.signal, watch)) {
      sent += chunk.length
      yield chunk
    }
  }
  const sentSoFar = (): number => sent
  // A provider that pulls the chunks itself gets them as they come: its write fails with the
  // source's own error, and a stream between would only cost a hop per chunk.
  if (ctx.provider.takesIterables) return { body: counted(), signal: watch.signal, sent: sentSoFar, readError: () => undefined, md5: bytes.md5 }
  const body = Readable.from(counted(), { objectMode: false })
  body.on('error', (err) => {
    // The run's own abort ends the request anyway; anything else is the source failing to read.
    if (!watch.signal.aborted) readError = err as SoakerError
    failed.abort(err)
  })
  return { body, signal: AbortSignal.any([watch.signal, failed.signal]), sent: sentSoFar, readError: () => readError, md5: bytes.md5 }
}

/**
 * The range as a FileFill, where the destination takes one and the source has a data plane: its
 * bytes are read and written on a data thread, counted here as they land. A destination that
 * keeps its parts in place (local files) has each part's digest taken as it streams, where verifying:
 * that is the part's receipt, checked against the source's ETag when the object is complete. Where
 * the store keeps a CRC of the object, the receipt is the part's CRC instead, and no MD5 is taken.
 * Not under --max-speed, whose limiter meters each chunk on this thread.
 */
function filledBody(key: string, v: SourceVersion, start: number, length: number, watch: StallWatch, ctx: TransferContext, md5: boolean,
  wholePart: boolean): SourceBody | undefined {
  if (!ctx.provider.takesFills || ctx.limiter !== undefined || ctx.source.fill === undefined) return undefined
  const name = nameOf(ctx, key)
  let sent = 0
  let hex: string | undefined
  const fill = ctx.source.fill(key, v, start, length, {
    md5,
    receipt: wholePart && ctx.verify && partsInPlace(ctx),
    moved: (bytes) => {
      watch.touch()
      ctx.stats.count(name, bytes)
      sent += bytes
    },
  })
  if (fill === undefined) return undefined
  const body: FileFill = { ...fill, into: async (target) => {
    const r = await fill.into(target)
    if (md5) hex = r.md5?.toString('hex')
    return r
  } }
  return { body, signal: watch.signal, sent: () => sent, readError: () => undefined, md5: () => hex }
}

const md5Hex = /^[0-9a-f]{32}$/

/**
 * A body hashed on its way (no Content-MD5 went ahead of it) is checked against the ETag the
 * store answered with, where that is an MD5: the store got the bytes that were read. And an
 * object sent whole is checked against the source's own MD5 ETag.
 */
function checkStreamed(what: string, etag: string | undefined, md5: string | undefined, source?: SourceVersion, etagIsMd5 = false): void {
  if (md5 === undefined) return
  if (etag !== undefined && md5Hex.test(etag) && etag !== md5) {
    throw new ChecksumMismatchError(`${what}: the store answered ETag ${etag} for bytes whose MD5 is ${md5}`)
  }
  if (etagIsMd5 && source?.etag !== undefined && md5Hex.test(source.etag) && source.etag !== md5) {
    throw new ChecksumMismatchError(`${what}: the bytes read hash to MD5 ${md5}, the source's ETag is ${source.etag}`)
  }
}

/**
 * A file or an object (or a `dir/` marker for an empty directory) in one request, with its
 * metadata: read whole and sent with its checksum when small, else streamed; copied by the store
 * where the source is the same store.
 */
async function putWhole(row: ObjectRow, ctx: TransferContext, track: Tracking): Promise<void> {
  const { key } = row
  const { source } = ctx
  const name = nameOf(ctx, key)
  ctx.stats.begin(name, row.size)
  try {
    if (key.endsWith('/')) {
      if (await ctx.store.getRemote(key) !== undefined) return complete(key, 0, ctx, track, 'skipped', 'directory marker already in the bucket')
      const checksum = await checksumOf(Buffer.alloc(0), ctx.checksum)
      await withRetry(ctx.retry, ctx.signal, () => watched(ctx.signal, stallSeconds(ctx), key, (watch) =>
        ctx.provider.put(key, Buffer.alloc(0), { size: 0, checksum, signal: watch.signal })), retryHooks(ctx, name))
      return complete(key, 0, ctx, track)
    }
    // The first attempt uses the version the bucket was compared with (an object's as listed,
    // where it is read whole and its metadata comes with its bytes); a retry looks again, as
    // does an object started over because it changed.
    const asListed = row.size <= source.inlineMax && !track.attempts.has(key) ? source.listed(row) : undefined
    let known: SourceVersion | undefined = asListed ?? await withRetry(ctx.retry, ctx.signal, () => source.current(key, ctx.signal), retryHooks(ctx, name))
    if (await alreadyInBucket(key, known, ctx)) return complete(key, known.size, ctx, track, 'skipped', alreadyThere)
    let size = known.size
    let copied: SourceVersion | undefined
    let metadata: Record<string, string> | undefined
    const limit = requestLimit(ctx)
    await withRetry(ctx.retry, ctx.signal, () => watched(ctx.signal, limit, name, async (watch) => {
      const before = known ?? await source.current(key, watch.signal)
      known = undefined
      size = before.size
      copied = before
      const from = source.copySource?.(key, before)
      if (from && ctx.provider.copyObject) {
        const etag = await ctx.provider.copyObject(key, from, watch.signal)
        if (source.etagIsMd5 && etag !== undefined && before.etag !== undefined && md5Hex.test(etag) && md5Hex.test(before.etag) && etag !== before.etag) {
          throw new ChecksumMismatchError(`${key}: the store's copy has ETag ${etag}, the source's is ${before.etag}`)
        }
        ctx.stats.count(name, before.size)
        return
      }
      if (before.size <= source.inlineMax) {
        const whole = await source.readWhole(key, before, watch.signal)
        if (ctx.limiter) {
          watch.pause()
          await ctx.limiter.take(whole.body.length, ctx.signal)
          watch.touch()
        }
        // An MD5 known already is not computed again; one the source only promised goes as the
        // write's checksum, which the destination checks before it keeps the bytes.
        const known: UploadChecksum | undefined = whole.md5 === undefined ? undefined : { algorithm: 'md5', value: whole.md5 }
        const checksum = whole.unchecked || ctx.checksum === 'md5' ? known ?? await checksumOf(whole.body, ctx.checksum) : await checksumOf(whole.body, ctx.checksum)
        await ctx.provider.put(key, whole.body, {
          size: whole.body.length, checksum, metadata: whole.metadata, contentType: whole.contentType, signal: watch.signal,
        })
        ctx.stats.count(name, whole.body.length)
        metadata = whole.metadata
        return
      }
      watch.pause() // hashing the file first is local work, not the request's idle time
      const checksum = await rangeChecksum(key, 0, before.size, ctx)
      watch.touch()
      const body = sourceBody(key, before, 0, before.size, watch, ctx, checksum === undefined && hashesOnTheWay(ctx))
      try {
        const etag = await ctx.provider.put(key, body.body, { size: before.size, checksum, metadata: before.metadata, contentType: before.contentType, signal: body.signal })
        source.assertUnchanged(key, before)
        checkStreamed(key, etag, body.md5(), before, source.etagIsMd5)
      } catch (err) {
        ctx.stats.discard(name, body.sent())
        // A checksum the store refused, from a file that changed while it was read.
        source.assertUnchanged(key, before)
        throw body.readError() ?? err
      }
      metadata = before.metadata
    }), retryHooks(ctx, name))
    if (copied && !source.recorded(row, copied)) {
      // Another version than the one listed: recorded as the one copied, so a rerun skips it.
      ctx.store.putObject({ key, size: copied.size, etag: copied.etag, lastModified: new Date(mtimeMsOf(copied.mtimeNs)) }, 'pending')
    }
    ctx.onWritten?.(key, metadata)
    complete(key, size, ctx, track)
  } catch (err) {
    // An object replaced since it was listed (a read on its old ETag) is copied again as it is now.
    if (err instanceof SourceChangedError && !ctx.signal.aborted) return startOver(key, err, ctx, track)
    fail(key, err, ctx, track)
  }
}

/**
 * Whether a body streamed without a checksum ahead of it is hashed on its way, to be checked
 * against the ETag the store answers with. Not where the store keeps the bytes in place and
 * hashes them itself (local files): its digest of them checks nothing the reads did not.
 */
function hashesOnTheWay(ctx: TransferContext): boolean {
  return ctx.provider.multipart.digest === undefined
}

/**
 * How the source object was split when it was uploaded, where the user gave no part size: told by
 * the store, or guessed from the part count of its ETag (inferUploadParts). A copy split alike
 * has the source's ETag, which then verifies it end to end.
 */
async function sourceLayout(key: string, v: SourceVersion, ctx: TransferContext): Promise<UploadParts | undefined> {
  if (ctx.partSize !== undefined || !ctx.source.etagIsMd5 || !ctx.verify) return undefined
  const expected = digestFromEtag(v.etag)
  if (expected.kind !== 'multipart') return undefined
  const told = await retriedCall(ctx, `${key} (its part layout)`, (signal) => ctx.source.uploadParts(key, signal), { hedge: 'head' })
  const parts = told ?? inferUploadParts(v.size, expected.parts)
  if (!parts || parts.count !== expected.parts || parts.count !== Math.ceil(v.size / parts.partSize)) return undefined
  return parts
}

/** Parts of a multipart upload: their size, and whether they follow the source's upload parts. */
interface PartPlan {
  partSize: number
  /** Split as the source object was (its ETag is then this one's): as the store told, or as guessed. */
  likeSource: 'told' | 'inferred' | undefined
}

/**
 * The parts of a new upload of `v`. Where the store keeps parts in place, as a download reads
 * them (choosePartLayout: the source's upload parts where they are of a usable size); else as S3
 * takes them: the source's parts where S3 allows them, or parts fitted to the measured rate.
 * `resumable`: the part size of the upload an earlier run left open, which is kept.
 */
function planParts(v: SourceVersion, layout: UploadParts | undefined, resumable: number | undefined, ctx: TransferContext): PartPlan {
  const like = (partSize: number, aligned: boolean): PartPlan['likeSource'] => aligned && layout?.partSize === partSize ? (layout.inferred ? 'inferred' : 'told') : undefined
  if (partsInPlace(ctx)) {
    const chosen = choosePartLayout(v.size, ctx.partSize, layout)
    const partSize = resumable ?? chosen.partSize
    return { partSize, likeSource: like(partSize, chosen.alignedWithUpload) }
  }
  const usable = layout !== undefined && layout.partSize >= minUploadPartSize
  const partSize = resumable ?? (usable ? layout.partSize : uploadPartSize(v.size, ctx.partSize, ctx.budget?.perRequestRate()))
  return { partSize, likeSource: like(partSize, usable) }
}

/**
 * The part size of the upload an earlier run left open for this file, when it can go on with it:
 * the part size is chosen from a measured rate when an upload starts, and a later run, which has
 * measured nothing yet or something else, keeps it rather than abandon the parts already sent.
 * Undefined when the user's --part-size decides, or the recorded size is not one the store takes.
 */
function resumablePartSize(row: ObjectRow, size: number, unchanged: boolean, ctx: TransferContext): number | undefined {
  if (ctx.partSize !== undefined || !row.uploadId || !row.partSize || !unchanged) return undefined
  const least = partsInPlace(ctx) ? 1 : minUploadPartSize
  const usable = row.partSize >= least && Math.ceil(size / row.partSize) <= maxParts
  return usable ? row.partSize : undefined
}

/**
 * A large object moved in parts, in parallel: ranges of the source into the parts of a multipart
 * upload (on a store; or in place, into a local partial file). Each part is recorded with the
 * upload id before it counts; after any interruption the same command asks the store which parts
 * it holds (ListParts; and, where it keeps parts as they arrive, how far each other part got) and
 * sends only the rest.
 */
class MultipartUpload implements ChunkHandler {
  private readonly parts: ChunkedObject
  private failed = false
  /** Why the source is no longer the version the upload began with (it starts over). */
  private changed: unknown
  private readonly etags: Array<string | null>
  /** CRCs of the parts sent by this run (--upload-checksum crc32 or crc64nvme: Complete lists them). */
  private readonly crcs: Array<UploadChecksum | undefined> = []
  private readonly name: string

  private constructor(
    private readonly row: ObjectRow,
    private readonly file: SourceVersion,
    private readonly partSize: number,
    private readonly count: number,
    private readonly uploadId: string,
    done: Map<number, string>,
    /** Parts an earlier run got partly into a store that keeps them in place: index to bytes held. */
    private readonly arrivedBefore: Map<number, number>,
    /** Split as the source object was (its ETag is then this one's): as the store told, or as guessed. */
    private readonly likeSource: 'told' | 'inferred' | undefined,
    private readonly ctx: TransferContext,
    private readonly track: Tracking,
  ) {
    this.etags = Array.from({ length: count }, (_, i) => done.get(i) ?? null)
    const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !done.has(i))
    this.parts = new ChunkedObject(missing, ctx.signal, this)
    this.name = nameOf(ctx, row.key)
  }

  static async open(row: ObjectRow, ctx: TransferContext, track: Tracking): Promise<MultipartUpload | undefined> {
    const { key } = row
    const { source } = ctx
    const name = nameOf(ctx, key)
    const file = await retriedCall(ctx, key, (signal) => source.current(key, signal), { hedge: 'head', hooks: retryHooks(ctx, name) })
    source.assertReadable(key) // before an upload is opened on the store for a file that cannot be read
    if (await alreadyInBucket(key, file, ctx)) {
      if (row.uploadId) await abandon(key, row.uploadId, ctx)
      complete(key, file.size, ctx, track, 'skipped', alreadyThere)
      return undefined
    }
    const unchanged = source.recorded(row, file)
    // Parts verified by their CRCs need not follow the upload's parts, as a multipart ETag's do.
    const crcs = partCrcs(file, ctx)
    const layout = track.hashParts.has(key) || crcs !== undefined ? undefined : await sourceLayout(key, file, ctx)
    const { partSize, likeSource } = planParts(file, layout, resumablePartSize(row, file.size, unchanged, ctx), ctx)
    const count = Math.ceil(file.size / partSize)
    const length = (i: number): number => Math.min(partSize, file.size - i * partSize)
    let uploadId: string | undefined
    let done = new Map<number, string>()
    const arrived = new Map<number, number>()
    if (row.uploadId && row.partSize === partSize && unchanged) {
      const held = await MultipartUpload.partsHeld(row, partSize, file.size, ctx, crcs)
      if (held) {
        uploadId = row.uploadId
        done = held
        // A part that got partly here has no CRC of its first bytes: it is fetched whole again
        // rather than read back.
        const progress = crcs === undefined ? await MultipartUpload.progress(row.key, uploadId, ctx) : new Map<number, number>()
        for (const [n, bytes] of progress) {
          if (!done.has(n - 1) && n <= count && bytes > 0 && bytes < length(n - 1)) arrived.set(n - 1, bytes)
        }
        if (!partsInPlace(ctx)) ctx.log.info(`resuming the upload of ${key}: the store holds ${done.size} of ${count} parts`)
        else if (done.size > 0 || arrived.size > 0) {
          const partly = arrived.size > 0 ? `, ${arrived.size} more partly` : ''
          ctx.log.info(`resuming ${key}: ${done.size} of ${count} parts already here${partly}`)
        }
      }
    }
    if (row.uploadId && uploadId === undefined) await abandon(key, row.uploadId, ctx)
    if (uploadId === undefined) {
      // A checksum each part carries is declared when the upload starts; parts streamed from
      // another store have none ahead of them (they are checked against their ETags instead).
      const algorithm = ctx.checksum === 'none' || !source.digestsAhead || source.copySource ? undefined : ctx.checksum
      uploadId = await retriedCall(ctx, key, (signal) => ctx.provider.multipart.create(key, {
        metadata: metadataOf(file, source),
        contentType: file.contentType, checksum: algorithm, size: file.size, partSize, signal,
      }), { hooks: retryHooks(ctx, name) })
    }
    if (!unchanged) ctx.store.putObject({ key, size: file.size, etag: file.etag, lastModified: new Date(mtimeMsOf(file.mtimeNs)) }, 'pending')
    ctx.store.setUpload(key, uploadId, partSize) // a new upload drops the parts of the old one
    await ctx.store.flush() // an upload the store knows of is recorded at once, so it is never orphaned
    let resumed = 0
    if (done.size > 0) {
      // The store's answer replaces what the record said: parts it no longer holds are sent again.
      ctx.store.clearParts(key)
      for (const [i, etag] of done) {
        ctx.store.recordPart(key, i, etag)
        resumed += length(i)
      }
    }
    for (const bytes of arrived.values()) resumed += bytes
    ctx.stats.resumedBytes += resumed
    ctx.stats.begin(name, file.size, resumed)
    return new MultipartUpload({ ...row, size: file.size }, file, partSize, count, uploadId, done, arrived, likeSource, ctx, track)
  }

  /** How far the parts not finished got, where the store keeps them as they arrive (part number to bytes). */
  private static async progress(key: string, uploadId: string, ctx: TransferContext): Promise<Map<number, number>> {
    const { progress } = ctx.provider.multipart
    if (progress === undefined) return new Map()
    return await retriedCall(ctx, `${key} (its parts' progress)`, (signal) => progress.call(ctx.provider.multipart, key, uploadId, signal))
  }

  /**
   * The parts of the recorded upload that the store holds and that match the file: the size of
   * the part, and the ETag recorded for it (or, for a part the store got but the record missed
   * in a crash, the MD5 of the file's range). Where the object is verified by its parts' CRCs
   * (`crcs`), only parts recorded with their CRC are held; the others are fetched again, never
   * read back. Undefined when the upload no longer exists or the store cannot list its parts (then
   * the caller aborts it and starts afresh: never failing every run).
   */
  private static async partsHeld(row: ObjectRow, partSize: number, size: number, ctx: TransferContext,
    crcs: CrcPromise | undefined): Promise<Map<number, string> | undefined> {
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
    const recorded = await ctx.store.doneParts(row.key)
    const held = new Map<number, string>()
    for (const p of parts) {
      const i = p.partNumber - 1
      const length = Math.min(partSize, size - i * partSize)
      if (i < 0 || length <= 0 || p.size !== length) continue
      const known = recorded.get(i)
      if (crcs !== undefined && crcOfReceipt(known)?.algorithm !== crcs.algorithm) continue
      // A store that lists no digest of a part (Azure) holds the recorded one: recorded only
      // after the store had acknowledged it, under this upload's own part names.
      if (known != null && (p.etag === undefined || known === p.etag)) held.set(i, known)
      else if (known === undefined && p.etag !== undefined && md5Hex.test(p.etag) && await ctx.source.partMd5(row.key, i * partSize, length) === p.etag) held.set(i, p.etag)
    }
    return held
  }

  private length(i: number): number {
    return Math.min(this.partSize, this.row.size - i * this.partSize)
  }

  *tasks(): Iterable<SizedTask> {
    const serverSide = copiesServerSide(this.ctx)
    for (const t of this.parts.tasks()) yield { bytes: t.index < 0 || serverSide ? 0 : this.length(t.index), run: t.run }
  }

  /**
   * Sends part `i` from the source, if it is still the version the upload began with, or has
   * the store copy it there; records it. A part an earlier run got partly into the store (kept
   * in place) is sent from where it got to.
   */
  async move(i: number): Promise<void> {
    const { ctx, row, file, name } = this
    const { source } = ctx
    const from = this.arrivedBefore.get(i) ?? 0
    const start = i * this.partSize + from
    const length = this.length(i) - from
    source.assertUnchanged(row.key, file)
    const what = `${name} (part ${i + 1}/${this.count})`
    const copyFrom = source.copySource?.(row.key, file)
    const copyPart = ctx.provider.multipart.copyPart?.bind(ctx.provider.multipart)
    const limit = copyFrom && copyPart ? stallSeconds(ctx) : requestLimit(ctx)
    const { etag, checksum } = await withRetry(ctx.retry, ctx.signal, () => watched(ctx.signal, limit, what, async (watch) => {
      if (copyFrom && copyPart) {
        const etag = await copyPart(row.key, this.uploadId, i + 1, { ...copyFrom, range: { start, end: start + length - 1 } }, watch.signal)
        ctx.stats.count(name, length)
        return { etag, checksum: undefined }
      }
      watch.pause() // hashing the range first is local work, not the request's idle time
      const checksum = await rangeChecksum(row.key, start, length, ctx)
      watch.touch()
      // Split as the source was, the parts are checked together against its ETag before the
      // upload completes (settle): hashing each on the way would only repeat that, on this CPU.
      const body = sourceBody(row.key, file, start, length, watch, ctx, checksum === undefined && !this.likeSource && from === 0 && hashesOnTheWay(ctx), from === 0)
      const began = performance.now()
      try {
        const etag = await ctx.provider.multipart.uploadPart(row.key, this.uploadId, i + 1, body.body, { size: length, offset: from, checksum, signal: body.signal })
        checkStreamed(what, etag, body.md5())
        ctx.budget?.recordRequest(length, (performance.now() - began) / 1000)
        return { etag, checksum }
      } catch (err) {
        ctx.stats.discard(name, body.sent())
        source.assertUnchanged(row.key, file)
        throw body.readError() ?? err
      }
    }), retryHooks(ctx, name, what))
    ctx.store.recordPart(row.key, i, etag)
    this.etags[i] = etag
    this.crcs[i] = isPartCrc(checksum) ? checksum : undefined
  }

  /** A source that changed under the upload starts it over (see restart); any other failure fails it. */
  partFailed(_i: number, err: unknown): void {
    if (this.ctx.source.isChange(err)) {
      this.changed = err
      return
    }
    this.failed = true
    fail(this.row.key, err, this.ctx, this.track)
  }

  /** Completes the upload once every part is in, checked against the source's digests; checks the ETag the store assembled. */
  async settle(allIn: boolean): Promise<void> {
    const { ctx, row, file } = this
    if (this.failed || (!allIn && !this.changed) || ctx.signal.aborted) {
      ctx.stats.end(this.name)
      this.track.release(row.key)
      return
    }
    try {
      if (!this.changed) {
        try {
          ctx.source.assertUnchanged(row.key, file)
        } catch (err) {
          if (!ctx.source.isChange(err)) throw err
          this.changed = err
        }
      }
      if (this.changed) return await this.restart(this.changed)
      const partEtags = this.etags as string[]
      const expected = partEtags.every((e) => md5Hex.test(e)) ? `${multipartDigest(partEtags)}-${this.count}` : undefined
      // Split as the source was (sourceLayout), the parts the store holds must make the source's
      // ETag: checked before the object is assembled, so that no wrong object is published.
      if (expected && this.likeSource && file.etag !== expected) {
        const mismatch = `${row.key}: the parts the store holds hash to ETag ${expected}, the source's is ${file.etag}`
        if (this.likeSource === 'told') {
          await abandon(row.key, this.uploadId, ctx) // its parts are wrong: the next run starts afresh
          throw new ChecksumMismatchError(mismatch)
        }
        // A guessed layout that does not match may be only a wrong guess: where the store can
        // read its bytes back, other usual part sizes are tried on them; else the object goes
        // again, each part hashed as it streams.
        if (ctx.provider.multipart.digest === undefined) {
          this.track.hashParts.add(row.key)
          return await this.restart(new SourceChangedError(`${mismatch}: the source was not split in the parts guessed from its size`))
        }
        const found = await this.otherLayoutMatches(file.etag!)
        if (!found) {
          ctx.store.clearParts(row.key) // every part is fetched again, into the same partial file
          throw new ChecksumMismatchError(`${row.key}: its bytes do not reproduce the multipart ETag under any usual part size: ` +
            'corrupted in transit (it is fetched again on the next run), or uploaded with unusual part sizes (then --verify false)')
        }
        ctx.log.debug(`${row.key}: verified with an upload part size of ${found} bytes`)
      }
      const crcs = partCrcs(file, ctx)
      if (crcs !== undefined) this.verifyCrcs(crcs)
      else await this.verifyWhole()
      const parts: Array<{ partNumber: number; etag: string; checksum?: UploadChecksum }> = []
      for (let i = 0; i < this.count; i++) {
        // Parts sent by an earlier run: their CRC is computed again from the file.
        const listsCrc = ctx.checksum === 'crc32' || ctx.checksum === 'crc64nvme'
        const checksum = listsCrc ? this.crcs[i] ?? await rangeChecksum(row.key, i * this.partSize, this.length(i), ctx) : undefined
        parts.push({ partNumber: i + 1, etag: this.etags[i]!, checksum })
      }
      const whole = ctx.checksum === 'crc64nvme' ? fullObjectCrc64(parts, (i) => this.length(i)) : undefined
      const object = { metadata: metadataOf(file, ctx.source), contentType: file.contentType, checksum: whole }
      let etag = await withRetry(ctx.retry, ctx.signal, () => ctx.provider.multipart.complete(row.key, this.uploadId, parts, ctx.signal, object), retryHooks(ctx, this.name))
      // Where the store keeps parts in place, their record stays: what was fetched and checked, part by part.
      ctx.store.setUpload(row.key, null, this.partSize, partsInPlace(ctx))
      // Some stores (Ceph) answer CompleteMultipartUpload without the ETag: ask for it.
      etag ||= (await retriedCall(ctx, row.key, (signal) => ctx.provider.stat(row.key, signal), { hedge: 'head' })).etag
      if (expected && etag && /^[0-9a-f]{32}-\d+$/.test(etag) && etag !== expected) {
        throw new ChecksumMismatchError(`${row.key}: the store assembled an object with ETag ${etag}, expected ${expected} from the parts sent`)
      }
      ctx.onWritten?.(row.key, object.metadata)
      complete(row.key, row.size, ctx, this.track)
    } catch (err) {
      fail(row.key, err, ctx, this.track)
    }
  }

  /**
   * The whole object checked against the CRC its store keeps, from the CRCs its parts were
   * recorded with, this run's and earlier runs' (partCrcs), combined: no byte is read again.
   * After a mismatch the next run fetches every part again.
   */
  private verifyCrcs(expected: CrcPromise): void {
    const { ctx, row } = this
    try {
      const ranges = this.etags.map((receipt, i) => {
        const crc = crcOfReceipt(receipt)
        if (crc?.algorithm !== expected.algorithm) {
          const why = `part ${i + 1} was recorded without its ${expected.algorithm} (receipt ${receipt})`
          throw new ChecksumMismatchError(`${row.key}: ${why}; every part is fetched again`)
        }
        return { digest: Buffer.from(crc.hex, 'hex'), length: this.length(i) }
      })
      checkWhole(row.key, expected, combineRanges(expected.algorithm, ranges).toString('hex'))
    } catch (err) {
      ctx.store.clearParts(row.key) // every part is fetched again, into the same partial file
      throw err
    }
    ctx.log.debug(`${row.key}: verified by the store's ${expected.source}, combined from the CRCs of ${this.count} parts`)
  }

  /**
   * Where the store reads its bytes back (local files): the whole object checked against a digest
   * of the source that no part's ETag gives (a plain MD5 ETag, Azure's Content-MD5, the Hub's
   * SHA-256) before it is published. After a mismatch the next run fetches every part again.
   */
  private async verifyWhole(): Promise<void> {
    const { ctx, row, file } = this
    const { digest } = ctx.provider.multipart
    if (!ctx.verify || digest === undefined || file.expected === undefined) return
    const expected = etagPromise(file.expected)
    const want = wholeDigestOf(expected)
    if (want === undefined) {
      if (expected.kind === 'multipart' && !this.likeSource) ctx.log.debug(`${row.key}: multipart ETag not checked (upload part layout unknown); size checked`)
      return
    }
    const actual = await digest.call(ctx.provider.multipart, row.key, this.uploadId, 0, row.size, want.algorithm, ctx.signal)
    try {
      checkWhole(row.key, expected, actual)
    } catch (err) {
      ctx.store.clearParts(row.key) // every part is fetched again, into the same partial file
      throw err
    }
  }

  /** The first other plausible upload part size under which the bytes held reproduce the source's multipart ETag. */
  private async otherLayoutMatches(etag: string): Promise<number | false> {
    const { ctx, row } = this
    const expected = digestFromEtag(etag)
    const digest = ctx.provider.multipart.digest!.bind(ctx.provider.multipart)
    if (expected.kind !== 'multipart') return false
    const size = row.size
    for (const p of uploadPartCandidates(size, expected.parts)) {
      if (p === this.partSize) continue
      const md5s = await Promise.all(Array.from({ length: expected.parts }, (_, i) =>
        digest(row.key, this.uploadId, i * p, Math.min(p, size - i * p), 'md5', ctx.signal)))
      if (multipartDigest(md5s) === expected.md5) return p
    }
    return false
  }

  /** The source changed under the upload: its parts are useless. Try again from scratch, a few times. */
  private async restart(err: unknown): Promise<void> {
    await abandon(this.row.key, this.uploadId, this.ctx)
    startOver(this.row.key, err, this.ctx, this.track)
  }
}

/** What the object carries: a copy the store makes keeps the source's metadata as it is, in parts as whole. */
function metadataOf(file: SourceVersion, source: TransferSource): Record<string, string> {
  return source.copySource ? file.ownMetadata ?? file.metadata : file.metadata
}

/**
 * `key`'s source changed while it was copied: it goes back to the pending work to be copied
 * again from its new version, up to --retries times; then it fails, saying it kept changing.
 */
function startOver(key: string, err: unknown, ctx: TransferContext, track: Tracking): void {
  const n = (track.attempts.get(key) ?? 0) + 1
  track.attempts.set(key, n)
  if (n > ctx.retry.retries) {
    track.attempts.delete(key)
    const message = `${errorMessage(err)}; it kept changing over ${n} attempts`
    return fail(key, err instanceof FileChangedError ? new FileChangedError(message) : new SourceChangedError(message), ctx, track)
  }
  ctx.stats.retries++
  ctx.log.info(`${errorMessage(err)}: uploading it again (attempt ${n + 1})`)
  ctx.stats.end(nameOf(ctx, key))
  track.again(key) // still pending: the scheduler claims it again
}

/** Aborts a multipart upload on the store, so that its parts are not kept (and billed). */
export async function abandon(key: string, uploadId: string, ctx: Pick<TransferContext, 'provider' | 'store' | 'log' | 'retry' | 'signal'>): Promise<void> {
  try {
    await retriedCall(ctx, key, (signal) => ctx.provider.multipart.abort(key, uploadId, signal))
    ctx.log.debug(`aborted the multipart upload ${uploadId} of ${key}`)
  } catch (err) {
    ctx.log.warn(`could not abort the multipart upload ${uploadId} of ${key} (soaker abort tries again): ${errorMessage(err)}`)
    return
  }
  if ((await ctx.store.getObject(key))?.uploadId === uploadId) ctx.store.setUpload(key, null, null)
}
