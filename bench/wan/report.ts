import type { WanScenarioName } from '../args.js'
import type { ToolName } from '../peers.js'
import { median, type MeasuredRun } from '../report.js'
import { renderTimeline, settledTarget, type Sample } from './samples.js'
import { capBytesPerSec, describeNetwork, type Network, type Variant, type WanScenario } from './scenarios.js'
import type { WanStats } from './wan-proxy.js'

/** One run of one variant behind the WAN emulator. */
export interface WanRunRecord extends MeasuredRun {
  scenario: WanScenarioName
  variant: string
  role: Variant['role']
  fixed?: number
  /** What the proxy counted during this run alone. */
  proxy: WanStats
  /** soaker's tuning intervals from its state database; empty for the peers. */
  samples: Sample[]
  /** soaker's log lines that changed the target concurrency. */
  concurrencyChanges: string[]
}

/** One variant over its runs; medians over the runs that delivered everything. */
export interface WanVariantSummary {
  variant: string
  tool: ToolName
  role: Variant['role']
  fixed?: number
  okRuns: number
  runs: number
  medianWallSeconds: number | null
  throughput: number | null
  medianCpuSeconds: number | null
  maxRssMiB: number | null
  /** Tuned soaker's throughput ÷ this variant's; null for tuned soaker itself. */
  soakerRatio: number | null
  /** Medians of what the proxy counted per run. */
  requests: number | null
  slowDowns: number | null
  connections: number | null
  /** Median over runs of SlowDowns ÷ requests: the share of requests that had to be retried. */
  retryShare: number | null
  command: string
}

/** A target of the issue, with what this run measured; `met` is null when it could not be judged. */
export interface Check {
  what: string
  /** A few words for the summary table. */
  short: string
  value: string
  target: string
  met: boolean | null
}

export interface WanScenarioReport {
  name: WanScenarioName
  title: string
  data: string
  network: Network
  unit: string
  bucket: string
  prefix: string
  files: number
  totalBytes: number
  variants: WanVariantSummary[]
  checks: Check[]
  /** Tuned soaker's run with the median wall time: its intervals and its concurrency changes. */
  timeline?: { run: number; wallSeconds: number; samples: Sample[]; changes: string[] }
  runs: WanRunRecord[]
}

export function summariseVariants(records: readonly WanRunRecord[], variants: readonly Variant[], throughput: (wall: number) => number): WanVariantSummary[] {
  const rows = variants.map((v): WanVariantSummary => {
    const mine = records.filter((r) => r.variant === v.label)
    const ok = mine.filter((r) => r.ok)
    const wall = median(ok.map((r) => r.measurement.wallSeconds))
    const rss = mine.map((r) => r.measurement.maxRssKiB).filter((kib) => Number.isFinite(kib))
    return {
      variant: v.label, tool: v.tool.name, role: v.role, ...(v.fixed === undefined ? {} : { fixed: v.fixed }),
      okRuns: ok.length, runs: mine.length,
      medianWallSeconds: wall,
      throughput: wall === null ? null : throughput(wall),
      medianCpuSeconds: median(ok.map((r) => r.measurement.cpuSeconds)),
      maxRssMiB: rss.length === 0 ? null : Math.max(...rss) / 1024,
      soakerRatio: null,
      requests: median(ok.map((r) => r.proxy.requests)),
      slowDowns: median(ok.map((r) => r.proxy.slowDowns)),
      connections: median(ok.map((r) => r.proxy.connections)),
      retryShare: median(ok.filter((r) => r.proxy.requests > 0).map((r) => r.proxy.slowDowns / r.proxy.requests)),
      command: mine[0]?.command ?? '',
    }
  })
  const tuned = rows.find((r) => r.role === 'tuned')?.throughput ?? null
  for (const row of rows) {
    if (row.role !== 'tuned' && tuned !== null && row.throughput !== null) row.soakerRatio = tuned / row.throughput
  }
  return rows
}

/** Tuned soaker's ok run with the median wall time (the lower middle one of an even count). */
export function medianRun(records: readonly WanRunRecord[]): WanRunRecord | undefined {
  const ok = records.filter((r) => r.role === 'tuned' && r.ok).sort((a, b) => a.measurement.wallSeconds - b.measurement.wallSeconds)
  return ok[(ok.length - 1) >> 1]
}

