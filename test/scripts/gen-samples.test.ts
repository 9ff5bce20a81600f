import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, test } from 'vitest'

const run = promisify(execFile)
const repo = fileURLToPath(new URL('../../', import.meta.url))
const tsx = join(repo, 'node_modules/.bin/tsx')

async function genSamples(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(tsx, ['scripts/gen-samples.ts', ...args], { cwd: repo })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

/** Every entry under `dir`: files as `path size md5`, directories as `path/`. */
function listing(dir: string): string[] {
  const lines: string[] = []
  const visit = (path: string): void => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name)
      const name = relative(dir, full).split(sep).join('/')
      if (entry.isDirectory()) {
        lines.push(`${name}/`)
        visit(full)
      } else {
        lines.push(`${name} ${statSync(full).size} ${createHash('md5').update(readFileSync(full)).digest('hex')}`)
      }
    }
  }
  visit(dir)
  return lines.sort()
}

const fresh = (): string => join(mkdtempSync(join(tmpdir(), 'gen-samples-')), 'out')

describe('npm run gen-samples', () => {
  test('gen-samples --files 50 --depth 3 makes 50 files, 3 levels deep, 3 empty files and one empty directory', async () => {
    const out = fresh()
    const r = await genSamples(['--files', '50', '--depth', '3', '--out', out, '--seed', '7'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^made 50 files \(3 empty\), [\d,]+ bytes .* \(1 empty\), 3 levels deep/)

    const entries = listing(out)
    const files = entries.filter((e) => !e.endsWith('/'))
    const dirs = entries.filter((e) => e.endsWith('/'))
    expect(files).toHaveLength(50)
    expect(Math.max(...files.map((f) => f.split(' ')[0]!.split('/').length - 1))).toBe(3)
    expect(Math.max(...dirs.map((d) => d.split('/').length - 1))).toBeLessThanOrEqual(3)
    expect(files.filter((f) => f.split(' ')[1] === '0')).toHaveLength(3)
    const empty = dirs.filter((d) => !entries.some((e) => e !== d && e.startsWith(d)))
    expect(empty).toHaveLength(1)
    expect(empty[0]).toMatch(/empty-dir\/$/)
    // Not all small: sizes vary.
    expect(new Set(files.map((f) => f.split(' ')[1])).size).toBeGreaterThan(40)
  })

  test('the same seed makes the same tree, byte for byte; another seed another one', async () => {
    const [a, b, c] = [fresh(), fresh(), fresh()]
    for (const [out, seed] of [[a, '3'], [b, '3'], [c, '4']] as const) {
      expect((await genSamples(['--files', '50', '--depth', '3', '--out', out, '--seed', seed])).code).toBe(0)
    }
    expect(listing(a)).toEqual(listing(b))
    expect(listing(a)).not.toEqual(listing(c))
  })

  test('--depth 0 puts every file directly in the output directory', async () => {
    const out = fresh()
    expect((await genSamples(['--files', '20', '--depth', '0', '--out', out])).code).toBe(0)
    expect(listing(out).every((e) => !e.includes('/'))).toBe(true)
    expect(listing(out)).toHaveLength(20)
  })

  test.each([
    [['--depth', '3'], 'Expected `--files` to be given'],
    [['--files', '0', '--depth', '3'], 'Expected `--files` to be an integer from 1 to 10,000,000, got `0`'],
    [['--files', '10', '--depth', 'deep'], 'Expected `--depth` to be an integer from 0 to 100, got `deep`'],
    [['--files', '10', '--depth', '2', '--seed=-1'], 'Expected `--seed` to be an integer from 0 to 4,294,967,295, got `-1`'],
    [['--files', '10', '--depth', '2', '--colour'], "Unknown option '--colour'"],
  ])('gen-samples %j: exit 2, "%s"', async (args, message) => {
    const r = await genSamples([...args, '--out', fresh()])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(message)
    expect(r.stderr).toContain('Usage: npm run gen-samples')
  })

  test('gen-samples into a directory that holds files: exit 2, nothing written', async () => {
    const out = fresh()
    expect((await genSamples(['--files', '5', '--depth', '1', '--out', out])).code).toBe(0)
    const before = listing(out)
    const r = await genSamples(['--files', '5', '--depth', '1', '--out', out, '--seed', '2'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('Expected `--out` to be a missing or empty directory')
    expect(listing(out)).toEqual(before)
  })
})
