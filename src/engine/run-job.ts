import { resolve } from 'node:path'
import { errorCode, errorMessage, SoakerError } from '../errors.js'
import type { Job, JobItem } from '../job/job-file.js'
import { globMatcher } from '../job/glob.js'
import type { Location } from '../location.js'
import type { TransferOptions } from '../options.js'
import type { GivenSettings } from '../providers/kind.js'
import { StateLock } from '../state/state-lock.js'
import { copyToLocal, defaultStatePath, type CopyEnvironment, type CopyResult } from './copy.js'

/** The location an item reads, as `soaker cp` would write it. */
export function itemLocation(item: JobItem): Location {
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
 * `soaker run job.yaml`: every item of the job, one after another, each through the same engine
 * as `soaker cp` (each tunes its own concurrency up to --max-concurrency). One state database
 * covers the job, each item's rows under its target path. An item that cannot be copied at all
 * (no such bucket, access denied) is reported and the others still run.
 */
export async function runJob(job: Job, options: TransferOptions, env: CopyEnvironment): Promise<CopyResult> {
  const statePath = options.state ?? defaultStatePath(`job:${resolve(job.file)}`, job.downloadRoot)
  // Held across every item, so that no other run slips in between two of them.
  const lock = options.dryRun ? undefined : StateLock.acquire(statePath, (note) => env.log.warn(note))
  try {
    return await runItems(job, statePath, options, env)
  } finally {
    lock?.close()
  }
}

async function runItems(job: Job, statePath: string, options: TransferOptions, env: CopyEnvironment): Promise<CopyResult> {
  const failures: CopyResult['failures'] = []
  let stoppedBy: string | undefined
  let interrupted = false
  for (const item of job.items) {
    if (env.signal.aborted) break
    const source = itemLocation(item)
    const destination: Location = { kind: 'local', path: item.target, uri: item.target }
    env.log.info(`${item.label}: ${source.uri} → ${item.target}`)
    try {
      const r = await copyToLocal(source, destination, options, env, {
        statePath,
        // Targets are normalised absolute paths, never holding `//`: no namespace is a prefix of another.
        namespace: `${item.target}//`,
        given: givenSettings(item),
        only: item.mode === 'file' ? 'object' : undefined,
        include: item.glob !== undefined ? globMatcher(item.glob) : undefined,
      })
      failures.push(...r.failures.map((f) => ({ ...f, key: `${item.label}: ${f.key}` })))
      stoppedBy ??= r.stoppedBy
      interrupted ||= r.status === 'interrupted'
    } catch (err) {
      if (!(err instanceof SoakerError) || env.signal.aborted) throw err
      env.log.error(`${item.label}: ${errorMessage(err)}`)
      failures.push({ key: item.label, errorCode: errorCode(err), reason: errorMessage(err) })
    }
    if (interrupted) break
  }
  const snapshot = env.stats.snapshot()
  interrupted ||= env.signal.aborted
  const failed = failures.length > 0 || snapshot.failed > 0 || stoppedBy !== undefined
  return { status: interrupted ? 'interrupted' : failed ? 'failed' : 'ok', snapshot, failures, statePath, stoppedBy }
}
