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
 * a time and nothing is collected, so memory does not grow with the number of files. Stats are
 * synchronous: answered from the inode cache they cost microseconds, a thread-pool hop far more.
 */
export async function* walk(root: string, options: WalkOptions): AsyncIterable<WalkEntry> {
  const top = statSync(root, { bigint: true })
  yield* walkDir(root, '', new Set([`${top.dev}:${top.ino}`]), options)
}

async function* walkDir(dirPath: string, rel: string, ancestors: Set<string>, options: WalkOptions): AsyncIterable<WalkEntry> {
  const dirRel = rel === '' ? '' : rel + '/'
  let dir
  try {
    dir = await opendir(dirPath, { encoding: 'buffer' as BufferEncoding, bufferSize: 256 })
  } catch (err) {
    yield { kind: 'failed', rel: dirRel, path: dirPath, reason: `cannot read directory ${dirPath}: ${errorMessage(err)}`, code: errorCode(err) }
    return
  }
  let entries = 0
  try {
    for await (const dirent of dir) {
      entries++
      const raw = dirent.name as unknown as Buffer
      let name: string
      try {
        name = utf8.decode(raw)
      } catch {
        const shown = join(dirPath, printableName(raw))
        // Recorded under `dir//name`: no walked key has an empty segment, so this row never
        // stands for (or hides) a real file whose name happens to read like the escaped one.
        yield { kind: 'failed', rel: `${dirRel}/${printableName(raw)}`, path: shown, reason: `name is not valid UTF-8, so it cannot be an object key: ${shown}`, code: 'SOAKER_BAD_NAME' }
        continue
      }
      const path = join(dirPath, name)
      const childRel = dirRel + name
      let st: BigIntStats
      try {
        st = lstatSync(path, { bigint: true })
      } catch (err) {
        yield { kind: 'failed', rel: childRel, path, reason: `cannot stat ${path}: ${errorMessage(err)}`, code: errorCode(err) }
        continue
      }
      if (st.isSymbolicLink()) {
        if (!options.followSymlinks) {
          yield { kind: 'skipped', rel: childRel, path, reason: 'symbolic link, not followed (--follow-symlinks follows links)' }
          continue
        }
        try {
          st = statSync(path, { bigint: true })
        } catch (err) {
          yield { kind: 'failed', rel: childRel, path, reason: `broken symbolic link ${path}: ${errorMessage(err)}`, code: errorCode(err) }
          continue
        }
      }
      if (st.isFile()) {
        yield fileFromStats(childRel, path, st)
      } else if (st.isDirectory()) {
        const id = `${st.dev}:${st.ino}`
        if (ancestors.has(id)) {
          yield { kind: 'skipped', rel: childRel + '/', path, reason: `symbolic link loop: ${path} leads back to a directory above it` }
          continue
        }
        ancestors.add(id)
        yield* walkDir(path, childRel, ancestors, options)
        ancestors.delete(id)
      } else {
        yield { kind: 'skipped', rel: childRel, path, reason: `${specialKind(st) ?? 'not a regular file'}, not uploaded` }
      }
    }
  } catch (err) {
    yield { kind: 'failed', rel: dirRel, path: dirPath, reason: `error reading directory ${dirPath}: ${errorMessage(err)}`, code: errorCode(err) }
    return
  }
  if (entries === 0 && rel !== '') yield { kind: 'empty-dir', rel: dirRel, path: dirPath }
}
