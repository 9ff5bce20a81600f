import { UsageError } from '../../errors.js'
import { parseByteCount } from '../../units.js'
import type { ProviderKind } from '../kind.js'
import { SyntheticProvider } from './synthetic-provider.js'

/**
 * A set of generated objects: `count` objects of `size` bytes each. `bucket` is the set as
 * written (`1000x16KiB`), `key` a prefix or one object's key within it.
 */
export interface SyntheticLocation { kind: 'synthetic'; bucket: string; key: string; uri: string; count: number; size: number }

const expected = 'a synthetic URI like synthetic://1000x16KiB or synthetic://4x256MiB (a count of objects, x, the size of each)'

/**
 * Objects made up on the fly, read-only: a source for benchmarks (`soaker bench`) and tests that
 * costs no disk and no network. Nothing to reach and no credentials; left out of the messages
 * that list where a user's objects may be.
 */
export const syntheticKind = {
  scheme: 'synthetic',
  example: 'synthetic://1000x16KiB',
  unlisted: true,
  parse(raw: string): SyntheticLocation {
    const m = /^synthetic:\/\/([^/]*)(?:\/(.*))?$/is.exec(raw)
    const set = m === null ? undefined : /^(\d+)x(.+)$/i.exec(m[1]!)
    const count = set ? Number(set[1]) : NaN
    const size = set ? parseByteCount(set[2]!) : undefined
    if (!m || !Number.isSafeInteger(count) || count < 1 || size === undefined || !Number.isSafeInteger(size)) {
      throw new UsageError(`Expected ${expected}, got \`${raw}\``)
    }
    return { kind: 'synthetic', bucket: m[1]!, key: m[2] ?? '', uri: raw, count, size }
  },
  async open(location: SyntheticLocation): Promise<SyntheticProvider> {
    return new SyntheticProvider(location)
  },
} satisfies ProviderKind<SyntheticLocation>
