import { readFileSync } from 'node:fs'
import { UsageError } from '../errors.js'
import { parseLocation, type Location } from '../location.js'

/**
 * Reads a --buckets-file: one `bucket` or `bucket/prefix` per line (an `s3://` in front is
 * allowed), `#` starts a comment, blank lines are ignored. Errors name the file and the line.
 */
export function readBucketsFile(path: string): Location[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new UsageError(`Cannot read the buckets file \`${path}\`: ${(err as Error).message}`)
  }
  const out: Location[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim()
    if (line === '') return
    const uri = line.startsWith('s3://') ? line : `s3://${line}`
    try {
      const loc = parseLocation(uri)
      if (loc.kind !== 's3') throw new UsageError('not an S3 location')
      out.push(loc)
    } catch (err) {
      throw new UsageError(`${path}:${i + 1}: expected a bucket or bucket/prefix, got \`${line}\` (${(err as Error).message})`)
    }
  })
  if (out.length === 0) throw new UsageError(`The buckets file \`${path}\` names no bucket`)
  return out
}
