import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { defaultStatePath } from '../engine/copy.js'
import { sharedJobName } from '../engine/job-state.js'
import { checkShard } from '../engine/shard.js'
import { LocationError, UsageError } from '../errors.js'
import { parseLocation } from '../location.js'
import type { Shard } from '../options.js'
import { isPostgresUrl, loadPostgresStore, redact } from '../state/postgres-url.js'
import { SqliteStateStore } from '../state/sqlite-store.js'
import { statusLines } from '../ui/status.js'

/**
 * Where the state of a job is: --state, else the default for the cp command's source,
 * destination and shard.
 */
export function statePathFor(state: string | undefined, source: string | undefined, destination: string | undefined, shard?: Shard): string {
  if (state) return state
  if (source === undefined || destination === undefined) {
    throw new UsageError('Expected `--state PATH`, or the source and destination of the cp command (soaker status s3://bucket/prefix ./dir, or ./dir s3://bucket/prefix)')
  }
  const src = parseLocation(source)
  const dst = parseLocation(destination)
  if (src.kind !== 'local' && dst.kind === 'local') return defaultStatePath(src.uri.replace(/\/+$/, ''), resolve(dst.path), shard)
  if (dst.kind !== 'local') return defaultStatePath(src.kind === 'local' ? resolve(src.path) : src.uri.replace(/\/+$/, ''), dst.uri.replace(/\/+$/, ''), shard)
  throw new UsageError(`Expected a remote source and a local destination, or a destination in a store, got \`${source}\` → \`${destination}\``)
}

/**
 * `soaker status`: prints the job's state; exit 0 when complete, 1 when anything is pending or
 * failed. A `shard` given must be the state's own (--state names it as it is).
 */
export async function runStatus(source: string | undefined, destination: string | undefined, state: string | undefined, shard?: Shard): Promise<number> {
  const given = state ?? process.env.SOAKER_STATE
  if (given !== undefined && isPostgresUrl(given)) return await sharedStatus(given, source, destination)
  const path = statePathFor(given, source, destination, shard)
  if (!existsSync(path)) {
    const hint = shard === undefined ? ' (a run with --shard keeps its own: give the same --shard)' : ''
    throw new LocationError(`No state database at \`${path}\`: has this copy run yet? (or pass --state PATH)${hint}`)
  }
  const store = new SqliteStateStore(path)
  try {
    if (shard !== undefined) checkShard(store, shard, path, false)
    const counts = await store.counts()
    const report = { statePath: path, counts, runs: await store.runs(5), failures: await store.failures(20), shard: store.recordedShard() }
    process.stdout.write(statusLines(report).join('\n') + '\n')
    return counts.pending.objects === 0 && counts.failed.objects === 0 ? 0 : 1
  } finally {
    await store.close()
  }
}

/** `soaker status --state postgres://…`: the shared job's totals and every worker's part in it. */
async function sharedStatus(url: string, source: string | undefined, destination: string | undefined): Promise<number> {
  const job = source !== undefined && destination !== undefined ? sharedJobOf(source, destination) : await onlyJob(url)
  const store = await (await loadPostgresStore()).open({ url, job })
  try {
    const counts = await store.counts()
    const report = {
      statePath: redact(url), counts, runs: await store.runs(5), failures: await store.failures(20), workers: await store.workers(), now: Date.now(),
    }
    process.stdout.write(statusLines(report).join('\n') + '\n')
    return counts.pending.objects === 0 && counts.failed.objects === 0 ? 0 : 1
  } finally {
    await store.close()
  }
}

/** The shared job of the cp command with this source and destination (as cp names it: see sharedJobName). */
function sharedJobOf(source: string, destination: string): string {
  const src = parseLocation(source)
  const dst = parseLocation(destination)
  return sharedJobName(src.kind === 'local' ? resolve(src.path) : src.uri, dst.kind === 'local' ? resolve(dst.path) : dst.uri)
}

/** The one job the database holds; with several, the cp command's source and destination must say which. */
async function onlyJob(url: string): Promise<string> {
  const names = await (await loadPostgresStore()).jobNames(url)
  if (names.length === 1) return names[0]!
  if (names.length === 0) throw new LocationError(`The state database ${redact(url)} holds no soaker job yet: has a cp run against it?`)
  const jobs = names.map((n) => `  ${n.replace('\n', ' → ')}`).join('\n')
  throw new UsageError(`The state database ${redact(url)} holds ${names.length} jobs: give the cp command's source and destination ` +
    `(soaker status SRC DEST --state URL) to pick one of\n${jobs}`)
}
