import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { defaultStatePath } from '../engine/copy.js'
import { LocationError, UsageError } from '../errors.js'
import { parseLocation } from '../location.js'
import { SqliteStateStore } from '../state/sqlite-store.js'
import { statusLines } from '../ui/status.js'

/** Where the state of a job is: --state, else the default for the cp command's source and destination. */
export function statePathFor(state: string | undefined, source: string | undefined, destination: string | undefined): string {
  if (state) return state
  if (source === undefined || destination === undefined) {
    throw new UsageError('Expected `--state PATH`, or the source and destination of the cp command (soaker status s3://bucket/prefix ./dir, or ./dir s3://bucket/prefix)')
  }
  const src = parseLocation(source)
  const dst = parseLocation(destination)
  if (src.kind !== 'local' && dst.kind === 'local') return defaultStatePath(src.uri.replace(/\/+$/, ''), resolve(dst.path))
  if (src.kind === 'local' && dst.kind === 's3') return defaultStatePath(resolve(src.path), dst.uri.replace(/\/+$/, ''))
  throw new UsageError(`Expected an S3 source and a local destination, or a local source and an S3 destination, got \`${source}\` → \`${destination}\``)
}

/** `soaker status`: prints the job's state; exit 0 when complete, 1 when anything is pending or failed. */
export async function runStatus(source: string | undefined, destination: string | undefined, state: string | undefined): Promise<number> {
  const path = statePathFor(state ?? process.env.SOAKER_STATE, source, destination)
  if (!existsSync(path)) throw new LocationError(`No state database at \`${path}\`: has this copy run yet? (or pass --state PATH)`)
  const store = new SqliteStateStore(path)
  try {
    const counts = await store.counts()
    const lines = statusLines({ statePath: path, counts, runs: await store.runs(5), failures: await store.failures(20) })
    process.stdout.write(lines.join('\n') + '\n')
    return counts.pending.objects === 0 && counts.failed.objects === 0 ? 0 : 1
  } finally {
    await store.close()
  }
}
