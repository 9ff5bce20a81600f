import { resolve } from 'node:path'
import type { Job, JobItem } from '../job/job-file.js'
import { globMatcher } from '../job/glob.js'
import type { RemoteLocation } from '../providers/registry.js'
import type { TransferOptions } from '../options.js'
import type { GivenSettings } from '../providers/kind.js'
import { copySources } from './copy-sources.js'
import { defaultStatePath, type CopyEnvironment, type CopyResult } from './copy.js'
import type { SourceItem } from './open-source.js'

/** The location an item reads, as `soaker cp` would write it. */
export function itemLocation(item: JobItem): RemoteLocation {
  const key = item.mode === 'folder' && item.key !== '' && !item.key.endsWith('/') ? `${item.key}/` : item.key
  const p = item.provider
  if (p.type === 'hf') {
    const repo = p.repo
    const root = `hf://${repo.type === 'model' ? '' : `${repo.type}s/`}${repo.id}${repo.revision ? `@${encodeURIComponent(repo.revision)}` : ''}`
    return { kind: 'hf', bucket: repo.id, repo, key, uri: key ? `${root}/${key}` : root }
  }
  const kind = p.type === 's3' ? 's3' : p.type === 'gcs' ? 'gs' : 'az'
  return { kind, bucket: item.bucket, key, uri: `${kind}://${item.bucket}${key ? `/${key}` : ''}` }
}

function givenSettings(item: JobItem): GivenSettings {
  const p = item.provider
  switch (p.type) {
    case 's3': return { type: 's3', endpointUrl: p.endpointUrl, region: p.region, accessKeyId: p.accessKeyId?.reveal(), secretAccessKey: p.secretAccessKey?.reveal() }
    case 'azure-blob': return { type: 'azure-blob', connectionString: p.connectionString.reveal() }
    case 'gcs': return { type: 'gcs', credentialsFile: p.credentialsFile, project: p.project }
    case 'hf': return { type: 'hf', token: p.token?.reveal() }
  }
}

/**
 * `soaker run job.yaml`: every item of the job through the same engine as `soaker cp`, their
 * requests interleaved in one pool whose concurrency one tuner sets, up to --max-concurrency.
 * One state database covers the job, each item's rows under its target path. An item that cannot
 * be copied at all (no such bucket, access denied) is reported and the others still run.
 */
export async function runJob(job: Job, options: TransferOptions, env: CopyEnvironment): Promise<CopyResult> {
  const statePath = options.state ?? defaultStatePath(`job:${resolve(job.file)}`, job.downloadRoot, options.shard)
  const items: SourceItem[] = job.items.map((item) => {
    env.log.info(`${item.label}: ${itemLocation(item).uri} → ${item.target}`)
    return {
      source: itemLocation(item),
      destination: { kind: 'local', path: item.target, uri: item.target },
      // Targets are normalised absolute paths, never holding `//`: no namespace is a prefix of another.
      namespace: `${item.target}//`,
      given: givenSettings(item),
      only: item.mode === 'file' ? 'object' : undefined,
      include: item.glob !== undefined ? globMatcher(item.glob) : undefined,
      label: item.label,
      // Objects of several items are named by where they land.
      namePrefix: `${item.target}/`,
    }
  })
  return await copySources(items, options, env, { statePath, source: `job:${resolve(job.file)}`, destination: job.downloadRoot })
}
