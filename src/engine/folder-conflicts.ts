import { KeyConflictError } from '../errors.js'
import { quoteKey } from '../providers/local/keys.js'
import type { StateStore } from '../state/store.js'

/** Rows of keys that a key rule refused: they never reach the disk, so they are in no one's way. */
const refusedCodes = ['SOAKER_UNSAFE_KEY', 'SOAKER_KEY_CONFLICT'] as const

/** Folders remembered as holding no file key, at most; then forgotten all at once. */
const rememberedMax = 10_000

/**
 * A file key and keys below it as a folder (`a` and `a/b`, or `a` and the marker `a/`) cannot
 * both be on disk. The first of them to be planned keeps its place; a later one is refused,
 * naming the key in its way. Both directions are lookups in the state store, which holds every
 * key planned so far, so memory stays bounded however many keys a listing has and the result
 * does not depend on the listing's order (sorted, `a` comes before `a/b`, but `a-x` can come
 * between them; the Hub lists in its own order):
 * - each folder a key needs (`a/b/c` needs `a` and `a/b`) is looked up as a file key, once per
 *   folder while it is remembered;
 * - a file key is looked up as a folder: is any key below `a/`?
 * A folder remembered as clear stays clear: a file key of its name arriving later finds, below
 * it, the key that made it remembered.
 */
export class FolderConflicts {
  private readonly clear = new Set<string>()
  /** The batch being planned (see prefetch): what the store said of it, and the keys it let through since. */
  private batch: Prefetched | undefined

  /** `prefixLength`: the source prefix's length; folders of the prefix itself are not checked. */
  constructor(private readonly store: StateStore, private readonly prefixLength: number) {}

  /**
   * Asks the store at once what `check` will ask of each of `keys` (the next batch of a
   * listing): two round trips for the batch instead of one or more per key, which counts where
   * the store is a server (PostgreSQL). Until the next prefetch, the keys checked are compared
   * with these answers and with each other.
   */
  async prefetch(keys: readonly string[]): Promise<void> {
    const folders = new Set<string>()
    const below = new Set<string>()
    for (const key of keys) {
      const isMarker = key.endsWith('/')
      const name = key.replace(/\/+$/, '')
      for (const folder of this.foldersOf(name, isMarker)) if (!this.clear.has(folder)) folders.add(folder)
      if (!isMarker) below.add(name + '/')
    }
    const rows = await this.store.lookup([...folders])
    const files = new Map<string, boolean>()
    for (const folder of folders) {
      const row = rows.get(folder)
      files.set(folder, row !== undefined && !isRefused(row.status, row.errorCode))
    }
    this.batch = { files, below: await this.store.firstKeysUnder([...below], refusedCodes), asked: below, passed: [], passedFiles: new Set() }
  }

  /**
   * Throws KeyConflictError when `key` cannot be on disk beside a key already planned. `key` is a
   * file key, or a folder marker (ending in `/`), which needs its own name as a folder.
   */
  async check(key: string): Promise<void> {
    const isMarker = key.endsWith('/')
    const name = key.replace(/\/+$/, '')
    const folders = this.foldersOf(name, isMarker)
    const b = this.batch
    for (const folder of folders) {
      if (this.clear.has(folder)) continue
      const known = b?.files.get(folder)
      const isFile = b?.passedFiles.has(folder) === true || (known ?? await this.isFile(folder))
      if (isFile) throw new KeyConflictError(`key ${quoteKey(key)} needs a folder where the object ${quoteKey(folder)} is a file: it is in the way`)
    }
    if (!isMarker) {
      const prefix = name + '/'
      const below = b?.passed.find((k) => k.startsWith(prefix)) ??
        (b?.asked.has(prefix) ? b.below.get(prefix) : await this.store.firstKeyUnder(prefix, refusedCodes))
      if (below !== undefined) {
        throw new KeyConflictError(`key ${quoteKey(key)} is a file where the object ${quoteKey(below)} needs a folder: it is in the way`)
      }
    }
    if (this.clear.size + folders.length > rememberedMax) this.clear.clear()
    for (const folder of folders) this.clear.add(folder)
    b?.passed.push(key)
    if (!isMarker) b?.passedFiles.add(name)
  }

  private async isFile(folder: string): Promise<boolean> {
    const row = await this.store.getObject(folder)
    return row !== undefined && !isRefused(row.status, row.errorCode)
  }

  /** The folders below the prefix that `name` needs: its parents, and itself for a marker. */
  private foldersOf(name: string, isMarker: boolean): string[] {
    const folders: string[] = []
    for (let i = name.indexOf('/', this.prefixLength); i >= 0; i = name.indexOf('/', i + 1)) {
      if (i > 0) folders.push(name.slice(0, i))
    }
    if (isMarker && name.length > this.prefixLength) folders.push(name)
    return folders
  }
}

/** What the store said of a batch's keys before any of them was planned, and the keys of the batch let through since. */
interface Prefetched {
  /** Folder to whether a key of its name (not refused) is planned as a file. */
  files: Map<string, boolean>
  /** `name/` to the first key under it, for the prefixes asked that have one. */
  below: Map<string, string>
  asked: Set<string>
  passed: string[]
  passedFiles: Set<string>
}

function isRefused(status: string, errorCode: string | null): boolean {
  return status === 'failed' && (refusedCodes as readonly string[]).includes(errorCode ?? '')
}
