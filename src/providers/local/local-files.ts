import { lstatSync, type Stats } from 'node:fs'
import { lstat, mkdir } from 'node:fs/promises'
import { dirname, sep } from 'node:path'
import { LocalWriteError, UnsafeKeyError } from '../../errors.js'

// errno codes that no retry fixes, with what they mean for the user.
const localErrors: Record<string, string> = {
  ENOSPC: 'the destination disk is full',
  EDQUOT: 'the disk quota is exhausted',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the destination file system is read-only',
  ENAMETOOLONG: 'the name is longer than the file system allows',
  EISDIR: 'a directory is in the way (another object\'s key uses this name as a folder)',
  ENOTDIR: 'a file is in the way where a directory is needed (another object has this key\'s folder name)',
  EEXIST: 'a file is in the way where a directory is needed (another object has this key\'s folder name)',
  EXDEV: 'the file\'s folder is on another file system than the destination root (a mount point inside it)',
}

/** Errors that stop the whole run: no other object can be written either. */
export const runStoppingErrno = ['ENOSPC', 'EDQUOT', 'EROFS']

/** Wraps a file system error of one object into a LocalWriteError naming the path and the cause. */
export function localError(err: unknown, path: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (code === undefined || !(code in localErrors)) return err
  return new LocalWriteError(`cannot write \`${path}\`: ${localErrors[code]} (${code})`, code, { cause: err })
}

/**
 * mkdir -p below a destination root that never follows a symbolic link. `mkdir -p` and every
 * open below it follow links, so a link already in the destination (`dest/link -> ../outside`)
 * would let a key (`link/planted.txt`) write outside it. Here each folder below the root is
 * made one level at a time and checked with lstat. The root itself is the user's choice and may
 * be a link. soaker never makes links, so a folder once checked stays safe: what was made or
 * checked is remembered, and a million files in one folder cost one check.
 */
export class DirectoryMaker {
  private readonly made = new Set<string>()

  constructor(private readonly root: string) {}

  /**
   * Makes `dir` (the root or a folder below it) and its parents. Rejects with UnsafeKeyError when
   * one of them below the root is a symbolic link, with LocalWriteError when a file is in the way
   * or the file system refuses.
   */
  async ensure(dir: string): Promise<void> {
    if (dir === this.root || this.made.has(dir)) return
    this.refuseOutside(dir)
    await this.ensure(dirname(dir))
    const st = await lstat(dir).catch(absentOr(dir)) ?? await this.make(dir)
    checkFolder(dir, st)
    this.remember(dir)
  }

  /**
   * Throws UnsafeKeyError when a folder of `dir` that already exists below the root is a
   * symbolic link; makes nothing. For the planner, so that a key through a link is refused before
   * anything is fetched. Synchronous: lstat answered from the dentry cache costs microseconds.
   * What the folders lack, ensure() makes later, with the same check. Returns whether `dir`
   * exists as a folder.
   */
  checkExisting(dir: string): boolean {
    if (dir === this.root || this.made.has(dir)) return true
    this.refuseOutside(dir)
    if (!this.checkExisting(dirname(dir))) return false
    let st: Stats | undefined
    try {
      st = lstatSync(dir, { throwIfNoEntry: false })
    } catch {
      return false // e.g. EACCES, which ensure() reports
    }
    if (st === undefined || !(st.isDirectory() || st.isSymbolicLink())) return false // a file in the way: ensure() reports it
    checkFolder(dir, st)
    this.remember(dir)
    return true
  }

  private refuseOutside(dir: string): void {
    if (!dir.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep)) throw new Error(`\`${dir}\` is not below \`${this.root}\``)
  }

  private remember(dir: string): void {
    if (this.made.size > 100_000) this.made.clear()
    this.made.add(dir)
  }

  /** mkdir of one level, whose parent is checked; a folder made at the same time by another task is fine. */
  private async make(dir: string): Promise<Stats> {
    try {
      await mkdir(dir)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw localError(err, dir)
    }
    return await lstat(dir).catch((err: unknown) => { throw localError(err, dir) })
  }
}

function absentOr(path: string): (err: NodeJS.ErrnoException) => undefined {
  return (err) => {
    if (err.code === 'ENOENT') return undefined
    throw localError(err, path)
  }
}

function checkFolder(dir: string, st: Stats): void {
  if (st.isSymbolicLink()) throw new UnsafeKeyError(`\`${dir}\` is a symbolic link already in the destination; nothing is written through one`)
  if (!st.isDirectory()) throw localError(Object.assign(new Error(`${dir} is not a directory`), { code: 'ENOTDIR' }), dir)
}
