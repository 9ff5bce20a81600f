import { formatBytes, formatDuration, formatRate } from '../units.js'
import { bytesHere, type StatsSnapshot } from '../engine/stats.js'

/** One line of progress for logs without a terminal. Pure: the same snapshot, the same line. */
export function progressLine(s: StatsSnapshot): string {
  const secs = s.elapsedMs / 1000
  const finished = s.done + s.failed
  const of = s.listingDone ? `${s.planned}` : `${s.planned}+`
  const here = bytesHere(s)
  // Until the listing ends the total is still growing: a percentage of it would go backwards.
  const pct = s.listingDone && s.plannedBytes > 0 ? ` (${Math.min(100, (100 * here) / s.plannedBytes).toFixed(0)}%)` : ''
  const parts = [
    `${formatDuration(secs)}`,
    `${finished}/${of} objects`,
    `${formatBytes(here)}/${formatBytes(s.plannedBytes)}${s.listingDone ? '' : '+'}${pct}`,
    secs > 0 ? formatRate(s.transferred / secs) : '',
    `${s.inFlight}/${s.concurrency} in flight`,
  ]
  if (s.skipped) parts.push(`${s.skipped} skipped`)
  if (s.failed) parts.push(`${s.failed} failed`)
  if (s.retries) parts.push(`${s.retries} retries`)
  return parts.filter(Boolean).join(', ')
}
