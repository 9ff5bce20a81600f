import { createHash } from 'node:crypto'
import { constants, existsSync } from 'node:fs'
import { access, mkdir, rmdir, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { errorMessage, LocationError, NotFoundError, UsageError } from '../errors.js'
import type { Location } from '../location.js'
import type { TransferOptions } from '../options.js'
import type { ObjectInfo, Provider } from '../providers/provider.js'
import type { StateStore } from '../state/store.js'
import { localPathFor, partialDirOf, partialPathFor, refuseReserved } from '../providers/local/keys.js'
import type { GivenSettings } from '../providers/kind.js'
import { openProvider } from '../providers/registry.js'
import { NamespacedStore } from '../state/namespaced-store.js'
import { ReadOnlyStore } from '../state/read-only-store.js'
import { SqliteStateStore } from '../state/sqlite-store.js'
import { StateLock } from '../state/state-lock.js'
import { downloadTasks } from './download.js'
import { HashPool } from './hash-pool.js'
import { FolderConflicts } from './folder-conflicts.js'
import { DirectoryMaker } from './local-files.js'
import type { Logger } from './logger.js'
import { plan, type PlannedObject } from './planner.js'
import { prefetch } from './prefetch.js'
import { endRun, RunScope, runTuned } from './run-tasks.js'
import { Stats, type StatsSnapshot } from './stats.js'

export interface CopyResult {
  status: 'ok' | 'failed' | 'interrupted'
  snapshot: StatsSnapshot
  failures: Array<{ key: string; errorCode: string | null; reason: string | null }>
  statePath: string
  /** Set when the run stopped early because of an error that affects every object. */
  stoppedBy?: string
  /** --dry-run or `soaker plan`: the first keys that would be copied (the counts are in the snapshot). */
  plan?: { first: string[]; kept: boolean }
}

export interface CopyEnvironment {
  stats: Stats
  log: Logger
  /** Aborting stops new work; in-flight requests are cancelled and stay pending in the store. */
  signal: AbortSignal
}

/** Planned objects kept ready ahead of the workers: bounds memory, hides listing latency. */
const planAhead = 2000
/** Keys a dry run lists by name. */
const dryRunListed = 20

/** The state database of a job when --state is not given: one per source and destination. */
export function defaultStatePath(source: string, destination: string, env = process.env): string {
  const base = env.XDG_STATE_HOME || join(homedir(), '.local', 'state')
  const id = createHash('sha256').update(`${source}\0${destination}`).digest('hex').slice(0, 16)
  return join(base, 'soaker', `${id}.db`)
}

type SourceShape = { mode: 'prefix'; prefix: string } | { mode: 'object'; info: ObjectInfo }

/**
 * `s3://b/p/` and `s3://b/p` both mean the objects under `p/`; `s3://b/p` also means the single
 * object `p` when nothing is under `p/`.
 */
async function resolveSource(provider: Provider, key: string, uri: string, signal: AbortSignal, only?: 'object'): Promise<SourceShape> {
  if (only !== 'object') {
    if (key === '' || key.endsWith('/')) return { mode: 'prefix', prefix: key }
    for await (const _ of provider.list(key + '/', signal)) return { mode: 'prefix', prefix: key + '/' }
  }
  try {
    return { mode: 'object', info: await provider.stat(key, signal) }
  } catch (err) {
    if (err instanceof NotFoundError) throw new LocationError(`Nothing to copy at ${uri}: no object with that key and no objects under ${uri}/`)
    throw err
  }
}

async function ensureWritableDir(dir: string, dryRun: boolean): Promise<void> {
  if (dryRun) return // creates nothing; the real run reports an unwritable destination
  try {
    await mkdir(dir, { recursive: true })
    await access(dir, constants.W_OK)
  } catch (err) {
    throw new LocationError(`Destination \`${dir}\` is not a writable directory: ${errorMessage(err)}`, { cause: err })
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

/** Where a single object goes: into `dest` if it is a directory (or ends in /), else to `dest`. */
async function singleFileTarget(dest: string, key: string, dryRun: boolean): Promise<string> {
  const isDir = /[/\\]$/.test(dest) || (await stat(dest).catch(() => undefined))?.isDirectory()
  const file = isDir ? join(resolve(dest), basename(key)) : resolve(dest)
  await ensureWritableDir(dirname(file), dryRun)
  return file
}

/**
 * Rows of the state store standing in for the listing: the failed ones for --retry-failed, the
 * pending ones of a stored plan. They are read in batches by key, since planning them rewrites
 * their rows as it goes.
 */
async function* storedRows(store: StateStore, status: 'failed' | 'pending', prefix: string): AsyncIterable<ObjectInfo> {
  for (let after = ''; ;) {
    const batch = store.objectsWithStatus(status, after, 500)
    if (batch.length === 0) return
    for (const info of batch) if (info.key.startsWith(prefix)) yield info
    after = batch.at(-1)!.key
  }
}

/** --dry-run: the planner runs to the end of the listing; nothing is transferred or recorded. */
async function planOnly(planned: AsyncIterable<PlannedObject>, stats: Stats, statePath: string, kept: boolean): Promise<CopyResult> {
  const first: string[] = []
  for await (const p of planned) if (first.length < dryRunListed) first.push(p.info.key)
  return { status: 'ok', snapshot: stats.snapshot(), failures: [], statePath, plan: { first, kept } }
}

/** Where a source's rows live when several sources share one state database. */
export interface StateScope {
  statePath?: string
  /** Prefix of this source's keys in the shared database (`s3://bucket/`). */
  namespace?: string
  /** `soaker plan`: list and decide, record the decisions, transfer nothing. */
  planOnly?: boolean
  /** Endpoint and credentials of the source given explicitly (a job file's item). */
  given?: GivenSettings
  /** The source is one object, never a prefix (a job file's `file:` entry). */
  only?: 'object'
  /** Of the objects under the prefix, only those whose key relative to it passes (a job file's glob). */
  include?: (relativeKey: string) => boolean
}

async function* filtered(listing: AsyncIterable<ObjectInfo>, prefix: string, include: (relativeKey: string) => boolean): AsyncIterable<ObjectInfo> {
  for await (const info of listing) if (include(info.key.slice(prefix.length))) yield info
}

/** Copies everything at a remote source (any store) into a local directory. Throws for problems of the whole job. */
export async function copyToLocal(source: Location, destination: Location, options: TransferOptions, env: CopyEnvironment, scope: StateScope = {}): Promise<CopyResult> {
  if (source.kind === 'local' || destination.kind !== 'local') {
    throw new UsageError(`Expected a remote source and a local destination (soaker cp s3://bucket/prefix ./dir), got \`${source.uri}\` → \`${destination.uri}\``)
  }
  const { stats, log } = env
  const run = new RunScope(env.signal, options)
  const { signal } = run
  const hashes = run.own(new HashPool())
  try {
    const provider = run.own(await openProvider(source, { options, env: process.env, retry: run.withRetry, given: scope.given }))
    await provider.check(signal)
    const shape = await resolveSource(provider, source.key, source.uri, signal, scope.only)
    let root: string
    let listing: AsyncIterable<ObjectInfo>
    let pathFor: (key: string) => string
    if (shape.mode === 'prefix') {
      root = resolve(destination.path)
      await ensureWritableDir(root, options.dryRun)
      listing = provider.list(shape.prefix, signal)
      if (scope.include) listing = filtered(listing, shape.prefix, scope.include)
      const prefix = shape.prefix
      pathFor = (key) => key.length <= prefix.length ? root : localPathFor(root, key.slice(prefix.length), key)
    } else {
      const file = await singleFileTarget(destination.path, shape.info.key, options.dryRun)
      root = dirname(file)
      listing = (async function* () { yield shape.info })()
      pathFor = (key) => {
        refuseReserved(basename(file), key)
        return file
      }
    }
    const statePath = scope.statePath ?? options.state ?? defaultStatePath(source.uri.replace(/\/+$/, ''), root)
    const stateExists = existsSync(statePath)
    if (options.retryFailed && !stateExists) throw new LocationError(`Nothing to retry: no state database at \`${statePath}\` (has this copy run? or pass --state PATH)`)
    // A dry run only reads, so it takes no lock and runs beside a run that holds one.
    if (!options.dryRun) run.own(StateLock.acquire(statePath, (note) => log.warn(note)))
    // A dry run decides against what an earlier run recorded, if there is one, and records nothing.
    const db = run.own(new SqliteStateStore(options.dryRun && !stateExists ? ':memory:' : statePath))
    const store: StateStore = scope.namespace ? new NamespacedStore(db, scope.namespace) : db
    const keyPrefix = shape.mode === 'prefix' ? shape.prefix : shape.info.key
    const conflicts = shape.mode === 'prefix' ? new FolderConflicts(store, keyPrefix.length) : undefined
    const partialFor = (path: string): string => partialPathFor(root, path)
    const lastRun = stateExists ? store.runs(1)[0] : undefined
    if (options.retryFailed) listing = storedRows(store, 'failed', keyPrefix)
    else if (lastRun?.status === 'planned' && !options.dryRun && !scope.planOnly) {
      // `soaker plan` listed and decided already: start transferring its pending rows at once.
      log.info(`using the plan made at ${new Date(lastRun.startedAt).toISOString()} (soaker plan); objects added to the source since are not in it`)
      listing = storedRows(store, 'pending', keyPrefix)
    }
    if (options.dryRun || scope.planOnly) {
      // A dry run records nothing; `soaker plan` records its decisions for the next cp.
      const planStore = scope.planOnly ? store : new ReadOnlyStore(store)
      const runId = scope.planOnly ? store.beginRun(source.uri, root) : 0
      const planned = plan(listing, { store: planStore, stats, log, dirs: new DirectoryMaker(root), pathFor, partialFor, conflicts, dryRun: true })
      const result = await planOnly(planned, stats, statePath, scope.planOnly === true)
      if (scope.planOnly) store.endRun(runId, 'planned', { copied: 0, failed: stats.failed, transferred: 0 })
      return result
    }
    const runId = store.beginRun(source.uri, root)
    log.info(`copying ${source.uri} → ${root} (state: ${statePath})`)

    const dirs = new DirectoryMaker(root)
    await makePartialDir(root, dirs)
    const planned = prefetch(plan(listing, { store, stats, log, dirs, pathFor, partialFor, conflicts }), planAhead)
    const tasks = downloadTasks(planned, {
      provider, store, stats, log, dirs, retry: run.retry, signal, verify: options.verify, partSize: options.partSize, hashes,
      limiter: run.limiter, stopRun: run.stop, idle: run.idle,
    })
    const runCtx = { stats, log, store, runId, options, signal }
    try {
      await runTuned(tasks, runCtx)
    } catch (err) {
      endRun(runCtx, false, err, statePath) // a listing that broke off: the run is recorded as failed, not left running
      throw err
    }
    await removePartialDirIfEmpty(root)
    return endRun(runCtx, env.signal.aborted, run.stoppedBy, statePath)
  } finally {
    await run.close()
  }
}
