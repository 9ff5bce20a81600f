import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const KiB = 1024
const MiB = 1024 * KiB

/** The largest file a tree holds; the long tail of sizes ends here. */
export const maxSampleSize = 4 * MiB
// Files per directory on average; a tree of N files has about N / 40 directories.
const filesPerDirectory = 40
// Every file is a slice of one pool of pseudo-random bytes, at an offset of its own: generating
// 100,000 files costs one pool, not 100,000 calls to a random source.
const poolSize = 2 * maxSampleSize
const emptyFiles = 3
export const emptyDirectoryName = 'empty-dir'

export interface SampleTreeOptions {
  /** Files to create, the empty ones included. */
  files: number
  /** Deepest directory level below `out`; 0 puts every file directly in `out`. */
  depth: number
  /** Existing empty directory the tree goes into. */
  out: string
  /** Same seed, files and depth: the same names, sizes and bytes. */
  seed: number
  /** Called with each file as it is written, e.g. to hash it without reading it back. */
  onFile?: (path: string, body: Buffer) => void
}

export interface SampleTree {
  files: number
  bytes: number
  emptyFiles: number
  /** Directories below `out`, the empty one included. */
  directories: number
  /** Paths (relative, `/`-separated) of directories that hold nothing. */
  emptyDirectories: string[]
  depth: number
}

interface Directory {
  path: string
  depth: number
  children: number
}

/**
 * Writes a tree of `files` files over directories nested up to `depth` levels into `out`. Sizes
 * are mostly small (90% up to 8 KiB), with a long tail (9% up to 256 KiB, 1% up to 4 MiB); three
 * files are empty, and one directory (`empty-dir`) holds nothing. Every leaf directory holds at
 * least one file while files last, so `empty-dir` is the only empty one whenever files ≥ directories.
 */
export function writeSampleTree(options: SampleTreeOptions): SampleTree {
  const random = mulberry32(options.seed)
  const pool = Buffer.alloc(poolSize)
  for (let i = 0; i < poolSize; i += 4) pool.writeUInt32LE(random(), i)

  const directories = layOutDirectories(options.files, options.depth, random)
  const holders = [...directories]
  if (options.depth > 0) {
    const parents = directories.filter((d) => d.depth < options.depth)
    const parent = parents[Math.floor(unit(random) * parents.length)]!
    parent.children++
    directories.push({ path: join(parent.path, emptyDirectoryName), depth: parent.depth + 1, children: 0 })
  }
  for (const dir of directories) if (dir.path !== '') mkdirSync(join(options.out, dir.path))

  // Leaves get a file each first, so that no directory but empty-dir ends up empty.
  const leaves = holders.filter((d) => d.children === 0 && d.path !== '')
  const width = String(options.files - 1).length
  const used = new Set<Directory>()
  let bytes = 0
  for (let i = 0; i < options.files; i++) {
    const dir = i < leaves.length ? leaves[i]! : holders[Math.floor(unit(random) * holders.length)]!
    used.add(dir)
    const size = i < emptyFiles ? 0 : sampleSize(random)
    const offset = Math.floor(unit(random) * (poolSize - size))
    const path = join(dir.path, `f${String(i).padStart(width, '0')}.bin`)
    const body = pool.subarray(offset, offset + size)
    writeFileSync(join(options.out, path), body)
    options.onFile?.(path, body)
    bytes += size
  }
  const emptyDirectories = directories
    .filter((d) => d.path !== '' && d.children === 0 && !used.has(d))
    .map((d) => d.path)
  return {
    files: options.files,
    bytes,
    emptyFiles: Math.min(emptyFiles, options.files),
    directories: directories.length - 1,
    emptyDirectories,
    depth: Math.max(...directories.map((d) => d.depth)),
  }
}

/**
 * The root (path '') and about `files / 40` directories below it. A chain down to `depth` comes
 * first, so the tree always reaches it; each further directory hangs under a random one above
 * the deepest level.
 */
function layOutDirectories(files: number, depth: number, random: () => number): Directory[] {
  const root: Directory = { path: '', depth: 0, children: 0 }
  const all = [root]
  if (depth === 0) return all
  const count = Math.max(depth, Math.ceil(files / filesPerDirectory))
  const width = String(count - 1).length
  for (let i = 0; i < count; i++) {
    const parent = i < depth ? all[i]! : pickParent(all, depth, random)
    parent.children++
    all.push({ path: join(parent.path, `d${String(i).padStart(width, '0')}`), depth: parent.depth + 1, children: 0 })
  }
  return all
}

function pickParent(all: readonly Directory[], depth: number, random: () => number): Directory {
  for (;;) {
    const candidate = all[Math.floor(unit(random) * all.length)]!
    if (candidate.depth < depth) return candidate
  }
}

/** 90% in 1 B-8 KiB (uniform), 9% in 8-256 KiB and 1% in 256 KiB-4 MiB (log-uniform). */
function sampleSize(random: () => number): number {
  const r = unit(random)
  if (r < 0.9) return 1 + Math.floor(unit(random) * 8 * KiB)
  const [low, high] = r < 0.99 ? [8 * KiB, 256 * KiB] : [256 * KiB, maxSampleSize]
  return Math.floor(low * (high / low) ** unit(random))
}

function unit(random: () => number): number {
  return random() / 2 ** 32
}

/** A small, fast 32-bit PRNG (mulberry32): the same seed gives the same sequence everywhere. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
}
