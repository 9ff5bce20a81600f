import { createHash } from 'node:crypto'
import { basename, join, relative, sep } from 'node:path'
import { UnsafeKeyError } from '../../errors.js'

/** Longest file name most Linux file systems allow, in bytes (NAME_MAX). */
export const nameMax = 255

/**
 * The folder at the destination root where soaker keeps its work in progress. No key may land
 * in it, so a partial file's name is never another key's path.
 */
export const reservedName = '.soaker'

// C0 controls (newline, ESC, ...), DEL and C1 controls: a name holding one can rewrite a
// terminal that prints it or split a line-based listing in two, so no file gets one.
const controlCharacter = /[\u0001-\u001f\u007f-\u009f]/
const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/g

/** `text` with every control character written as `\uXXXX`, safe to print on a terminal. */
export function escapeControls(text: string): string {
  return text.replace(controlCharacters, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** A key as messages quote it: in double quotes, JSON escapes, no raw control character. */
export function quoteKey(key: string): string {
  return escapeControls(JSON.stringify(key))
}

/**
 * The local path for `key` below `root`, where `relative` is the key with the source prefix
 * removed. Keys are untrusted: anything that could land outside `root`, that no file system
 * can hold, that holds a control character, or whose first segment is the reserved `.soaker`,
 * is refused with UnsafeKeyError saying why. A backslash is an ordinary character.
 */
export function localPathFor(root: string, relative: string, key: string): string {
  const quoted = quoteKey(key)
  if (relative.includes('\0')) throw new UnsafeKeyError(`key ${quoted} contains a NUL character`)
  if (controlCharacter.test(relative)) throw new UnsafeKeyError(`key ${quoted} contains a control character`)
  if (relative.startsWith('/')) throw new UnsafeKeyError(`key ${quoted} is an absolute path`)
  const segments = relative.split('/')
  for (const s of segments) {
    if (s === '..') throw new UnsafeKeyError(`key ${quoted} would escape the destination directory (\`..\` segment)`)
    if (s === '.' || s === '') throw new UnsafeKeyError(`key ${quoted} has an empty or \`.\` path segment, so it cannot map to one file`)
    if (Buffer.byteLength(s) > nameMax) {
      throw new UnsafeKeyError(`key ${quoted} has a name of ${Buffer.byteLength(s)} bytes; the file system allows ${nameMax}`)
    }
  }
  refuseReserved(segments[0]!, key)
  const path = join(root, ...segments)
  // Defence in depth: whatever the rules above miss, nothing is written outside root.
  if (!path.startsWith(root.endsWith(sep) ? root : root + sep)) {
    throw new UnsafeKeyError(`key ${quoted} would escape the destination directory`)
  }
  return path
}

/** Throws UnsafeKeyError when `name`, the first segment of a path below the root, is the reserved one. */
export function refuseReserved(name: string, key: string): void {
  if (name === reservedName) {
    throw new UnsafeKeyError(`key ${quoteKey(key)} is reserved: \`${reservedName}/\` at the destination root holds soaker's partial files`)
  }
}

/** The folder below `root` that holds the partial files of every object copied into `root`. */
export function partialDirOf(root: string): string {
  return join(root, reservedName, 'partial')
}

/** Bytes of a file's name kept in its partial file's name, for people who look. */
const nameKept = 64

/**
 * Where the file at `path` (below `root`) is assembled before it is verified and renamed:
 * `<root>/.soaker/partial/<hash of the relative path>-<start of the name>`. No key can land
 * there, so it is never another object's final path; it is on the file system of `root`, so
 * the rename stays atomic. The same path always gets the same partial file, so a later run
 * resumes it.
 */
export function partialPathFor(root: string, path: string): string {
  const hash = createHash('sha256').update(relative(root, path)).digest('hex').slice(0, 32)
  return join(partialDirOf(root), `${hash}-${startOf(basename(path), nameKept)}`)
}

/** The longest start of `name` of at most `max` bytes that ends on a whole character. */
function startOf(name: string, max: number): string {
  if (Buffer.byteLength(name) <= max) return name
  let kept = ''
  let bytes = 0
  for (const ch of name) {
    bytes += Buffer.byteLength(ch)
    if (bytes > max) break
    kept += ch
  }
  return kept
}
