import { constants } from 'node:fs'
import { access, mkdir, stat } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { errorMessage, LocationError, NotFoundError } from '../errors.js'
import type { Location } from '../location.js'
import { sourceOptions, type TransferOptions } from '../options.js'
import type { GivenSettings } from '../providers/kind.js'
import { localPathFor, refuseReserved } from '../providers/local/keys.js'
import type { ObjectInfo, Provider } from '../providers/provider.js'
import { openProvider, type RemoteLocation } from '../providers/registry.js'
import type { RunScope } from './run-tasks.js'

/** One source of a download run, and where it lands. */
export interface SourceItem {
  source: RemoteLocation
  /** A local directory, or for a single object a directory or a file name. */
  destination: Extract<Location, { kind: 'local' }>
  /** Prefix of this source's keys in a state database shared by several (`s3://bucket/`). */
  namespace?: string
  /** Endpoint and credentials of the source given explicitly (a job file's item). */
  given?: GivenSettings
  /** The source is one object, never a prefix (a job file's `file:` entry). */
  only?: 'object'
  /** Of the objects under the prefix, only those whose key relative to it passes (a job file's glob). */
  include?: (relativeKey: string) => boolean
  /** How the run's failures name this source (a job item's label). @default source.uri */
  label?: string
  /**
   * Put before a key where the run's stats and events name an object, in a run of several
   * sources whose keys may repeat (`s3://bucket/`). @default '' (the key alone)
   */
  namePrefix?: string
}

/** A source whose store answered: what it names, resolved, and where each of its keys lands. */
export interface OpenedSource {
  item: SourceItem
  provider: Provider
  /** The destination directory (for a single object, the file's folder). */
  root: string
  /** Its objects in key order; with `startAfter`, those after it (see Provider.list). */
  listing: (startAfter?: string) => AsyncIterable<ObjectInfo>
  /** The listed keys' common prefix: the prefix, or the single object's key. */
  keyPrefix: string
  /** A prefix whose objects may need folders (not a single object). */
  isPrefix: boolean
  /** Local path for a full key. Throws UnsafeKeyError for keys that cannot be files. */
  pathFor: (key: string) => string
}

type SourceShape = { mode: 'prefix'; prefix: string } | { mode: 'object'; info: ObjectInfo }

/**
 * `s3://b/p/` and `s3://b/p` both mean the objects under `p/`; `s3://b/p` also means the single
 * object `p` when nothing is under `p/`.
 */
export async function resolveSource(provider: Provider, key: string, uri: string, signal: AbortSignal, only?: 'object'): Promise<SourceShape> {
  if (only !== 'object') {
    if (key === '' || key.endsWith('/')) return { mode: 'prefix', prefix: key }
    for await (const _ of provider.list(key + '/', signal)) return { mode: 'prefix', prefix: key + '/' }
  }
  try {
    return { mode: 'object', info: await provider.stat(key, signal) }
  } catch (err) {
    if (err instanceof NotFoundError) throw new LocationError(`Nothing to copy at ${uri}: no object with that key and no objects under ${uri}/`)
    throw err
  }
}

async function ensureWritableDir(dir: string, dryRun: boolean): Promise<void> {
  if (dryRun) return // creates nothing; the real run reports an unwritable destination
  try {
    await mkdir(dir, { recursive: true })
    await access(dir, constants.W_OK)
  } catch (err) {
    throw new LocationError(`Destination \`${dir}\` is not a writable directory: ${errorMessage(err)}`, { cause: err })
  }
}

/** Where a single object goes: into `dest` if it is a directory (or ends in /), else to `dest`. */
async function singleFileTarget(dest: string, key: string, dryRun: boolean): Promise<string> {
  const isDir = /[/\\]$/.test(dest) || (await stat(dest).catch(() => undefined))?.isDirectory()
  const file = isDir ? join(resolve(dest), basename(key)) : resolve(dest)
  await ensureWritableDir(dirname(file), dryRun)
  return file
}

async function* filtered(listing: AsyncIterable<ObjectInfo>, prefix: string, include: (relativeKey: string) => boolean): AsyncIterable<ObjectInfo> {
  for await (const info of listing) if (include(info.key.slice(prefix.length))) yield info
}

/**
 * Opens the item's store (the run closes it), checks it answers, and resolves what the source
 * names. Throws for problems of the whole source: no such bucket, no access, nothing at the URI.
 */
export async function openSource(item: SourceItem, options: TransferOptions, run: RunScope): Promise<OpenedSource> {
  const { source, destination } = item
  const { signal } = run
  const provider = run.own(await openProvider(source, { options: sourceOptions(options), env: process.env, retry: run.withRetry, given: item.given }))
  await provider.check(signal)
  const shape = await resolveSource(provider, source.key, source.uri, signal, item.only)
  if (shape.mode === 'prefix') {
    const root = resolve(destination.path)
    await ensureWritableDir(root, options.dryRun)
    const { prefix } = shape
    const { include } = item
    return {
      item, provider, root, keyPrefix: prefix, isPrefix: true,
      listing: (startAfter) => {
        const listing = provider.list(prefix, signal, startAfter)
        return include ? filtered(listing, prefix, include) : listing
      },
      pathFor: (key) => key.length <= prefix.length ? root : localPathFor(root, key.slice(prefix.length), key),
    }
  }
  const file = await singleFileTarget(destination.path, shape.info.key, options.dryRun)
  return {
    item, provider, root: dirname(file), keyPrefix: shape.info.key, isPrefix: false,
    listing: async function* () { yield shape.info },
    pathFor: (key) => {
      refuseReserved(basename(file), key)
      return file
    },
  }
}
