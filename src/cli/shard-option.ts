import { UsageError } from '../errors.js'
import type { Shard } from '../options.js'
import { parseInteger } from './values.js'

/** An option's raw value and where it was given: the flag, or the variable that set it. */
export interface RawValue {
  raw: string
  source: string
}

/** What `--shard` reads beside its own value. */
export interface ShardInputs {
  /** The number of shards, `--shards` or SOAKER_SHARDS, where given. */
  shards: RawValue | undefined
  /** For `auto`: JOB_COMPLETION_INDEX. */
  env: NodeJS.ProcessEnv
}

/** The variable Kubernetes sets in each pod of an Indexed Job to the pod's index, 0 to completions - 1. */
export const completionIndexVar = 'JOB_COMPLETION_INDEX'

const shapes = 'K/N (shard K of N shards, K counted from 0 as a Kubernetes Indexed Job numbers its pods) or auto'

/** The number of shards given by `--shards` or SOAKER_SHARDS. */
export function shardCount(shards: RawValue): number {
  return parseInteger(shards.source, shards.raw, 1)
}

/**
 * `--shard K/N`, or `--shard auto`: K from JOB_COMPLETION_INDEX, N from `--shards` (or
 * SOAKER_SHARDS). A number of shards given beside `K/N` must be its N.
 */
export function parseShard(flag: string, raw: string, inputs: ShardInputs): Shard {
  const text = raw.trim()
  if (/^auto$/i.test(text)) return autoShard(flag, inputs)
  const m = /^(\d+)\s*\/\s*(\d+)$/.exec(text)
  const [index, count] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN]
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count)) throw new UsageError(`Expected \`${flag}\` to be ${shapes}, got \`${raw}\``)
  if (count === 0) throw new UsageError(`Expected \`${flag}\` to be K/N with at least 1 shard (N >= 1), got \`${raw}\``)
  if (index >= count) {
    throw new UsageError(`Expected \`${flag}\` to be K/N with K below N (${count} shards are 0/${count} to ${count - 1}/${count}), got \`${raw}\``)
  }
  if (inputs.shards !== undefined && shardCount(inputs.shards) !== count) {
    throw new UsageError(`Expected \`${inputs.shards.source}\` to be the N of \`${flag} ${text}\`, ${count}, got \`${inputs.shards.raw}\``)
  }
  return { index, count }
}

function autoShard(flag: string, { shards, env }: ShardInputs): Shard {
  const given = env[completionIndexVar]
  if (given === undefined || given === '') {
    throw new UsageError(`Expected \`${completionIndexVar}\` for \`${flag} auto\` (Kubernetes sets it in each pod of an Indexed Job), got none; ` +
      `elsewhere, give the shard as \`${flag} K/N\``)
  }
  if (shards === undefined) {
    throw new UsageError(`Expected \`--shards N\` or \`SOAKER_SHARDS\` for \`${flag} auto\` (N: the Indexed Job's completions), got neither`)
  }
  const count = shardCount(shards)
  const index = parseInteger(completionIndexVar, given, 0)
  if (index >= count) {
    throw new UsageError(`Expected \`${completionIndexVar}\` to be below the number of shards, ${count} (\`${shards.source}\`), got \`${given}\`: ` +
      'give the Job as many completions as shards')
  }
  return { index, count }
}
