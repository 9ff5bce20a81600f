import { createHash } from 'node:crypto'
import { accessSync, constants, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { homedir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { Script } from 'node:vm'

/**
 * What a load found: code it ran from (`hit`), none that fits (`miss`: none, stale or damaged),
 * code V8 refused (`rejected`: another V8, other flags), or no cache to look in (`off`). After a
 * miss or a refusal the cache is written when the process exits.
 */
export type CompileCacheUse = 'hit' | 'miss' | 'rejected' | 'off'

/** The header of a cache file: the SHA-256 of the source it was made from, then of the data after it. */
const hashBytes = 32
const headerBytes = 2 * hashBytes

/**
 * Where the compiled code of the bundle `file` for the runs of `command` is kept:
 * $XDG_CACHE_HOME/soaker (else ~/.cache/soaker), one file per install (the bundle's path), command
 * and Node version; undefined when NODE_DISABLE_COMPILE_CACHE is set (Node's own switch for its
 * compile cache, which Node 20 does not have). Each command has its own because each compiles
 * other code (a copy's is not --help's); each install its own so that two versions used in turn
 * (a global one and a project's, or a bench's baseline) do not each find the other's there.
 */
export function compileCachePath(file: string, command: string, env = process.env): string | undefined {
  if (env.NODE_DISABLE_COMPILE_CACHE) return undefined
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache')
  const install = createHash('sha256').update(file).digest('hex').slice(0, 16)
  return join(base, 'soaker', `${basename(file, '.cjs')}-${install}-${command}-${process.version}-${process.arch}.v8`)
}

/**
 * Runs the CommonJS file `file` (the CLI bundle) and returns its exports, as require would,
 * reusing the code V8 compiled for it on an earlier run. Node 20 has no compile cache of its own
 * (module.enableCompileCache is Node 22's); compiling the bundle's ~1.7 MB again took about a third
 * of a short run.
 *
 * The cache at `cachePath` holds V8's code for this exact source: its header has the SHA-256 of
 * the source (V8 takes code made for any source of the same length, and its top level then runs
 * the old code) and of the data (a file damaged on disk is not handed to V8). Anything else, or
 * code V8 refuses, is compiled afresh, and the cache is written when the process exits: by then
 * it holds every function the run called, not only those of the bundle's top level (the
 * functions of a copy's requests: 14 ms of a server-side copy's 167). A cache that cannot be read
 * or written only costs the time it would have saved.
 */
export function loadBundle(file: string, cachePath: string | undefined): { exports: unknown; cache: CompileCacheUse } {
  const bytes = readFileSync(file)
  const sourceHash = createHash('sha256').update(bytes).digest()
  const cachedData = cachePath === undefined ? undefined : readCache(cachePath, sourceHash)
  // The wrapper of every CommonJS module (Node's Module.wrap), on the source's first line.
  const source = `(function (exports, require, module, __filename, __dirname) { ${bytes.toString('utf8')}\n})`
  const script = new Script(source, { filename: file, cachedData })
  const module = { exports: {} as unknown }
  const run = script.runInThisContext() as (exports: unknown, require: NodeRequire, module: unknown, filename: string, dirname: string) => void
  run(module.exports, createRequire(file), module, file, dirname(file))
  if (cachePath === undefined) return { exports: module.exports, cache: 'off' }
  if (cachedData !== undefined && !script.cachedDataRejected) return { exports: module.exports, cache: 'hit' }
  process.once('exit', () => {
    if (writableDir(dirname(cachePath))) writeCache(cachePath, sourceHash, script.createCachedData())
  })
  return { exports: module.exports, cache: cachedData === undefined ? 'miss' : 'rejected' }
}

/** The cached code for the source of `sourceHash`, or undefined when there is none that is whole. */
function readCache(path: string, sourceHash: Buffer): Buffer | undefined {
  let file: Buffer
  try {
    file = readFileSync(path)
  } catch {
    return undefined
  }
  if (file.length <= headerBytes || !file.subarray(0, hashBytes).equals(sourceHash)) return undefined
  const data = file.subarray(headerBytes)
  const dataHash = createHash('sha256').update(data).digest()
  return dataHash.equals(file.subarray(hashBytes, headerBytes)) ? data : undefined
}

/** Whether `dir` is there, made if need be, and writable: else making the cache (~10 ms) is for nothing. */
function writableDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    accessSync(dir, constants.W_OK)
    return true
  } catch {
    return false
  }
}

/** Writes the cache whole or not at all (a temporary file renamed into place); nothing when it cannot. */
function writeCache(path: string, sourceHash: Buffer, data: Buffer): void {
  const draft = `${path}.${process.pid}.tmp`
  try {
    writeFileSync(draft, Buffer.concat([sourceHash, createHash('sha256').update(data).digest(), data]), { mode: 0o600 })
    renameSync(draft, path)
  } catch {
    try {
      rmSync(draft, { force: true })
    } catch {
      // the directory is not writable either: nothing was left there
    }
  }
}
