import { availableParallelism } from 'node:os'
import { defaultDataThreads } from '../../engine/run-tasks.js'
import { UsageError } from '../../errors.js'
import { parseBytes, parseInteger, parseSeconds } from '../values.js'

const MiB = 1024 * 1024

/** What one `soaker bench` measures, its flags read. */
export interface BenchSettings {
  /** Data threads of each setting (--data-threads-list). */
  threads: number[]
  /** Requests in flight of each setting (--concurrency-list). */
  concurrency: number[]
  /** Bytes of each object. */
  size: number
  /** Objects larger than this are read (and sent) in ranges of this many bytes. */
  partSize: number
  /** Objects in the set: cycled through by the data plane alone; written, read and deleted in a store. */
  count: number
  /** Data plane alone: seconds each setting runs (it ends with the objects under way). */
  seconds: number
  /** Take each range's MD5 as it streams (and, in a store, send and check MD5s), as a verified copy does. */
  verify: boolean
  json: boolean
  /** A store: write (under a prefix of the bench's own) even where the prefix holds objects already. */
  force: boolean
}

/** The defaults, as the help shows them. */
export const benchDefaults = { concurrency: [4, 16, 64], size: 8 * MiB, partSize: 8 * MiB, count: 64, seconds: 3 } as const

/** The smallest part S3 takes, but for the last (S3's EntityTooSmall). */
const s3MinPart = 5 * MiB
const s3MaxParts = 10_000

/**
 * Data threads measured by default without a target: none, then 1, 2, 4, ... up to the cores
 * there are (0,1,2 on two cores): where adding threads stops paying shows on this machine.
 */
export function planeThreadsDefault(cores = availableParallelism()): number[] {
  const out = [0]
  for (let t = 1; t <= Math.max(1, cores); t *= 2) out.push(t)
  return out
}

/** A comma-separated list of integers of at least `min`: `4,16,64`. */
export function parseList(flag: string, raw: string, min: number): number[] {
  const items = raw.split(',').map((s) => s.trim())
  const values = items.map((s) => (/^\d+$/.test(s) ? Number(s) : NaN))
  if (items.length === 0 || values.some((v) => !Number.isSafeInteger(v) || v < min)) {
    throw new UsageError(`Expected \`${flag}\` to be a comma-separated list of integers >= ${min} like ${min === 0 ? '0,1,2' : '4,16,64'}, got \`${raw}\``)
  }
  return values
}

function verifyOf(raw: string): boolean {
  if (/^(1|true|yes|on)$/i.test(raw)) return true
  if (/^(0|false|no|off|size)$/i.test(raw)) return false
  throw new UsageError(`Expected \`--verify\` to be true, false or size, got \`${raw}\``)
}

/**
 * The settings of a bench from its flags (raw strings, as commander collected them); `store`:
 * whether it has a target. Throws UsageError naming the flag and what was expected.
 */
export function benchSettings(raw: Record<string, string | undefined>, store: boolean, cores = availableParallelism()): BenchSettings {
  const s: BenchSettings = {
    threads: raw.dataThreadsList !== undefined ? parseList('--data-threads-list', raw.dataThreadsList, 0)
      : store ? [defaultDataThreads(cores)] : planeThreadsDefault(cores),
    concurrency: raw.concurrencyList !== undefined ? parseList('--concurrency-list', raw.concurrencyList, 1) : [...benchDefaults.concurrency],
    size: raw.size !== undefined ? parseBytes('--size', raw.size) : benchDefaults.size,
    partSize: raw.partSize !== undefined ? parseBytes('--part-size', raw.partSize) : benchDefaults.partSize,
    count: raw.count !== undefined ? parseInteger('--count', raw.count, 1) : benchDefaults.count,
    seconds: raw.seconds !== undefined ? parseSeconds('--seconds', raw.seconds) : benchDefaults.seconds,
    verify: raw.verify !== undefined ? verifyOf(raw.verify) : true,
    json: raw.json !== undefined && raw.json !== 'false',
    force: raw.force !== undefined && raw.force !== 'false',
  }
  if (s.size < 1) throw new UsageError(`Expected \`--size\` to be at least 1 byte, got \`${raw.size}\``)
  if (s.partSize < 1) throw new UsageError(`Expected \`--part-size\` to be at least 1 byte, got \`${raw.partSize}\``)
  if (!(s.seconds > 0)) throw new UsageError(`Expected \`--seconds\` to be more than 0, got \`${raw.seconds}\``)
  if (store && s.size > s.partSize && s.partSize < s3MinPart) {
    throw new UsageError(`Expected \`--part-size\` to be at least 5MiB where objects are uploaded in parts (S3's smallest part), got \`${raw.partSize}\``)
  }
  if (store && Math.ceil(s.size / s.partSize) > s3MaxParts) {
    throw new UsageError(`Expected \`--size\` / \`--part-size\` to make at most ${s3MaxParts} parts (S3's limit), got ${Math.ceil(s.size / s.partSize)}`)
  }
  return s
}
