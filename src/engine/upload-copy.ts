import { statSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { errorMessage, LocationError, UsageError } from '../errors.js'
import type { Location } from '../location.js'
import { sourceHasOwnSettings, sourceOptions, type TransferOptions } from '../options.js'
import type { ObjectInfo } from '../providers/provider.js'
import { kindOf, openProvider, writableSchemes, type RemoteLocation } from '../providers/registry.js'
import { ReadOnlyStore } from '../state/read-only-store.js'
import type { StateStore } from '../state/store.js'
import { defaultStatePath, type CopyEnvironment, type CopyResult } from './copy.js'
import { HashPool } from '../providers/local/hash-pool.js'
import { resolveSource } from './open-source.js'
import { endRun, RunScope, runTuned } from './run-tasks.js'
import { Planning } from './claims.js'
import { abandon, minUploadPartSize, recordWalk, uploadPartSize, transferTasks, type TransferContext } from './pipeline.js'
import { UploadBudget } from './upload-budget.js'
import { LocalFiles, RemoteObjects, type TransferSource } from './transfer-source.js'
import { fileFromStats, walk, type WalkEntry } from './walk.js'
import { onlyShard } from './shard.js'
import { openJobState } from './job-state.js'
import { listedAfter, sharedPlanning, startHeartbeat } from './shared-listing.js'

const dryRunListed = 20

interface SourceShape {
  entries: AsyncIterable<WalkEntry>
  /**
   * The entries after the one of `rel` (null: all of them), in key order, for a shared job's
   * lister that takes over: a store's listing, or a local tree walked in order.
   */
  entriesAfter: (rel: string | null) => AsyncIterable<WalkEntry>
  keyFor: (rel: string) => string
  /** The source of a destination key: its file, or its object. */
  source: TransferSource
  /** What the destination listing covers. */
  listPrefix: string
  /** For the state database's name and messages: the local root, or the source's URI. */
  root: string
  /**
   * The key that decides an entry's static shard: an object's key in its bucket; a file's path
   * relative to the directory (a single file: its name).
   */
  shardKey: (entry: WalkEntry) => string
}

/**
 * `./dir s3://b/p` uploads the tree under `dir` as `p/<relative path>`; `./file s3://b/p/` uploads
 * `p/file`; `./file s3://b/p` uploads it as the key `p`.
 */
function localShape(source: Extract<Location, { kind: 'local' }>, destKey: string, followSymlinks: boolean, hashes: HashPool): SourceShape {
  const root = resolve(source.path)
  let st
  try {
    st = statSync(root, { bigint: true })
  } catch (err) {
    throw new LocationError(`Cannot read the source \`${source.path}\`: ${errorMessage(err)}`, { cause: err })
  }
  if (st.isFile()) {
    const key = destKey === '' || destKey.endsWith('/') ? destKey + basename(root) : destKey
    const file = fileFromStats('', root, st)
    const entriesAfter = async function* (rel: string | null): AsyncIterable<WalkEntry> { if (rel === null) yield file }
    return {
      entries: entriesAfter(null), entriesAfter, keyFor: () => key, source: new LocalFiles(() => root, hashes), listPrefix: key, root,
      shardKey: () => basename(root),
    }
  }
  if (!st.isDirectory()) throw new LocationError(`Expected a file or a directory to upload, got \`${source.path}\``)
  const prefix = destKey === '' ? '' : destKey.replace(/\/*$/, '/')
  return {
    entries: walk(root, { followSymlinks }),
    // In order only where a shared job needs it: each directory is then read whole first.
    entriesAfter: (after) => walk(root, { followSymlinks, ordered: { after } }),
    keyFor: (rel) => prefix + rel,
    source: new LocalFiles((key) => join(root, ...key.slice(prefix.length).split('/')), hashes),
    listPrefix: prefix,
    root,
    shardKey: (entry) => entry.rel,
  }
}

/**
 * `s3://a/p s3://b/q` copies each object under `p/` to `q/<key relative to p/>`, as an upload of
 * a tree does; `s3://a/obj s3://b/q/` copies the one object to `q/obj`, `s3://a/obj s3://b/q` to `q`.
 * Where both are one store (and --server-side-copy allows), the store copies the bytes itself.
 */
async function remoteShape(source: RemoteLocation, destination: RemoteLocation, options: TransferOptions, run: RunScope): Promise<SourceShape> {
  const provider = run.own(await openProvider(source, { options: sourceOptions(options), env: process.env, retry: run.withRetry }))
  await provider.check(run.signal)
  const shape = await resolveSource(provider, source.key, source.uri, run.signal)
  // One kind opened with one endpoint and credentials is one store; where its providers copy
  // (copyObject: S3's CopyObject, GCS's rewrite), the store copies the bytes itself.
  const sameStore = options.serverSideCopy && source.kind === destination.kind && provider.copyObject !== undefined && !sourceHasOwnSettings(options)
  const base = source.uri.slice(0, source.uri.length - source.key.length)
  const bucket = sameStore ? { bucket: source.bucket } : undefined
  if (shape.mode === 'object') {
    const { info } = shape
    const destKey = destination.key
    const key = destKey === '' || destKey.endsWith('/') ? destKey + basename(info.key) : destKey
    const entriesAfter = (rel: string | null): AsyncIterable<WalkEntry> =>
      listedEntries((async function* () { if (rel === null) yield info })(), () => '', base)
    return {
      entries: entriesAfter(null), entriesAfter,
      keyFor: () => key, source: new RemoteObjects(provider, () => info.key, base, { sameStore: bucket, verify: options.verify }), listPrefix: key, root: source.uri,
      shardKey: () => info.key,
    }
  }
  const from = shape.prefix
  const to = destination.key === '' ? '' : destination.key.replace(/\/*$/, '/')
  const entriesAfter = (rel: string | null): AsyncIterable<WalkEntry> => {
    const after = rel === null ? null : from + rel
    return listedEntries(listedAfter(provider.list(from, run.signal, after ?? undefined), after), (key) => key.slice(from.length), base)
  }
  return {
    entries: entriesAfter(null),
    entriesAfter,
    keyFor: (rel) => to + rel,
    source: new RemoteObjects(provider, (key) => from + key.slice(to.length), base, { sameStore: bucket, verify: options.verify }),
    listPrefix: to,
    root: source.uri.replace(/\/+$/, ''),
    shardKey: (entry) => from + entry.rel,
  }
}

/**
 * A listing as the entries of a walk: objects, and `dir/` markers (empty folders) as such.
 * `relOf`: an object's path below the listed prefix; `base`: the source's URI without its key.
 * Exported for the in-process tests of the pipeline, which wire a copy between stores as here.
 */
export async function* listedEntries(listing: AsyncIterable<ObjectInfo>, relOf: (key: string) => string, base: string): AsyncIterable<WalkEntry> {
  for await (const info of listing) {
    const rel = relOf(info.key)
    const path = base + info.key
    if (info.key.endsWith('/') && info.size === 0) {
      if (rel !== '') yield { kind: 'empty-dir', rel, path }
      continue
    }
    const mtimeNs = BigInt(info.lastModified?.getTime() ?? 0) * 1_000_000n
    yield { kind: 'file', rel, path, size: info.size, mtimeNs, mode: 0, etag: info.etag }
  }
}

/**
 * Uploads a local file or tree to a store that takes writes (S3, Azure Blob, GCS), or copies the
 * objects of another store (or of another bucket of the same one) there. Throws for problems of
 * the whole job.
 */
export async function copyToStore(source: Location, destination: Location, options: TransferOptions, env: CopyEnvironment): Promise<CopyResult> {
  if (destination.kind === 'local' || !kindOf(destination.kind)?.writable) {
    throw new UsageError(`Expected an ${writableSchemes()} destination (soaker cp ./dir s3://bucket/prefix), got \`${source.uri}\` → \`${destination.uri}\``)
  }
  if (options.partSize !== undefined && options.partSize < minUploadPartSize) {
    throw new UsageError(`Expected \`--part-size\` to be at least 5MiB for uploads (S3's smallest part), got \`${options.partSize}\` bytes`)
  }
  const { stats, log } = env
  const run = new RunScope(env.signal, options, env.log)
  const { signal, retry } = run
  const hashes = run.own(new HashPool())
  try {
    const shape = source.kind === 'local'
      ? localShape(source, destination.key, options.followSymlinks, hashes)
      : await remoteShape(source, destination, options, run)
    const opened = run.own(await openProvider(destination, { options, env: process.env, retry: run.withRetry }))
    if (!opened.put || !opened.multipart) throw new UsageError(`Expected a store that takes writes, got \`${destination.uri}\``)
    const provider = opened as TransferContext['provider']
    await provider.check(signal)
    const state = await openJobState(options.state ?? defaultStatePath(shape.root, destination.uri.replace(/\/+$/, ''), options.shard),
      { source: shape.root, destination: destination.uri }, options, run, log, { walksAgain: true })
    const { db, shared } = state
    const statePath = state.label
    const store: StateStore = options.dryRun ? new ReadOnlyStore(db) : db
    // Every upload and copy plans through here: of a static shard, only the entries that are its own.
    const entries = onlyShard(shape.entries, options.shard, shape.shardKey)
    if (options.retryFailed) log.info('uploads walk the source again on every run: failed and changed files are retried, uploaded ones skipped')

    const walkCtx = {
      store, stats, log, keyFor: shape.keyFor, signal,
      abandon: (key: string, uploadId: string) => { void abandon(key, uploadId, { provider, store, log, retry, signal }) },
    }
    if (options.dryRun) {
      const first: string[] = []
      const onPlanned = (key: string): void => { if (first.length < dryRunListed) first.push(key) }
      await recordWalk(entries, { ...walkCtx, abandon: () => undefined, onPlanned })
      return { status: 'ok', snapshot: stats.snapshot(), failures: [], statePath, plan: { first, kept: false } }
    }

    // The destination's listing, to recognise files uploaded before without a record of it here.
    // In a shared job the worker that lists takes it, before it plans anything.
    const listDestination = async (): Promise<void> => {
      store.clearRemote()
      for await (const info of provider.list(shape.listPrefix, signal)) store.putRemote(info)
    }
    if (!shared) await listDestination()
    const runId = await store.beginRun(source.uri, destination.uri)
    // A worker of a shared job keeps its claims by renewing them, and tells the others what it did.
    if (shared) run.own(startHeartbeat(shared.job, stats, options.lease * 1000, log))
    const how = shape.source.copySource ? 'copying (server-side)' : source.kind === 'local' ? 'uploading' : 'copying'
    log.info(`${how} ${shape.root} → ${destination.uri} (state: ${statePath})`)

    const ctx: TransferContext = {
      provider, store, stats, log, retry, signal, source: shape.source, checksum: options.uploadChecksum, order: options.order, verify: options.verify,
      partSize: options.partSize, keyFor: shape.keyFor, limiter: run.limiter, stopRun: run.stop, idle: run.idle,
      // The budget's floor is counted in parts of the size chosen before anything is measured.
      budget: new UploadBudget(() => stats.transferred, uploadPartSize(0, options.partSize)),
    }
    // A walk that breaks off stops the run: what it would have found cannot be told from what is
    // gone (and a shared job's listing is not recorded as ended).
    const walk = async (listed: AsyncIterable<WalkEntry>, planning: Planning, recorded?: (rel: string) => void): Promise<void> => {
      try {
        await recordWalk(onlyShard(listed, options.shard, shape.shardKey), { ...walkCtx, recorded }, planning)
      } catch (err) {
        ctx.stopRun(err)
        throw err
      }
    }
    const walking = shared
      ? sharedPlanning(shared.job, shared.listing, '', signal, async (after, planning) => {
        if (after === null) await listDestination()
        await walk(shape.entriesAfter(after), planning, (rel) => shared.listing.planned('', rel))
      })
      : Planning.run((planning) => walk(shape.entries, planning).catch(() => undefined))
    const runCtx = { stats, log, store, runId, options, signal }
    try {
      await runTuned(transferTasks(ctx, walking.planning), runCtx)
    } finally {
      await walking.finished
    }
    const open = (await store.openUploads()).length
    if (open > 0) {
      log.info(`${open} multipart upload${open === 1 ? ' is' : 's are'} kept on the store for the next run to resume; ` +
        '`soaker abort` with the same arguments deletes them instead')
    }
    return await endRun(runCtx, env.signal.aborted, run.stoppedBy, statePath)
  } finally {
    await run.close()
  }
}
