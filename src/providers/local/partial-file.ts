import { closeSync, constants, fchmodSync, fdatasync, fstatSync, fsync, ftruncateSync, futimesSync, lstatSync, open, openSync, renameSync, unlink, writeSync, type Stats } from 'node:fs'
import { promisify } from 'node:util'
import { LocalWriteError } from '../../errors.js'
import { localError } from './local-files.js'

const fsyncAsync = promisify(fsync)
const fdatasyncAsync = promisify(fdatasync)
const openAsync = promisify(open)
const unlinkAsync = promisify(unlink)

const { O_CREAT, O_EXCL, O_NOFOLLOW, O_RDWR, O_WRONLY } = constants
// Always a new file of soaker's own: never a link's target, never an inode shared through a
// hard link that something else left at the name.
const createFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW

/**
 * The partial file an object is assembled in (see partialPathFor). Writes, closes and renames are
 * synchronous on purpose: they are page-cache work of microseconds, while handing each one to
 * libuv's thread pool costs more than the work itself (measured on a 2-core VM: 64 KiB
 * positional writes cost 9x the CPU through the pool). Creating a file and fsync are the
 * exceptions that go to the pool: they cost hundreds of microseconds of kernel time (ext4
 * inode allocation measured at 0.7 ms) or wait for the disk, and must not stall the event loop.
 * Every failure becomes a LocalWriteError naming the path where the cause is local.
 */
export class PartialFile {
  private fd: number | undefined
  /**
   * The device and inode of the file this descriptor holds (`dev:ino`): what its name must still
   * hold when it is published or removed, and what a later reopen of the name can be held to.
   */
  readonly identity: string

  private constructor(readonly path: string, fd: number, st: Stats) {
    this.fd = fd
    this.identity = identityOf(st)
  }

  /** A new, empty partial file; whatever an earlier run left at `path` is removed first. */
  static async create(path: string): Promise<PartialFile> {
    try {
      return PartialFile.opened(path, await openAsync(path, createFlags, 0o666))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw localError(err, path)
    }
    try {
      await unlinkAsync(path)
      return PartialFile.opened(path, await openAsync(path, createFlags, 0o666))
    } catch (err) {
      throw localError(err, path)
    }
  }

  private static opened(path: string, fd: number): PartialFile {
    try {
      return new PartialFile(path, fd, fstatSync(fd))
    } catch (err) {
      closeSync(fd)
      throw err
    }
  }

  /**
   * The partial file an earlier run left, if it is there with the expected size: a regular
   * file of one link, opened without following a symbolic link.
   */
  static reopen(path: string, size: number): PartialFile | undefined {
    let fd: number | undefined
    try {
      fd = openSync(path, O_RDWR | O_NOFOLLOW)
      const st = fstatSync(fd)
      if (st.isFile() && st.nlink === 1 && st.size === size) return new PartialFile(path, fd, st)
    } catch {
      // absent or unreadable: start over
    }
    if (fd !== undefined) closeSync(fd)
    return undefined
  }

  /** The open descriptor (a FileFill writes through it); throws once the file is closed. */
  get handle(): number {
    if (this.fd === undefined) throw new Error(`${this.path} is closed`)
    return this.fd
  }

  setLength(size: number): void {
    try {
      ftruncateSync(this.handle, size)
    } catch (err) {
      throw localError(err, this.path)
    }
  }

  /** Writes all of `chunk` at `position` (writeAllAt). */
  writeAt(chunk: Buffer, position: number): void {
    writeAllAt(this.handle, this.path, chunk, position)
  }

  /**
   * Makes every byte written so far durable (fdatasync, on the thread pool): what a checkpoint
   * records as arrived must survive a power cut. Rejects with a LocalWriteError.
   */
  async datasync(): Promise<void> {
    try {
      await fdatasyncAsync(this.handle)
    } catch (err) {
      throw localError(err, this.path)
    }
  }

  /**
   * Sets the mtime (a Date, or float seconds for sub-millisecond precision) and the mode, if
   * given, flushes to disk, closes, and renames to `finalPath`. What is renamed is the file this
   * descriptor wrote and the caller verified: if the name now holds another file, nothing is
   * published (LocalWriteError).
   */
  async publish(finalPath: string, mtime: Date | number | undefined, mode?: number): Promise<void> {
    try {
      if (mtime !== undefined) futimesSync(this.handle, mtime, mtime)
      if (mode !== undefined) fchmodSync(this.handle, mode)
      await fsyncAsync(this.handle)
      this.checkStillNamed()
      this.close()
      renameSync(this.path, finalPath)
    } catch (err) {
      this.close()
      throw localError(err, finalPath)
    }
  }

  /** Throws LocalWriteError unless `path` names the file of this descriptor (same device and inode). */
  private checkStillNamed(): void {
    if (!this.stillNamed()) {
      throw new LocalWriteError(`\`${this.path}\` is no longer the file soaker wrote (removed or replaced while the object was copied); nothing was published`)
    }
  }

  private stillNamed(): boolean {
    const named = lstatSync(this.path, { throwIfNoEntry: false })
    return named !== undefined && identityOf(named) === this.identity
  }

  /**
   * Closes the file and removes its name, if the name still holds this file: a write that failed
   * leaves nothing behind, and never removes a file that replaced it. Never throws.
   */
  async discard(): Promise<void> {
    this.close()
    try {
      if (this.stillNamed()) await unlinkAsync(this.path)
    } catch {
      // already gone, or not removable: nothing more to do
    }
  }

  /** Idempotent; never throws. */
  close(): void {
    if (this.fd === undefined) return
    try {
      closeSync(this.fd)
    } catch {
      // nothing more to do for a descriptor that will not close
    }
    this.fd = undefined
  }
}

/**
 * Writes all of `chunk` at `position` of the open file `fd` (at `path`, for messages): a write may
 * take fewer bytes (a disk filling up), so loop. Rejects with a LocalWriteError (localError).
 */
export function writeAllAt(fd: number, path: string, chunk: Buffer, position: number): void {
  try {
    for (let off = 0; off < chunk.length;) {
      const n = writeSync(fd, chunk, off, chunk.length - off, position + off)
      if (n === 0) throw Object.assign(new Error(`no progress writing ${path}`), { code: 'ENOSPC' })
      off += n
    }
  } catch (err) {
    throw localError(err, path)
  }
}

function identityOf(st: Stats): string {
  return `${st.dev}:${st.ino}`
}
