import { rmdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { errorCode, errorMessage, LocationError, SoakerError } from '../errors.js'
import { sourceOptions, type TransferOptions } from '../options.js'
import { partialDirOf } from '../providers/local/keys.js'
import { LocalProvider } from '../providers/local/local-provider.js'
import { parseMtime } from '../providers/file-metadata.js'
import type { ObjectInfo } from '../providers/provider.js'
import { NamespacedStore } from '../state/namespaced-store.js'
import { ReadOnlyStore } from '../state/read-only-store.js'
import type { RunRow, StateStore } from '../state/store.js'
import type { CopyEnvironment, CopyResult } from './copy.js'
import { FolderConflicts } from './folder-conflicts.js'
import { HashPool } from '../providers/local/hash-pool.js'
import { interleave } from './interleave.js'
import { DirectoryMaker } from '../providers/local/local-files.js'
import { openSource, type OpenedSource, type SourceItem } from './open-source.js'
import { plan, type PlanContext } from './planner.js'
import { Planning } from './claims.js'
import { openJobState } from './job-state.js'
import { listedAfter, sharedPlanning, startHeartbeat } from './shared-listing.js'
import { transferTasks, type TransferContext } from './pipeline.js'
import { RemoteObjects } from './transfer-source.js'
import type { Task } from './pool.js'
import { endRun, RunScope, runTuned } from './run-tasks.js'
import { onlyShard } from './shard.js'

/**
 * Objects a download reads whole into memory, at most (checked, then written in one): larger ones
 * stream into their files. 1 MiB: a local file takes a stream as cheaply as a buffer.
 */
const wholeReadMax = 1024 * 1024
/** Keys a dry run lists by name. */
const dryRunListed = 20
/**
 * Sources listed and transferred at once; the others wait for one to end. Each keeps its own
 * objects open ahead and its planned objects ready, so this bounds memory too.
 */
export const sourcesAtOnce = 8

/** How a run of one or several sources is recorded. */
export interface SourcesRun {
  statePath: string
  /** The runs table's source and destination. */
  source: string
  destination: string
  /** `soaker plan`: list and decide, record the decisions, transfer nothing. */
  planOnly?: boolean
}

/**
 * Several sources as one run (`soaker cp s3://a s3://b/photos ./dest`, --buckets-file, the items
 * of a job file): one state database, one pool of requests and one tuner for all of them, their
 * requests interleaved. A source that cannot be read at all (no such bucket, access denied, a
 * listing that breaks off) is reported while the others go on, and the run ends failed.
 */
export async function copySources(items: SourceItem[], options: TransferOptions, env: CopyEnvironment, how: SourcesRun): Promise<CopyResult> {
  const run = new RunScope(env.signal, options, env.log)
  try {
    const failures: CopyResult['failures'] = []
    const report = (item: SourceItem, err: unknown): void => {
      if (!(err instanceof SoakerError) || env.signal.aborted) throw err
      const label = item.label ?? item.source.uri
      env.log.error(`${label}: ${errorMessage(err)}`)
      failures.push({ key: label, errorCode: errorCode(err), reason: errorMessage(err) })
    }
    const opened = (item: SourceItem): Promise<OpenedSource | undefined> =>
      openSource(item, options, run).catch((err: unknown) => { report(item, err); return undefined })
    const result = await runSources(items.map((item) => () => opened(item)), options, env, run, how, report)
    return {
      ...result,
      status: result.status === 'ok' && failures.length > 0 ? 'failed' : result.status,
      failures: [...failures, ...result.failures.map((f) => ({ ...f, key: labelled(items, f.key) }))],
    }
  } finally {
    await run.close()
  }
}

/** A stored key (`<namespace><key>`) named with its item's label, where the item has one. */
function labelled(items: SourceItem[], stored: string): string {
  const item = items.find((i) => i.label !== undefined && i.namespace !== undefined && stored.startsWith(i.namespace))
  return item ? `${item.label}: ${stored}` : stored
}

/** What runSources needs to know of a source: how to open it, when its turn comes. */
type Opening = () => Promise<OpenedSource | undefined>

/**
 * The run of already opened or lazily opened sources: takes the state database's lock, records
 * the run, and transfers every source's planned objects through one tuned pool (or, for a dry
 * run and `soaker plan`, plans them one after another). `report` hears of a source that fails as
 * a whole while the others run; it rethrows what must end the run.
 */
export async function runSources(
  sources: Opening[], options: TransferOptions, env: CopyEnvironment, run: RunScope, how: SourcesRun,
  report: (item: SourceItem, err: unknown) => void,
): Promise<CopyResult> {
  const { stats, log } = env
  const state = await openJobState(how.statePath, how, options, run, log, { sources: sources.length })
  const { db, shared } = state
  const statePath = state.label
  const lastRun = state.existed ? (await db.runs(1))[0] : undefined
  const plans: PlanSettings = { lastRun, options, log, planOnly: how.planOnly === true }

  if (options.dryRun || how.planOnly) {
    // A dry run records nothing; `soaker plan` records its decisions for the next cp.
    const runId = how.planOnly ? await db.beginRun(how.source, how.destination) : 0
    const first: string[] = []
    for (const open of sources) {
      const source = await open()
      if (source === undefined) continue
      try {
        const store = storeOf(source, db)
        const decided = how.planOnly ? store : new ReadOnlyStore(store)
        const planned = plan(listingOf(source, store, plans), planContext(source, decided, env, new DirectoryMaker(source.root), true, run.signal))
        for await (const name of planned) if (first.length < dryRunListed) first.push(name)
      } catch (err) {
        report(source.item, err)
      }
    }
    if (how.planOnly) await db.endRun(runId, 'planned', { copied: 0, failed: stats.failed, transferred: 0 })
    return { status: 'ok', snapshot: stats.snapshot(), failures: [], statePath, plan: { first, kept: how.planOnly === true } }
  }

  const runId = await db.beginRun(how.source, how.destination)
  // A worker of a shared job keeps its claims by renewing them, and tells the others what it did.
  if (shared) run.own(startHeartbeat(shared.job, stats, options.lease * 1000, log))
  const hashes = run.own(new HashPool())
  const roots = new Set<string>()
  async function* tasksOf(open: Opening, id: number): AsyncIterable<Task> {
    const source = await open()
    if (source === undefined) return
    roots.add(source.root)
    let finished: Promise<void> | undefined
    try {
      const store = storeOf(source, db)
      log.info(`copying ${source.item.source.uri} → ${source.root} (state: ${statePath})`)
      const dirs = new DirectoryMaker(source.root)
      await makePartialDir(source.root, dirs)
      const local = run.own(new LocalProvider(source.root, { pathOf: source.pathFor, dirs, hashes, logDir: state.partsDir }))
      const planCtx: PlanContext = {
        ...planContext(source, store, env, dirs, false, run.signal),
        abandon: (key, uploadId) => local.multipart.abort(key, uploadId, run.signal).catch(() => undefined),
      }
      // The listing is planned into the store in the background; the downloads claim what it
      // planned. In a shared job one worker lists, from where the lister before it stopped.
      const planAll = async (listing: AsyncIterable<ObjectInfo>, planning: Planning, recorded?: (key: string) => void): Promise<void> => {
        let n = 0
        for await (const _ of plan(listing, { ...planCtx, recorded })) planning.planned(++n)
      }
      const namespace = source.item.namespace ?? ''
      const planned = shared
        ? sharedPlanning(shared.job, shared.listing, namespace, run.signal, (after, planning) =>
          planAll(listingOf(source, store, plans, after), planning, (key) => shared.listing.planned(namespace, key)))
        : Planning.run((planning) => planAll(listingOf(source, store, plans), planning))
      finished = planned.finished
      const tasks = transferTasks(downloadContext(source, local, store, options, env, run), planned.planning)
      if (sources.length === 1) return yield* tasks
      // Each request counts for its source while it runs: the samples show how many were busy at once.
      for await (const task of tasks) {
        yield () => {
          stats.sourceBegin(id)
          return task().finally(() => stats.sourceEnd(id))
        }
      }
    } catch (err) {
      report(source.item, err) // a run of one source rethrows: its problem is the run's
    } finally {
      await finished
    }
  }
  const runCtx = { stats, log, store: db, runId, options, signal: run.signal }
  try {
    // One source needs no turns taken: its tasks go to the pool without a hop per task.
    const tasks = sources.length === 1 ? tasksOf(sources[0]!, 0) : interleave(sources.map((open, id) => tasksOf(open, id)), sourcesAtOnce)
    await runTuned(tasks, runCtx)
  } catch (err) {
    await endRun(runCtx, false, err, statePath) // a listing that broke off: the run is recorded as failed, not left running
    throw err
  }
  // Other shards may be writing into the same folders: their partial files share `.soaker/partial/`.
  if (options.shard === undefined) for (const root of roots) await removePartialDirIfEmpty(root)
  await rmdir(state.partsDir).catch(() => undefined) // only when empty: the logs of unfinished files stay
  return await endRun(runCtx, env.signal.aborted, run.stoppedBy, statePath)
}

/** The source's rows: under its namespace where several sources share the database. */
function storeOf(source: OpenedSource, db: StateStore): StateStore {
  return source.item.namespace ? new NamespacedStore(db, source.item.namespace) : db
}

interface PlanSettings {
  lastRun: RunRow | undefined
  options: TransferOptions
  log: CopyEnvironment['log']
  planOnly: boolean
}

/**
 * What the planner reads for a source: its listing, or the rows standing in for it (the failed
 * ones for --retry-failed, the pending ones of a stored plan); of a static shard, only the
 * objects whose keys (in their bucket) are the shard's. Every download plans through here.
 */
function listingOf(source: OpenedSource, store: StateStore, s: PlanSettings, after: string | null = null): AsyncIterable<ObjectInfo> {
  return onlyShard(listedAfter(wholeListingOf(source, store, s, after), after), s.options.shard, (info) => info.key)
}

function wholeListingOf(source: OpenedSource, store: StateStore, s: PlanSettings, after: string | null): AsyncIterable<ObjectInfo> {
  if (s.options.retryFailed) return storedRows(store, 'failed', source.keyPrefix)
  if (s.lastRun?.status === 'planned' && !s.options.dryRun && !s.planOnly) {
    // `soaker plan` listed and decided already: start transferring its pending rows at once.
    s.log.info(`using the plan made at ${new Date(s.lastRun.startedAt).toISOString()} (soaker plan); objects added to the source since are not in it`)
    return storedRows(store, 'pending', source.keyPrefix)
  }
  return source.listing(after ?? undefined)
}

function planContext(source: OpenedSource, store: StateStore, env: CopyEnvironment, dirs: DirectoryMaker, dryRun: boolean, signal: AbortSignal): PlanContext {
  const { item } = source
  return {
    store, stats: env.stats, log: env.log, dirs, pathFor: source.pathFor, dryRun,
    conflicts: source.isPrefix ? new FolderConflicts(store, source.keyPrefix.length) : undefined,
    nameOf: (key: string): string => (item.namePrefix ?? '') + key,
    ownMtime: (key: string) => source.provider.stat(key, signal).then((d) => parseMtime(d.metadata), () => undefined),
  }
}

/**
 * A download as the transfer engine runs any copy: the source's objects (by their own keys) into
 * the local directory as a store, each key at the path its planning found. The files' mtimes are
 * recorded as they are written, so that the next run knows them as done.
 */
function downloadContext(source: OpenedSource, provider: TransferContext['provider'], store: StateStore, options: TransferOptions, env: CopyEnvironment, run: RunScope): TransferContext {
  const { uri, key } = source.item.source
  const ref = { location: source.item.source, options: sourceOptions(options), given: source.item.given }
  const plane = { plane: run.plane, source: run.plane.source(ref, source.provider) }
  const objects = new RemoteObjects(source.provider, (k) => k, uri.slice(0, uri.length - key.length), { inlineMax: wholeReadMax, verify: options.verify, deferMd5: true, plane })
  const namePrefix = source.item.namePrefix ?? ''
  return {
    provider, store, stats: env.stats, log: env.log, retry: run.retry, signal: run.signal, source: objects,
    limiter: run.limiter, checksum: 'none', order: 'path', partSize: options.partSize, verify: options.verify,
    keyFor: (k) => k, stopRun: run.stop, idle: run.idle, idleLearnt: true,
    nameOf: namePrefix === '' ? undefined : (k) => namePrefix + k,
    onWritten: (k, metadata) => {
      const mtimeMs = parseMtime(metadata)
      if (mtimeMs !== undefined) store.setFileMtime(k, Math.floor(mtimeMs))
    },
  }
}

/**
 * Rows of the state store standing in for the listing. They are read in batches by key, since
 * planning them rewrites their rows as it goes.
 */
async function* storedRows(store: StateStore, status: 'failed' | 'pending', prefix: string): AsyncIterable<ObjectInfo> {
  for (let after = ''; ;) {
    const batch = await store.objectsWithStatus(status, after, 500)
    if (batch.length === 0) return
    for (const info of batch) if (info.key.startsWith(prefix)) yield info
    after = batch.at(-1)!.key
  }
}

/**
 * The folder of partial files below `root`, made at the start of a run (one clear error if it
 * cannot be, rather than one per object), and removed at the end when nothing is left in it.
 */
async function makePartialDir(root: string, dirs: DirectoryMaker): Promise<void> {
  try {
    await dirs.ensure(partialDirOf(root))
  } catch (err) {
    throw new LocationError(`Cannot keep partial files in \`${partialDirOf(root)}\`: ${errorMessage(err)}`, { cause: err })
  }
}

async function removePartialDirIfEmpty(root: string): Promise<void> {
  const dir = partialDirOf(root)
  // rmdir removes only an empty folder: partial files kept for resuming keep it.
  await rmdir(dir).then(() => rmdir(dirname(dir))).catch(() => undefined)
}

