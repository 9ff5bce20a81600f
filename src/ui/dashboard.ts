import { formatBytes, formatDuration, formatRate } from '../units.js'
import { bytesHere, type StatsSnapshot, type TransferSnapshot } from '../engine/stats.js'

/** Everything one frame of the dashboard shows. Plain data: the same view, the same frame. */
export interface DashboardView {
  snapshot: StatsSnapshot
  /** Bytes per second of each of the last seconds, oldest first (the reporter keeps 60). */
  history: number[]
  /** The newest warnings and errors, oldest first; the last `maxWarnings` are shown. */
  warnings: string[]
  /** Columns available: no line is wider. */
  width: number
  /** Wall clock of a live frame (ms): turns the spinner. Absent in the final frame. */
  nowMs?: number
  /** Lines available: transfer rows give way so that the frame fits. */
  height?: number
  /** What is being copied, e.g. `s3://b/p → ./dir`. */
  title?: string
  /** The latest info line of the log. */
  status?: string
}

export const maxTransferRows = 10
export const maxWarnings = 5
export const sparkSeconds = 60
const spinner = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏'
const sparks = '▁▂▃▄▅▆▇█'
const labelWidth = 8

/** The dashboard's lines. Pure: tested without a terminal. */
export function renderDashboard(view: DashboardView): string[] {
  const { snapshot: s, width } = view
  const top = [titleLine(view), ...totalsLines(s, view.history, width)]
  const bottom = [
    ...view.warnings.slice(-maxWarnings).map((w) => fit(clean(w), width)),
    ...(view.status ? [fit(clean(view.status), width)] : []),
  ]
  // Lines besides the transfer rows: the totals, a blank line, the table header, the "… and N more"
  // line, then a blank line and the log lines.
  const used = top.length + 3 + (bottom.length > 0 ? 1 + bottom.length : 0)
  const room = Math.max(1, Math.min(maxTransferRows, (view.height ?? Infinity) - used))
  const lines = [...top, '', ...transferLines(s.active, room, width)]
  if (bottom.length > 0) lines.push('', ...bottom)
  const out = lines.map((l) => fit(l, width))
  return view.height === undefined ? out : out.slice(0, Math.max(1, view.height))
}

function titleLine(view: DashboardView): string {
  const spin = view.nowMs === undefined ? '' : spinner[Math.floor(view.nowMs / 100) % spinner.length]!
  const title = fit(`soaker  ${clean(view.title ?? '')}`.trimEnd(), view.width - (spin ? 2 : 0))
  return spin ? title + ' '.repeat(Math.max(1, view.width - textWidth(title) - 1)) + spin : title
}

function totalsLines(s: StatsSnapshot, history: number[], width: number): string[] {
  const secs = s.elapsedMs / 1000
  const finished = s.done + s.failed
  const here = bytesHere(s)
  // Until the listing ends the totals still grow: percentages of them would go backwards.
  const plus = s.listingDone ? '' : '+'
  const filesPct = s.listingDone && s.planned > 0 ? ` (${percent(finished, s.planned)}%)` : ''
  const bytesPct = s.listingDone && s.plannedBytes > 0 ? ` (${percent(here, s.plannedBytes)}%)` : ''
  const files = `${label('Files')}${finished}/${s.planned}${plus}${filesPct}`
  const bytes = `Bytes  ${formatBytes(here)}/${formatBytes(s.plannedBytes)}${plus}${bytesPct}`
  const progress = !s.listingDone ? 0 : s.plannedBytes > 0 ? Math.min(1, here / s.plannedBytes) : finished >= s.planned ? 1 : 0
  const pctText = s.listingDone ? `${String(Math.floor(progress * 100)).padStart(3)}%` : '  …'
  const time = `  ${formatDuration(secs)} elapsed, ETA ${eta(s, history)}`
  const barWidth = Math.min(62, Math.max(10, width - labelWidth - 1 - pctText.length - time.length))
  const speed = history.length > 0 ? history[history.length - 1]! : secs > 0 ? s.transferred / secs : 0
  const speedText = `${label('Speed')}${formatRate(speed)}`.padEnd(labelWidth + 11)
  const sparkWidth = Math.max(0, Math.min(sparkSeconds, width - speedText.length))
  return [
    // The bytes move left in a narrow terminal rather than be cut off.
    `${files.padEnd(Math.min(labelWidth + 20, width - bytes.length - 2))}  ${bytes}`,
    `${label('Total')}${bar(progress, barWidth)} ${pctText}${time}`,
    `${speedText}${sparkWidth > 0 ? sparkline(history.slice(-sparkWidth)) : ''}`.trimEnd(),
    `${label('Workers')}${s.inFlight} in flight, target ${s.concurrency}`,
    `${label('Objects')}${s.done} completed, ${s.failed} failed, ${s.retries} retries, ${s.skipped} skipped`,
  ]
}

/** Time left for the bytes still to come at the pace of the last 10 seconds (else of the whole run). */
function eta(s: StatsSnapshot, history: number[]): string {
  if (!s.listingDone) return 'after listing'
  const left = s.plannedBytes - bytesHere(s)
  if (left <= 0) return '0s'
  const recent = history.slice(-10)
  const recentRate = recent.length > 0 ? recent.reduce((a, b) => a + b, 0) / recent.length : 0
  const rate = recentRate > 0 ? recentRate : s.elapsedMs > 0 ? (1000 * s.transferred) / s.elapsedMs : 0
  if (rate <= 0) return '--'
  const secs = left / rate
  return secs < 60 ? `${Math.ceil(secs)}s` : formatDuration(secs)
}

