import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The user some tests run the CLI as when the tests run as root: root reads any file, nobody does not. */
export const nobody = { uid: 65534, gid: 65534 }

/** How to start the CLI as an unprivileged user, or why that cannot be done here. */
export type UnprivilegedCli =
  | { kind: 'same-user'; bin: string }
  | { kind: 'nobody'; bin: string; ids: typeof nobody }
  | { kind: 'unavailable'; why: string }

const checkout = fileURLToPath(new URL('../../', import.meta.url))
let cached: UnprivilegedCli | undefined
let copy: string | undefined

/** Whether `nobody` can load and run the CLI at `bin` (it must traverse every directory above it). */
function nobodyRuns(bin: string): boolean {
  const r = spawnSync(process.execPath, [bin, '--version'], { ...nobody, stdio: 'ignore', timeout: 30_000 })
  return r.status === 0
}

/**
 * The CLI as `nobody` can run it. A checkout under a private directory (mode 0700, as `mktemp -d`
 * or /root make) is out of that user's reach, so the built CLI is then linked into a directory
 * under the temp dir that anyone may enter: hard links where the file system allows (instant),
 * a copy otherwise. Only when even that copy does not run is the answer `unavailable`, with the
 * reason and the fix, for the tests to skip with.
 */
export function unprivilegedCli(): UnprivilegedCli {
  if (cached) return cached
  const bin = join(checkout, 'bin', 'soaker.js')
  if (process.getuid?.() !== 0) return (cached = { kind: 'same-user', bin })
  if (nobodyRuns(bin)) return (cached = { kind: 'nobody', bin, ids: nobody })
  copy = mkdtempSync(join(tmpdir(), 'soaker-cli-'))
  chmodSync(copy, 0o755)
  const parts = ['bin', 'dist', 'node_modules', 'package.json'].map((p) => join(checkout, p))
  try {
    execFileSync('cp', ['-al', ...parts, copy], { stdio: 'ignore' })
  } catch {
    execFileSync('cp', ['-a', ...parts, copy], { stdio: 'ignore' }) // another file system: hard links cannot cross it
  }
  const copied = join(copy, 'bin', 'soaker.js')
  if (nobodyRuns(copied)) return (cached = { kind: 'nobody', bin: copied, ids: nobody })
  return (cached = {
    kind: 'unavailable',
    why: `user nobody (uid ${nobody.uid}) cannot run ${process.execPath} ${copied}: ` +
      `the node binary or the temp dir ${tmpdir()} is out of its reach. Run the tests as a non-root user, ` +
      'or with TMPDIR and node where any user may enter',
  })
}

/** Removes the copy unprivilegedCli made, if it made one. */
export function removeUnprivilegedCopy(): void {
  if (copy) rmSync(copy, { recursive: true, force: true })
  copy = undefined
  cached = undefined
}
