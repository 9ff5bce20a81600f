import type { CopyScenarioName, ScenarioName, UploadScenarioName } from './args.js'
import type { CeilingReport } from './ceiling/summary.js'
import type { Measurement } from './measure.js'
import type { ToolName } from './peers.js'
import { soakerRssTargetMiB } from './scenarios.js'
import type { WanScenarioReport } from './wan/report.js'

/** What every run of a tool records: what ran, what GNU time measured, whether everything arrived. */
export interface MeasuredRun {
  tool: ToolName
  /** 1-based; run k of every tool (or variant) happens before run k+1 of any. */
  run: number
  startedAt: string
  /** The exact command line (`env -i ...`), secrets masked. */
  command: string
  measurement: Measurement
  ok: boolean
  /** Why the run failed (exit status, timeout, or what the destination lacked). */
  failure?: string
  /** In the scenario's unit; null for a failed run, which is never counted as fast. */
  throughput: number | null
}

/** One run of one tool in a download or upload scenario. */
export interface RunRecord extends MeasuredRun {
  scenario: ScenarioName | UploadScenarioName | CopyScenarioName
}

/** One tool in one scenario, over its runs. Medians are over the runs that delivered everything. */
export interface ToolSummary {
  tool: ToolName
  okRuns: number
  runs: number
  medianWallSeconds: number | null
  /** The scenario's data divided by the median wall time. */
  throughput: number | null
  medianCpuSeconds: number | null
  /** The highest peak RSS of any run, failed ones included (memory is a ceiling, not an average). */
  maxRssMiB: number | null
  /** soaker's throughput divided by this tool's; null for soaker itself or when either has no run. */
  soakerRatio: number | null
  /** The command of the tool's first run; later runs differ only in the state file's directory. */
  command: string
}

export interface ScenarioReport {
  name: ScenarioName | UploadScenarioName | CopyScenarioName
  description: string
  unit: string
  bucket: string
  prefix: string
  files: number
  totalBytes: number
  /** Least soaker ÷ rclone throughput aimed for; null when the scenario aims at something else. */
  targetVsRclone: number | null
  /** soaker's peak RSS target in MiB. @default soakerRssTargetMiB */
  rssTargetMiB?: number
  summaries: ToolSummary[]
}

