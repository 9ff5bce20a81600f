import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { ExpectedFile } from '../dataset.js'
import { piecesOf } from './curl-config.js'

// A failed run lists this many problems; the rest are counted, not named.
const problemsShown = 5

/**
 * Checks a download made in pieces, as piecesOf cuts each object (with ranges, one file per range):
 * `dest` holds exactly those files, each of its piece's length, and each object's pieces read in
 * order have its MD5. Resolves to undefined when so, else to one line saying what is wrong, as
 * verifyDestination does for whole files.
 */
export async function verifyPieces(dest: string, expected: readonly ExpectedFile[], rangesPerObject: number): Promise<string | undefined> {
  const problems: string[] = []
  const found = new Set(await readdir(dest))
  for (const piece of expected.flatMap((file) => piecesOf(file, rangesPerObject))) {
    if (!found.has(piece.path)) problems.push(`missing ${piece.path}`)
    else if ((await stat(join(dest, piece.path))).size !== piece.size) problems.push(`${piece.path} is not ${piece.size} bytes`)
    found.delete(piece.path)
  }
  for (const path of found) problems.push(`unexpected ${path}`)
  // Contents are hashed only when names and sizes all match, so a broken run fails fast.
  if (problems.length === 0) {
    for (const file of expected) {
      const paths = piecesOf(file, rangesPerObject).map((piece) => join(dest, piece.path))
      if ((await md5Of(paths)) !== file.md5) problems.push(`${file.path} differs from the source (MD5 of its pieces in order)`)
    }
  }
  if (problems.length === 0) return undefined
  const more = problems.length > problemsShown ? `, and ${problems.length - problemsShown} more` : ''
  return `${problems.length} problem(s): ${problems.slice(0, problemsShown).join('; ')}${more}`
}

/** The MD5 of the files at `paths`, read one after the other as one stream of bytes. */
async function md5Of(paths: readonly string[]): Promise<string> {
  const hash = createHash('md5')
  for (const path of paths) {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  }
  return hash.digest('hex')
}
