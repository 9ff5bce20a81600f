import { UsageError } from '../../errors.js'

/**
 * Google's bucket naming rule, loosely: 3-63 characters of a-z, 0-9, `-`, `_` and `.` (up to 222
 * with dots), starting and ending with a letter or digit.
 */
const bucketRe = /^(?=.{3,222}$)[a-z0-9][a-z0-9._-]*[a-z0-9]$/

/** Parses `gs://bucket[/key]`; the key may be empty or a prefix. Rejects with UsageError. */
export function parseGcsUri(raw: string): { bucket: string; key: string } {
  const m = /^gs:\/\/([^/]*)(?:\/(.*))?$/is.exec(raw)
  if (!m) throw new UsageError(`Expected a Google Cloud Storage URI like gs://bucket/prefix, got \`${raw}\``)
  const bucket = m[1]!
  if (!bucketRe.test(bucket)) {
    throw new UsageError(`Expected a Google Cloud Storage URI like gs://bucket/prefix with a bucket name of 3-63 lower-case letters, digits, dots, hyphens or underscores, got \`${raw}\``)
  }
  return { bucket, key: m[2] ?? '' }
}
