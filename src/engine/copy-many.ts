import { resolve } from 'node:path'
import { errorCode, errorMessage, SoakerError, UsageError } from '../errors.js'
import type { Location } from '../location.js'
import type { TransferOptions } from '../options.js'
import { localPathFor } from '../providers/local/keys.js'
import { StateLock } from '../state/state-lock.js'
import { copyToLocal, defaultStatePath, type CopyEnvironment, type CopyResult } from './copy.js'

/**
 * Several sources in one run (`soaker cp s3://a s3://b/photos ./dest`, or --buckets-file): each
 * lands in its own subdirectory, `dest/<bucket>[/<prefix>]`, and one state database covers the
 * run, each bucket's rows under its own namespace. A source that cannot be copied at all (no
 * such bucket, access denied) is reported and the others still run.
 */
export async function copyManyToLocal(sources: Location[], destination: Location, options: TransferOptions, env: CopyEnvironment, planOnly = false): Promise<CopyResult> {
  if (destination.kind !== 'local') throw new UsageError(`Expected a local destination directory, got \`${destination.uri}\``)
  const root = resolve(destination.path)
  const statePath = options.state ?? defaultStatePath(sources.map((s) => s.uri.replace(/\/+$/, '')).join('\n'), root)
  // Held across every source, so that no other run slips in between two of them.
  const lock = options.dryRun ? undefined : StateLock.acquire(statePath, (note) => env.log.warn(note))
  try {
    return await copyEach(sources, root, statePath, options, env, planOnly)
  } finally {
    lock?.close()
  }
}

async function copyEach(sources: Location[], root: string, statePath: string, options: TransferOptions, env: CopyEnvironment, planOnly: boolean): Promise<CopyResult> {
  const sourceFailures: CopyResult['failures'] = []
  let last: CopyResult | undefined
  for (const source of sources) {
    if (env.signal.aborted) break
    if (source.kind === 'local') throw new UsageError(`Expected remote sources (s3://, az://, gs://, hf://), got \`${source.uri}\``)
    const sub = localPathFor(root, [source.bucket, ...source.key.split('/').filter(Boolean)].join('/'), source.uri)
    try {
      last = await copyToLocal(source, { kind: 'local', path: sub, uri: sub }, options, env, { statePath, namespace: `${source.kind}://${source.bucket}/`, planOnly })
    } catch (err) {
      if (!(err instanceof SoakerError) || env.signal.aborted) throw err
      env.log.error(`${source.uri}: ${errorMessage(err)}`)
      sourceFailures.push({ key: source.uri, errorCode: errorCode(err), reason: errorMessage(err) })
    }
  }
  const snapshot = env.stats.snapshot()
  const interrupted = env.signal.aborted || last?.status === 'interrupted'
  const failed = sourceFailures.length > 0 || snapshot.failed > 0 || last?.stoppedBy !== undefined
  return {
    status: interrupted ? 'interrupted' : failed ? 'failed' : 'ok',
    snapshot,
    failures: [...sourceFailures, ...(last?.failures ?? [])],
    statePath,
    stoppedBy: last?.stoppedBy,
    plan: options.dryRun || planOnly ? { first: last?.plan?.first ?? [], kept: planOnly } : undefined,
  }
}
