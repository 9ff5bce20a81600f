import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { dirname } from 'node:path'
import type { Readable } from 'node:stream'
import { ChecksumMismatchError, SizeMismatchError } from '../../errors.js'
import { parseMode, parseMtime } from '../file-metadata.js'
import { isFileFill, type Body, type FileFill, type PutOptions, type UploadChecksum } from '../provider.js'
import type { HashPool } from './hash-pool.js'
import { partialDirOf, partialPathFor } from './keys.js'
import { localError, type DirectoryMaker } from './local-files.js'
import { PartialFile } from './partial-file.js'

/** The digests a partial file can be read back for (MultipartUploads.digest). */
export type ReadBackAlgorithm = 'md5' | 'sha256' | 'git-sha1'

/**
 * Files written at their paths as stores write objects: assembled in a partial file under the
 * root's `.soaker/partial/`, given the mtime and mode their metadata names, synced, and only then
 * renamed into place (PartialFile), so that no reader ever finds a file half-written at its
 * final path. Folders are made by `dirs`, which never follows a symbolic link below the root.
 * Local failures reject with LocalWriteError (localError), ENOSPC included.
 */
export class LocalWrites {
  constructor(
    private readonly root: string,
    /** A key's final path, below `root`; rejects an unsafe key with UnsafeKeyError. */
    readonly pathOf: (key: string) => string,
    private readonly dirs: DirectoryMaker,
    /** Where files are read back for digests, off the event loop; absent: read and hashed inline. */
    private readonly hashes: HashPool | undefined,
  ) {}

  /** Digests of read-back bytes go to worker threads. */
  get hashesOffThread(): boolean {
    return this.hashes !== undefined
  }

  /** `key`'s final path, with its folder and the partial files' folder made. */
  async prepare(key: string): Promise<string> {
    const path = this.pathOf(key)
    await this.dirs.ensure(dirname(path))
    await this.dirs.ensure(partialDirOf(this.root))
    return path
  }

  /** The partial file of a write to `path`; `id`: of one write, so that two writes never share one. */
  partialOf(path: string, id?: string): string {
    const base = partialPathFor(this.root, path)
    return id === undefined ? base : `${base}.${id}`
  }

  /**
   * Publishes the written and verified `file` at `path` (see PartialFile.publish) with the mtime
   * and mode `metadata` names. Closes the file in any case.
   */
  async publish(file: PartialFile, path: string, metadata: Record<string, string> | undefined): Promise<void> {
    try {
      await this.dirs.ensure(dirname(path))
    } catch (err) {
      file.close()
      throw err
    }
    const mtimeMs = parseMtime(metadata)
    await file.publish(path, mtimeMs === undefined ? undefined : mtimeMs / 1000, parseMode(metadata))
  }

  /**
   * `put`: the whole body into a new partial file, hashed on the way (MD5, inline: these are
   * small objects; a FileFill hashes its own, if it does), its size and MD5 checksum checked,
   * then published. Returns its MD5 (hex) where one was taken. A failed write leaves no partial file.
   */
  async put(key: string, body: Body, options: PutOptions): Promise<string | undefined> {
    const path = await this.prepare(key)
    const file = await PartialFile.create(this.partialOf(path, writeId()))
    try {
      const digest = await receiveBody(file, body, 0, options.size, key, options.signal, { hash: true })
      if (digest) checkMd5(key, digest, options.checksum)
      else if (options.checksum?.algorithm === 'md5') throw new ChecksumMismatchError(`${key}: its bytes came without the MD5 they were to be checked against; nothing was written`)
      await this.publish(file, path, options.metadata)
      return digest?.toString('hex')
    } catch (err) {
      await file.discard()
      throw err
    }
  }

  /** The digest (hex) of `length` bytes of the file at `path` from `start`, read back. */
  async digest(path: string, start: number, length: number, algorithm: ReadBackAlgorithm): Promise<string> {
    if (this.hashes) return await this.hashes.digest(path, start, length, algorithm)
    const hash = algorithm === 'git-sha1' ? createHash('sha1').update(`blob ${length}\0`) : createHash(algorithm)
    let n = 0
    try {
      // createReadStream cannot read zero bytes: its `end` is inclusive.
      if (length > 0) {
        for await (const chunk of createReadStream(path, { start, end: start + length - 1 }) as AsyncIterable<Buffer>) {
          hash.update(chunk)
          n += chunk.length
        }
      }
    } catch (err) {
      throw localError(err, path)
    }
    if (n !== length) throw new Error(`unexpected end of file at byte ${start + n} of \`${path}\``)
    return hash.digest('hex')
  }
}

/**
 * Writes `body` into `file` from `position`, each chunk as it arrives, and hands each chunk to
 * `seen` once it is written, with the count written so far. Rejects with SizeMismatchError
 * unless the body holds exactly `size` bytes; a body holding more is refused before the excess
 * is written, since in a file assembled in place it would land on the next part.
 */
export async function receive(file: PartialFile, body: Exclude<Body, FileFill>, position: number, size: number, what: string,
  signal: AbortSignal, seen: (chunk: Buffer, written: number) => void): Promise<void> {
  let n = 0
  for await (const chunk of (Buffer.isBuffer(body) ? [body] : body) as AsyncIterable<Buffer>) {
    signal.throwIfAborted()
    if (n + chunk.length > size) throw new SizeMismatchError(`${what}: expected ${size} bytes, received ${n + chunk.length} or more`)
    file.writeAt(chunk, position + n) // synchronous: when the next chunk is asked for, this one is in the file
    n += chunk.length
    seen(chunk, n)
  }
  if (n !== size) throw new SizeMismatchError(`${what}: expected ${size} bytes, received ${n}`)
}

let writes = 0

/**
 * A name for one write, unique among the writes of every live process: this process's id and a
 * count (random bytes per write cost 20 µs of the event loop each, a fifth of a small object's
 * file work).
 */
function writeId(): string {
  return `${process.pid.toString(36)}-${(writes++).toString(36)}`
}

/**
 * Writes `body` into `file` from `position` (receive), or has a FileFill write itself there;
 * returns the MD5 of the bytes where one was taken: hashed here when `hash` (a FileFill takes its
 * own, when it hashes). `progress` hears the bytes written so far.
 */
export async function receiveBody(file: PartialFile, body: Body, position: number, size: number, what: string, signal: AbortSignal,
  options: { hash: boolean; progress?: (written: number) => void }): Promise<Buffer | undefined> {
  const { progress } = options
  if (isFileFill(body)) {
    let n = 0
    const { md5 } = await body.into({ fd: file.handle, path: file.path, position, size, signal, moved: (bytes) => {
      n += bytes
      progress?.(n)
    } })
    if (n !== size) throw new SizeMismatchError(`${what}: expected ${size} bytes, received ${n}`)
    return md5
  }
  const md5 = options.hash ? createHash('md5') : undefined
  await receive(file, body, position, size, what, signal, (chunk, written) => {
    md5?.update(chunk)
    progress?.(written)
  })
  return md5?.digest()
}

/** Throws ChecksumMismatchError when `checksum` is an MD5 other than `md5`, the digest of the bytes received. */
export function checkMd5(what: string, md5: Buffer, checksum: UploadChecksum | undefined): void {
  if (checksum?.algorithm === 'md5' && md5.toString('base64') !== checksum.value) {
    const expected = Buffer.from(checksum.value, 'base64').toString('hex')
    throw new ChecksumMismatchError(`${what}: MD5 ${md5.toString('hex')} does not match the MD5 it came with, ${expected}; nothing was written`)
  }
}
