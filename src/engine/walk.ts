import { type BigIntStats, lstatSync, statSync } from 'node:fs'
import { opendir } from 'node:fs/promises'
import { join } from 'node:path'
import { errorCode, errorMessage } from '../errors.js'

/** A regular file to upload, with what its object's metadata records. */
export interface LocalFile {
  kind: 'file'
  /** Path relative to the walked root, `/`-separated: the key below the destination prefix. */
  rel: string
  path: string
  size: number
  /** Nanoseconds since the epoch, as precise as the file system keeps it. */
  mtimeNs: bigint
  /** Permission bits (mode & 0o7777). */
  mode: number
  /** Where the entry is another store's object (a copy between stores): its ETag. */
  etag?: string
}

/**
 * What a walk finds: files; directories with nothing in them (uploaded as `dir/` markers so that
 * a download recreates them); entries it leaves out on purpose; entries it cannot read.
 */
export type WalkEntry =
  | LocalFile
  | { kind: 'empty-dir'; rel: string; path: string }
  | { kind: 'skipped'; rel: string; path: string; reason: string }
  | { kind: 'failed'; rel: string; path: string; reason: string; code: string }

export interface WalkOptions {
  /** Follow symbolic links to files and directories (loops are detected and skipped). */
  followSymlinks: boolean
  /**
   * Give the entries in the UTF-8 byte order of their paths (the order of a store's listing),
   * those after `after` only (a path this walk gave; null: every entry), so that a shared job's
   * lister can take over another's walk where it stopped. Each directory's entries are then read
   * whole and sorted: memory grows with the largest directory, not with the tree.
   */
  ordered?: { after: string | null }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** A name as the user can recognise it: valid UTF-8 as is, other bytes as \xNN. */
export function printableName(name: Buffer): string {
  let out = ''
  for (const b of name) out += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`
  return out
}

export function fileFromStats(rel: string, path: string, st: BigIntStats): LocalFile {
  return { kind: 'file', rel, path, size: Number(st.size), mtimeNs: st.mtimeNs, mode: Number(st.mode & 0o7777n) }
}

/** Why an entry that is neither a file, a directory nor a followed link is left out. */
function specialKind(st: { isSocket(): boolean; isFIFO(): boolean; isBlockDevice(): boolean; isCharacterDevice(): boolean }): string | undefined {
  if (st.isSocket()) return 'socket'
  if (st.isFIFO()) return 'FIFO'
  if (st.isBlockDevice()) return 'block device'
  if (st.isCharacterDevice()) return 'character device'
  return undefined
}

/**
 * Walks the tree under `root` depth-first as a stream: one directory handle per level is open at
 * a time and nothing is collected (unless `ordered`), so memory does not grow with the number of
 * files. Stats are synchronous: answered from the inode cache they cost microseconds, a
 * thread-pool hop far more.
 */
export async function* walk(root: string, options: WalkOptions): AsyncIterable<WalkEntry> {
  const top = statSync(root, { bigint: true })
  const after = options.ordered === undefined ? undefined : options.ordered.after === null ? null : Buffer.from(options.ordered.after)
  yield* walkDir(root, '', new Set([`${top.dev}:${top.ino}`]), options, after)
}

/** A directory to walk into: `id` is its device and inode, to tell a link loop. */
type Dir = { kind: 'dir'; rel: string; path: string; id: string }
/** An entry of a directory as a stat shows it: an entry of the walk, or a directory to walk into. */
type Found = WalkEntry | Dir

/**
 * `after`: undefined, in the order the directory gives; null, every entry in byte order; a path,
 * in byte order the entries past it.
 */
async function* walkDir(dirPath: string, rel: string, ancestors: Set<string>, options: WalkOptions, after: Buffer | null | undefined): AsyncIterable<WalkEntry> {
  const dirRel = rel === '' ? '' : rel + '/'
  let dir
  try {
    dir = await opendir(dirPath, { encoding: 'buffer' as BufferEncoding, bufferSize: 256 })
  } catch (err) {
    yield { kind: 'failed', rel: dirRel, path: dirPath, reason: `cannot read directory ${dirPath}: ${errorMessage(err)}`, code: errorCode(err) }
    return
  }
  let entries = 0
  const sorted: Array<{ found: Found; order: Buffer }> = []
  try {
    for await (const dirent of dir) {
      entries++
      const found = examine(dirPath, dirRel, dirent.name as unknown as Buffer, options)
      if (after !== undefined) sorted.push({ found, order: Buffer.from(found.kind === 'dir' ? found.rel + '/' : found.rel) })
      else if (found.kind === 'dir') yield* enter(found, ancestors, options, undefined)
      else yield found
    }
  } catch (err) {
    yield { kind: 'failed', rel: dirRel, path: dirPath, reason: `error reading directory ${dirPath}: ${errorMessage(err)}`, code: errorCode(err) }
    return
  }
  if (after !== undefined) {
    sorted.sort((a, b) => Buffer.compare(a.order, b.order))
    for (const { found, order } of sorted) {
      const past = after === null || Buffer.compare(order, after) > 0
      if (found.kind !== 'dir') {
        if (past) yield found
      } else if (past) {
        yield* enter(found, ancestors, options, null)
      } else if (after.subarray(0, order.length).equals(order)) {
        // A directory the mark is inside of was walked in part: the rest of it comes next.
        yield* enter(found, ancestors, options, after)
      }
    }
  }
  if (entries === 0 && rel !== '' && (after == null || Buffer.compare(Buffer.from(dirRel), after) > 0)) {
    yield { kind: 'empty-dir', rel: dirRel, path: dirPath }
  }
}

/** The entries of the directory `found`, or a skipped entry where it leads back to a directory above it. */
async function* enter(found: Dir, ancestors: Set<string>, options: WalkOptions, after: Buffer | null | undefined): AsyncIterable<WalkEntry> {
  if (ancestors.has(found.id)) {
    return yield { kind: 'skipped', rel: found.rel + '/', path: found.path, reason: `symbolic link loop: ${found.path} leads back to a directory above it` }
  }
  ancestors.add(found.id)
  yield* walkDir(found.path, found.rel, ancestors, options, after)
  ancestors.delete(found.id)
}

/** What the directory entry `raw` of `dirPath` is. */
function examine(dirPath: string, dirRel: string, raw: Buffer, options: WalkOptions): Found {
  let name: string
  try {
    name = utf8.decode(raw)
  } catch {
    const shown = join(dirPath, printableName(raw))
    // Recorded under `dir//name`: no walked key has an empty segment, so this row never
    // stands for (or hides) a real file whose name happens to read like the escaped one.
    return { kind: 'failed', rel: `${dirRel}/${printableName(raw)}`, path: shown, reason: `name is not valid UTF-8, so it cannot be an object key: ${shown}`, code: 'SOAKER_BAD_NAME' }
  }
  const path = join(dirPath, name)
  const childRel = dirRel + name
  let st: BigIntStats
  try {
    st = lstatSync(path, { bigint: true })
  } catch (err) {
    return { kind: 'failed', rel: childRel, path, reason: `cannot stat ${path}: ${errorMessage(err)}`, code: errorCode(err) }
  }
  if (st.isSymbolicLink()) {
    if (!options.followSymlinks) return { kind: 'skipped', rel: childRel, path, reason: 'symbolic link, not followed (--follow-symlinks follows links)' }
    try {
      st = statSync(path, { bigint: true })
    } catch (err) {
      return { kind: 'failed', rel: childRel, path, reason: `broken symbolic link ${path}: ${errorMessage(err)}`, code: errorCode(err) }
    }
  }
  if (st.isFile()) return fileFromStats(childRel, path, st)
  if (st.isDirectory()) return { kind: 'dir', rel: childRel, path, id: `${st.dev}:${st.ino}` }
  return { kind: 'skipped', rel: childRel, path, reason: `${specialKind(st) ?? 'not a regular file'}, not uploaded` }
}
