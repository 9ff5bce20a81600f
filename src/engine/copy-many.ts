import { resolve } from 'node:path'
import { UsageError } from '../errors.js'
import type { Location } from '../location.js'
import type { TransferOptions } from '../options.js'
import { localPathFor } from '../providers/local/keys.js'
import { copySources } from './copy-sources.js'
import { defaultStatePath, type CopyEnvironment, type CopyResult } from './copy.js'
import type { SourceItem } from './open-source.js'

/**
 * Several sources in one run (`soaker cp s3://a s3://b/photos ./dest`, or --buckets-file): each
 * lands in its own subdirectory, `dest/<bucket>[/<prefix>]`, and one state database covers the
 * run, each bucket's rows under its own namespace. Their requests share one pool (copySources).
 */
export async function copyManyToLocal(sources: Location[], destination: Location, options: TransferOptions, env: CopyEnvironment, planOnly = false): Promise<CopyResult> {
  if (destination.kind !== 'local') throw new UsageError(`Expected a local destination directory, got \`${destination.uri}\``)
  const root = resolve(destination.path)
  const items: SourceItem[] = sources.map((source) => {
    if (source.kind === 'local') throw new UsageError(`Expected remote sources (s3://, az://, gs://, hf://), got \`${source.uri}\``)
    const sub = localPathFor(root, [source.bucket, ...source.key.split('/').filter(Boolean)].join('/'), source.uri)
    const namespace = `${source.kind}://${source.bucket}/`
    return { source, destination: { kind: 'local', path: sub, uri: sub }, namespace, namePrefix: namespace }
  })
  const statePath = options.state ?? defaultStatePath(sources.map((s) => s.uri.replace(/\/+$/, '')).join('\n'), root, options.shard)
  return await copySources(items, options, env, { statePath, source: sources.map((s) => s.uri).join(' '), destination: root, planOnly })
}
