import type { CopyResult } from '../engine/copy.js'
import { bytesHere, type CopyEvent, type StatsSnapshot } from '../engine/stats.js'

// The --json vocabulary. Field names are snake_case and stable: scripts depend on them.

const now = (): string => new Date().toISOString()

export function toJsonEvent(e: CopyEvent): object {
  switch (e.type) {
    case 'object_done': return { event: 'object_done', time: now(), key: e.key, size: e.size, seconds: round(e.seconds) }
    case 'object_failed': return { event: 'object_failed', time: now(), key: e.key, code: e.code, reason: e.reason }
    case 'object_skipped': return { event: 'object_skipped', time: now(), key: e.key, size: e.size, reason: e.reason }
    case 'retry': return { event: 'retry', time: now(), key: e.key, code: e.code, attempt: e.attempt, delay_seconds: round(e.delaySeconds), throttled: e.throttled }
    case 'concurrency': return { event: 'concurrency', time: now(), from: e.from, to: e.to, reason: e.reason, bytes_per_second: e.bytesPerSecond }
  }
}

export function progressEvent(s: StatsSnapshot): object {
  const secs = s.elapsedMs / 1000
  return {
    event: 'progress', time: now(), elapsed_seconds: round(secs),
    objects_listed: s.listed, listing_done: s.listingDone, objects_planned: s.planned, objects_done: s.done,
    objects_skipped: s.skipped, objects_failed: s.failed, bytes_planned: s.plannedBytes, bytes_done: bytesHere(s),
    bytes_transferred: s.transferred, bytes_per_second: secs > 0 ? Math.round(s.transferred / secs) : 0,
    in_flight: s.inFlight, concurrency: s.concurrency, retries: s.retries,
  }
}

export function jsonSummary(r: CopyResult): object {
  const s = r.snapshot
  const secs = s.elapsedMs / 1000
  return {
    event: 'summary', time: now(), status: r.status, dry_run: r.plan !== undefined, seconds: round(secs),
    objects_listed: s.listed, objects_copied: s.done, objects_skipped: s.skipped, objects_failed: s.failed,
    objects_to_copy: r.plan ? s.planned : undefined, bytes_copied: s.doneBytes, bytes_transferred: s.transferred,
    bytes_resumed: s.resumedBytes, bytes_per_second: secs > 0 ? Math.round(s.transferred / secs) : 0,
    retries: s.retries, throttled: s.throttles, state: r.statePath, stopped_by: r.stoppedBy,
    failures: r.failures.map((f) => ({ key: f.key, code: f.errorCode, reason: f.reason })),
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000
}
