import type { CeilingReport, CeilingRow } from './summary.js'
import { ceilingTargets, describeTarget } from './targets.js'

/**
 * The ceiling as markdown: one table of both datasets, every tool with its wall time, throughput,
 * client and server CPU, peak RSS, ratios to rclone's defaults and to curl into files, and the
 * issue's targets; then what was not measured, the failed runs, and the commands.
 */
export function renderCeilingMarkdown(report: CeilingReport): string {
  const server = report.server === null
    ? 'not found (no radosgw process): server CPU-s not measured'
    : `radosgw (pid ${report.server.pids.join(', ')}), utime + stime from /proc/<pid>/stat before and after each run, ` +
      `${report.server.ticksPerSecond} ticks/s`
  const ranges = report.data.find((d) => d.name === 'big')?.rangesPerObject ?? '?'
  const lines = [
    '### ceiling: soaker against curl, rclone and aws cli (issue 14)',
    '',
    `- curl: ${report.curl.split(' ').slice(0, 2).join(' ')}, \`--parallel --parallel-max 16 --no-progress-meter\`, SigV4, ` +
      `requests from a \`-K\` config; the big object in ${ranges} ranged requests, each into a file of its own`,
    `- Server CPU: ${server}`,
    '- Each row\'s throughput is divided by that of rclone (defaults) and of curl → files; targets are printed, never enforced',
    '',
    '| data | tool | ok runs | median wall (s) | throughput | client CPU-s | server CPU-s | peak RSS (MiB) | ÷ rclone | ' +
      '÷ curl → files | targets |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ]
  for (const data of report.data) {
    for (const [i, row] of data.rows.entries()) {
      const label = i === 0 ? `${data.name}: ${data.description}` : ''
      const speed = row.throughput === null ? 'failed' : `${row.throughput.toFixed(row.throughput >= 100 ? 0 : 1)} ${data.unit}`
      lines.push(`| ${[
        label, row.label, `${row.okRuns}/${row.runs}`, orDash(row.medianWallSeconds, 2), speed, orDash(row.medianCpuSeconds, 2),
        orDash(row.medianServerCpuSeconds, 2), orDash(row.maxRssMiB, 0), ratio(row, 'vsRclone'), ratio(row, 'vsCurlFiles'), checks(row),
      ].join(' | ')} |`)
    }
  }
  if (!report.verifySizeOffered) {
    const targets = (ceilingTargets.big['soaker-verify-size'] ?? []).map(describeTarget).join(', ')
    lines.push('', `soaker --verify size: this build's \`cp --help\` does not offer it, so its row is missing and its targets ` +
      `on big (${targets}) are not measured.`)
  }
  const failed = report.runs.filter((r) => !r.ok)
  if (failed.length > 0) {
    lines.push('', 'Failed runs (left out of the medians):')
    for (const r of failed) lines.push(`- ${r.data}, ${r.tool}, run ${r.run}: ${r.failure}`)
  }
  lines.push(
    '',
    'A run counts when it exits 0 and, except into /dev/null, the destination then holds every file with its size and MD5 ' +
      '(curl\'s ranges: each piece\'s size, and the MD5 of the pieces in order). curl\'s config has one section per ' +
      'request: `fail`, `aws-sigv4`, `user`, `header = "x-amz-content-sha256: UNSIGNED-PAYLOAD"`, `range` (the big ' +
      'object), `url`, `output`, then `next`.',
    '',
    'Commands (first run of each; the destination is emptied and `sync` runs before every run, the state file is fresh):',
  )
  for (const data of report.data) {
    for (const row of data.rows) lines.push('', `${data.name}, ${row.label}:`, '```sh', row.command, '```')
  }
  return lines.join('\n')
}

function ratio(row: CeilingRow, which: 'vsRclone' | 'vsCurlFiles'): string {
  const own = (which === 'vsRclone' && row.tool === 'rclone') || (which === 'vsCurlFiles' && row.tool === 'curl-files')
  const value = row[which]
  return own || value === null ? '—' : `${value.toFixed(2)}×`
}

function checks(row: CeilingRow): string {
  return row.checks.map((c) => `${c.target}: ${c.met === null ? 'unknown' : c.met ? 'met' : 'missed'}`).join('; ')
}

function orDash(value: number | null, digits: number): string {
  return value === null ? '—' : value.toFixed(digits)
}
