import { UsageError } from '../../errors.js'

export type HfRepoType = 'model' | 'dataset' | 'space'

/** A Hugging Face Hub repository and, where given, the revision (branch, tag or commit) to read. */
export interface HfRepo {
  type: HfRepoType
  /** `owner/name`. */
  id: string
  revision?: string
}

// The Hub's rule for owner and repository names: letters, digits, `-`, `_`, `.`; at most 96.
const nameRe = /^(?=.{1,96}$)[A-Za-z0-9][A-Za-z0-9._-]*$/
const typeOf: Record<string, HfRepoType> = { datasets: 'dataset', spaces: 'space', models: 'model' }

/**
 * Parses `hf://owner/repo[@revision][/path]`, the way huggingface_hub's HfFileSystem writes them:
 * datasets and spaces as `hf://datasets/owner/repo…` and `hf://spaces/owner/repo…`, models with or
 * without `models/`. A revision with a slash (`refs/pr/1`) is written URL-encoded (`refs%2Fpr%2F1`).
 */
export function parseHfUri(raw: string): { repo: HfRepo; key: string } {
  const m = /^hf:\/\/(.*)$/is.exec(raw)
  const expected = 'a Hugging Face URI like hf://owner/repo[/path], hf://datasets/owner/repo or hf://owner/repo@revision/path'
  if (!m) throw new UsageError(`Expected ${expected}, got \`${raw}\``)
  const segments = m[1]!.split('/')
  const type = typeOf[segments[0]!] ?? 'model'
  if (segments[0]! in typeOf) segments.shift()
  const [owner, nameAt, ...rest] = segments
  const at = nameAt?.indexOf('@') ?? -1
  const name = at >= 0 ? nameAt!.slice(0, at) : nameAt
  const revision = at >= 0 ? decodeURIComponent(nameAt!.slice(at + 1)) : undefined
  if (owner === undefined || name === undefined || !nameRe.test(owner) || !nameRe.test(name) || revision === '') {
    throw new UsageError(`Expected ${expected}, got \`${raw}\``)
  }
  return { repo: { type, id: `${owner}/${name}`, ...(revision !== undefined ? { revision } : {}) }, key: rest.join('/') }
}
