import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { errorCode, errorMessage, LocationError, SoakerError, UsageError } from '../errors.js'
import type { Location } from '../location.js'
import { sourceOptions, type TransferOptions } from '../options.js'
import { LocalProvider } from '../providers/local/local-provider.js'
import { localPathFor } from '../providers/local/keys.js'
import type { ObjectInfo, Provider } from '../providers/provider.js'
import { openProvider } from '../providers/registry.js'
import { SqliteStateStore } from '../state/sqlite-store.js'
import { isPostgresUrl, redact } from '../state/postgres-url.js'
import { StateLock } from '../state/state-lock.js'
import type { CheckedPair } from '../state/store.js'
import { HashPool } from '../providers/local/hash-pool.js'
import { digestFromEtag, expectedDigest, multipartDigest, wholeHash, type EtagDigest, type WholeDigest } from './integrity.js'
import type { Logger } from './logger.js'
import { uploadPartCandidates } from './part-size.js'
import { defaultStatePath } from './copy.js'
import { RunScope } from './run-tasks.js'
import { retriedCall, stallSeconds, watched } from './stall-watch.js'
import { withRetry } from './retry.js'

/** What `soaker check` found of one key, as `rclone check` sorts it. */
export type CheckVerdict = 'match' | 'differ' | 'missing-on-dst' | 'missing-on-src' | 'error'

export interface CheckEntry {
  verdict: CheckVerdict
  /** The key relative to both sides' prefixes (a path relative to a local root). */
  key: string
  /** How it was compared, or what differs, or why it could not be read. */
  detail: string
  /** For `error`: the error's code. */
  code?: string
}

export interface CheckOptions {
  /** Where no digest is common to both sides, read both and compare the bytes. @default false */
  download: boolean
  /** Objects compared at once (digests computed, HEADs sent, bytes read). @default 16 */
  checkers: number
}

export const checkDefaults: CheckOptions = { download: false, checkers: 16 }

export interface CheckResult {
  counts: Record<CheckVerdict, number>
  /** Of the matches, those compared by size alone: no digest both sides know, and no --download. */
  sizeOnly: number
  /** Pairs whose verdict an earlier check recorded with both sides as they are now: not compared again. */
  recorded: number
  identical: boolean
  statePath: string
}

export interface CheckEnvironment {
  log: Logger
  signal: AbortSignal
  /** Told of every key as its verdict comes (in no particular order). */
  onEntry: (entry: CheckEntry) => void
}

/** One side of a check: its store, the prefix its keys are listed under, and its local root if it is a directory. */
interface Side {
  provider: Provider
  prefix: string
  root?: string
}

/**
 * Compares the trees at `src` and `dst`, any pair of local directories and stores, as
 * `rclone check` does: every key on one side only is missing on the other; keys on both are
 * compared by size, then by the strongest digest both sides know (a local file is hashed to the
 * digest the store keeps: an MD5 ETag, a multipart ETag under the object's part layout, the Hub's
 * SHA-256 or git blob id). Where none is common, `download` compares the bytes themselves.
 * Throws for problems of a whole side (no such bucket, not a directory).
 */
