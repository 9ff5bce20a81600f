import { formatBytes, formatDuration, formatRate } from '../units.js'
import { shardName } from '../engine/shard.js'
import type { ObjectStatus, RunRow, ShardRow, StatusCount, WorkerRow } from '../state/store.js'
import { failureLine } from './failure-line.js'

export interface StatusReport {
  statePath: string
  counts: Record<ObjectStatus, StatusCount>
  /** Newest first. */
  runs: RunRow[]
  failures: Array<{ key: string; errorCode: string | null; reason: string | null }>
  /** The static shard whose objects alone the state holds; absent: every object. */
  shard?: ShardRow
  /** A job shared by several workers (PostgreSQL): every worker that took part, oldest first. */
  workers?: WorkerRow[]
  /** When the report was taken (ms since the epoch), for how long ago each worker was heard from. */
  now?: number
}

const clock = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').slice(0, 19)

function workerLine(w: WorkerRow, now: number): string {
  const rate = w.bytesPerSecond === null ? '' : ` at ${formatRate(w.bytesPerSecond)}`
  const done = `${w.objects} objects, ${formatBytes(w.bytes)}${rate}`
  const state = w.stoppedAt !== null ? `stopped ${clock(w.stoppedAt)} UTC`
    : w.alive ? `running, heard from ${formatDuration(Math.max(0, now - w.heartbeatAt) / 1000)} ago, ${w.claims} objects claimed`
    : `gone: not heard from since ${clock(w.heartbeatAt)} UTC (its claims went back to the others when its lease ran out)`
  return `  ${w.id} (host ${w.host}, pid ${w.pid}, started ${clock(w.startedAt)} UTC): ${state}; ${done}`
}

function runLine(r: RunRow): string {
  const when = new Date(r.startedAt).toISOString().replace('T', ' ').slice(0, 19)
  if (r.endedAt === null) return `run #${r.id} started ${when} UTC: still running, or killed (the next run picks up where it stopped)`
  const secs = (r.endedAt - r.startedAt) / 1000
  const rate = secs > 0 ? formatRate(r.transferred / secs) : formatRate(0)
  const peak = r.peakBytesPerSecond ? `, peak ${formatRate(r.peakBytesPerSecond)}` : ''
  return `run #${r.id} started ${when} UTC: ${r.status} after ${formatDuration(secs)}, ${r.copied} copied, ${r.failed} failed, ` +
    `${formatBytes(r.transferred)} transferred at ${rate}${peak}`
}

/** What `soaker status` prints. Pure: the same report, the same lines. */
export function statusLines(report: StatusReport): string[] {
  const { counts } = report
  const total = Object.values(counts).reduce((n, c) => n + c.objects, 0)
  const lines = [`State: ${report.statePath}`]
  const last = report.runs[0]
  if (last) lines.push(`Job: ${last.source} → ${last.destination}`)
  const { shard } = report
  if (shard) lines.push(`Shard: ${shardName(shard)} (only the objects whose keys ${shard.hash} assigns to it; the other shards keep states of their own)`)
  lines.push(
    `Objects: ${total} in all; ${counts.done.objects} done (${formatBytes(counts.done.bytes)}), ` +
      `${counts.skipped.objects} skipped (${formatBytes(counts.skipped.bytes)}), ${counts.pending.objects} pending (${formatBytes(counts.pending.bytes)}), ` +
      `${counts.failed.objects} failed (${formatBytes(counts.failed.bytes)})`,
  )
  if (report.workers !== undefined) {
    const live = report.workers.filter((w) => w.alive && w.stoppedAt === null)
    const rate = live.reduce((n, w) => n + (w.bytesPerSecond ?? 0), 0)
    const moved = report.workers.reduce((n, w) => n + w.bytes, 0)
    lines.push(`Workers: ${report.workers.length} in all, ${live.length} running; ${formatBytes(moved)} moved` +
      (live.length > 0 ? `; the running ones ${formatRate(rate)} together (each one's average since it started)` : ''))
    for (const w of report.workers) lines.push(workerLine(w, report.now ?? Date.now()))
  }
  if (report.runs.length > 0) {
    lines.push('Runs (newest first):')
    for (const r of report.runs) lines.push(`  ${runLine(r)}`)
  }
  if (report.failures.length > 0) {
    lines.push('Failures:')
    for (const f of report.failures) lines.push(failureLine(f))
    if (counts.failed.objects > report.failures.length) lines.push(`  … and ${counts.failed.objects - report.failures.length} more`)
  }
  const objects = shard ? `object of shard ${shardName(shard)}` : 'object'
  if (counts.pending.objects === 0 && counts.failed.objects === 0) lines.push(`Complete: every ${objects} is done or skipped.`)
  else lines.push('Not complete: run the same cp command again to continue and retry what failed.')
  return lines
}
