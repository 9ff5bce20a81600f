import { createReadStream } from 'node:fs'
import { mkdir, opendir, rename, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { LocationError, NotFoundError } from '../../errors.js'
import { localPathFor, partialDirOf, partialPathFor, reservedName } from './keys.js'
import type { ObjectDetails, ObjectInfo, Provider, ReadOptions, ReadResult } from '../provider.js'

/**
 * A directory as a store: keys are paths relative to `root` with `/` separators. Listing walks
 * one directory at a time, in the byte order S3 lists keys in, so both providers list alike.
 */
export class LocalProvider implements Provider {
  readonly name = 'local'
  readonly capabilities = { rangedReads: true, uploadPartInfo: false }

  constructor(private readonly root: string) {}

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

  async stat(key: string): Promise<ObjectDetails> {
    const st = await stat(this.pathOf(key)).catch(() => undefined)
    if (!st?.isFile()) throw new NotFoundError(`No file \`${key}\` under \`${this.root}\``)
    return { key, size: st.size, lastModified: st.mtime }
  }

  async read(key: string, options: ReadOptions): Promise<ReadResult> {
    const details = await this.stat(key)
    const { start, end } = options.range ?? { start: 0, end: Math.max(0, details.size - 1) }
    const body = details.size === 0 && !options.range
      ? createReadStream(this.pathOf(key), { signal: options.signal })
      : createReadStream(this.pathOf(key), { start, end, signal: options.signal })
    return { body, details: { size: options.range ? end - start + 1 : details.size } }
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