export async function check(src: Location, dst: Location, options: TransferOptions & CheckOptions, env: CheckEnvironment): Promise<CheckResult> {
  const run = new RunScope(env.signal, options, env.log)
  const hashes = run.own(new HashPool())
  try {
    const [a, b] = [await openSide(src, sourceOptions(options), run), await openSide(dst, options, run)]
    const statePath = options.state ?? defaultStatePath(`check:${src.uri.replace(/\/+$/, '')}`, dst.uri.replace(/\/+$/, ''))
    if (isPostgresUrl(statePath)) throw new UsageError(`Expected a state file for soaker check, got the PostgreSQL database ${redact(statePath)} (leave --state out, or give a path)`)
    run.own(StateLock.acquire(statePath, (note) => env.log.warn(note)))
    const store = run.own(new SqliteStateStore(statePath))
    const counts: Record<CheckVerdict, number> = { match: 0, differ: 0, 'missing-on-dst': 0, 'missing-on-src': 0, error: 0 }
    let sizeOnly = 0
    let recorded = 0
    const tell = (entry: CheckEntry): void => {
      counts[entry.verdict]++
      env.onEntry(entry)
    }
    const compare = async (x: ObjectInfo, y: ObjectInfo, key: string): Promise<void> => {
      try {
        const versions = [versionOf(x), versionOf(y)] as const
        const earlier = await store.checked(key, ...versions)
        // A size-only match from before says nothing to a check that reads the bytes.
        const reusable = earlier !== undefined && !(earlier.sizeOnly && options.download)
        const pair = reusable ? earlier : await comparePair(a, x, b, y, { options, run, hashes })
        if (reusable) recorded++
        else store.recordCheck(key, ...versions, pair)
        if (pair.sizeOnly) sizeOnly++
        tell({ verdict: pair.same ? 'match' : 'differ', key, detail: pair.detail })
      } catch (err) {
        if (run.signal.aborted) throw err
        tell({ verdict: 'error', key, detail: errorMessage(err), code: errorCode(err) })
      }
    }
    const running = new Set<Promise<void>>()
    try {
      for await (const step of march(keysOf(a, run.signal), keysOf(b, run.signal))) {
        run.signal.throwIfAborted()
        if (step.y === undefined) tell({ verdict: 'missing-on-dst', key: step.key, detail: `only in ${src.uri}` })
        else if (step.x === undefined) tell({ verdict: 'missing-on-src', key: step.key, detail: `only in ${dst.uri}` })
        else {
          const p = compare(step.x, step.y, step.key).finally(() => running.delete(p))
          running.add(p)
          if (running.size >= options.checkers) await Promise.race(running)
        }
      }
      await Promise.all(running)
    } finally {
      // A listing that broke off ends the check, but not before the comparisons under way settle.
      await Promise.allSettled(running)
    }
    const identical = counts.differ + counts['missing-on-dst'] + counts['missing-on-src'] + counts.error === 0
    return { counts, sizeOnly, recorded, identical, statePath }
  } finally {
    await run.close()
  }
}

async function openSide(location: Location, options: TransferOptions, run: RunScope): Promise<Side> {
  if (location.kind === 'local') {
    const root = resolve(location.path)
    const st = await stat(root).catch(() => undefined)
    if (!st?.isDirectory()) throw new LocationError(`Expected a directory to check, got \`${location.path}\` (${st ? 'not a directory' : 'it does not exist'})`)
    return { provider: new LocalProvider(root), prefix: '', root }
  }
  const provider = run.own(await openProvider(location, { options, env: process.env, retry: run.withRetry }))
  await provider.check(run.signal)
  // A tree, as cp reads one: `s3://b/p` and `s3://b/p/` both mean the objects under `p/`.
  const prefix = location.key === '' || location.key.endsWith('/') ? location.key : `${location.key}/`
  return { provider, prefix }
}

/** The side's objects with keys relative to its prefix; folder markers are not objects. */
async function* keysOf(side: Side, signal: AbortSignal): AsyncIterable<{ key: string; info: ObjectInfo }> {
  for await (const info of side.provider.list(side.prefix, signal)) {
    if (!info.key.endsWith('/')) yield { key: info.key.slice(side.prefix.length), info }
  }
}

type Step = { key: string; x?: ObjectInfo; y?: ObjectInfo }

/**
 * Walks two listings in key order (the byte order of their UTF-8, as S3 lists) side by side:
 * each key comes once, with its object on each side where it has one. Nothing is held but the
 * current key of each listing, so a tree of millions costs no memory.
 */