/** The issue's targets for `scenario`, judged on this run's medians. */
export function checksFor(scenario: WanScenario, rows: readonly WanVariantSummary[], timeline: WanScenarioReport['timeline']): Check[] {
  const tuned = rows.find((r) => r.role === 'tuned')
  const peer = (name: ToolName): WanVariantSummary | undefined => rows.find((r) => r.role === 'peer' && r.tool === name)
  const ratioCheck = (name: ToolName, least?: number): Check => {
    const ratio = peer(name)?.soakerRatio ?? null
    return {
      what: `soaker ÷ ${name} (${scenario.unit})`, short: `÷ ${name}`, value: ratio === null ? '—' : `${ratio.toFixed(2)}×`,
      target: least === undefined ? '(none)' : `≥ ${least}×`, met: least === undefined || ratio === null ? null : ratio >= least,
    }
  }
  const t = tuned?.throughput ?? null
  switch (scenario.name) {
    case 's1': {
      const link = scenario.network.linkBytesPerSec! / 1e6
      const share = t === null ? null : t / link
      return [
        { what: `soaker's share of the ${link} MB/s link over the whole run`, short: 'share of the link', value: share === null ? '—' : pct(share), target: '≥ 90%', met: share === null ? null : share >= 0.9 },
        ratioCheck('rclone', 2),
        ratioCheck('aws'),
      ]
    }
    case 's2':
      return [ratioCheck('rclone', 3), ratioCheck('aws')]
    case 's3': {
      const fixed = rows.filter((r) => r.role === 'fixed' && r.throughput !== null)
      const best = fixed.reduce<WanVariantSummary | undefined>((a, b) => (a === undefined || b.throughput! > a.throughput! ? b : a), undefined)
      const share = t === null || best === undefined ? null : t / best.throughput!
      const limit = scenario.network.slowDownAbove!
      const settled = timeline ? settledTarget(timeline.samples) : null
      return [
        {
          what: `soaker ÷ the best fixed concurrency (${best ? `${best.fixed}: ${best.throughput!.toFixed(1)} MB/s` : 'none'})`,
          short: `÷ best fixed (${best?.fixed ?? '—'})`,
          value: share === null ? '—' : pct(share), target: '≥ 90%', met: share === null ? null : share >= 0.9,
        },
        {
          what: "soaker's retries ÷ requests (SlowDowns the proxy sent ÷ requests it received)", short: 'retries ÷ requests',
          value: tuned?.retryShare == null ? '—' : `${pct(tuned.retryShare, 2)} (${tuned.slowDowns} of ${tuned.requests})`,
          target: '< 2%', met: tuned?.retryShare == null ? null : tuned.retryShare < 0.02,
        },
        {
          what: "soaker's settled target (median over the second half of the median run's intervals)", short: 'settled target',
          value: settled === null ? '—' : String(settled), target: `≤ ${limit}`, met: settled === null ? null : settled <= limit,
        },
      ]
    }
    case 's4': {
      const cap = capBytesPerSec / 1e6
      // The full intervals alone leave out start-up and the last partial interval: the limiter's own accuracy.
      const intervals = timeline?.samples.filter((s) => s.mbps > 0) ?? []
      const steady = intervals.length === 0 ? null : intervals.reduce((a, s) => a + s.mbps, 0) / intervals.length
      const checks: Check[] = [{
        what: "soaker --max-speed 50: mean of its full tuning intervals (median run's samples), start-up left out", short: 'intervals vs cap',
        value: steady === null ? '—' : `${steady.toFixed(1)} MB/s (${steady >= cap ? '+' : ''}${pct(steady / cap - 1)})`, target: '(none)', met: null,
      }]
      for (const row of rows) {
        const off = row.throughput === null ? null : row.throughput / cap - 1
        checks.push({
          what: `${row.variant}: average over the whole run vs ${cap} MB/s`, short: `${row.tool} vs cap`,
          value: off === null ? '—' : `${row.throughput!.toFixed(1)} MB/s (${off >= 0 ? '+' : ''}${pct(off)})`,
          target: row.role === 'tuned' ? 'within 5%' : '(none)', met: row.role !== 'tuned' || off === null ? null : Math.abs(off) <= 0.05,
        })
      }
      return checks
    }
  }
}

