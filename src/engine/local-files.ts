import { mkdir } from 'node:fs/promises'
import { LocalWriteError } from '../errors.js'

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
}

/** Errors that stop the whole run: no other object can be written either. */
export const runStoppingErrno = ['ENOSPC', 'EDQUOT', 'EROFS']

/** Wraps a file system error of one object into a LocalWriteError naming the path and the cause. */
export function localError(err: unknown, path: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (code === undefined || !(code in localErrors)) return err
  return new LocalWriteError(`cannot write \`${path}\`: ${localErrors[code]} (${code})`, code, { cause: err })
}

/** mkdir -p with a memory of what exists, so a million files in one folder cost one mkdir. */
export class DirectoryMaker {
  private readonly made = new Set<string>()

  async ensure(dir: string): Promise<void> {
    if (this.made.has(dir)) return
    try {
      await mkdir(dir, { recursive: true })
    } catch (err) {
      throw localError(err, dir)
    }
    if (this.made.size > 100_000) this.made.clear()
    this.made.add(dir)
  }
}
