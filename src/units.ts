// How byte counts, rates and durations read in messages, logs and the dashboard, and how a byte
// count a user typed reads back: one grammar for every flag and URI that takes a size.

const sizeUnits: Record<string, number> = {
  '': 1, b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9,
  ki: 1024, kib: 1024, mi: 1024 ** 2, mib: 1024 ** 2, gi: 1024 ** 3, gib: 1024 ** 3,
}

/**
 * A byte count as users write it: `8388608`, `8MiB`, `16M` (10^6), `1.5GB`; undefined when `raw`
 * is not one. Callers put the undefined into a message that names their flag or URI.
 */
export function parseByteCount(raw: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(raw)
  const mult = m ? sizeUnits[m[2]!.toLowerCase()] : undefined
  return m && mult !== undefined ? Math.round(Number(m[1]) * mult) : undefined
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  // Round before choosing the unit, so that 1048575 bytes reads 1.0 MiB, not 1024 KiB.
  const shown = (v: number): string => v.toFixed(v >= 100 ? 0 : 1)
  while (i < units.length - 1 && (n >= 1024 || (i > 0 && Number(shown(n)) >= 1024))) { n /= 1024; i++ }
  return i === 0 ? `${n} B` : `${shown(n)} ${units[i]}`
}

export function formatRate(bytesPerSecond: number): string {
  return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`
}

export function formatDuration(seconds: number): string {
  if (Number(seconds.toFixed(1)) < 60) return `${seconds.toFixed(1)}s`
  const s = Math.round(seconds)
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m${String(r).padStart(2, '0')}s` : `${m}m${String(r).padStart(2, '0')}s`
}
