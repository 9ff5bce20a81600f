// How byte counts, rates and durations read in messages, logs and the dashboard.

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
