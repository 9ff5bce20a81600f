import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { runSources } from '../../src/engine/copy-sources.js'
import { uploadLogDirOf } from '../../src/engine/job-state.js'
import type { OpenedSource } from '../../src/engine/open-source.js'
import { RunScope } from '../../src/engine/run-tasks.js'
import { Stats } from '../../src/engine/stats.js'
import { transferOptions, type TransferOptions } from '../../src/options.js'
import { localPathFor, partialDirOf } from '../../src/providers/local/keys.js'
import type { RemoteLocation } from '../../src/providers/registry.js'
import { SqliteStateStore } from '../../src/state/sqlite-store.js'
import { tempDir as madeTempDir } from '../e2e/helpers.js'
import { keptLog } from '../support/kept-log.js'
import { internalError, MemoryProvider } from '../support/memory-provider.js'

// A download in-process, as `soaker cp s3://bucket/in/ DIR` runs it (runSources): the listing
// planned into a real state store while the transfer engine claims its rows and writes them into
// the directory as a store (LocalProvider), from a MemoryProvider with injected faults.

const MiB = 1024 * 1024
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex')

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function tempDir(label: string): string {
  const d = madeTempDir(label)
  dirs.push(d)
  return d
}

/** The objects of `src` under `in/` as a source of a download into `root`, as openSource opens it. */
function opened(src: MemoryProvider, root: string, signal: AbortSignal): OpenedSource {
  const uri = `s3://${src.bucket}/in/`
  return {
    item: {
      source: { kind: 's3', uri, bucket: src.bucket, key: 'in/' } as unknown as RemoteLocation,
      destination: { kind: 'local', uri: root, path: root },
    },
    provider: src, root, listing: () => src.list('in/', signal), keyPrefix: 'in/', isPrefix: true,
    pathFor: (key) => localPathFor(root, key.slice('in/'.length), key),
  }
}

/** One run of the download of `src`'s `in/` into `root`, its state at `statePath`. */
async function download(src: MemoryProvider, root: string, statePath: string, options: Partial<TransferOptions> = {}) {
  const stats = new Stats()
  const log = keptLog()
  const signal = new AbortController().signal
  const run = new RunScope(signal, transferOptions({ retryDelay: 0.001, ...options }))
  try {
    const result = await runSources([async () => opened(src, root, run.signal)], transferOptions({ retryDelay: 0.001, ...options }), { stats, log, signal }, run,
      { statePath, source: `s3://${src.bucket}/in/`, destination: root }, (_item, err) => { throw err })
    return { ...result, stats, log: log.lines }
  } finally {
    await run.close()
  }
}

async function stateOf(statePath: string) {
  const store = new SqliteStateStore(statePath, { readOnly: true })
  try {
    const rows = await store.objects('', 1000)
    const parts = new Map<string, Map<number, string | null>>()
    for (const row of rows) parts.set(row.key, await store.doneParts(row.key))
    return { rows, parts }
  } finally {
    await store.close()
  }
}

