import { formatBytes, formatDuration, formatRate } from '../units.js'
import type { CopyResult } from '../engine/copy.js'
import { failureLine } from './failure-line.js'

/** The lines printed when a run ends, however it ends. */
export function summaryLines(r: CopyResult, command: string): string[] {
  const s = r.snapshot
  const secs = s.elapsedMs / 1000
  if (r.plan) {
    const lines = [
      `${r.plan.kept ? 'Planned' : 'Dry run'}, nothing transferred: would copy ${s.planned} objects (${formatBytes(s.plannedBytes)}), ` +
        `skip ${s.skipped} (${formatBytes(s.skippedBytes)}), ${s.listed} listed` + (s.failed ? `; ${s.failed} cannot be copied (see the warnings)` : ''),
    ]
    if (r.plan.first.length > 0) lines.push(`First to copy:`, ...r.plan.first.map((k) => `  ${k}`))
    if (s.planned > r.plan.first.length) lines.push(`  … and ${s.planned - r.plan.first.length} more`)
    if (r.plan.kept) lines.push(`The plan is kept in ${r.statePath}: soaker cp with the same arguments starts transferring at once.`)
    return lines
  }
  const lines = [
    `${r.status === 'ok' ? 'Done' : r.status === 'interrupted' ? 'Interrupted' : 'Finished with failures'} in ${formatDuration(secs)}: ` +
      `${s.done} copied (${formatBytes(s.doneBytes)}), ${s.skipped} skipped (${formatBytes(s.skippedBytes)}), ${s.failed} failed, ` +
      `${s.listed} listed`,
    `Transferred ${formatBytes(s.transferred)} at ${formatRate(secs > 0 ? s.transferred / secs : 0)}` +
      (s.resumedBytes ? `, ${formatBytes(s.resumedBytes)} resumed from an earlier run` : '') +
      (s.retries ? `, ${s.retries} retries (${s.throttles} throttled)` : ''),
  ]
  if (r.failures.length > 0) {
    lines.push('Failures:')
    for (const f of r.failures.slice(0, 20)) lines.push(failureLine(f))
    if (s.failed > 20) lines.push(`  … and ${s.failed - 20} more (state: ${r.statePath})`)
  }
  if (r.stoppedBy) lines.push(`Stopped: ${r.stoppedBy}`)
  // The command goes on a line of its own: the sentence fits 80 columns, the command may not.
  if (r.status === 'interrupted') lines.push('Nothing is lost: run the same command again to resume:', `  ${command}`)
  else if (r.status === 'failed') lines.push(`Run the same command again to retry what failed (state: ${r.statePath}).`)
  return lines
}
