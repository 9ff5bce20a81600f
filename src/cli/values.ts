import { UsageError } from '../errors.js'
import { parseByteCount } from '../units.js'

// Parsers for option values. Each names the option and shows what was expected, so every
// message has the same shape: Expected `--flag` to be <what>, got `<value>`.

function expected(flag: string, what: string, got: string): UsageError {
  return new UsageError(`Expected \`${flag}\` to be ${what}, got \`${got}\``)
}

export function parseInteger(flag: string, raw: string, min = 0): number {
  const n = raw.trim() === '' ? NaN : Number(raw.trim())
  if (!Number.isInteger(n) || n < min) throw expected(flag, `an integer >= ${min}`, raw)
  return n
}

/** Seconds, as a plain number (`2`, `0.5`) or with a unit (`500ms`, `2s`, `1m`). */
export function parseSeconds(flag: string, raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/i.exec(raw)
  if (!m) throw expected(flag, 'a duration like 2, 0.5s or 500ms', raw)
  const value = Number(m[1])
  const unit = (m[2] ?? 's').toLowerCase()
  return unit === 'ms' ? value / 1000 : unit === 'm' ? value * 60 : value
}

/** A byte count: `8388608`, `8MiB`, `16M`, `1.5GB` (the grammar of units.ts, parseByteCount). */
export function parseBytes(flag: string, raw: string): number {
  const n = parseByteCount(raw)
  if (n === undefined) throw expected(flag, 'a size like 8MiB, 16M or 8388608', raw)
  return n
}

/** A rate in MB/s (10^6 bytes): `50`, `50MB/s`, `1.5GB/s`, `800KB/s`. Returns bytes per second. */
export function parseRate(flag: string, raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmg])(i?)b?(?:\/s)?)?\s*$/i.exec(raw)
  if (!m || Number(m[1]) <= 0) throw expected(flag, 'a rate in MB/s like 50 or 50MB/s', raw)
  const power = { k: 1, m: 2, g: 3 }[(m[2] ?? 'm').toLowerCase() as 'k' | 'm' | 'g']
  return Number(m[1]) * (m[3] ? 1024 : 1000) ** power
}

export function parseChoice<T extends string>(flag: string, raw: string, choices: readonly T[]): T {
  const v = raw.trim().toLowerCase() as T
  if (!choices.includes(v)) throw expected(flag, `one of ${choices.join(', ')}`, raw)
  return v
}

/** What commander collected, as the strings the option table parses (a switch given is `true`). */
export function givenStrings(raw: Record<string, unknown>, keys: readonly string[] = Object.keys(raw)): Record<string, string | undefined> {
  return Object.fromEntries(keys.map((k) => [k, raw[k] === undefined ? undefined : String(raw[k])]))
}
