/**
 * Issue 14's targets for soaker against the ceiling. They are printed beside the numbers with
 * whether this run met them, and never enforced: the bench's exit status depends only on whether
 * every run delivered everything.
 */
import { soakerRssTargetMiB } from '../scenarios.js'
import type { CeilingDataName, CeilingToolName } from './tools.js'

/** One target: a ratio to a peer that should be at least something, or a cost that should be at most something. */
export type Target =
  | { measure: 'vs-rclone' | 'vs-curl-files'; atLeast: number }
  | { measure: 'client-cpu' | 'peak-rss'; atMost: number }

/** What a target is judged on: one tool's summary over its runs. */
export interface Judged {
  /** Throughput ÷ rclone's with its defaults, and ÷ curl's into files. */
  vsRclone: number | null
  vsCurlFiles: number | null
  medianCpuSeconds: number | null
  maxRssMiB: number | null
}

/** A target as text, and whether this run met it (null when there was nothing to judge it on). */
export interface TargetCheck {
  target: string
  met: boolean | null
}

const rss: Target = { measure: 'peak-rss', atMost: soakerRssTargetMiB }

/** The targets per dataset and tool; tools without an entry have none. */
export const ceilingTargets: Record<CeilingDataName, Partial<Record<CeilingToolName, readonly Target[]>>> = {
  small: {
    soaker: [{ measure: 'vs-rclone', atLeast: 1.1 }, { measure: 'vs-curl-files', atLeast: 0.9 }, rss],
    'soaker-verify-false': [rss],
  },
  big: {
    // The default verifies every byte's MD5 against the multipart ETag, which costs CPU a ceiling does not pay.
    soaker: [{ measure: 'vs-rclone', atLeast: 0.65 }, { measure: 'client-cpu', atMost: 2.6 }, rss],
    'soaker-verify-false': [rss],
    'soaker-verify-size': [{ measure: 'vs-rclone', atLeast: 1.0 }, { measure: 'vs-curl-files', atLeast: 0.9 }, rss],
  },
}

/** `target` as the report prints it, e.g. `≥ 1.1× rclone`. */
export function describeTarget(target: Target): string {
  switch (target.measure) {
    case 'vs-rclone': return `≥ ${ratio(target.atLeast)} rclone`
    case 'vs-curl-files': return `≥ ${ratio(target.atLeast)} curl → files`
    case 'client-cpu': return `≤ ${target.atMost} client CPU-s`
    case 'peak-rss': return `peak RSS ≤ ${target.atMost} MiB`
  }
}

/** `1` as `1.0×`, `0.65` as `0.65×`: a ratio shows at least one decimal. */
function ratio(n: number): string {
  return `${Number.isInteger(n) ? n.toFixed(1) : n}×`
}

/** Whether `row` meets `target`; null when the row lacks the number it is judged on. */
export function judge(target: Target, row: Judged): TargetCheck {
  const value = {
    'vs-rclone': row.vsRclone,
    'vs-curl-files': row.vsCurlFiles,
    'client-cpu': row.medianCpuSeconds,
    'peak-rss': row.maxRssMiB,
  }[target.measure]
  const met = value === null ? null : 'atLeast' in target ? value >= target.atLeast : value <= target.atMost
  return { target: describeTarget(target), met }
}
