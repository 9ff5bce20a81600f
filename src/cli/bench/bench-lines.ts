import type { Cost } from './lanes.js'

/** What a row measured: `read` is the data plane alone (synthetic source, null sink). */
export type BenchDirection = 'read' | 'upload' | 'download'

/** One setting of a bench and what it moved. */
export interface BenchRow extends Cost {
  direction: BenchDirection
  /** Data threads (0: on the main thread). Uploads run on the main thread. */
  threads: number
  /** Requests in flight. */
  concurrency: number
  objects: number
  bytes: number
}

/** The rates of a row, in the units the lines show: MB is 10^6 bytes and GB 10^9, as azcopy and rclone count. */
export function ratesOf(row: BenchRow): { objectsPerSecond: number; mbPerSecond: number; cpuSecondsPerGb: number } {
  return {
    objectsPerSecond: row.objects / row.seconds,
    mbPerSecond: row.bytes / 1e6 / row.seconds,
    cpuSecondsPerGb: row.bytes > 0 ? row.cpuSeconds / (row.bytes / 1e9) : 0,
  }
}

const columns = [
  ['direction', 9], ['threads', 7], ['concurrency', 11], ['objects/s', 10], ['MB/s', 9], ['CPU-s/GB', 8],
] as const

/** The header of the table the text lines make. */
export function headerLine(): string {
  return columns.map(([name, width], i) => (i === 0 ? name.padEnd(width) : name.padStart(width))).join('  ')
}

/** One row as a line of the table: `read  0  16  98.1  823.0  2.04`, aligned under headerLine. */
export function textLine(row: BenchRow): string {
  const r = ratesOf(row)
  const cells = [row.direction, String(row.threads), String(row.concurrency), r.objectsPerSecond.toFixed(1), r.mbPerSecond.toFixed(1), r.cpuSecondsPerGb.toFixed(2)]
  return cells.map((c, i) => (i === 0 ? c.padEnd(columns[i]![1]) : c.padStart(columns[i]![1]))).join('  ')
}

/** One row as one JSON object: the measurements as taken, and the rates of the text line. */
export function jsonLine(row: BenchRow): string {
  const r = ratesOf(row)
  const round = (v: number, digits: number): number => Number(v.toFixed(digits))
  return JSON.stringify({
    type: 'bench', direction: row.direction, threads: row.threads, concurrency: row.concurrency,
    objects: row.objects, bytes: row.bytes, seconds: round(row.seconds, 4), cpu_seconds: round(row.cpuSeconds, 4),
    objects_per_second: round(r.objectsPerSecond, 2), mb_per_second: round(r.mbPerSecond, 2), cpu_seconds_per_gb: round(r.cpuSecondsPerGb, 3),
  })
}
