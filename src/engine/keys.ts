import { createHash } from 'node:crypto'
import { basename, dirname, join, sep } from 'node:path'
import { UnsafeKeyError } from '../errors.js'

/** Longest file name most Linux file systems allow, in bytes (NAME_MAX). */
export const nameMax = 255
const partialSuffix = '.soaker-partial'

/**
 * The local path for `key` below `root`, where `relative` is the key with the source prefix
 * removed. Keys are untrusted: anything that could land outside `root`, or that no file system
 * can hold, is refused with UnsafeKeyError saying why.
 */
export function localPathFor(root: string, relative: string, key: string): string {
  const quoted = JSON.stringify(key)
  if (relative.includes('\0')) throw new UnsafeKeyError(`key ${quoted} contains a NUL character`)
  if (relative.startsWith('/')) throw new UnsafeKeyError(`key ${quoted} is an absolute path`)
  const segments = relative.split('/')
  for (const s of segments) {
    if (s === '..') throw new UnsafeKeyError(`key ${quoted} would escape the destination directory (\`..\` segment)`)
    if (s === '.' || s === '') throw new UnsafeKeyError(`key ${quoted} has an empty or \`.\` path segment, so it cannot map to one file`)
    if (Buffer.byteLength(s) > nameMax) {
      throw new UnsafeKeyError(`key ${quoted} has a name of ${Buffer.byteLength(s)} bytes; the file system allows ${nameMax}`)
    }
  }
  const path = join(root, ...segments)
  // Defence in depth: whatever the rules above miss, nothing is written outside root.
  if (!path.startsWith(root.endsWith(sep) ? root : root + sep)) {
    throw new UnsafeKeyError(`key ${quoted} would escape the destination directory`)
  }
  return path
}

/**
 * Where a file is assembled before it is verified and renamed. A name too long to take the
 * suffix gets a short hashed name in the same directory, so the rename stays atomic.
 */
export function partialPathFor(path: string): string {
  const name = basename(path)
  if (Buffer.byteLength(name) + partialSuffix.length <= nameMax) return path + partialSuffix
  return join(dirname(path), `.${createHash('sha1').update(name).digest('hex').slice(0, 20)}${partialSuffix}`)
}
