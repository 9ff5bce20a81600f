import { lstat, readdir } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import type { Expected } from './sample-data.js'
import { forEachLimit, md5File } from './util.js'

/** soaker's work-in-progress folder at the destination root; nothing may be left in it once a run has finished. */
const partialFolder = '.soaker/'
/** Files hashed at once: enough to keep the disk busy, few enough to leave file handles free. */
const hashConcurrency = 8

export interface Verdict {
  files: number
  bytes: number
  /** One line per thing that is wrong; empty when the download is exact. */
  problems: string[]
}

/** Every regular file under `dir`, by its path relative to `dir` with `/` separators (as S3 keys are). */
async function walkFiles(dir: string): Promise<{ files: Map<string, string>; oddities: string[] }> {
  const files = new Map<string, string>()
  const oddities: string[] = []
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isDirectory()) continue
    const path = join(entry.parentPath, entry.name)
    const key = relative(dir, path).split(sep).join('/')
    if (entry.isFile()) files.set(key, path)
    else oddities.push(`${key}: not a regular file`)
  }
  return { files, oddities }
}

/**
 * Checks that `dir` holds exactly the `expected` objects: each as a file of the right size whose
 * MD5 matches the bytes that were uploaded, nothing else, and no partial file left behind.
 */
export async function verifyDownload(dir: string, expected: Map<string, Expected>): Promise<Verdict> {
  const { files, oddities } = await walkFiles(dir)
  const problems = [...oddities]
  for (const key of files.keys()) {
    if (key.startsWith(partialFolder)) problems.push(`${key}: partial file left behind`)
    else if (!expected.has(key)) problems.push(`${key}: not in the bucket under the prefix`)
  }
  let bytes = 0
  await forEachLimit(expected, hashConcurrency, async ([key, want]) => {
    const path = files.get(key)
    if (path === undefined) return void problems.push(`${key}: missing`)
    // Size first: it is cheap, and it names the problem more clearly than a bare MD5 mismatch.
    const { size } = await lstat(path)
    if (size !== want.size) return void problems.push(`${key}: ${size} bytes, expected ${want.size}`)
    const got = await md5File(path)
    if (got !== want.md5) return void problems.push(`${key}: MD5 ${got}, expected ${want.md5}`)
    bytes += size
  })
  return { files: files.size, bytes, problems: problems.sort() }
}

/** Inode, size and mtime of every file under `dir`: equal before and after means nothing was rewritten. */
export async function fingerprintTree(dir: string): Promise<Map<string, string>> {
  const { files } = await walkFiles(dir)
  const prints = new Map<string, string>()
  for (const [key, path] of files) {
    const s = await lstat(path, { bigint: true })
    prints.set(key, `${s.ino}:${s.size}:${s.mtimeNs}`)
  }
  return prints
}

/** Keys whose fingerprint differs between `before` and `after`, or that exist in only one. */
export function changedKeys(before: Map<string, string>, after: Map<string, string>): string[] {
  const keys = new Set([...before.keys(), ...after.keys()])
  return [...keys].filter((k) => before.get(k) !== after.get(k)).sort()
}
