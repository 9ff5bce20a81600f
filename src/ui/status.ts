import { formatBytes, formatDuration, formatRate } from '../units.js'
import { shardName } from '../engine/shard.js'
import type { ObjectStatus, RunRow, ShardRow, StatusCount } from '../state/store.js'
import { failureLine } from './failure-line.js'

export interface StatusReport {
  statePath: string
  counts: Record<ObjectStatus, StatusCount>
  /** Newest first. */
  runs: RunRow[]
  failures: Array<{ key: string; errorCode: string | null; reason: string | null }>
  /** The static shard whose objects alone the state holds; absent: every object. */
  shard?: ShardRow
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