function transferLines(active: TransferSnapshot[], room: number, width: number): string[] {
  if (active.length === 0) return ['No transfers in flight']
  // Fixed columns: index, progress percent, bytes done/total, speed, and the gaps between them.
  const fixed = 2 + 2 + 1 + 4 + 2 + 17 + 2 + 10
  const free = Math.max(0, width - fixed)
  const barWidth = free >= 30 ? Math.min(30, Math.floor(free * 0.35)) : 0
  const nameWidth = Math.max(4, free - (barWidth > 0 ? barWidth + 3 : 0))
  const head = ` #  ${'file'.padEnd(nameWidth)} ${(barWidth > 0 ? 'progress' : '%').padEnd(barWidth > 0 ? barWidth + 7 : 4)}` +
    `  ${'bytes'.padStart(17)}  ${'speed'.padStart(10)}`
  const shown = active.length > room ? active.slice(0, Math.max(1, room)) : active
  const rows = shown.map((t, i) => {
    const frac = t.size > 0 ? Math.min(1, t.bytes / t.size) : 1
    const speed = t.elapsedMs > 0 ? (1000 * t.bytes) / t.elapsedMs : 0
    const name = fitMiddle(clean(t.key), nameWidth)
    return `${String(i + 1).padStart(2)}  ${name}${' '.repeat(nameWidth - textWidth(name))}` +
      `${barWidth > 0 ? ` ${bar(frac, barWidth + 2)}` : ''}` +
      ` ${`${Math.floor(frac * 100)}%`.padStart(4)}  ${`${formatBytes(t.bytes)}/${formatBytes(t.size)}`.padStart(17)}  ${formatRate(speed).padStart(10)}`
  })
  if (shown.length < active.length) rows.push(`  … and ${active.length - shown.length} more`)
  return [head, ...rows]
}

const label = (name: string): string => name.padEnd(labelWidth)

function percent(part: number, whole: number): number {
  return Math.min(100, Math.floor((100 * part) / whole))
}

/** `[████░░░░]`, `width` columns brackets included; a cell fills only when its whole share is done. */
export function bar(fraction: number, width: number): string {
  const inner = Math.max(0, width - 2)
  const full = Math.floor(Math.min(1, Math.max(0, fraction)) * inner)
  return `[${'█'.repeat(full)}${'░'.repeat(inner - full)}]`
}

/** One block per sample, scaled to the largest; zero is a blank. */
export function sparkline(samples: number[]): string {
  const max = Math.max(0, ...samples)
  if (max <= 0) return ' '.repeat(samples.length)
  return samples.map((v) => (v <= 0 ? ' ' : sparks[Math.min(sparks.length - 1, Math.ceil((v / max) * sparks.length) - 1)]!)).join('')
}

// Keys are untrusted: a control character in a key must not steer the terminal, so it shows as `?`.
// Format characters (bidi overrides, zero-width joiners) are dropped.
export function clean(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').replace(/\p{Cf}/gu, '')
}

// Double-width ranges (CJK, Hangul, full-width forms, emoji), in columns of a terminal.
const wide: Array<[number, number]> = [
  [0x1100, 0x115f], [0x231a, 0x231b], [0x2329, 0x232a], [0x23e9, 0x23ec], [0x23f0, 0x23f3], [0x25fd, 0x25fe],
  [0x2600, 0x27bf], [0x2b1b, 0x2b1c], [0x2b50, 0x2b55], [0x2e80, 0x303e], [0x3041, 0x33ff], [0x3400, 0x4dbf],
  [0x4e00, 0x9fff], [0xa000, 0xa4cf], [0xa960, 0xa97f], [0xac00, 0xd7a3], [0xf900, 0xfaff], [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f], [0xff00, 0xff60], [0xffe0, 0xffe6], [0x1f000, 0x1faff], [0x20000, 0x3fffd],
]

function charWidth(c: string): number {
  if (/\p{Mn}|\p{Me}|\p{Cf}/u.test(c)) return 0
  const cp = c.codePointAt(0)!
  return wide.some(([lo, hi]) => cp >= lo && cp <= hi) ? 2 : 1
}

/** Columns `s` takes in a terminal. */
export function textWidth(s: string): number {
  let w = 0
  for (const c of s) w += charWidth(c)
  return w
}

/** `s`, cut at `width` columns with `…` when longer. */
export function fit(s: string, width: number): string {
  if (textWidth(s) <= width) return s
  return take([...s], width - 1).join('') + (width > 0 ? '…' : '')
}

/** `s` in `width` columns, keeping its start and its end (a key's file name) around a `…`. */
export function fitMiddle(s: string, width: number): string {
  if (textWidth(s) <= width) return s
  if (width < 6) return fit(s, width)
  const chars = [...s]
  const tailWidth = Math.ceil((width - 1) * 0.6)
  const tail = take([...chars].reverse(), tailWidth).reverse()
  const head = take(chars, width - 1 - textWidth(tail.join('')))
  return `${head.join('')}…${tail.join('')}`
}

function take(chars: string[], width: number): string[] {
  const out: string[] = []
  let w = 0
  for (const c of chars) {
    w += charWidth(c)
    if (w > width) break
    out.push(c)
  }
  return out
}
