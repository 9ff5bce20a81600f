import { mkdir, rm } from 'node:fs/promises'
import { homedir } from 'node:os'
import { isAbsolute, relative, resolve } from 'node:path'
import { DemoFailure } from './util.js'

/**
 * The output directory: `--out DIR`, else ./demo-output. A relative path is taken from where the
 * user typed the command (npm's INIT_CWD), since `npm run` itself runs in the package root.
 */
export function resolveOutDir(out: string | undefined): string {
  return resolve(process.env.INIT_CWD ?? process.cwd(), out ?? 'demo-output')
}

/** True when `dir` is `other` or contains it. */
function contains(dir: string, other: string): boolean {
  const rel = relative(dir, other)
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))
}

/**
 * Empties `dir` for a fresh run. The demo deletes whatever is there, so it refuses a directory
 * that holds the user's home or the current directory: `--out ~` or `--out .` is a typo, not a wish.
 */
export async function clearOutDir(dir: string): Promise<void> {
  const precious = [homedir(), process.cwd(), process.env.INIT_CWD].filter((p): p is string => !!p)
  const clash = precious.find((p) => contains(dir, p))
  if (clash) throw new DemoFailure(`Refusing to clear ${dir}: it holds ${clash}. Pick an output directory of its own with --out.`)
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
}

/** `path` as the user would type it: relative to their directory when inside it, else absolute. */
export function displayPath(path: string): string {
  const rel = relative(process.env.INIT_CWD ?? process.cwd(), path)
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? path : `./${rel}`
}
