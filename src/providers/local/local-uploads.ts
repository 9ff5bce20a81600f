import { createHash, randomBytes } from 'node:crypto'
import { appendFile, mkdir, open, readFile, rename, rm, utimes, chmod } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { dirname } from 'node:path'
import { ChecksumMismatchError, NotFoundError, SizeMismatchError, UsageError } from '../../errors.js'
import { parseMode, parseMtime } from '../file-metadata.js'
import type { MultipartUploads, PutOptions, UploadChecksum, UploadedPart } from '../provider.js'
import { partialDirOf, partialPathFor } from './keys.js'

/**
 * A file written at `path` as stores write objects: assembled in a partial file under the root's
 * `.soaker/partial/`, synced, given the mtime and mode its metadata names, and only then renamed
 * into place, so that no reader ever finds a file half-written at its final path.
 */
export class LocalWrites {
  constructor(private readonly root: string, private readonly pathOf: (key: string) => string) {}

  /** The partial file of one write of `key`: unique to it, so that two writes never share one. */
  partialOf(key: string, id: string): string {
    return `${partialPathFor(this.root, this.pathOf(key))}.${id}`
  }

  async prepare(key: string): Promise<void> {
    await mkdir(partialDirOf(this.root), { recursive: true })
    await mkdir(dirname(this.pathOf(key)), { recursive: true })
  }

  /**
   * Writes `body` at `position` of the open file `fd`, hashing it on the way; checks its length
   * and the checksum given. Returns the MD5 (hex) of the bytes written.
   */
  async writeAt(file: Awaited<ReturnType<typeof open>>, body: Buffer | Readable, position: number, size: number, checksum: UploadChecksum | undefined, what: string): Promise<string> {
    const md5 = createHash('md5')
    let n = 0
    for await (const chunk of (Buffer.isBuffer(body) ? [body] : body) as AsyncIterable<Buffer>) {
      md5.update(chunk)
      for (let off = 0; off < chunk.length;) off += (await file.write(chunk, off, chunk.length - off, position + n + off)).bytesWritten
      n += chunk.length
    }
    if (n !== size) throw new SizeMismatchError(`${what}: expected ${size} bytes, received ${n}`)
    const digest = md5.digest()
    if (checksum?.algorithm === 'md5' && digest.toString('base64') !== checksum.value) {
      throw new ChecksumMismatchError(`${what}: the bytes received have MD5 ${digest.toString('base64')}, the sender's is ${checksum.value}`)
    }
    return digest.toString('hex')
  }

  /** Gives the synced partial file its metadata's mtime and mode and renames it to `key`'s path. */
  async publish(partial: string, key: string, metadata: Record<string, string> | undefined): Promise<void> {
    const mode = parseMode(metadata)
    if (mode !== undefined) await chmod(partial, mode)
    const mtimeMs = parseMtime(metadata)
    if (mtimeMs !== undefined) await utimes(partial, mtimeMs / 1000, mtimeMs / 1000)
    await mkdir(dirname(this.pathOf(key)), { recursive: true })
    await rename(partial, this.pathOf(key))
  }

  /** `put`: the whole body into a partial file, synced, then published. Returns its MD5 (hex). */
  async put(key: string, body: Buffer | Readable, options: PutOptions): Promise<string> {
    await this.prepare(key)
    const partial = this.partialOf(key, randomBytes(6).toString('hex'))
    const file = await open(partial, 'w')
    try {
      const md5 = await this.writeAt(file, body, 0, options.size, options.checksum, key)
      await file.datasync()
      await file.close()
      await this.publish(partial, key, options.metadata)
      return md5
    } catch (err) {
      await file.close().catch(() => undefined)
      await rm(partial, { force: true })
      throw err
    }
  }
}

/** What an upload's log (`<partial>.parts`) says: its layout, then one line per part written. */
interface UploadLog {
  size: number
  partSize: number
  parts: Map<number, { size: number; md5: string }>
}

/**
 * Uploads in parts into one partial file, each part written in place at its offset as it
 * arrives, in any order and in parallel. Beside the file, a log records the layout and, once a
 * part's bytes are synced, the part with its MD5: what a run after a crash finds of the upload
 * (listParts). Complete checks every part is there with the digest the caller has for it, then
 * publishes the file; abort deletes both.
 */
export class LocalUploads implements MultipartUploads {
  readonly listsDigests = true
  readonly abortDeletes = true
  /** Each upload's layout as its log's first line says, read once: not a log read per part. */
  private readonly layouts = new Map<string, { size: number; partSize: number }>()

