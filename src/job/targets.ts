import { dirname, isAbsolute, relative, resolve, sep } from 'node:path'

/** Where a job's relative target paths resolve, and whether the file named it. */
export interface TargetRoot {
  /** Absolute. */
  dir: string
  /** The file has a `download_root`; without one the working directory is the root. */
  given: boolean
}

/**
 * The absolute local path of a `target_path`. It must stay inside the download root: `../x` is
 * refused, and so is an absolute path outside a `download_root` the file gives. Without a
 * `download_root`, an absolute path is used as it is, as the Kaiwo downloader documents it; with
 * one, every item lands under it, which is what an operator mounting one volume there relies on.
 * A file entry cannot be the root itself.
 */
export function resolveTarget(root: TargetRoot, raw: string, mode: 'file' | 'folder'): { target: string } | { problem: string } {
  const where = root.given ? `inside download_root \`${root.dir}\`` : `inside the working directory \`${root.dir}\` (the file has no download_root)`
  if (raw.includes('\0')) return { problem: `expected a path ${where}, got a path with a NUL character` }
  const target = resolve(root.dir, raw)
  if (isAbsolute(raw) && !root.given) return { target }
  const rel = relative(root.dir, target)
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return { problem: `expected a path ${where}, got \`${raw}\`` }
  if (mode === 'file' && rel === '') return { problem: `expected a file path ${where}, got \`${raw}\`, the root itself` }
  return { target }
}

/** An item's target, with what is needed to point at it in a message. */
export interface PlacedTarget {
  target: string
  mode: 'file' | 'folder'
  /** The field that decides the target, `download_items[0].buckets[1].items[2].target_path`. */
  field: string
  /** Its line. */
  line: number
  /** The item's own field and line, `download_items[0].buckets[1].items[2]`, to point at it from another's message. */
  itemField: string
  itemLine: number
}

/**
 * Targets that would collide, each reported once: two items writing the same path (a folder and a
 * file included), on the later one in file order; and a path inside another item's file, which
 * cannot also be a directory, on the inner one. A folder inside another folder is allowed: a job may fetch a
 * prefix and, separately, another source into a subdirectory of it.
 */
export function targetClashes(placed: readonly PlacedTarget[]): { at: PlacedTarget; problem: string }[] {
  const first = new Map<string, PlacedTarget>()
  const files = new Map<string, PlacedTarget>()
  const out: { at: PlacedTarget; problem: string }[] = []
  for (const p of placed) {
    const same = first.get(p.target)
    if (same !== undefined) {
      out.push({ at: p, problem: `expected a target no other item writes, got \`${p.target}\`, which ${same.itemField} (line ${same.itemLine}) writes too` })
      continue
    }
    first.set(p.target, p)
    if (p.mode === 'file') files.set(p.target, p)
  }
  for (const p of placed) {
    if (first.get(p.target) !== p) continue
    for (let dir = dirname(p.target); dir !== dirname(dir); dir = dirname(dir)) {
      const file = files.get(dir)
      if (file !== undefined) {
        out.push({ at: p, problem: `expected a target outside other items' files, got \`${p.target}\`, inside \`${file.target}\`, the file of ${file.itemField} (line ${file.itemLine})` })
        break
      }
    }
  }
  return out
}
