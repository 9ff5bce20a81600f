import { createReadStream } from 'node:fs'
import { mkdir, opendir, rename, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { LocationError, NotFoundError } from '../../errors.js'
import { localPathFor, partialDirOf, partialPathFor, reservedName } from './keys.js'
import type { Readable } from 'node:stream'
import { fileMetadata } from '../file-metadata.js'
import type { MultipartUploads, ObjectDetails, ObjectInfo, Provider, PutOptions, ReadOptions, ReadResult } from '../provider.js'
import { LocalUploads, LocalWrites } from './local-uploads.js'

/**
 * A directory as a store: keys are paths relative to `root` with `/` separators. Listing walks
 * one directory at a time, in the byte order S3 lists keys in, so both providers list alike.
 * Files are written as objects are (put, or in parts: LocalUploads): assembled apart, synced,
 * given the mtime and mode their metadata names, then renamed into place. A file's metadata is
 * its mtime and mode, as soaker stores them on an object (`mtime`, `mode`).
 */
export class LocalProvider implements Provider {
  readonly name = 'local'
  readonly capabilities = { rangedReads: true, uploadPartInfo: false, etagDigest: 'none' as const }
  private readonly writes: LocalWrites
  readonly multipart: MultipartUploads

  constructor(private readonly root: string) {
    this.writes = new LocalWrites(root, (key) => this.pathOf(key))
    this.multipart = new LocalUploads(this.writes)
  }

  private pathOf(key: string): string {
    return localPathFor(this.root, key, key)
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

  /** Writes `body` as the file `key` (see LocalWrites.put); returns its MD5 (hex). */
  async put(key: string, body: Buffer | Readable, options: PutOptions): Promise<string> {
    return await this.writes.put(key, body, options)
  }

  async write(key: string, body: Buffer): Promise<void> {
    const path = this.pathOf(key)
    const partial = partialPathFor(this.root, path)
    await mkdir(dirname(path), { recursive: true })
    await mkdir(partialDirOf(this.root), { recursive: true })
    await writeFile(partial, body)
    await rename(partial, path)
  }

  close(): void {}
}