export async function* march(
  xs: AsyncIterable<{ key: string; info: ObjectInfo }>, ys: AsyncIterable<{ key: string; info: ObjectInfo }>,
): AsyncIterable<Step> {
  const xi = ordered(xs)[Symbol.asyncIterator]()
  const yi = ordered(ys)[Symbol.asyncIterator]()
  let x = await xi.next()
  let y = await yi.next()
  while (!x.done || !y.done) {
    const order = x.done ? 1 : y.done ? -1 : Buffer.compare(x.value.bytes, y.value.bytes)
    if (order < 0) {
      yield { key: x.value!.key, x: x.value!.info }
      x = await xi.next()
    } else if (order > 0) {
      yield { key: y.value!.key, y: y.value!.info }
      y = await yi.next()
    } else {
      yield { key: x.value!.key, x: x.value!.info, y: y.value!.info }
      x = await xi.next()
      y = await yi.next()
    }
  }
}

/** The listing with each key's bytes; a key out of order would make the march wrong, so it fails. */
async function* ordered(listing: AsyncIterable<{ key: string; info: ObjectInfo }>): AsyncIterable<{ key: string; info: ObjectInfo; bytes: Buffer }> {
  let last: Buffer | undefined
  for await (const item of listing) {
    const bytes = Buffer.from(item.key)
    if (last !== undefined && Buffer.compare(last, bytes) >= 0) {
      throw new SoakerError(`A listing came out of key order (\`${item.key}\` after \`${last.toString()}\`): cannot compare the two sides`)
    }
    last = bytes
    yield { ...item, bytes }
  }
}

interface CompareContext {
  options: CheckOptions & TransferOptions
  run: RunScope
  hashes: HashPool
}

/** What identifies the bytes an object had when it was compared: size, ETag and time. */
function versionOf(info: ObjectInfo): string {
  return `${info.size}:${info.etag ?? ''}:${info.lastModified?.getTime() ?? ''}`
}

/**
 * What a side can say of an object's digest without reading its bytes: its ETag's promise, or
 * where ETags promise nothing (Azure), the MD5 its store keeps beside it (one HEAD).
 */
async function claimed(side: Side, info: ObjectInfo, ctx: CompareContext): Promise<EtagDigest> {
  if (side.root !== undefined) return { kind: 'none' }
  const kind = side.provider.capabilities.etagDigest
  if (kind !== 'none') return digestFromEtag(info.etag, false, kind)
  const details = await retriedCall(ctx.run, info.key, (signal) => side.provider.stat(info.key, signal), { hedge: 'head' })
  return expectedDigest(details.etag, details, kind)
}

async function comparePair(a: Side, x: ObjectInfo, b: Side, y: ObjectInfo, ctx: CompareContext): Promise<CheckedPair> {
  if (x.size !== y.size) return { same: false, sizeOnly: false, detail: `sizes differ: ${x.size} and ${y.size} bytes` }
  const [da, db] = await Promise.all([claimed(a, x, ctx), claimed(b, y, ctx)])
  // Two stores that promise the same kind of digest: their promises are compared, no byte read.
  const common = commonClaim(da, db)
  if (common !== undefined) return common
  // A local file is hashed to whatever digest the store on the other side keeps.
  if (a.root !== undefined && db.kind !== 'none') return await hashAgainst(a, x, b, y, db, 'source', ctx)
  if (b.root !== undefined && da.kind !== 'none') return await hashAgainst(b, y, a, x, da, 'destination', ctx)
  if (ctx.options.download) return await compareBytes(a, x, b, y, ctx)
  return { same: true, detail: 'same size (no digest known to both sides)', sizeOnly: true }
}

function commonClaim(da: EtagDigest, db: EtagDigest): CheckedPair | undefined {
  if (da.kind === 'md5' && db.kind === 'md5') return verdictOf('MD5', da.md5, db.md5)
  // The same part layout gives the same multipart ETag; different layouts cannot be compared.
  if (da.kind === 'multipart' && db.kind === 'multipart' && da.parts === db.parts) return verdictOf(`multipart ETag (${da.parts} parts)`, da.md5, db.md5)
  if (da.kind === 'whole' && db.kind === 'whole' && da.algorithm === db.algorithm) return verdictOf(digestName[da.algorithm], da.hex, db.hex)
  return undefined
}

