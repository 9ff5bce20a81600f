import { createReadStream } from 'node:fs'
import { opendir, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Readable } from 'node:stream'
import { LocationError, NotFoundError } from '../../errors.js'
import { fileMetadata } from '../file-metadata.js'
import type { Body, ObjectDetails, ObjectInfo, Provider, PutOptions, ReadOptions, ReadResult } from '../provider.js'
import type { HashPool } from './hash-pool.js'
import { localPathFor, reservedName } from './keys.js'
import { DirectoryMaker } from './local-files.js'
import { LocalUploads } from './local-uploads.js'
import { LocalWrites } from './local-writes.js'
import { checkpointEveryMs } from './upload-file.js'

export interface LocalProviderOptions {
  /**
   * The absolute final path of a key, below the root; throws UnsafeKeyError for a key that must
   * not be written (see localPathFor). Every operation on one key goes through it; `list` gives
   * keys as paths relative to the root, which the default mapping inverts.
   * @default (key) => localPathFor(root, key, key)
   */
  pathOf?: (key: string) => string
  /**
   * Where bytes are read back from partial files and hashed, off the event loop: each part's MD5
   * once its bytes are in, and `digest`. Owned (and closed) by the caller.
   * @default undefined: a part's MD5 is hashed inline as its bytes arrive (read back inline when
   * the part resumes from an offset), and so is `digest`
   */
  hashes?: HashPool
  /**
   * Makes the folders of the files written, refusing symbolic links below the root; shared
   * with whatever else checks the destination's folders (its cache then serves both). Over the
   * same root.
   * @default new DirectoryMaker(root)
   */
  dirs?: DirectoryMaker
  /**
   * How often the parts in flight of an upload in parts are checkpointed.
   * @default checkpointEveryMs (500)
   */
  checkpointEveryMs?: number
  /**
   * Where the logs of uploads in parts are kept (layout, finished parts, checkpoints): a folder
   * of the caller's, so that the destination holds nothing but its files and partial files.
   * @default beside each partial file, under the root's `.soaker/partial/`
   */
  logDir?: string
}

/**
 * A directory as a store: keys are paths relative to `root` with `/` separators (or as `pathOf`
 * maps them). Listing walks one directory at a time, in the byte order S3 lists keys in, so both
 * providers list alike. Files are written as objects are (put, or in parts: LocalUploads):
 * assembled apart, synced, given the mtime and mode their metadata names, then renamed into
 * place; never through a symbolic link below the root. A file's metadata is its mtime and mode,
 * as soaker stores them on an object (`mtime`, `mode`). Local failures reject with
 * LocalWriteError, whose `errno` says whether any other file can be written (ENOSPC).
 */
export class LocalProvider implements Provider {
  readonly name = 'local'
  readonly capabilities = { rangedReads: true, uploadPartInfo: false, etagDigest: 'none' as const }
  readonly takesIterables = true
  readonly takesFills = true
  private readonly root: string
  private readonly pathOf: (key: string) => string
  private readonly writes: LocalWrites
  readonly multipart: LocalUploads

  constructor(root: string, options: LocalProviderOptions = {}) {
    this.root = resolve(root)
    this.pathOf = options.pathOf ?? ((key) => localPathFor(this.root, key, key))
    this.writes = new LocalWrites(this.root, this.pathOf, options.dirs ?? new DirectoryMaker(this.root), options.hashes)
    this.multipart = new LocalUploads(this.writes, options.checkpointEveryMs ?? checkpointEveryMs, options.logDir)
  }

  async check(): Promise<void> {
    const st = await stat(this.root).catch(() => undefined)
    if (!st?.isDirectory()) throw new LocationError(`\`${this.root}\` is not a directory`)
  }

  async *list(prefix: string, signal: AbortSignal): AsyncIterable<ObjectInfo> {
    // Start at the deepest directory the prefix names; filter the rest by prefix.
    const slash = prefix.lastIndexOf('/')
    const startDir = slash >= 0 ? prefix.slice(0, slash + 1) : ''
    for await (const info of this.walk(startDir, signal)) {
      if (info.key.startsWith(prefix)) yield info
    }
  }

  private async *walk(relDir: string, signal: AbortSignal): AsyncIterable<ObjectInfo> {
    const dir = relDir === '' ? this.root : join(this.root, relDir)
    const handle = await opendir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined
      throw err
    })
    if (handle === undefined) return
    // One directory's names at a time: keys sort with a directory as `name/`.
    const entries: Array<{ sortKey: string; name: string; isDir: boolean }> = []
    for await (const e of handle) {
      if (relDir === '' && e.name === reservedName) continue // partial files, never keys
      if (e.isDirectory()) entries.push({ sortKey: e.name + '/', name: e.name, isDir: true })
      else if (e.isFile()) entries.push({ sortKey: e.name, name: e.name, isDir: false })
    }
    entries.sort((a, b) => Buffer.compare(Buffer.from(a.sortKey), Buffer.from(b.sortKey)))
    for (const e of entries) {
      signal.throwIfAborted()
      const key = relDir + e.name
      if (e.isDir) {
        yield* this.walk(key + '/', signal)
        continue
      }
      const st = await stat(join(dir, e.name)).catch(() => undefined)
      if (st?.isFile()) yield { key, size: st.size, lastModified: st.mtime }
    }
  }

  async stat(key: string, _signal?: AbortSignal): Promise<ObjectDetails> {
    const st = await stat(this.pathOf(key), { bigint: true }).catch(() => undefined)
    if (!st?.isFile()) throw new NotFoundError(`No file \`${key}\` under \`${this.root}\``)
    return {
      key, size: Number(st.size), lastModified: st.mtime,
      metadata: fileMetadata({ mtimeNs: st.mtimeNs, mode: Number(st.mode & 0o7777n) }),
    }
  }

  async read(key: string, options: ReadOptions): Promise<ReadResult> {
    const details = await this.stat(key)
    const { start, end } = options.range ?? { start: 0, end: Math.max(0, details.size - 1) }
    const body = details.size === 0 && !options.range
      ? createReadStream(this.pathOf(key), { signal: options.signal })
      : createReadStream(this.pathOf(key), { start, end, signal: options.signal })
    return { body, details: { size: options.range ? end - start + 1 : details.size } }
  }

  /** Writes `body` as the file `key` (see LocalWrites.put); returns its MD5 (hex) where one was taken. */
  async put(key: string, body: Body, options: PutOptions): Promise<string | undefined> {
    return await this.writes.put(key, body, options)
  }

  async write(key: string, body: Buffer, signal: AbortSignal): Promise<void> {
    await this.writes.put(key, body, { size: body.length, signal })
  }

  /** Closes the files of the uploads in parts left open and stops their checkpoints. */
  close(): void {
    this.multipart.close()
  }
}