describe('a download on the transfer engine, in-process', () => {
  /** A seeded source, an empty destination and a new state database's path. */
  function fresh(): { src: MemoryProvider; data: Record<string, Buffer>; root: string; statePath: string } {
    const src = new MemoryProvider({ name: 'src' })
    return { src, data: seeded(src), root: tempDir('dl-root'), statePath: join(tempDir('dl-state'), 's.db') }
  }

  function seeded(src: MemoryProvider): Record<string, Buffer> {
    const data: Record<string, Buffer> = {
      'in/small.json': Buffer.from('{"a":1}'),
      'in/sub/mid.bin': randomBytes(2 * MiB),
      'in/big.bin': randomBytes(13 * MiB + 7),
    }
    src.seed('in/small.json', data['in/small.json']!, { lastModified: new Date('2024-05-06T07:08:09Z') })
    src.seed('in/sub/mid.bin', data['in/sub/mid.bin']!, { metadata: { mtime: '1700000000.5', mode: '0640' } })
    src.seed('in/big.bin', data['in/big.bin']!, { partSize: 5 * MiB })
    return data
  }

  test('every byte arrives with its mtime and mode; the multipart object in ranges that follow its upload parts, each MD5 recorded', async () => {
    const { src, data, root, statePath } = fresh()
    const r = await download(src, root, statePath)
    expect(r.status, r.log.join('\n')).toBe('ok')
    for (const [key, bytes] of Object.entries(data)) expect(md5(readFileSync(join(root, key.slice(3)))), key).toBe(md5(bytes))
    // The object's own mtime and mode (as rclone stores them), else its Last-Modified.
    expect(statSync(join(root, 'sub/mid.bin')).mtimeMs).toBe(1700000000500)
    expect(statSync(join(root, 'sub/mid.bin')).mode & 0o777).toBe(0o640)
    expect(statSync(join(root, 'small.json')).mtime.toISOString()).toBe('2024-05-06T07:08:09.000Z')
    const { rows, parts } = await stateOf(statePath)
    expect(rows.map((row) => [row.key, row.status])).toEqual([['in/big.bin', 'done'], ['in/small.json', 'done'], ['in/sub/mid.bin', 'done']])
    expect(rows.find((row) => row.key === 'in/sub/mid.bin')?.fileMtime).toBe(1700000000500)
    // Ranges of the upload's 5 MiB parts: three MD5s, the terms of its ETag.
    const big = data['in/big.bin']!
    expect([...parts.get('in/big.bin')!.entries()]).toEqual([0, 1, 2].map((i) => [i, md5(big.subarray(i * 5 * MiB, (i + 1) * 5 * MiB))]))
    expect(src.callsOf('read', 'in/big.bin').map((c) => c.range)).toEqual(expect.arrayContaining([
      { start: 0, end: 5 * MiB - 1 }, { start: 5 * MiB, end: 10 * MiB - 1 }, { start: 10 * MiB, end: 13 * MiB + 6 },
    ]))
    // Nothing is left of the work in progress, in the destination or beside the state.
    expect(existsSync(partialDirOf(root))).toBe(false)
    expect(existsSync(uploadLogDirOf(statePath))).toBe(false)
  })

  test('a part that fails leaves the others recorded: the next run reads only that part, into the same partial file', async () => {
    const { src, data, root, statePath } = fresh()
    src.faults = (q) => (q.op === 'read' && q.key === 'in/big.bin' && q.range?.start === 10 * MiB ? { kind: 'fail', error: internalError() } : undefined)
    // One request at a time: the third part is read after the first two are in.
    const first = await download(src, root, statePath, { retries: 0, concurrency: 1, minConcurrency: 1, maxConcurrency: 1 })
    expect(first.status).toBe('failed')
    expect(first.stats).toMatchObject({ done: 2, failed: 1 })
    expect(existsSync(join(root, 'big.bin'))).toBe(false)
    expect((await stateOf(statePath)).parts.get('in/big.bin')?.size).toBe(2)

    src.faults = () => undefined
    const mark = src.callsOf('read').length
    const second = await download(src, root, statePath)
    expect(second.status, second.log.join('\n')).toBe('ok')
    expect(second.log).toContain('info resuming in/big.bin: 2 of 3 parts already here')
    expect(md5(readFileSync(join(root, 'big.bin')))).toBe(md5(data['in/big.bin']!))
    // Only the failed part was read again (and nothing of the objects already done).
    const reads = src.callsOf('read').slice(mark)
    expect(reads.map((c) => [c.key, c.range])).toEqual([['in/big.bin', { start: 10 * MiB, end: 13 * MiB + 6 }]])
    expect(existsSync(partialDirOf(root))).toBe(false)
  })

  test('a body cut short is read again, and the file holds the bytes of the object', async () => {
    const { src, data, root, statePath } = fresh()
    // The first whole read of mid.bin breaks off mid-body (a reset): it is read again from the start.
    src.faults = (q) => (q.op === 'read' && q.key === 'in/sub/mid.bin' && q.attempt === 1 ? { kind: 'cut', afterBytes: 100_000 } : undefined)
    const r = await download(src, root, statePath)
    expect(r.status, r.log.join('\n')).toBe('ok')
    expect(src.callsOf('read', 'in/sub/mid.bin').map((c) => c.fault)).toEqual(['cut', undefined])
    expect(md5(readFileSync(join(root, 'sub/mid.bin')))).toBe(md5(data['in/sub/mid.bin']!))
    expect(r.stats).toMatchObject({ done: 3, failed: 0 })
  })
})
