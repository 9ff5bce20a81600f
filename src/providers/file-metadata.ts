/**
 * A file's mtime and permissions as object metadata, in the conventions other tools read:
 * `mtime` is float epoch seconds (rclone's `X-Amz-Meta-Mtime`, so `rclone lsl` shows the
 * original times) and `mode` is octal permission bits (`0644`).
 */
export interface FileMetadata {
  /** Nanoseconds since the epoch. */
  mtimeNs: bigint
  /** Permission bits (mode & 0o7777). */
  mode: number
}

const billion = 1_000_000_000n

/** `1700000000.123456789`, trailing zeros dropped (`1700000000` for whole seconds). */
export function formatMtime(ns: bigint): string {
  const neg = ns < 0n
  const abs = neg ? -ns : ns
  const frac = (abs % billion).toString().padStart(9, '0').replace(/0+$/, '')
  return `${neg ? '-' : ''}${abs / billion}${frac ? '.' + frac : ''}`
}

export function fileMetadata(meta: FileMetadata): Record<string, string> {
  return { mtime: formatMtime(meta.mtimeNs), mode: '0' + meta.mode.toString(8).padStart(3, '0') }
}

/** Milliseconds since the epoch from `mtime` metadata, if it is there and a number. */
export function parseMtime(metadata: Record<string, string> | undefined): number | undefined {
  const raw = metadata?.mtime
  if (raw === undefined || !/^-?\d+(\.\d+)?$/.test(raw.trim())) return undefined
  const ms = Number(raw.trim()) * 1000
  return Number.isFinite(ms) ? ms : undefined
}

/**
 * Permission bits from `mode` metadata: octal as soaker writes it (`0644`, `644`), or a decimal
 * st_mode as s3fs writes it (`33188`). Only the rwx bits are restored: setuid, setgid and sticky
 * bits from a bucket are not trusted.
 */
export function parseMode(metadata: Record<string, string> | undefined): number | undefined {
  const raw = metadata?.mode?.trim()
  if (raw === undefined) return undefined
  if (/^0?[0-7]{3,4}$/.test(raw)) return parseInt(raw, 8) & 0o777
  if (/^\d{5,6}$/.test(raw)) return Number(raw) & 0o777
  return undefined
}
