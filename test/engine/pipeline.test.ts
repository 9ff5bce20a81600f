import { createHash, randomBytes } from 'node:crypto'
import { chmodSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { Planning } from '../../src/engine/claims.js'
import { fileMetadata, formatMtime } from '../../src/providers/file-metadata.js'
import { HashPool } from '../../src/providers/local/hash-pool.js'
import { endRun, RunScope, runTuned } from '../../src/engine/run-tasks.js'
import { Stats } from '../../src/engine/stats.js'
import { abandon, recordWalk, uploadPartSize, transferTasks, type TransferContext } from '../../src/engine/pipeline.js'
import { UploadBudget } from '../../src/engine/upload-budget.js'
import { listedEntries } from '../../src/engine/upload-copy.js'
import { LocalFiles, RemoteObjects, type TransferSource } from '../../src/engine/transfer-source.js'
import { walk, type WalkEntry } from '../../src/engine/walk.js'
import { transferOptions, type TransferOptions } from '../../src/options.js'
import { SqliteStateStore } from '../../src/state/sqlite-store.js'
import type { ObjectRow, StateStore } from '../../src/state/store.js'
import { tempDir as madeTempDir } from '../e2e/helpers.js'
import { keptLog } from '../support/kept-log.js'
import { connectionReset, internalError, MemoryProvider, MemoryStore, multipartEtag, slowDown, type Call } from '../support/memory-provider.js'

// The upload pipeline in-process, as copyToStore (src/engine/upload-copy.ts) wires it, with
// MemoryProviders in place of opened stores: the walk or the listing records rows, transferTasks
// claims them and runTuned runs their requests, against a real state store.

const MiB = 1024 * 1024
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex')
/** The multipart ETag of `data` split in parts of `partSize`. */
function etagOf(data: Buffer, partSize: number): string {
  const etags: string[] = []
  for (let at = 0; at < data.length; at += partSize) etags.push(md5(data.subarray(at, at + partSize)))
  return multipartEtag(etags)
}

/** Small retry delays (the RetryPolicy's baseDelay), one thread of requests unless a test asks for more. */
const fast: Partial<TransferOptions> = { retryDelay: 0.001, concurrency: 4, partSize: 5 * MiB }

interface Side {
  entries: (signal: AbortSignal) => AsyncIterable<WalkEntry>
  keyFor: (rel: string) => string
  source: TransferSource
  /** What the destination listing covers. */
  listPrefix: string
}

const stores: SqliteStateStore[] = []
const dirs: string[] = []
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** A temporary directory, removed after the test. */
function tempDir(label: string): string {
  const d = madeTempDir(label)
  dirs.push(d)
  return d
}

/** A state store for one run: in memory, or the database at `path` (which a later run opens again). */
function stateStore(path = ':memory:'): SqliteStateStore {
  const s = new SqliteStateStore(path)
  stores.push(s)
  return s
}

/**
 * One run of `soaker cp` into `dest`, as copyToStore runs it: the destination listed into the
 * store, the walk recorded while the uploads claim its rows, the run ended with its status.
 */
async function transfer(dest: MemoryProvider, side: (hashes: HashPool) => Side, o: {
  store?: StateStore; options?: Partial<TransferOptions>; signal?: AbortSignal
} = {}) {
  const options = transferOptions({ ...fast, ...o.options })
  const stats = new Stats()
  const log = keptLog()
  const run = new RunScope(o.signal ?? new AbortController().signal, options)
  const { signal, retry } = run
  const hashes = run.own(new HashPool())
  const store = o.store ?? stateStore()
  try {
    const shape = side(hashes)
    const provider = dest as TransferContext['provider']
    store.clearRemote()
    for await (const info of provider.list(shape.listPrefix, signal)) store.putRemote(info)
    const runId = await store.beginRun('test-source', `memory://${dest.bucket}`)
    const ctx: TransferContext = {
      provider, store, stats, log, retry, signal, source: shape.source, checksum: options.uploadChecksum, order: options.order, verify: options.verify,
      partSize: options.partSize, keyFor: shape.keyFor, limiter: run.limiter, stopRun: run.stop, idle: run.idle,
      budget: new UploadBudget(() => stats.transferred, uploadPartSize(0, options.partSize)),
    }
    const walkCtx = {
      store, stats, log, keyFor: shape.keyFor, signal,
      abandon: (key: string, uploadId: string) => { void abandon(key, uploadId, { provider, store, log, retry, signal }) },
    }
    const walking = Planning.run((planning) => recordWalk(shape.entries(signal), walkCtx, planning).catch((err: unknown) => { ctx.stopRun(err) }))
    const runCtx = { stats, log, store, runId, options, signal }
    try {
      await runTuned(transferTasks(ctx, walking.planning), runCtx)
    } finally {
      await walking.finished
    }
    const result = await endRun(runCtx, signal.aborted, run.stoppedBy, ':memory:')
    return { ...result, stats, store, log: log.lines }
  } finally {
    await run.close()
  }
}

/** A local tree under `root` uploaded under `prefix` (localShape's directory case). */
const localTree = (root: string, prefix = 'up/') => (hashes: HashPool): Side => ({
  entries: () => walk(root, { followSymlinks: false }),
  keyFor: (rel) => prefix + rel,
  source: new LocalFiles((key) => join(root, ...key.slice(prefix.length).split('/')), hashes),
  listPrefix: prefix,
})

/** The objects of `src` under `from` copied under `to` (remoteShape's prefix case); `sameStore`: the store copies them. */
const remoteTree = (src: MemoryProvider, from: string, to: string, sameStore = false) => (): Side => {
  const base = `memory://${src.bucket}/`
  return {
    entries: (signal) => listedEntries(src.list(from, signal), (key) => key.slice(from.length), base),
    keyFor: (rel) => to + rel,
    source: new RemoteObjects(src, (key) => from + key.slice(to.length), base, { sameStore: sameStore ? { bucket: src.bucket } : undefined }),
    listPrefix: to,
  }
}

/** Every row of the state store, in key order. */
async function rows(store: StateStore): Promise<ObjectRow[]> {
  return await store.objects('', 10_000)
}

/** The calls of `op` that carried a part, by part number. */
const partNumbers = (calls: Call[]): number[] => calls.map((c) => c.partNumber!).sort((a, b) => a - b)

describe('upload pipeline, local tree → memory store', () => {
  test('every byte arrives with mtime and mode; the rows are done; a 13 MiB file has its multipart ETag', async () => {
    const root = tempDir('mem-upload')
    const files: Record<string, Buffer> = {
      'a.txt': Buffer.from('hello'),
      'empty': Buffer.alloc(0),
      'sub/mid.bin': randomBytes(3 * MiB), // above the inline size: streamed with an MD5 computed ahead
      'sub/deep/big.bin': randomBytes(13 * MiB + 123), // three parts of 5 MiB
    }
    for (const [rel, data] of Object.entries(files)) {
      mkdirSync(join(root, rel, '..'), { recursive: true })
      writeFileSync(join(root, rel), data)
    }
    chmodSync(join(root, 'a.txt'), 0o640)
    mkdirSync(join(root, 'hollow'))
    const dest = new MemoryProvider()

    const r = await transfer(dest, localTree(root))
    expect(r.status, r.log.join('\n')).toBe('ok')
    expect(dest.keys()).toEqual(['up/a.txt', 'up/empty', 'up/hollow/', 'up/sub/deep/big.bin', 'up/sub/mid.bin'])
    for (const [rel, data] of Object.entries(files)) {
      const o = dest.get(`up/${rel}`)!
      expect(o.data.equals(data), rel).toBe(true)
      const st = statSync(join(root, rel), { bigint: true })
      expect(o.metadata).toEqual(fileMetadata({ mtimeNs: st.mtimeNs, mode: Number(st.mode & 0o7777n) }))
    }
    expect(dest.get('up/a.txt')!.metadata.mode).toBe('0640')
    expect(dest.get('up/sub/deep/big.bin')!.etag).toBe(etagOf(files['sub/deep/big.bin']!, 5 * MiB))
    expect(partNumbers(dest.callsOf('uploadPart'))).toEqual([1, 2, 3])
    expect(dest.openUploads()).toEqual([])

    const all = await rows(r.store)
    expect(all.map((row) => [row.key, row.status])).toEqual(dest.keys().map((k) => [k, 'done']))
    for (const row of all) {
      expect(row.uploadId).toBeNull()
      expect((await r.store.doneParts(row.key)).size).toBe(0) // a completed upload leaves no parts behind
    }
    expect(r.stats).toMatchObject({ done: 5, failed: 0, doneBytes: 16 * MiB + 128, transferred: 16 * MiB + 128 })
  })
})

describe('upload pipeline, memory store → memory store', () => {
  /** A source bucket: small objects with metadata and content types, and one multipart object. */
  function seeded(src: MemoryProvider): Record<string, Buffer> {
    const data: Record<string, Buffer> = {
      'in/small.json': Buffer.from('{"a":1}'),
      'in/mid.bin': randomBytes(2 * MiB),
      'in/big.bin': randomBytes(13 * MiB + 7),
    }
    src.seed('in/small.json', data['in/small.json']!, { metadata: { owner: 'me' }, contentType: 'application/json' })
    src.seed('in/mid.bin', data['in/mid.bin']!, { metadata: { mtime: '1700000000.5' }, contentType: 'application/octet-stream' })
    src.seed('in/big.bin', data['in/big.bin']!, { metadata: { owner: 'you' }, contentType: 'video/mp4', partSize: 5 * MiB })
    return data
  }

  test('bytes, metadata and content type are carried; the multipart source keeps its ETag, split like it', async () => {
    const src = new MemoryProvider({ name: 'src' })
    const data = seeded(src)
    const dest = new MemoryProvider()
    // No --part-size: the multipart object is split as the source tells it was.
    const r = await transfer(dest, remoteTree(src, 'in/', 'out/'), { options: { partSize: undefined } })
    expect(r.status, r.log.join('\n')).toBe('ok')
    for (const [key, bytes] of Object.entries(data)) {
      const from = src.get(key)!
      const to = dest.get(key.replace('in/', 'out/'))!
      expect(to.data.equals(bytes), key).toBe(true)
      expect(to.contentType).toBe(from.contentType)
      expect(to.metadata).toMatchObject(from.metadata)
      expect(to.metadata.mtime).toBe(from.metadata.mtime ?? formatMtime(BigInt(from.lastModified.getTime()) * 1_000_000n))
    }
    expect(dest.get('out/big.bin')!.etag).toBe(src.get('in/big.bin')!.etag)
    expect(dest.get('out/small.json')!.etag).toBe(src.get('in/small.json')!.etag)
    // Every read asked for the version listed.
    expect(src.callsOf('read').every((c) => c.range === undefined || c.key === 'in/big.bin')).toBe(true)
    expect((await rows(r.store)).map((row) => row.status)).toEqual(['done', 'done', 'done'])
  })

  test('transient errors and throttling on reads and part uploads are retried; the copy is byte-exact', async () => {
    const src = new MemoryProvider({ name: 'src' })
    const data = seeded(src)
    const dest = new MemoryProvider()
    src.faults = (r) => {
      if (r.op !== 'read') return undefined
      if (r.attempt === 1) return { kind: 'fail', error: r.range?.start === 0 ? slowDown() : internalError() }
      if (r.attempt === 2 && r.key === 'in/mid.bin') return { kind: 'fail', error: connectionReset() }
      return undefined
    }
    // A part's first attempt fails on its read (the upload's body breaks): the store's faults go to later ones.
    dest.faults = (r) => {
      if (r.op === 'uploadPart' && r.attempt === 2) return { kind: 'fail', error: slowDown() }
      if (r.op === 'uploadPart' && r.partNumber === 2 && r.attempt === 3) return { kind: 'fail', error: internalError() }
      if (r.op === 'put' && r.attempt === 1) return { kind: 'fail', error: internalError() }
      return undefined
    }
    const r = await transfer(dest, remoteTree(src, 'in/', 'out/'))
    expect(r.status, r.log.join('\n')).toBe('ok')
    for (const [key, bytes] of Object.entries(data)) expect(dest.get(key.replace('in/', 'out/'))!.data.equals(bytes), key).toBe(true)
    expect(dest.get('out/big.bin')!.etag).toBe(etagOf(data['in/big.bin']!, 5 * MiB))
    // Each part's upload was refused at least once, after its bytes went: they were sent again.
    expect(partNumbers(dest.callsOf('uploadPart').filter((c) => c.answered))).toEqual([1, 2, 3])
    expect(dest.callsOf('uploadPart').filter((c) => c.fault === 'fail').every((c) => c.bytes > 0)).toBe(true)
    expect(dest.callsOf('uploadPart').filter((c) => c.fault)).toHaveLength(4)
    expect(dest.callsOf('put').filter((c) => c.fault)).toHaveLength(2)
    // Each fault failed one attempt, retried once. Throttles: the SlowDowns (part 1's first read, the
    // second attempt of each part's upload) and the reset, which retryHooks counts as pushback.
    const struck = [...src.calls, ...dest.calls].filter((c) => c.fault).length
    expect(r.stats.retries).toBe(struck)
    expect(r.stats.throttles).toBe(5)
    expect(r.stats.discarded).toBeGreaterThan(0)
    expect(r.stats.transferred - r.stats.discarded).toBe(15 * MiB + 14)
  })

  test('a body cut mid-way is read again; the copy is byte-exact', async () => {
    const src = new MemoryProvider({ name: 'src' })
    const data = seeded(src)
    const dest = new MemoryProvider()
    src.faults = (r) => (r.op === 'read' && r.attempt === 1 && r.key !== 'in/small.json' ? { kind: 'cut', afterBytes: 200_000 } : undefined)
    const r = await transfer(dest, remoteTree(src, 'in/', 'out/'))
    expect(r.status, r.log.join('\n')).toBe('ok')
    for (const [key, bytes] of Object.entries(data)) expect(dest.get(key.replace('in/', 'out/'))!.data.equals(bytes), key).toBe(true)
    const cut = src.callsOf('read').filter((c) => c.fault === 'cut')
    expect(cut).toHaveLength(4) // mid.bin whole, and each of big.bin's three parts
    expect(cut.every((c) => c.bytes === 200_000)).toBe(true)
    // The uploads whose body broke with the read were not answered; the parts stored are whole.
    expect(dest.callsOf('uploadPart').filter((c) => !c.answered).map((c) => c.bytes)).toEqual([200_000, 200_000, 200_000])
    expect(dest.callsOf('uploadPart').filter((c) => c.answered).map((c) => c.bytes).sort()).toEqual([3 * MiB + 7, 5 * MiB, 5 * MiB].sort())
  })

  test('an object whose every attempt fails fails alone, recorded with its code; the others arrive', async () => {
    const src = new MemoryProvider({ name: 'src' })
    const data = seeded(src)
    src.seed('in/bad.bin', randomBytes(1000))
    src.seed('in/bad-big.bin', randomBytes(11 * MiB), { partSize: 5 * MiB })
    const dest = new MemoryProvider()
    src.faults = (r) => (r.op === 'read' && r.key === 'in/bad.bin' ? { kind: 'fail', error: internalError() } : undefined)
    dest.faults = (r) => (r.op === 'uploadPart' && r.key === 'out/bad-big.bin' && r.partNumber === 2 ? { kind: 'fail', error: slowDown() } : undefined)
    const r = await transfer(dest, remoteTree(src, 'in/', 'out/'))
    expect(r.status).toBe('failed')
    expect(r.stats).toMatchObject({ done: 3, failed: 2 })
    const byKey = new Map((await rows(r.store)).map((row) => [row.key, row]))
    expect(byKey.get('out/bad.bin')).toMatchObject({ status: 'failed', errorCode: 'InternalError' })
    expect(byKey.get('out/bad-big.bin')).toMatchObject({ status: 'failed', errorCode: 'SlowDown' })
    expect(r.failures.map((f) => f.key).sort()).toEqual(['out/bad-big.bin', 'out/bad.bin'])
    expect(dest.get('out/bad.bin')).toBeUndefined()
    expect(dest.get('out/bad-big.bin')).toBeUndefined()
    for (const [key, bytes] of Object.entries(data)) {
      expect(byKey.get(key.replace('in/', 'out/'))?.status).toBe('done')
      expect(dest.get(key.replace('in/', 'out/'))!.data.equals(bytes), key).toBe(true)
    }
    // The retry budgets: 1 + 3 attempts of an error answer, 1 + 10 of a low-level fault.
    expect(src.callsOf('read', 'in/bad.bin')).toHaveLength(4)
    expect(dest.callsOf('uploadPart', 'out/bad-big.bin').filter((c) => c.partNumber === 2)).toHaveLength(11)
  })

  test('a multipart source replaced while it is copied starts over: the copy is all of the new version', async () => {
    const src = new MemoryProvider({ name: 'src' })
    const first = randomBytes(13 * MiB)
    const second = randomBytes(13 * MiB) // the same size: only the ETag tells the versions apart
    const old = src.seed('in/big.bin', first, { partSize: 5 * MiB })
    const dest = new MemoryProvider()
    src.faults = (r) => (r.op === 'read' && r.range?.start === 5 * MiB && r.attempt === 1 ? { kind: 'replace', body: second } : undefined)
    const r = await transfer(dest, remoteTree(src, 'in/', 'out/'))
    expect(r.status, r.log.join('\n')).toBe('ok')
    const copy = dest.get('out/big.bin')!
    expect(copy.data.equals(second)).toBe(true)
    expect(copy.etag).toBe(etagOf(second, 5 * MiB))
    // The first upload was abandoned (aborted on the store), a second one made; no read went by the old ETag after the change.
    expect(dest.callsOf('create')).toHaveLength(2)
    expect(dest.callsOf('abort')).toHaveLength(1)
    expect(dest.callsOf('complete')).toHaveLength(1)
    expect(dest.openUploads()).toEqual([])
    expect((await rows(r.store))[0]).toMatchObject({ status: 'done', etag: src.get('in/big.bin')!.etag })
    expect(src.get('in/big.bin')!.etag).not.toBe(old.etag)
  })

  test('a small source replaced between listing and copy is never published with mixed bytes', async () => {
    const src = new MemoryProvider({ name: 'src' })
    src.seed('in/a.txt', Buffer.from('version one'))
    const dest = new MemoryProvider()
    src.faults = (r) => (r.op === 'read' && r.attempt === 1 ? { kind: 'replace', body: Buffer.from('version two, longer') } : undefined)
    const r = await transfer(dest, remoteTree(src, 'in/', 'out/'))
    const row = (await rows(r.store))[0]!
    // Either it started over and copied the new version, or it failed as changed: nothing else.
    if (row.status === 'done') expect(dest.get('out/a.txt')!.data.toString()).toBe('version two, longer')
    else {
      expect(row).toMatchObject({ status: 'failed', errorCode: 'SOAKER_SOURCE_CHANGED' })
      expect(dest.get('out/a.txt')).toBeUndefined()
    }
  })

  // putWhole reads a small object on the ETag it was listed with; one replaced since starts over
  // from its new version, as a multipart object does (it used to fail at once with
  // SOAKER_SOURCE_CHANGED).
  test('a small source replaced between listing and copy starts over and copies the new version', async () => {
    const src = new MemoryProvider({ name: 'src' })
    src.seed('in/a.txt', Buffer.from('version one'))
    const dest = new MemoryProvider()
    src.faults = (r) => (r.op === 'read' && r.attempt === 1 ? { kind: 'replace', body: Buffer.from('version two, longer') } : undefined)
    const r = await transfer(dest, remoteTree(src, 'in/', 'out/'))
    // Recorded as the version copied, so that a rerun finds it done.
    expect((await rows(r.store))[0]).toMatchObject({ status: 'done', etag: src.get('in/a.txt')!.etag, size: 19 })
    expect(dest.get('out/a.txt')?.data.toString()).toBe('version two, longer')
  })

  test('a copy within one store is made by the store: copyObject and copyPart, no object bytes read', async () => {
    const store = new MemoryStore()
    const src = new MemoryProvider({ store, bucket: 'src' })
    const data = seeded(src)
    const dest = new MemoryProvider({ store, bucket: 'dst' })
    const r = await transfer(dest, remoteTree(src, 'in/', 'out/', true))
    expect(r.status, r.log.join('\n')).toBe('ok')
    for (const [key, bytes] of Object.entries(data)) {
      const to = dest.get(key.replace('in/', 'out/'))!
      expect(to.data.equals(bytes), key).toBe(true)
      expect(to.contentType).toBe(src.get(key)!.contentType)
      expect(to.metadata, key).toEqual(src.get(key)!.metadata) // as the store keeps it, whole or in parts: no mtime added
    }
    expect(src.callsOf('read')).toEqual([])
    expect(dest.callsOf('put')).toEqual([])
    expect(dest.callsOf('uploadPart')).toEqual([])
    expect(dest.callsOf('copyObject').map((c) => c.from)).toEqual([
      { bucket: 'src', key: 'in/small.json', ifMatch: src.get('in/small.json')!.etag },
      { bucket: 'src', key: 'in/mid.bin', ifMatch: src.get('in/mid.bin')!.etag },
    ])
    expect(partNumbers(dest.callsOf('copyPart'))).toEqual([1, 2, 3])
    expect(dest.callsOf('copyPart').every((c) => c.from?.ifMatch === src.get('in/big.bin')!.etag)).toBe(true)
    expect(dest.get('out/big.bin')!.etag).toBe(src.get('in/big.bin')!.etag) // split alike at 5 MiB
    expect(r.stats.transferred).toBe(15 * MiB + 14) // counted as copied, though no byte crossed
  })
})

describe('upload pipeline, interrupted and resumed', () => {
  test('a second run with the same state sends only the parts the destination does not hold', async () => {
    const root = tempDir('mem-resume')
    const data = randomBytes(26 * MiB + 5) // six parts of 5 MiB
    writeFileSync(join(root, 'big.bin'), data)
    const statePath = join(tempDir('mem-resume-state'), 'state.db')
    const dest = new MemoryProvider()
    const user = new AbortController()
    // One request at a time, so the interruption comes after a known number of parts.
    const one = { concurrency: 1, maxConcurrency: 1 }
    dest.faults = (r) => {
      if (r.op === 'uploadPart' && r.partNumber === 4) user.abort(new Error('interrupted by the test'))
      return undefined
    }
    const first = await transfer(dest, localTree(root), { store: stateStore(statePath), options: one, signal: user.signal })
    expect(first.status).toBe('interrupted')
    const [open] = dest.openUploads()
    expect(open?.parts).toEqual([1, 2, 3])
    const recorded = await first.store.doneParts('up/big.bin')
    expect([...recorded.keys()].sort()).toEqual([0, 1, 2])
    await first.store.close()

    dest.faults = () => undefined
    const before = dest.calls.length
    const second = await transfer(dest, localTree(root), { store: stateStore(statePath), options: one })
    expect(second.status, second.log.join('\n')).toBe('ok')
    const calls = dest.calls.slice(before)
    expect(calls.filter((c) => c.op === 'create')).toEqual([])
    expect(calls.filter((c) => c.op === 'listParts').map((c) => c.uploadId)).toEqual([open!.uploadId])
    expect(partNumbers(calls.filter((c) => c.op === 'uploadPart'))).toEqual([4, 5, 6])
    expect(calls.filter((c) => c.op === 'uploadPart').reduce((n, c) => n + c.bytes, 0)).toBe(data.length - 15 * MiB)
    expect(second.stats.resumedBytes).toBe(15 * MiB)
    expect(dest.get('up/big.bin')!.data.equals(data)).toBe(true)
    expect(dest.get('up/big.bin')!.etag).toBe(etagOf(data, 5 * MiB))
    expect(dest.openUploads()).toEqual([])
    expect((await rows(second.store)).map((row) => row.status)).toEqual(['done'])
  })
})
