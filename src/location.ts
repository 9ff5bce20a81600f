import { UsageError } from './errors.js'
import type { ProviderKind } from './providers/kind.js'
import { kindOf, providerKinds, type RemoteLocation } from './providers/registry.js'

/**
 * Where objects come from or go to, as the user wrote it: a location in one of the stores of
 * providers/registry.ts, or a local path.
 */
export type Location = RemoteLocation | { kind: 'local'; path: string; uri: string }

const schemeRe = /^([a-z][a-z0-9+.-]*):/i
const listedKinds = (providerKinds as readonly ProviderKind[]).filter((k) => !k.unlisted)
const expectedLocation = `Expected a location like ${listedKinds.map((k) => k.example).join(', ')} or a local path`

/** Parses `s3://bucket[/key]` (or another store's URI) or a local path. Rejects with UsageError naming what was expected. */
export function parseLocation(raw: string): Location {
  if (raw === '') throw new UsageError(`${expectedLocation}, got an empty string`)
  if (raw.includes('\0')) throw new UsageError(`Expected a location without NUL characters, got \`${JSON.stringify(raw)}\``)
  const scheme = schemeRe.exec(raw)?.[1]?.toLowerCase()
  if (scheme === undefined || /^[a-z]:[\\/]/i.test(raw)) {
    if (/^s3\/\//i.test(raw)) {
      // `s3//bucket` is a typo far more often than a directory named `s3`.
      throw new UsageError(`Expected an S3 URI like s3://bucket/prefix, got \`${raw}\``)
    }
    return { kind: 'local', path: raw, uri: raw }
  }
  const kind = kindOf(scheme)
  if (!kind) throw new UsageError(`${expectedLocation}, got \`${raw}\` (scheme \`${scheme}:\` is not supported)`)
  return kind.parse(raw) as RemoteLocation
}
