import { UsageError } from '../errors.js'
import type { Location } from '../location.js'
import type { TransferOptions } from '../options.js'
import { copyManyToLocal } from './copy-many.js'
import { copyToLocal, type CopyEnvironment, type CopyResult } from './copy.js'
import { kindOf, writableSchemes } from '../providers/registry.js'
import { copyToStore } from './upload-copy.js'

export interface CopyHow {
  /** `soaker plan`: list and decide, record the plan, transfer nothing. @default false */
  planOnly?: boolean
  /**
   * Each source lands in `DEST/<bucket>[/<prefix>]`, as several sources always do (a buckets
   * file of one line too). @default sources.length > 1
   */
  eachInOwnFolder?: boolean
}

/**
 * Throws UsageError for a copy this library cannot make (several sources into a bucket, a local
 * source among downloads, `plan` of an upload, a destination it cannot write to), so that a caller can refuse it before it reports
 * anything.
 */
export function assertCopyable(sources: Location[], destination: Location, how: CopyHow = {}): void {
  const [first] = sources
  if (first === undefined) throw new UsageError('Expected at least one source')
  if (destination.kind !== 'local') {
    if ((how.eachInOwnFolder ?? sources.length > 1)) {
      const what = first.kind === 'local' ? 'local file or directory to upload' : 'source to copy'
      throw new UsageError(`Expected one ${what} to \`${destination.uri}\`, got ${sources.map((s) => `\`${s.uri}\``).join(', ')}`)
    }
    if (!kindOf(destination.kind)?.writable) {
      throw new UsageError(`Expected a local directory, or an ${writableSchemes()} destination, got \`${destination.uri}\`: soaker does not write to ${destination.kind}:// yet`)
    }
    if (how.planOnly) throw new UsageError('`soaker plan` plans downloads; for an upload or a copy between buckets, use `soaker cp --dry-run SRC s3://bucket/prefix`')
    return
  }
  const local = sources.filter((s) => s.kind === 'local')
  if (local.length > 0) {
    throw new UsageError(`Expected s3://, az://, gs:// or hf:// sources for a download into \`${destination.uri}\`, got ${local.map((s) => `\`${s.uri}\``).join(', ')} (to upload, the destination must be an ${writableSchemes()} location)`)
  }
}

/**
 * `soaker cp`: copies `sources` to `destination`, the library's one entry for every pair it
 * supports: one or several remote sources into a local directory, or one local file or tree, or
 * one remote source (any store), into a store that takes writes (S3, Azure Blob, GCS). Throws
 * UsageError for a pair it does not support (assertCopyable), before anything is contacted.
 */
export async function copy(sources: Location[], destination: Location, options: TransferOptions, env: CopyEnvironment, how: CopyHow = {}): Promise<CopyResult> {
  assertCopyable(sources, destination, how)
  const first = sources[0]!
  if (destination.kind !== 'local') return await copyToStore(first, destination, options, env)
  if (how.eachInOwnFolder ?? sources.length > 1) return await copyManyToLocal(sources, destination, options, env, how.planOnly)
  return await copyToLocal(first, destination, options, env, { planOnly: how.planOnly })
}
