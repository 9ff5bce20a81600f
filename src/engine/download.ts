import type { Hash } from 'node:crypto'
import { unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { ChecksumMismatchError, errorCode, errorMessage, LocalWriteError, SizeMismatchError, SourceChangedError } from '../errors.js'
import type { ObjectDetails, Provider } from '../providers/provider.js'
import type { StateStore } from '../state/store.js'
import type { HashPool } from '../providers/local/hash-pool.js'
import { parseMode, parseMtime } from '../providers/file-metadata.js'
import { digestFromEtag, expectedDigest, multipartDigest, wholeDigestFor, wholeHash, type ExpectedDigest } from './integrity.js'
import { runStoppingErrno, type DirectoryMaker } from '../providers/local/local-files.js'
import type { Logger } from './logger.js'
import { metered } from './meter.js'
import { choosePartLayout, inferUploadParts, uploadPartCandidates, type PartLayout } from './part-size.js'
import { PartCheckpoints } from './part-checkpoints.js'
import { ChunkedObject, type ChunkHandler } from './chunked.js'
import { PartialFile } from '../providers/local/partial-file.js'
import type { PlannedObject } from './planner.js'
import type { Task } from './pool.js'
import type { RateLimiter } from './rate-limiter.js'
import { withRetry, type RetryPolicy } from './retry.js'
import { retryHooks } from './run-tasks.js'
import { retriedCall, watched, type IdleLimit, type StallWatch } from './stall-watch.js'
import type { Stats } from './stats.js'

export interface DownloadContext {
  provider: Provider
  store: StateStore
  stats: Stats
  log: Logger
  dirs: DirectoryMaker
  limiter?: RateLimiter
  retry: RetryPolicy
  signal: AbortSignal
  /** Check MD5 ETags where the store gives them. */
  verify: boolean
  /** Where the MD5s of ranged downloads are computed, off the event loop. */
  hashes: HashPool
  /** The user's --part-size; absent: automatic. */
  partSize?: number
  /** An error after which no object can succeed (disk full): the run stops. */
  stopRun: (err: unknown) => void
  /** How long a GET may go without a byte: learnt from the run's GETs, --timeout at most. */
  idle: IdleLimit
}

/**
 * Objects opened at once ahead of the workers. Opening a large object costs one or two HEADs
 * (its upload part layout, its current ETag): done one after another, over a link with latency,
 * they starved the pool of parts near the end of S1 (peak in flight 24 of a target of 32).
 */
const openAhead = 8

/**
 * Turns planned objects into tasks of one request each: a whole small object, or one byte range
 * of a large one. Large objects resume from the parts the state store has recorded. Up to
 * `openAhead` objects are being opened at a time; their tasks come out in planned order.
 */
export async function* downloadTasks(planned: AsyncIterable<PlannedObject>, ctx: DownloadContext): AsyncIterable<Task> {
  const source = planned[Symbol.asyncIterator]()
  const opening: Array<Promise<Iterable<Task>>> = []
  let exhausted = false
  for (;;) {
    while (!exhausted && opening.length < openAhead && !ctx.signal.aborted) {
      const r = await source.next()
      if (r.done) exhausted = true
      else opening.push(openObject(r.value, ctx))
    }
    const next = opening.shift()
    if (next === undefined || ctx.signal.aborted) return
    yield* await next
  }
}

/** The tasks of one object; none when it cannot be opened (then it is recorded as failed). */
async function openObject(obj: PlannedObject, ctx: DownloadContext): Promise<Iterable<Task>> {
  try {
    const layout = await layoutFor(obj, ctx)
    if (layout.count === 1) return [() => downloadWhole(obj, ctx)]
    return (await RangedDownload.open(obj, layout, ctx)).tasks()
  } catch (err) {
    fail(obj, err, ctx)
    return []
  }
}

async function layoutFor(obj: PlannedObject, ctx: DownloadContext): Promise<PartLayout> {
  const { size, etag, key } = obj.info
  const naive = choosePartLayout(size, ctx.partSize)
  if (naive.count === 1) return naive
  const expected = digestFromEtag(etag, false, ctx.provider.capabilities.etagDigest)
  if (expected.kind !== 'multipart') return naive
  const told = ctx.provider.uploadParts
    ? await retriedCall(ctx, `${key} (its part layout)`, (signal) => ctx.provider.uploadParts!(key, signal), { hedge: 'head' })
    : undefined
  return choosePartLayout(size, ctx.partSize, told ?? inferUploadParts(size, expected.parts))
}

/** Records `err` as the reason `obj` failed; errors that doom every object stop the run. */
function fail(obj: PlannedObject, err: unknown, ctx: DownloadContext): void {
  ctx.stats.end(obj.name)
  if (ctx.signal.aborted) return // interrupted, not failed: the object stays pending
  ctx.store.setStatus(obj.info.key, 'failed', errorMessage(err), errorCode(err))
  ctx.stats.fail(obj.name, errorCode(err), errorMessage(err))
  ctx.log.warn(`failed ${obj.info.key}: ${errorMessage(err)}`)
  if (err instanceof LocalWriteError && runStoppingErrno.includes(err.errno ?? '')) ctx.stopRun(err)
}

/**
 * Writes a response body at `position`, hashing it on the way when asked. Returns the byte count.
 * The attempt's stall watch sees every chunk (the caller has it guard the response stream, so
 * that a body whose chunks stop is cancelled).
 */
async function writeBody(name: string, body: AsyncIterable<Buffer>, file: PartialFile, position: number, hash: Hash | undefined, watch: StallWatch, ctx: DownloadContext): Promise<number> {
  let n = 0
  ctx.stats.receivingBegin()
  try {
    for await (const chunk of metered(name, body, ctx.stats, ctx.limiter, ctx.signal, watch)) {
      n += chunk.length // counted by the meter: discarded below if this attempt fails
      hash?.update(chunk)
      file.writeAt(chunk, position + n - chunk.length)
    }
  } catch (err) {
    ctx.stats.discard(name, n)
    throw err
  } finally {
    ctx.stats.receivingEnd()
  }
  return n
}

/**
 * Gives the verified file its final mtime and mode and renames it into place. The mtime and mode
 * an upload stored in the object's metadata win over the object's LastModified; the state store
 * remembers the mtime given, so that the next run recognises the file as done.
 */
async function publish(obj: PlannedObject, file: PartialFile, metadata: Record<string, string> | undefined, ctx: DownloadContext): Promise<void> {
  const mtimeMs = parseMtime(metadata) ?? obj.info.lastModified?.getTime()
  await file.publish(obj.path, mtimeMs !== undefined ? mtimeMs / 1000 : undefined, parseMode(metadata))
  // Recorded whatever its origin, so that the file is known as done while its ETag stays the
  // same, even when a later listing dates the object differently (the Hub dates every file
  // with its snapshot's commit).
  if (mtimeMs !== undefined) ctx.store.setFileMtime(obj.info.key, Math.floor(mtimeMs))
}

function complete(obj: PlannedObject, ctx: DownloadContext): void {
  ctx.store.setStatus(obj.info.key, 'done')
  ctx.stats.done++
  ctx.stats.doneBytes += obj.info.size
  ctx.stats.emit({ type: 'object_done', key: obj.name, size: obj.info.size, seconds: ctx.stats.end(obj.name) })
  ctx.log.debug(`done ${obj.info.key}`)
}

async function createPartial(obj: PlannedObject, ctx: DownloadContext): Promise<PartialFile> {
  await ctx.dirs.ensure(dirname(obj.path))
  return await PartialFile.create(obj.partial)
}

/** One GET for the whole object, hashed as it streams; verified before the rename. */
async function downloadWhole(obj: PlannedObject, ctx: DownloadContext): Promise<void> {
  const { key, size, etag } = obj.info
  ctx.stats.begin(obj.name, size)
  try {
    const idle = ctx.idle.request()
    await withRetry(ctx.retry, ctx.signal, () => watched(ctx.signal, idle, key, async (watch) => {
      const { body, details } = await ctx.provider.read(key, { ifMatch: etag, signal: watch.signal })
      watch.guard(body)
      const file = await createPartial(obj, ctx)
      try {
        const expected = ctx.verify ? expectedDigest(etag, details, ctx.provider.capabilities.etagDigest) : { kind: 'none' as const }
        const hash = wholeHash(wholeDigestFor(expected), size)
        const n = await writeBody(obj.name, body, file, 0, hash, watch, ctx)
        watch.pause() // the bytes are in; verifying and publishing them is local work
        try {
          if (n !== size) throw new SizeMismatchError(`${key}: expected ${size} bytes, received ${n}`)
          checkDigest(key, expected, hash.digest('hex'), [])
        } catch (err) {
          ctx.stats.discard(obj.name, n) // a bad copy is fetched again: its bytes were not progress
          throw err
        }
      } catch (err) {
        file.close()
        throw err
      }
      await publish(obj, file, details.metadata, ctx)
    }), retryHooks(ctx, obj.name))
    complete(obj, ctx)
  } catch (err) {
    if (err instanceof SourceChangedError) await unlink(obj.partial).catch(() => undefined)
    fail(obj, err, ctx)
  }
}

const digestNames = { md5: 'MD5', sha256: 'SHA-256', 'git-sha1': 'git blob SHA-1' }

/**
 * `whole` is the digest of all the bytes (of wholeDigestFor(expected): MD5 unless the store
 * promises another); `partMd5s` the MD5s of the upload-aligned ranges, if any.
 */
function checkDigest(key: string, expected: ExpectedDigest, whole: string | undefined, partMd5s: string[]): void {
  if (expected.kind === 'none') return
  let actual: string | undefined
  if (expected.kind === 'md5' || expected.kind === 'whole') actual = whole
  else {
    // A one-part multipart object read in one GET: its ETag is the MD5 of that part's MD5.
    if (partMd5s.length === 0 && expected.parts === 1 && whole) partMd5s = [whole]
    if (partMd5s.length === expected.parts) actual = multipartDigest(partMd5s)
  }
  const want = expected.kind === 'whole' ? expected.hex : expected.md5
  if (actual !== undefined && actual !== want) {
    const name = digestNames[wholeDigestFor(expected)]
    const source = (expected.kind === 'whole' && expected.source) || 'ETag'
    throw new ChecksumMismatchError(`${key}: ${name} ${actual} does not match the store's ${source} ${want}`)
  }
}

/**
 * The recorded progress that still applies: of parts not finished, with a byte count inside the
 * part (a count the layout cannot hold is dropped, and that part is fetched whole).
 */
function usableProgress(progress: Map<number, number>, done: Map<number, string | null>, layout: PartLayout, size: number): Map<number, number> {
  const usable = new Map<number, number>()
  for (const [i, n] of progress) {
    const length = Math.min(layout.partSize, size - i * layout.partSize)
    if (!done.has(i) && i < layout.count && n > 0 && n <= length) usable.set(i, n)
  }
  return usable
}

/**
 * A large object fetched as byte ranges in parallel into one partial file. Each finished range
 * is recorded in the state store before it counts, and the ranges in flight are checkpointed
 * while they arrive (PartCheckpoints), so a later run fetches only the rest: the missing parts,
 * and each unfinished part from the byte its checkpoint reached.
 */
class RangedDownload implements ChunkHandler {
  private readonly parts: ChunkedObject
  /** MD5 of each part where one is computed (upload-aligned ranges, --verify on). */
  private readonly partMd5s: Array<string | null>
  private readonly checkpoints: PartCheckpoints

  private constructor(
    private readonly obj: PlannedObject,
    private readonly layout: PartLayout,
    private readonly ctx: DownloadContext,
    private readonly file: PartialFile,
    /** Parts recorded as finished by an earlier run, with their MD5s where computed. */
    doneBefore: Map<number, string | null>,
    /** Unfinished parts an earlier run checkpointed: index to the bytes of it durably in the file. */
    private readonly arrivedBefore: Map<number, number>,
    /** What the store's stat said of the object: encryption, an MD5 kept beside the ETag, metadata. */
    private readonly details: ObjectDetails,
  ) {
    const missing = Array.from({ length: layout.count }, (_, i) => i).filter((i) => !doneBefore.has(i))
    this.parts = new ChunkedObject(missing, ctx.signal, this)
    this.partMd5s = Array.from({ length: layout.count }, (_, i) => doneBefore.get(i) ?? null)
    this.checkpoints = new PartCheckpoints(obj.info.key, file, ctx.store, arrivedBefore)
  }

  static async open(obj: PlannedObject, layout: PartLayout, ctx: DownloadContext): Promise<RangedDownload> {
    const { key, size } = obj.info
    const details = await retriedCall(ctx, key, (signal) => ctx.provider.stat(key, signal), { hedge: 'head' })
    if (details.etag !== obj.info.etag) throw new SourceChangedError(`${key} changed since it was listed (its ETag no longer matches)`)
    ctx.store.setPartSize(key, layout.partSize)
    const done = await ctx.store.doneParts(key)
    const arrived = usableProgress(await ctx.store.partProgress(key), done, layout, size)
    const recorded = done.size > 0 || arrived.size > 0
    let file = recorded ? PartialFile.reopen(obj.partial, size) : undefined
    if (file === undefined && recorded) {
      ctx.store.clearParts(key) // the recorded parts are not on disk any more
      done.clear()
      arrived.clear()
    }
    file ??= await createPartial(obj, ctx)
    try {
      file.setLength(size)
    } catch (err) {
      file.close()
      throw err
    }
    const r = new RangedDownload(obj, layout, ctx, file, done, arrived, details)
    let resumed = 0
    for (const i of done.keys()) resumed += r.length(i)
    for (const n of arrived.values()) resumed += n
    ctx.stats.resumedBytes += resumed
    ctx.stats.begin(obj.name, size, resumed)
    if (recorded) {
      const partly = arrived.size > 0 ? `, ${arrived.size} more partly` : ''
      ctx.log.info(`resuming ${key}: ${done.size} of ${layout.count} parts already here${partly}`)
    }
    return r
  }

  private length(i: number): number {
    return Math.min(this.layout.partSize, this.obj.info.size - i * this.layout.partSize)
  }

  *tasks(): Iterable<Task> {
    for (const t of this.parts.tasks()) yield t.run
  }

  /** Fetches byte range `i` into the partial file, from its checkpoint on, and records it. */
  async move(i: number): Promise<void> {
    const { ctx, obj } = this
    const start = i * this.layout.partSize
    const length = this.length(i)
    const end = start + length - 1
    // Bytes of this part an earlier run left durable in the file: the GET starts after them.
    const from = this.arrivedBefore.get(i) ?? 0
    const what = `${obj.name} (part ${i + 1}/${this.layout.count})`
    const idle = ctx.idle.request()
    const md5 = await withRetry(ctx.retry, ctx.signal, () => watched(ctx.signal, idle, what, async (watch) => {
      if (from < length) {
        const { body } = await ctx.provider.read(obj.info.key, { range: { start: start + from, end }, ifMatch: obj.info.etag, signal: watch.signal })
        watch.guard(body)
        const n = await writeBody(obj.name, this.checkpoints.track(i, from, body), this.file, start + from, undefined, watch, ctx)
        if (n !== length - from) {
          ctx.stats.discard(obj.name, n)
          throw new SizeMismatchError(`${obj.info.key}: part ${i + 1} expected ${length - from} bytes from its byte ${from}, received ${n}`)
        }
      }
      // Each range is one upload part: its MD5 is a term of the multipart ETag. It is read back
      // from the file over the whole range, so a prefix from an earlier run is hashed too.
      if (!ctx.verify || !this.layout.alignedWithUpload) return null
      watch.pause() // the bytes are in; reading them back is not the request's idle time
      return await ctx.hashes.md5(obj.partial, start, length)
    }), retryHooks(ctx, obj.name, what))
    this.checkpoints.untrack(i)
    ctx.store.recordPart(obj.info.key, i, md5)
    this.partMd5s[i] = md5
  }

  /** The first part that failed for good fails the object; its partial file stays for a resume. */
  partFailed(_i: number, err: unknown): void {
    if (err instanceof SourceChangedError) this.ctx.store.clearParts(this.obj.info.key)
    fail(this.obj, err, this.ctx)
  }

  /** The first other plausible upload part size under which the file reproduces the ETag. */
  private async otherLayoutMatches(etagMd5: string, parts: number): Promise<number | false> {
    const { obj, ctx, layout } = this
    const size = obj.info.size
    for (const p of uploadPartCandidates(size, parts)) {
      if (p === layout.partSize) continue
      const md5s = await Promise.all(Array.from({ length: parts }, (_, i) => ctx.hashes.md5(obj.partial, i * p, Math.min(p, size - i * p))))
      if (multipartDigest(md5s) === etagMd5) return p
    }
    return false
  }

  /** Verifies and publishes the object once every part is in; closes the file in any case. */
  async settle(allIn: boolean): Promise<void> {
    this.checkpoints.stop()
    const { ctx, obj, file } = this
    if (!allIn) {
      ctx.stats.end(obj.name)
      file.close()
      return
    }
    try {
      const expected = ctx.verify ? expectedDigest(obj.info.etag, this.details, ctx.provider.capabilities.etagDigest) : { kind: 'none' as const }
      const aligned = this.layout.alignedWithUpload ? (this.partMd5s as string[]) : []
      // A whole-object digest over ranged parts needs the file read once more; a multipart ETag
      // is checked from the per-part MD5s when the ranges follow the upload parts, else not at all.
      const whole = expected.kind === 'md5' || expected.kind === 'whole'
        ? await ctx.hashes.digest(obj.partial, 0, obj.info.size, wholeDigestFor(expected))
        : undefined
      if (expected.kind === 'multipart' && aligned.length === 0) ctx.log.debug(`${obj.info.key}: multipart ETag not checked (upload part layout unknown); size checked`)
      try {
        checkDigest(obj.info.key, expected, whole, aligned)
      } catch (err) {
        // An inferred upload part size may simply be wrong: the bytes are right if any other
        // plausible part size reproduces the ETag. Only then is a mismatch not corruption.
        const found = this.layout.inferred && expected.kind === 'multipart' && await this.otherLayoutMatches(expected.md5, expected.parts)
        if (!found) {
          ctx.store.clearParts(obj.info.key) // a corrupt file is fetched again from scratch
          throw this.layout.inferred
            ? new ChecksumMismatchError(`${obj.info.key}: its bytes do not reproduce the multipart ETag under any usual part size: ` +
                'corrupted in transit (it is fetched again on the next run), or uploaded with unusual part sizes (then --verify false)', { cause: err })
            : err
        }
        ctx.log.debug(`${obj.info.key}: verified with an upload part size of ${found} bytes`)
      }
      await publish(obj, file, this.details.metadata, ctx)
      complete(obj, ctx)
    } catch (err) {
      file.close()
      fail(obj, err, ctx)
    }
  }
}
