import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import type { ExpectedFile } from './dataset.js'

// A failed run lists this many problems; the rest are counted, not named.
const problemsShown = 5

/**
 * Checks that `dest` holds exactly the `expected` files (no more, no fewer) with their sizes and
 * MD5s. Resolves to undefined when everything arrived, else to one line saying what is wrong:
 * a run that left anything out is a failed run, however fast it was.
 */
export async function verifyDestination(dest: string, expected: readonly ExpectedFile[]): Promise<string | undefined> {
  const found = new Map<string, number>()
  for await (const file of walk(dest)) found.set(relative(dest, file).split(sep).join('/'), (await stat(file)).size)

  const problems: string[] = []
  for (const file of expected) {
    const size = found.get(file.path)
    if (size === undefined) problems.push(`missing ${file.path}`)
    else if (size !== file.size) problems.push(`${file.path} has ${size} bytes, expected ${file.size}`)
    found.delete(file.path)
  }
  for (const path of found.keys()) problems.push(`unexpected ${path}`)
  // Contents are hashed only when names and sizes all match, so a broken run fails fast.
  if (problems.length === 0) {
    for (const file of expected) {
      if ((await md5File(join(dest, file.path))) !== file.md5) problems.push(`${file.path} differs from the source (MD5)`)
    }
  }
  if (problems.length === 0) return undefined
  const more = problems.length > problemsShown ? `, and ${problems.length - problemsShown} more` : ''
  return `${problems.length} problem(s): ${problems.slice(0, problemsShown).join('; ')}${more}`
}

/** Everything under `dir` that is not a directory, depth first. */
async function* walk(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield* walk(path)
    else yield path
  }
}

async function md5File(path: string): Promise<string> {
  const hash = createHash('md5')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}
