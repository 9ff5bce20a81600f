import { lstatSync, type Stats as FileStats } from 'node:fs'
import { dirname } from 'node:path'
import { errorCode, errorMessage, UnsafeKeyError } from '../errors.js'
import type { ObjectInfo } from '../providers/provider.js'
import type { ObjectRow, StateStore } from '../state/store.js'
import { batches } from './batches.js'
import type { FolderConflicts } from './folder-conflicts.js'
import type { DirectoryMaker } from '../providers/local/local-files.js'
import type { Logger } from './logger.js'
import type { Stats } from './stats.js'

export interface PlanContext {
  store: StateStore
  stats: Stats
  log: Logger
  dirs: DirectoryMaker
  /** Decide only: no directories made, no partial files removed (the store is read-only too). */
  dryRun?: boolean
  /**
   * Local path for a full key; the prefix itself maps to the destination root. Throws
   * UnsafeKeyError for keys that cannot be files.
   */
  pathFor: (key: string) => string
  /** Gives up the unfinished write (a partial file, its parts) of an object that changed since. */
  abandon?: (key: string, uploadId: string) => Promise<void>
  /** Refuses a key that is a file where another needs a folder; absent for a single object. */
  conflicts?: FolderConflicts
  /** The name of a key in the run's stats and events: its key, qualified by its source in a run of several. */
  nameOf: (key: string) => string
  /**
   * The object's own mtime (ms) from its metadata, if it has one: asked (one HEAD) only for an
   * object without a record whose file has its size but not its Last-Modified. Never rejects.
   */
  ownMtime?: (key: string) => Promise<number | undefined>
  /**
   * Hears each listed key once its row is written, before anything else is awaited: a shared
   * job's listing cursor, committed with the rows written before it.
   */
  recorded?: (key: string) => void
}

/** Listed objects looked up in the state store at once, at most. */
const lookupBatch = 256

/**
 * The file `st` (see fileAt) has the object's size, and the mtime recorded for it or the
 * object's Last-Modified to the second (S3 times have second precision).
 */
function sameLocalFile(st: FileStats | undefined, info: ObjectInfo, fileMtime: number | null): boolean {
  if (st?.size !== info.size) return false
  // The mtime a download gave the file from the object's metadata (an upload's original mtime).
  if (fileMtime !== null && Math.abs(st.mtimeMs - fileMtime) < 1) return true
  if (info.lastModified === undefined) return false
  return Math.floor(st.mtimeMs / 1000) === Math.floor(info.lastModified.getTime() / 1000)
}

/**
 * The regular file at `path`, if there is one. A symbolic link is not the file, whatever it
 * points to: it is replaced. Synchronous: a stat answered from the dentry cache costs
 * microseconds, a thread-pool round trip far more.
 */
function fileAt(path: string): FileStats | undefined {
  try {
    const st = lstatSync(path, { throwIfNoEntry: false })
    return st?.isFile() ? st : undefined
  } catch {
    return undefined // e.g. ENOTDIR: a file where a folder of the path should be
  }
}

/**
 * Compares each listed object with the state store and the destination, records a row for it,
 * and yields the name (see PlanContext.nameOf) of each that needs a transfer: the transfers
 * claim its pending row from the store. Rows are written as the listing streams in, so a crash
 * at any point leaves a store the next run can continue from.
 */
export async function* plan(listing: AsyncIterable<ObjectInfo>, ctx: PlanContext): AsyncIterable<string> {
  const { store, stats, log } = ctx
  stats.listingBegin()
  try {
    for await (const batch of batches(listing, lookupBatch)) {
      const rows = await store.lookup(batch.map((info) => info.key))
      await ctx.conflicts?.prefetch(batch.map((info) => info.key))
      for (const info of batch) {
        const planned = await planOne(info, rows.get(info.key), ctx)
        ctx.recorded?.(info.key)
        if (planned !== undefined) yield planned
      }
    }
  } finally {
    stats.listingEnd()
  }
}

/** The decision on one listed object, given its row: recorded; its name is returned when it needs a transfer. */
async function planOne(info: ObjectInfo, row: ObjectRow | undefined, ctx: PlanContext): Promise<string | undefined> {
  const { store, stats, log } = ctx
  stats.listed++
  stats.listedBytes += info.size
  if (info.key.endsWith('/')) {
    await folderMarker(info, ctx)
    return
  }
  let path: string
  try {
    path = ctx.pathFor(info.key)
    await ctx.conflicts?.check(info.key)
    ctx.dirs.checkExisting(dirname(path))
  } catch (err) {
    if (!(err instanceof UnsafeKeyError)) throw err
    store.putObject(info, 'failed', err.message, err.code)
    stats.fail(ctx.nameOf(info.key), err.code, err.message)
    log.warn(`skipping unsafe key: ${err.message}`)
    return
  }
  const sameVersion = row !== undefined && row.etag === (info.etag ?? null) && row.size === info.size
  if (row !== undefined && !sameVersion) {
    log.info(`${info.key} changed since the last run (ETag ${row.etag} → ${info.etag}); starting it over`)
    if (!ctx.dryRun && row.uploadId) await ctx.abandon?.(info.key, row.uploadId)
  }
  // Files only reach their final path verified, with the object's mtime, so a matching file
  // there is done, whether this store recorded it, lost the record, or another tool put it there.
  const st = fileAt(path)
  let ownMtime: number | undefined
  let same = sameLocalFile(st, info, sameVersion ? row.fileMtime : null)
  if (!same && !sameVersion && st?.size === info.size && ctx.ownMtime) {
    // Without a record of it, a file given the object's own mtime (its metadata) matches that.
    ownMtime = await ctx.ownMtime(info.key)
    same = ownMtime !== undefined && Math.abs(st.mtimeMs - ownMtime) < 1
  }
  if (same) {
    if (!sameVersion || (row.status !== 'done' && row.status !== 'skipped')) {
      store.putObject(info, 'skipped', 'already in the destination with the same size and mtime')
      if (ownMtime !== undefined) store.setFileMtime(info.key, Math.floor(ownMtime))
    }
    stats.skip(ctx.nameOf(info.key), info.size, 'already in the destination with the same size and mtime')
    return
  }
  if (sameVersion) store.setStatus(info.key, 'pending') // keeps its finished parts
  else store.putObject(info, 'pending')
  stats.planned++
  stats.plannedBytes += info.size
  return ctx.nameOf(info.key)
}

/** Keys ending in `/` are folder markers: they become (empty) directories, never files. */
async function folderMarker(info: ObjectInfo, ctx: PlanContext): Promise<void> {
  try {
    const dir = ctx.pathFor(info.key.replace(/\/+$/, ''))
    await ctx.conflicts?.check(info.key)
    ctx.dirs.checkExisting(dir)
    if (!ctx.dryRun) await ctx.dirs.ensure(dir)
    const reason = 'folder marker (created as a directory)'
    ctx.store.putObject(info, 'skipped', reason)
    ctx.stats.skip(ctx.nameOf(info.key), info.size, reason)
  } catch (err) {
    ctx.store.putObject(info, 'failed', errorMessage(err), errorCode(err))
    ctx.stats.fail(ctx.nameOf(info.key), errorCode(err), errorMessage(err))
    ctx.log.warn(`folder marker ${JSON.stringify(info.key)}: ${errorMessage(err)}`)
  }
}
