import { UsageError } from '../../errors.js'
import type { ProviderKind } from '../kind.js'
import { checkCredentials, createS3Connection } from './client.js'
import { S3Provider } from './s3-provider.js'

export interface S3Location { kind: 's3'; bucket: string; key: string; uri: string }

// Lenient on purpose: S3-compatible stores allow more than AWS does (upper case, underscores).
const bucketRe = /^[A-Za-z0-9][A-Za-z0-9._-]{2,254}$/

/** S3 and S3-compatible stores. Credentials come from the AWS SDK's default chain. */
export const s3Kind = {
  scheme: 's3',
  example: 's3://bucket/prefix',
  writable: true,
  parse(raw: string): S3Location {
    const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/is.exec(raw)
    if (!m) throw new UsageError(`Expected an S3 URI like s3://bucket/prefix, got \`${raw}\``)
    const bucket = m[1]!
    if (!bucketRe.test(bucket)) {
      throw new UsageError(`Expected an S3 URI like s3://bucket/prefix with a bucket name of 3-255 letters, digits, dots, hyphens or underscores, got \`${raw}\``)
    }
    return { kind: 's3', bucket, key: m[2] ?? '', uri: raw }
  },
  async open(location: S3Location, { options, retry, given }): Promise<S3Provider> {
    const s3 = given?.type === 's3' ? given : undefined
    const endpointUrl = s3?.endpointUrl ?? options.endpointUrl
    const keys = s3?.accessKeyId !== undefined && s3.secretAccessKey !== undefined
      ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
      : undefined
    const connection = await createS3Connection({
      endpointUrl, region: s3?.region ?? options.region, profile: options.profile, credentials: keys,
      // A little longer than the engine's own watch of the requests that carry bytes, so that
      // those report SOAKER_STALLED; the socket's timeout covers every other call.
      connectTimeout: options.connectTimeout, idleTimeout: options.timeout + 5, maxSockets: options.maxConcurrency + 8,
    })
    const provider = new S3Provider({
      connection, bucket: location.bucket, endpoint: endpointUrl ?? 'AWS S3', endpointUrl, retry, askChecksums: options.storeChecksums,
    })
    try {
      await checkCredentials(connection.client, options.profile)
    } catch (err) {
      provider.close()
      throw err
    }
    return provider
  },
} satisfies ProviderKind<S3Location>
