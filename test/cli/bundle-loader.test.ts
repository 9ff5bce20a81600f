import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { compileCachePath, type CompileCacheUse } from '../../src/cli/bundle-loader.js'

const loader = fileURLToPath(new URL('../../src/cli/bundle-loader.ts', import.meta.url))

/** A directory holding a CommonJS bundle that requires a sibling file, and a cache path beside it. */
function bundle(answer: string): { file: string; cache: string } {
  const dir = mkdtempSync(join(tmpdir(), 'soaker-bundle-'))
  writeFileSync(join(dir, 'sibling.cjs'), 'module.exports = "sibling"')
  const file = join(dir, 'cli.cjs')
  // `value` is computed by the top level, which runs from the cached code when there is one.
  writeFileSync(file, `const value = ${answer}\nexports.answer = () => value\nexports.sibling = require('./sibling.cjs')\nexports.where = __filename`)
  return { file, cache: join(dir, 'cache', 'cli.v8') }
}

const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest()

interface Loaded {
  cache: CompileCacheUse
  answer: number
  sibling: string
  where: string
}

/**
 * loadBundle in a process of its own, as each soaker run is: within one process V8 keeps the
 * code of a source it compiled before and would answer from that, not from the cache file.
 */
function load(file: string, cache: string | undefined): Loaded {
  const code = `import { loadBundle } from ${JSON.stringify(loader)}
    const { exports: e, cache } = loadBundle(${JSON.stringify(file)}, ${JSON.stringify(cache)})
    process.stdout.write(JSON.stringify({ cache, answer: e.answer(), sibling: e.sibling, where: e.where }))`
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8' })
  if (child.status !== 0) throw new Error(`loadBundle failed: ${child.stderr}`)
  return JSON.parse(child.stdout) as Loaded
}

describe('loadBundle', () => {
  test('runs the file as CommonJS: its exports, require relative to it, __filename; writes the cache', () => {
    const { file, cache } = bundle('42')
    expect(load(file, cache)).toEqual({ cache: 'miss', answer: 42, sibling: 'sibling', where: file })
    expect(existsSync(cache)).toBe(true)
  })

  test('the first run writes the compiled code as it exits, the next reuse it', () => {
    const { file, cache } = bundle('42')
    expect(load(file, cache).cache).toBe('miss')
    expect(load(file, cache).cache).toBe('hit')
    expect(load(file, cache).cache).toBe('hit')
  })

  test('a source changed to one of the same length is compiled afresh, not run from the old code', () => {
    const { file, cache } = bundle('42')
    load(file, cache)
    writeFileSync(file, readFileSync(file, 'utf8').replace('= 42', '= 43'))
    expect(load(file, cache)).toMatchObject({ cache: 'miss', answer: 43 })
    expect(load(file, cache)).toMatchObject({ cache: 'hit', answer: 43 })
  })

  test('a cache damaged on disk is not handed to V8, and is written again', () => {
    const { file, cache } = bundle('42')
    load(file, cache)
    const damaged = readFileSync(cache)
    damaged[damaged.length - 1]! ^= 0xff
    writeFileSync(cache, damaged)
    expect(load(file, cache)).toMatchObject({ cache: 'miss', answer: 42 })
    expect(load(file, cache).cache).toBe('hit')
  })

  test('code V8 refuses (another V8, other flags) is compiled afresh and replaced', () => {
    const { file, cache } = bundle('42')
    load(file, cache)
    const junk = Buffer.alloc(256, 7)
    writeFileSync(cache, Buffer.concat([sha256(readFileSync(file)), sha256(junk), junk]))
    expect(load(file, cache)).toMatchObject({ cache: 'rejected', answer: 42 })
    expect(load(file, cache).cache).toBe('hit')
  })

  test('no cache path: the file runs, nothing is written', () => {
    const { file } = bundle('42')
    expect(load(file, undefined)).toMatchObject({ cache: 'off', answer: 42 })
  })

  test('a cache that cannot be written costs nothing but the cache', () => {
    const { file } = bundle('42')
    const underAFile = join(file, 'cache', 'cli.v8')
    expect(load(file, underAFile)).toMatchObject({ cache: 'miss', answer: 42 })
    expect(load(file, underAFile)).toMatchObject({ cache: 'miss', answer: 42 })
  })
})

describe('compileCachePath', () => {
  test('is under $XDG_CACHE_HOME/soaker, else ~/.cache/soaker, one file per install, command and Node version', () => {
    const at = (file: string, command: string, env: NodeJS.ProcessEnv = { XDG_CACHE_HOME: '/c' }): string => compileCachePath(file, command, env)!
    expect(at('/opt/soaker/dist/cli.cjs', 'cp')).toMatch(new RegExp(`^/c/soaker/cli-[0-9a-f]{16}-cp-${process.version}-${process.arch}\\.v8$`))
    expect(at('/opt/soaker/dist/cli.cjs', 'cp', {})).toBe(join(homedir(), '.cache', 'soaker', basename(at('/opt/soaker/dist/cli.cjs', 'cp'))))
    expect(at('/opt/soaker/dist/cli.cjs', 'cp')).toBe(at('/opt/soaker/dist/cli.cjs', 'cp'))
    expect(at('/opt/soaker/dist/cli.cjs', 'cp')).not.toBe(at('/opt/soaker/dist/cli.cjs', 'status'))
    expect(at('/opt/soaker/dist/cli.cjs', 'cp')).not.toBe(at('/home/me/soaker/dist/cli.cjs', 'cp'))
  })

  test('NODE_DISABLE_COMPILE_CACHE turns it off', () => {
    expect(compileCachePath('/opt/soaker/dist/cli.cjs', 'cp', { XDG_CACHE_HOME: '/c', NODE_DISABLE_COMPILE_CACHE: '1' })).toBeUndefined()
  })
})
