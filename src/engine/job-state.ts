import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { homedir, hostname } from 'node:os'
import { join } from 'node:path'
import { LocationError, UsageError } from '../errors.js'
import type { TransferOptions } from '../options.js'
import { isPostgresUrl, loadPostgresStore, redact } from '../state/postgres-url.js'
import { SqliteStateStore } from '../state/sqlite-store.js'
import { StateLock } from '../state/state-lock.js'
import type { SharedJob, StateStore } from '../state/store.js'
import type { Logger } from './logger.js'
import type { RunScope } from './run-tasks.js'
import { checkShard, shardNote } from './shard.js'
import { SharedListing } from './shared-listing.js'

/** Where a run keeps its job, and how this process takes part in it. */
export interface JobState {
  db: StateStore
  /** How messages name the state: its path, or its URL without the password. */
  label: string
  /** Whether the job had been run before (a state file that existed; a shared job is always run before or beside). */
  existed: boolean
  /**
   * Where a download keeps the logs of its files fetched in parts: beside a state file; for a
   * shared job, a directory of this worker's own under $XDG_STATE_HOME/soaker.
   */
  partsDir: string
  /** A job shared with other workers (PostgreSQL): the job and its listing as this worker sees it. */
  shared?: { job: SharedJob; listing: SharedListing }
}

/**
 * Opens the state of a run: a SQLite file that one process holds at a time (its lock taken, its
 * shard checked), or a job in PostgreSQL that any number of workers share. `sources`: how many
 * sources the run lists; `walksAgain`: --retry-failed walks the source again (uploads), so it
 * needs no state from an earlier run. A dry run takes no lock and registers no worker; of a job
 * not begun yet (no state file, no shared job in the database), it plans in memory.
 */
export async function openJobState(
  statePath: string, job: { source: string; destination: string }, options: TransferOptions, run: RunScope, log: Logger,
  { sources = 1, walksAgain = false } = {},
): Promise<JobState> {
  if (isPostgresUrl(statePath)) return await openShared(statePath, job, options, run, log, sources)
  const existed = existsSync(statePath)
  if (options.retryFailed && !existed && !walksAgain) throw new LocationError(`Nothing to retry: no state database at \`${statePath}\` (has this copy run? or pass --state PATH)`)
  // A dry run only reads, so it takes no lock and runs beside a run that holds one.
  if (!options.dryRun) run.own(StateLock.acquire(statePath, (note) => log.warn(note)))
  // A dry run decides against what an earlier run recorded, if there is one, and records nothing.
  const db = run.own(new SqliteStateStore(options.dryRun && !existed ? ':memory:' : statePath))
  checkShard(db, options.shard, statePath, !options.dryRun)
  if (options.shard) log.info(shardNote(options.shard))
  return { db, label: statePath, existed, partsDir: uploadLogDirOf(statePath) }
}

/**
 * Where a download keeps the logs of its files fetched in parts (their layout, finished parts and
 * checkpoints: LocalUploads), beside its state database: the destination holds only its files
 * and their partial files.
 */
export function uploadLogDirOf(statePath: string): string {
  return `${statePath}-parts`
}

async function openShared(
  url: string, job: { source: string; destination: string }, options: TransferOptions, run: RunScope, log: Logger, sources: number,
): Promise<JobState> {
  const label = redact(url)
  if (options.shard) {
    throw new UsageError(`Expected either --shard or a shared job (--state ${label}), not both: the workers of a shared job divide its objects among themselves`)
  }
  const host = hostname()
  const worker = options.dryRun ? undefined : { id: `${host}-${process.pid}-${randomBytes(3).toString('hex')}`, host }
  const name = sharedJobName(job.source, job.destination)
  const connectTimeoutMs = options.connectTimeout * 1000
  const id = createHash('sha256').update(`${label}\n${job.source}\n${job.destination}`).digest('hex').slice(0, 16)
  const partsDir = join(stateHome(), 'soaker', `${id}.${worker?.id ?? 'reader'}-parts`)
  const PostgresStateStore = await loadPostgresStore()
  // A dry run of a job no worker has begun decides as a first run would, and writes nothing there.
  if (options.dryRun && !(await PostgresStateStore.jobNames(url, { connectTimeoutMs, log: (note) => log.warn(note) })).includes(name)) {
    log.info(`${label} holds no job of this source and destination yet: the dry run plans as its first run would`)
    return { db: run.own(new SqliteStateStore(':memory:')), label, existed: false, partsDir }
  }
  const db = run.own(await PostgresStateStore.open({
    url, job: name, worker, leaseMs: options.lease * 1000, connectTimeoutMs, log: (note) => log.warn(note),
  }))
  const shared = db.shared === undefined ? undefined : { job: db.shared, listing: new SharedListing(db.shared, sources) }
  return { db, label, existed: true, partsDir, shared }
}

/** $XDG_STATE_HOME, as defaultStatePath finds it. */
/** The name of a shared job in its database: the cp command's source and destination, one per line. */
export function sharedJobName(source: string, destination: string): string {
  return `${source.replace(/\/+$/, '')}\n${destination.replace(/\/+$/, '')}`
}

function stateHome(env = process.env): string {
  return env.XDG_STATE_HOME || join(homedir(), '.local', 'state')
}
