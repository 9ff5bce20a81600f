import { UsageError } from './errors.js'
import { parseAzureUri } from './providers/azure/uri.js'
import { parseGcsUri } from './providers/gcs/uri.js'
import { parseHfUri, type HfRepo } from './providers/hf/uri.js'

/**
 * Where objects come from or go to, as the user wrote it. `bucket` is an Azure container for
 * `az`, and for `hf` the repository id (`owner/name`), with its type and revision in `repo`.
 */
export type Location =
  | { kind: 's3'; bucket: string; key: string; uri: string }
  | { kind: 'az'; bucket: string; key: string; uri: string }
  | { kind: 'gs'; bucket: string; key: string; uri: string }
  | { kind: 'hf'; bucket: string; repo: HfRepo; key: string; uri: string }
  | { kind: 'local'; path: string; uri: string }

/** A location in an object store. */
export type RemoteLocation = Extract<Location, { bucket: string }>

const schemeRe = /^([a-z][a-z0-9+.-]*):/i
// Lenient on purpose: S3-compatible stores allow more than AWS does (upper case, underscores).
const bucketRe = /^[A-Za-z0-9][A-Za-z0-9._-]{2,254}$/

/** Parses `s3://bucket[/key]` or a local path. Rejects with UsageError naming what was expected. */
export function parseLocation(raw: string): Location {
  if (raw === '') throw new UsageError('Expected a location like s3://bucket/prefix, az://container/prefix, gs://bucket/prefix, hf://owner/repo or a local path, got an empty string')
  if (raw.includes('\0')) throw new UsageError(`Expected a location without NUL characters, got \`${JSON.stringify(raw)}\``)
  const scheme = schemeRe.exec(raw)?.[1]?.toLowerCase()
  if (scheme === undefined || /^[a-z]:[\\/]/i.test(raw)) {
    if (/^s3\/\//i.test(raw)) {
      // `s3//bucket` is a typo far more often than a directory named `s3`.
      throw new UsageError(`Expected an S3 URI like s3://bucket/prefix, got \`${raw}\``)
    }
    return { kind: 'local', path: raw, uri: raw }
  }
  if (scheme === 'az') {
    const { container, key } = parseAzureUri(raw)
    return { kind: 'az', bucket: container, key, uri: raw }
  }
  if (scheme === 'gs') {
    const { bucket, key } = parseGcsUri(raw)
    return { kind: 'gs', bucket, key, uri: raw }
  }
  if (scheme === 'hf') {
    const { repo, key } = parseHfUri(raw)
    return { kind: 'hf', bucket: repo.id, repo, key, uri: raw }
  }
  if (scheme !== 's3') {
    throw new UsageError(`Expected a location like s3://bucket/prefix, az://container/prefix, gs://bucket/prefix, hf://owner/repo or a local path, got \`${raw}\` (scheme \`${scheme}:\` is not supported)`)
  }
  const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/is.exec(raw)
  if (!m) throw new UsageError(`Expected an S3 URI like s3://bucket/prefix, got \`${raw}\``)
  const bucket = m[1]!
  if (!bucketRe.test(bucket)) {
    throw new UsageError(`Expected an S3 URI like s3://bucket/prefix with a bucket name of 3-255 letters, digits, dots, hyphens or underscores, got \`${raw}\``)
  }
  return { kind: 's3', bucket, key: m[2] ?? '', uri: raw }
}