export interface BenchReport {
  startedAt: string
  finishedAt: string
  host: { cpus: number; cpuModel: string; memoryGiB: number; kernel: string; loadAverageBefore: number[]; loadAverageAfter: number[] }
  server: { endpoint: string; reused: boolean }
  versions: Partial<Record<ToolName, string>>
  options: { runs: number; quick?: boolean }
  method: string
  scenarios: ScenarioReport[]
  runs: RunRecord[]
  /** The ceiling (bench/ceiling/), with its own runs. */
  ceiling?: CeilingReport
  /** The scenarios behind the WAN emulator, each with its own runs. */
  wan?: WanScenarioReport[]
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The summary rows of one scenario, soaker first, with soaker's throughput ratio to each peer. */
export function summarise(
  runs: readonly RunRecord[],
  tools: readonly ToolName[],
  throughput: (wallSeconds: number) => number,
): ToolSummary[] {
  const rows = tools.map((tool): ToolSummary => {
    const mine = runs.filter((r) => r.tool === tool)
    const ok = mine.filter((r) => r.ok)
    const wall = median(ok.map((r) => r.measurement.wallSeconds))
    const rss = mine.map((r) => r.measurement.maxRssKiB).filter((kib) => Number.isFinite(kib))
    return {
      tool,
      okRuns: ok.length,
      runs: mine.length,
      medianWallSeconds: wall,
      throughput: wall === null ? null : throughput(wall),
      medianCpuSeconds: median(ok.map((r) => r.measurement.cpuSeconds)),
      maxRssMiB: rss.length === 0 ? null : Math.max(...rss) / 1024,
      soakerRatio: null,
      command: mine[0]?.command ?? '',
    }
  })
  const soaker = rows.find((r) => r.tool === 'soaker')?.throughput ?? null
  for (const row of rows) {
    if (row.tool !== 'soaker' && soaker !== null && row.throughput !== null) row.soakerRatio = soaker / row.throughput
  }
  return rows
}

/**
 * The report as markdown: context, one table of every loopback scenario and tool, failures,
 * commands, then `sections` (the WAN scenarios') as given.
 */
export function renderMarkdown(report: BenchReport, resultsPath: string, sections: readonly string[] = []): string {
  const lines: string[] = [
    `## soaker bench, ${report.startedAt}`,
    '',
    `- Host: ${report.host.cpus} CPUs (${report.host.cpuModel}), ${report.host.memoryGiB} GiB RAM, Linux ${report.host.kernel}; ` +
      `load average ${report.host.loadAverageBefore.map(fixed(2)).join(' ')} before, ${report.host.loadAverageAfter.map(fixed(2)).join(' ')} after`,
    `- Server: Ceph radosgw at ${report.server.endpoint} (${report.server.reused ? 'already running; left running' : 'started by the bench; stopped after'})`,
    `- Tools: ${Object.values(report.versions).join('; ')}`,
    `- Method: ${report.method}`,
  ]
  if (report.scenarios.length > 0) lines.push(...renderLoopback(report))
  for (const section of sections) lines.push('', section)
  lines.push('', `Every run: ${resultsPath}`)
  return lines.join('\n')
}

function renderLoopback(report: BenchReport): string[] {
  const lines = [
    '',
    '| scenario | tool | ok runs | median wall (s) | throughput | median CPU (s) | peak RSS (MiB) | soaker ÷ tool (throughput) | target |',
    '|---|---|---:|---:|---:|---:|---:|---:|---|',
  ]
  for (const scenario of report.scenarios) {
    for (const [i, row] of scenario.summaries.entries()) {
      const label = i === 0 ? `${scenario.name}: ${scenario.description}` : ''
      const speed = row.throughput === null ? 'failed' : `${fixed(row.throughput >= 100 ? 0 : 1)(row.throughput)} ${scenario.unit}`
      lines.push(`| ${[
        label, row.tool, `${row.okRuns}/${row.runs}`, orDash(row.medianWallSeconds, fixed(2)), speed,
        orDash(row.medianCpuSeconds, fixed(2)), orDash(row.maxRssMiB, fixed(0)),
        row.tool === 'soaker' ? '' : orDash(row.soakerRatio, (r) => `${r.toFixed(2)}×`),
        target(row, scenario),
      ].join(' | ')} |`)
    }
  }
  const failed = report.runs.filter((r) => !r.ok)
  if (failed.length > 0) {
    lines.push('', 'Failed runs (left out of the medians):')
    for (const r of failed) lines.push(`- ${r.scenario}, ${r.tool}, run ${r.run}: ${r.failure}`)
  }
  lines.push('', 'Commands (first run of each; the destination is emptied, or for uploads a fresh bucket, and the state file is fresh for every run):')
  for (const scenario of report.scenarios) {
    for (const row of scenario.summaries) lines.push('', `${scenario.name}, ${row.tool}:`, '```sh', row.command, '```')
  }
  return lines
}

/** The target printed next to a row, and whether this run met it. */
function target(row: ToolSummary, scenario: ScenarioReport): string {
  if (row.tool === 'soaker') {
    const rssTarget = scenario.rssTargetMiB ?? soakerRssTargetMiB
    return row.maxRssMiB === null ? '' : `RSS ≤ ${rssTarget} MiB: ${row.maxRssMiB <= rssTarget ? 'met' : 'missed'}`
  }
  if (row.tool !== 'rclone' || scenario.targetVsRclone === null) return ''
  const verdict = row.soakerRatio === null ? 'unknown' : row.soakerRatio >= scenario.targetVsRclone ? 'met' : 'missed'
  return `≥ ${scenario.targetVsRclone}×: ${verdict}`
}

function fixed(digits: number): (n: number) => string {
  return (n) => n.toFixed(digits)
}

function orDash(value: number | null, format: (n: number) => string): string {
  return value === null ? '—' : format(value)
}