/** Every WAN scenario as markdown: a table per scenario, the checks, soaker's concurrency over time, commands. */
export function renderWanMarkdown(reports: readonly WanScenarioReport[]): string {
  const lines: string[] = [
    '### WAN scenarios at a glance',
    '',
    '| scenario | soaker | rclone | aws | soaker ÷ rclone | soaker ÷ aws | targets |',
    '|---|---:|---:|---:|---:|---:|---|',
  ]
  for (const s of reports) {
    const row = (pick: (r: WanVariantSummary) => boolean): WanVariantSummary | undefined => s.variants.find(pick)
    const speed = (r: WanVariantSummary | undefined): string => r?.throughput == null ? '—' : `${r.throughput.toFixed(r.throughput >= 100 ? 0 : 1)} ${s.unit}`
    const ratio = (r: WanVariantSummary | undefined): string => r?.soakerRatio == null ? '—' : `${r.soakerRatio.toFixed(2)}×`
    const rclone = row((r) => r.role === 'peer' && r.tool === 'rclone')
    const aws = row((r) => r.role === 'peer' && r.tool === 'aws')
    const targets = s.checks.filter((c) => c.met !== null).map((c) => `${c.short} ${c.value} (${c.target}: ${c.met ? 'met' : '**missed**'})`)
    lines.push(`| ${s.title} | ${speed(row((r) => r.role === 'tuned'))} | ${speed(rclone)} | ${speed(aws)} | ${ratio(rclone)} | ${ratio(aws)} | ${targets.join('; ')} |`)
  }
  lines.push('')
  for (const s of reports) {
    lines.push(`### ${s.title}`, '', `Network: ${describeNetwork(s.network)}. Data: ${s.data}.`, '')
    lines.push(
      '| tool | ok runs | median wall (s) | throughput | median CPU (s) | peak RSS (MiB) | requests | SlowDowns | connections | soaker ÷ tool |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    )
    for (const r of s.variants) {
      const speed = r.throughput === null ? 'failed' : `${r.throughput.toFixed(r.throughput >= 100 ? 0 : 1)} ${s.unit}`
      lines.push(`| ${[
        r.variant, `${r.okRuns}/${r.runs}`, orDash(r.medianWallSeconds, 2), speed, orDash(r.medianCpuSeconds, 2), orDash(r.maxRssMiB, 0),
        orDash(r.requests, 0), orDash(r.slowDowns, 0), orDash(r.connections, 0),
        r.role === 'tuned' ? '' : r.soakerRatio === null ? '—' : `${r.soakerRatio.toFixed(2)}×`,
      ].join(' | ')} |`)
    }
    lines.push('', '| check | value | target | verdict |', '|---|---:|---|---|')
    for (const c of s.checks) lines.push(`| ${c.what} | ${c.value} | ${c.target} | ${c.met === null ? '' : c.met ? 'met' : '**missed**'} |`)
    const failed = s.runs.filter((r) => !r.ok)
    if (failed.length > 0) {
      lines.push('', 'Failed runs (left out of the medians):')
      for (const r of failed) lines.push(`- ${r.variant}, run ${r.run}: ${r.failure}`)
    }
    if (s.timeline) {
      lines.push('', `soaker's target concurrency over time (run ${s.timeline.run}, the median one: ${s.timeline.wallSeconds.toFixed(2)} s), from the \`samples\` table of its state database:`, '')
      lines.push(...renderTimeline(s.timeline.samples))
      if (s.timeline.changes.length > 0) lines.push('', 'Its concurrency changes, as logged:', '```', ...s.timeline.changes, '```')
    }
    lines.push('', 'Commands (first run of each; the destination is emptied and the state file is fresh for every run):')
    for (const r of s.variants) lines.push('', `${r.variant}:`, '```sh', r.command, '```')
    lines.push('')
  }
  return lines.join('\n')
}

function pct(x: number, digits = 1): string {
  return `${(x * 100).toFixed(digits)}%`
}

function orDash(value: number | null, digits: number): string {
  return value === null ? '—' : value.toFixed(digits)
}
