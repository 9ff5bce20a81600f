import { median, type MeasuredRun } from '../report.js'
import { ceilingTargets, judge, type TargetCheck } from './targets.js'
import type { CeilingDataName, CeilingToolName } from './tools.js'

/** One run of one tool on one dataset of the ceiling. */
export interface CeilingRun extends Omit<MeasuredRun, 'tool'> {
  data: CeilingDataName
  tool: CeilingToolName
  /** CPU time radosgw used from just before the command started to just after it ended; null when unreadable. */
  serverCpuSeconds: number | null
  /** Whether the destination was checked afterwards (not for a tool writing into /dev/null). */
  checked: boolean
}

/** One tool on one dataset, over its runs. Medians are over the runs that delivered everything. */
export interface CeilingRow {
  tool: CeilingToolName
  label: string
  okRuns: number
  runs: number
  medianWallSeconds: number | null
  /** The dataset divided by the median wall time, in the dataset's unit. */
  throughput: number | null
  /** User plus system CPU of the tool. */
  medianCpuSeconds: number | null
  medianServerCpuSeconds: number | null
  /** The highest peak RSS of any run, failed ones included (memory is a ceiling, not an average). */
  maxRssMiB: number | null
  /** This row's throughput ÷ rclone's with its defaults; null when either has no counted run. */
  vsRclone: number | null
  /** This row's throughput ÷ curl's into files. */
  vsCurlFiles: number | null
  /** The targets for this tool on this dataset, judged. */
  checks: TargetCheck[]
  /** The command of the first run; later runs differ only in their scratch directory. */
  command: string
}

/**
 * The rows of `data`, one per tool of `tools` in that order: medians, ratios to rclone's defaults
 * and to curl into files, and the targets judged. `throughput` turns a wall time into the
 * dataset's unit.
 */
export function summariseCeiling(
  runs: readonly CeilingRun[],
  data: CeilingDataName,
  tools: readonly { name: CeilingToolName; label: string }[],
  throughput: (wallSeconds: number) => number,
): CeilingRow[] {
  const rows = tools.map((tool) => {
    const mine = runs.filter((r) => r.data === data && r.tool === tool.name)
    const ok = mine.filter((r) => r.ok)
    const wall = median(ok.map((r) => r.measurement.wallSeconds))
    const rss = mine.map((r) => r.measurement.maxRssKiB).filter((kib) => Number.isFinite(kib))
    const server = ok.flatMap((r) => (r.serverCpuSeconds === null ? [] : [r.serverCpuSeconds]))
    return {
      tool: tool.name,
      label: tool.label,
      okRuns: ok.length,
      runs: mine.length,
      medianWallSeconds: wall,
      throughput: wall === null ? null : throughput(wall),
      medianCpuSeconds: median(ok.map((r) => r.measurement.cpuSeconds)),
      // A median over fewer runs than were counted would mix runs; only a complete set is summarised.
      medianServerCpuSeconds: server.length === ok.length ? median(server) : null,
      maxRssMiB: rss.length === 0 ? null : Math.max(...rss) / 1024,
      command: mine[0]?.command ?? '',
    }
  })
  const rate = (name: CeilingToolName): number | null => rows.find((r) => r.tool === name)?.throughput ?? null
  const ratio = (mine: number | null, theirs: number | null): number | null => (mine === null || theirs === null ? null : mine / theirs)
  return rows.map((row) => {
    const judged = { ...row, vsRclone: ratio(row.throughput, rate('rclone')), vsCurlFiles: ratio(row.throughput, rate('curl-files')) }
    const targets = ceilingTargets[data][row.tool] ?? []
    return { ...judged, checks: targets.map((t) => judge(t, judged)) }
  })
}

/** One dataset of the ceiling: what it is, and every tool's row. */
export interface CeilingDataReport {
  name: CeilingDataName
  description: string
  unit: 'objects/s' | 'MB/s'
  bucket: string
  files: number
  totalBytes: number
  /** Requests curl splits each object into (1: whole objects). */
  rangesPerObject: number
  rows: CeilingRow[]
}

/** The ceiling scenario's part of the results file. */
export interface CeilingReport {
  /** curl's version line. */
  curl: string
  /** Whether the build under test lists `size` for `--verify` (so `soaker --verify size` ran). */
  verifySizeOffered: boolean
  /** The radosgw processes whose CPU time was read, and the clock ticks per second of /proc; null when none was found. */
  server: { pids: number[]; ticksPerSecond: number } | null
  data: CeilingDataReport[]
  runs: CeilingRun[]
}
