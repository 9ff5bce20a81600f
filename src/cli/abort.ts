import { existsSync } from 'node:fs'
import { errorMessage, LocationError, UsageError } from '../errors.js'
import { parseLocation } from '../location.js'
import { checkCredentials, createS3Connection } from '../providers/s3/client.js'
import { S3Provider } from '../providers/s3/s3-provider.js'
import { SqliteStateStore } from '../state/sqlite-store.js'
import { StateLock } from '../state/state-lock.js'
import { resolveShard } from './options.js'
import { statePathFor } from './status.js'

/**
 * `soaker abort`: aborts on the store every multipart upload the state database records as open,
 * and forgets them, so that the next cp starts those files over. Returns the exit status.
 */
export async function runAbort(source: string | undefined, destination: string | undefined, opts: Record<string, string | undefined>): Promise<number> {
  const env = process.env
  const path = statePathFor(opts.state ?? env.SOAKER_STATE, source, destination, resolveShard({ shard: opts.shard, shards: opts.shards }, env))
  if (!existsSync(path)) throw new LocationError(`No state database at \`${path}\`: has this upload run yet? (or pass --state PATH)`)
  // A run that is uploading would go on sending parts of the uploads aborted under it.
  const lock = StateLock.acquire(path, (note) => process.stderr.write(`soaker: ${note}\n`))
  const store = new SqliteStateStore(path)
  try {
    const open = await store.openUploads()
    if (open.length === 0) {
      process.stdout.write('No unfinished multipart uploads are recorded: nothing to abort.\n')
      return 0
    }
    const target = destination ?? (await store.runs(1))[0]?.destination
    const dest = target === undefined ? undefined : parseLocation(target)
    if (dest?.kind !== 's3') throw new UsageError(`Expected the upload's s3:// destination, got \`${target ?? ''}\``)
    const endpointUrl = opts.endpointUrl ?? (env.SOAKER_ENDPOINT_URL || undefined)
    const profile = opts.profile ?? (env.SOAKER_PROFILE || undefined)
    const connection = await createS3Connection({ endpointUrl, profile, region: opts.region ?? (env.SOAKER_REGION || undefined), connectTimeout: 10, maxSockets: 8 })
    const provider = new S3Provider({ connection, bucket: dest.bucket, endpoint: endpointUrl ?? 'AWS S3', endpointUrl })
    const signal = new AbortController().signal
    let failed = 0
    try {
      await checkCredentials(connection.client, profile)
      for (const { key, uploadId } of open) {
        try {
          await provider.multipart.abort(key, uploadId, signal)
          store.setUpload(key, null, null)
          process.stdout.write(`aborted s3://${dest.bucket}/${key} (upload ${uploadId})\n`)
        } catch (err) {
          failed++
          process.stderr.write(`soaker: could not abort the upload of s3://${dest.bucket}/${key}: ${errorMessage(err)}\n`)
        }
      }
    } finally {
      provider.close()
    }
    process.stdout.write(`${open.length - failed} of ${open.length} unfinished uploads aborted; the next cp uploads those files from the start.\n`)
    return failed === 0 ? 0 : 1
  } finally {
    await store.close()
    lock.close()
  }
}