  constructor(private readonly writes: LocalWrites) {}

  private logOf(key: string, uploadId: string): string {
    return this.writes.partialOf(key, uploadId) + '.parts'
  }

  async create(key: string, options: { size?: number; partSize?: number }): Promise<string> {
    const { size, partSize } = options
    if (size === undefined || partSize === undefined || partSize <= 0) {
      throw new UsageError(`Expected the size and part size of an upload in parts to a local file, got size ${size}, part size ${partSize} (${key})`)
    }
    await this.writes.prepare(key)
    const uploadId = randomBytes(8).toString('hex')
    const file = await open(this.writes.partialOf(key, uploadId), 'w')
    try {
      await file.truncate(size)
      await file.datasync()
    } finally {
      await file.close()
    }
    await appendFile(this.logOf(key, uploadId), `${size} ${partSize}\n`, { flush: true })
    this.layouts.set(uploadId, { size, partSize })
    return uploadId
  }

  private async log(key: string, uploadId: string): Promise<UploadLog> {
    const text = await readFile(this.logOf(key, uploadId), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new NotFoundError(`No upload ${uploadId} of \`${key}\`: it was completed or aborted`)
      throw err
    })
    const [head = '', ...lines] = text.split('\n')
    const [size, partSize] = head.split(' ').map(Number)
    this.layouts.set(uploadId, { size: size!, partSize: partSize! })
    const parts = new Map<number, { size: number; md5: string }>()
    for (const line of lines) {
      const [n, bytes, md5] = line.split(' ')
      // A line cut short by a crash names no part: that part is written again.
      if (n && bytes && md5?.length === 32) parts.set(Number(n), { size: Number(bytes), md5 })
    }
    return { size: size!, partSize: partSize!, parts }
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer | Readable, options: Omit<PutOptions, 'metadata'>): Promise<string> {
    const { partSize, size } = this.layouts.get(uploadId) ?? await this.log(key, uploadId)
    const position = (partNumber - 1) * partSize
    const expected = Math.min(partSize, size - position)
    if (partNumber < 1 || expected <= 0 || options.size !== expected) {
      throw new UsageError(`Expected part ${partNumber} of \`${key}\` to hold ${Math.max(expected, 0)} bytes of ${size} in parts of ${partSize}, got ${options.size}`)
    }
    const file = await open(this.writes.partialOf(key, uploadId), 'r+').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new NotFoundError(`No upload ${uploadId} of \`${key}\`: it was completed or aborted`)
      throw err
    })
    try {
      const md5 = await this.writes.writeAt(file, body, position, options.size, options.checksum, `${key} (part ${partNumber})`)
      await file.datasync() // synced before the log names it: a logged part survives a power cut
      await appendFile(this.logOf(key, uploadId), `${partNumber} ${options.size} ${md5}\n`, { flush: true })
      return md5
    } finally {
      await file.close()
    }
  }

  async listParts(key: string, uploadId: string): Promise<UploadedPart[]> {
    const { parts } = await this.log(key, uploadId)
    return [...parts].sort((a, b) => a[0] - b[0]).map(([partNumber, p]) => ({ partNumber, size: p.size, etag: p.md5 }))
  }

  async complete(key: string, uploadId: string, parts: Array<{ partNumber: number; etag: string }>, _signal: AbortSignal,
    object: { metadata?: Record<string, string> } = {}): Promise<string | undefined> {
    const log = await this.log(key, uploadId)
    const count = Math.ceil(log.size / log.partSize)
    if (parts.length !== count) throw new UsageError(`Expected all ${count} parts of \`${key}\` to complete it, got ${parts.length}`)
    for (const p of parts) {
      const held = log.parts.get(p.partNumber)
      if (held === undefined) throw new NotFoundError(`Part ${p.partNumber} of \`${key}\` was never written (upload ${uploadId})`)
      if (held.md5 !== p.etag) throw new ChecksumMismatchError(`Part ${p.partNumber} of \`${key}\` has MD5 ${held.md5}, the caller's is ${p.etag}`)
    }
    const partial = this.writes.partialOf(key, uploadId)
    await this.writes.publish(partial, key, object.metadata)
    await rm(this.logOf(key, uploadId), { force: true })
    this.layouts.delete(uploadId)
    return undefined
  }

  async abort(key: string, uploadId: string): Promise<void> {
    this.layouts.delete(uploadId)
    await rm(this.writes.partialOf(key, uploadId), { force: true })
    await rm(this.logOf(key, uploadId), { force: true })
  }
}