/** A digest a store promises. */
type Promised = Exclude<EtagDigest, { kind: 'none' }>

const digestName: Record<WholeDigest, string> = { md5: 'MD5', sha256: 'SHA-256', 'git-sha1': 'git blob id' }

function verdictOf(name: string, a: string, b: string): CheckedPair {
  return a === b ? { same: true, sizeOnly: false, detail: `${name} matches` } : { same: false, sizeOnly: false, detail: `${name} differs: ${a} and ${b}` }
}

/**
 * The local file of `local` (the check's `localIs`) hashed to the digest `expected` that the
 * store `remote` keeps for `y`; a verdict names the source's digest first.
 */
async function hashAgainst(
  local: Side, x: ObjectInfo, remote: Side, y: ObjectInfo, expected: Promised, localIs: 'source' | 'destination', ctx: CompareContext,
): Promise<CheckedPair> {
  const path = localPathFor(local.root!, x.key, x.key)
  const against = (name: string, computed: string, kept: string): CheckedPair =>
    localIs === 'source' ? verdictOf(name, computed, kept) : verdictOf(name, kept, computed)
  if (expected.kind === 'md5') return against('MD5', await ctx.hashes.md5(path, 0, x.size), expected.md5)
  if (expected.kind === 'whole') return against(digestName[expected.algorithm], await ctx.hashes.digest(path, 0, x.size, expected.algorithm), expected.hex)
  // The part size the object was uploaded with: told by the store, else every plausible one.
  const told = remote.provider.uploadParts
    ? await retriedCall(ctx.run, `${y.key} (its part layout)`, (signal) => remote.provider.uploadParts!(y.key, signal), { hedge: 'head' })
    : undefined
  const sizes = told && told.count === expected.parts ? [told.partSize] : uploadPartCandidates(x.size, expected.parts)
  for (const partSize of sizes) {
    const md5s = await Promise.all(Array.from({ length: expected.parts }, (_, i) => ctx.hashes.md5(path, i * partSize, Math.min(partSize, x.size - i * partSize))))
    if (multipartDigest(md5s) === expected.md5) return { same: true, sizeOnly: false, detail: `multipart ETag (${expected.parts} parts of ${partSize} bytes) matches` }
  }
  return { same: false, sizeOnly: false, detail: `multipart ETag ${expected.md5}-${expected.parts} not reproduced by the local file under ${told ? 'the store\'s part size' : 'any usual part size'}` }
}

/** --download: both objects read whole and their MD5s compared. */
async function compareBytes(a: Side, x: ObjectInfo, b: Side, y: ObjectInfo, ctx: CompareContext): Promise<CheckedPair> {
  const [ha, hb] = await Promise.all([readMd5(a, x, ctx), readMd5(b, y, ctx)])
  return { same: ha === hb, sizeOnly: false, detail: ha === hb ? 'bytes match (read from both sides)' : 'bytes differ (read from both sides)' }
}

async function readMd5(side: Side, info: ObjectInfo, ctx: CompareContext): Promise<string> {
  if (side.root !== undefined) return await ctx.hashes.md5(localPathFor(side.root, info.key, info.key), 0, info.size)
  const { run } = ctx
  return await withRetry(run.retry, run.signal, () => watched(run.signal, stallSeconds(run), info.key, async (watch) => {
    const { body } = await side.provider.read(info.key, { signal: watch.signal })
    watch.guard(body)
    const hash = wholeHash('md5', info.size)
    for await (const chunk of body as AsyncIterable<Buffer>) {
      watch.touch()
      hash.update(chunk)
    }
    return hash.digest('hex')
  }))
}
