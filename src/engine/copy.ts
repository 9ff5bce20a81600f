import { createHash } from 'node:crypto'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { UsageError } from '../errors.js'
import type { Location } from '../location.js'
import type { Shard, TransferOptions } from '../options.js'
import { runSources } from './copy-sources.js'
import type { Logger } from './logger.js'
import { openSource } from './open-source.js'
import { RunScope } from './run-tasks.js'
import type { Stats, StatsSnapshot } from './stats.js'

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

/**
 * The state database of a job when --state is not given: one per source and destination, and
 * one per shard of them (`<id>.shard-K-of-N.db`), so that shards on one machine never share a
 * database or its lock.
 */
export function defaultStatePath(source: string, destination: string, shard?: Shard, env = process.env): string {
  const base = env.XDG_STATE_HOME || join(homedir(), '.local', 'state')
  const id = createHash('sha256').update(`${source}\0${destination}`).digest('hex').slice(0, 16)
  const name = shard === undefined ? id : `${id}.shard-${shard.index}-of-${shard.count}`
  return join(base, 'soaker', `${name}.db`)
}

/**
 * Copies everything at a remote source (any store) into a local directory, or one object to a
 * file. Throws for problems of the whole job. `planOnly`: `soaker plan`, which lists and decides,
 * records the decisions and transfers nothing.
 */
export async function copyToLocal(source: Location, destination: Location, options: TransferOptions, env: CopyEnvironment, scope: { planOnly?: boolean } = {}): Promise<CopyResult> {
  if (source.kind === 'local' || destination.kind !== 'local') {
    throw new UsageError(`Expected a remote source and a local destination (soaker cp s3://bucket/prefix ./dir), got \`${source.uri}\` → \`${destination.uri}\``)
  }
  const run = new RunScope(env.signal, options, env.log)
  try {
    const opened = await openSource({ source, destination }, options, run)
    // The state database is named after where the objects land: for one object, the file's folder.
    const statePath = options.state ?? defaultStatePath(source.uri.replace(/\/+$/, ''), opened.root, options.shard)
    const how = { statePath, source: source.uri, destination: opened.root, planOnly: scope.planOnly }
    return await runSources([async () => opened], options, env, run, how, (_item, err) => { throw err })
  } finally {
    await run.close()
  }
}
