/**
 * Whether the build under test offers `--verify size`, read from `soaker cp --help` at run time:
 * the ceiling races that mode as soon as a build has it, with no change to the bench.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

/**
 * Whether the `--verify` entry of `help` (a `soaker cp --help` text) names `size`, in its value
 * placeholder or its description: its first line and the lines under it, up to the next option
 * or a blank line.
 */
export function verifyOffersSize(help: string): boolean {
  const lines = help.split('\n')
  const first = lines.findIndex((line) => /^\s*--verify\s/.test(line))
  if (first === -1) return false
  const entry = [lines[first]!]
  for (const line of lines.slice(first + 1)) {
    const nextOption = /^\s*-/.test(line)
    if (nextOption || line.trim() === '') break
    entry.push(line)
  }
  return /\bsize\b/.test(entry.join(' '))
}

/** Asks the build at `bin` (a bin/soaker.js) whether it offers `--verify size`. */
export async function soakerOffersVerifySize(bin: string, env: Record<string, string>): Promise<boolean> {
  const { stdout } = await run(process.execPath, [bin, 'cp', '--help'], { env })
  return verifyOffersSize(stdout)
}
