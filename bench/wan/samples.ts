import { readFile } from 'node:fs/promises'
import Database from 'better-sqlite3'

/** One tuning interval of a soaker run, from its state database's `samples` table. */
export interface Sample {
  /** Seconds since the run's command started. */
  t: number
  /** Target concurrency decided at the end of the interval. */
  target: number
  /** The most requests in flight at once during the interval. */
  inFlight: number
  /** Throughput over the interval, in MB/s (10^6 bytes). */
  mbps: number
  /** Throttling answers (503 SlowDown, 429) and resets in the interval. */
  throttles: number
  /** Retries in the interval. */
  errors: number
}

/**
 * The samples of every run recorded in the state database at `path`, oldest first, read directly
 * with better-sqlite3 (the store's own code is not the oracle). `startedAtMs` is when the command
 * started, so that `t` counts from there. An absent database or table gives no samples.
 */
export function readSamples(path: string, startedAtMs: number): Sample[] {
  let db: Database.Database
  try {
    db = new Database(path, { readonly: true, fileMustExist: true })
  } catch {
    return []
  }
  try {
    const rows = db.prepare('SELECT at, target, in_flight, bytes_per_second, throttles, errors FROM samples ORDER BY at').all() as Array<{
      at: number; target: number; in_flight: number; bytes_per_second: number; throttles: number; errors: number
    }>
    return rows.map((r) => ({
      t: (r.at - startedAtMs) / 1000, target: r.target, inFlight: r.in_flight, mbps: r.bytes_per_second / 1e6,
      throttles: r.throttles, errors: r.errors,
    }))
  } catch {
    return []
  } finally {
    db.close()
  }
}

// `concurrency 16 → 32: trying 32 (measured 121.3 MB/s, peak 16 in flight)`, as the tuner logs it.
const changeLine = /\bconcurrency \d+ → \d+: /

/** soaker's log lines that change the target concurrency, from a file of its whole output. */
export async function concurrencyChanges(logFile: string): Promise<string[]> {
  const text = await readFile(logFile, 'utf8').catch(() => '')
  return text.split('\n').filter((line) => changeLine.test(line)).map((line) => line.trim())
}

/** The target over the second half of the run's intervals, by its median: where it settled. */
export function settledTarget(samples: readonly Sample[]): number | null {
  const late = samples.slice(Math.floor(samples.length / 2)).map((s) => s.target).sort((a, b) => a - b)
  if (late.length === 0) return null
  const mid = late.length >> 1
  return late.length % 2 === 1 ? late[mid]! : (late[mid - 1]! + late[mid]!) / 2
}

/**
 * The samples as a markdown table with a bar per interval (one block per 2 requests of target
 * concurrency), so that the shape of the ramp reads at a glance.
 */
export function renderTimeline(samples: readonly Sample[]): string[] {
  const lines = [
    '| t (s) | target | peak in flight | MB/s | throttled | retries | target, one █ per 2 |',
    '|---:|---:|---:|---:|---:|---:|---|',
  ]
  for (const s of samples) {
    const bar = '█'.repeat(Math.floor(s.target / 2)) + (s.target % 2 === 1 ? '▌' : '')
    lines.push(`| ${s.t.toFixed(1)} | ${s.target} | ${s.inFlight} | ${s.mbps.toFixed(1)} | ${s.throttles} | ${s.errors} | ${bar} |`)
  }
  return lines
}
