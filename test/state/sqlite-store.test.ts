import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { LocationError } from '../../src/errors.js'
import type { ObjectInfo } from '../../src/providers/provider.js'
import { migrations } from '../../src/state/migrations.js'
import { SqliteStateStore } from '../../src/state/sqlite-store.js'

let dir: string
let path: string
let store: SqliteStateStore

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'soaker-state-'))
  path = join(dir, 'nested', 'state.db')
  store = new SqliteStateStore(path)
})
afterEach(() => {
  store.close()
  rmSync(dir, { recursive: true, force: true })
})

const big: ObjectInfo = { key: 'data/big.bin', size: 100 * 1024 * 1024, etag: 'e2fc714c4727ee9395f324cd2e7f331f-13', lastModified: new Date('2024-05-01T12:34:56Z') }
const small: ObjectInfo = { key: 'data/small.txt', size: 5, etag: '5d41402abc4b2a76b9719d911017c592' }

describe('SqliteStateStore', () => {
  test('creates the database, and its directory, at the path it is given', () => {
    expect(existsSync(path)).toBe(true)
    expect(store.path).toBe(path)
  })

  test('putObject then getObject gives the row back', () => {
    store.putObject(big, 'pending')
    store.putObject(small, 'skipped', 'already there')
    expect(store.getObject(big.key)).toEqual({
      key: big.key, size: big.size, etag: big.etag, lastModified: Date.parse('2024-05-01T12:34:56Z'),
      status: 'pending', reason: null, errorCode: null, partSize: null, uploadId: null, fileMtime: null,
    })
    expect(store.getObject(small.key)).toEqual({
      key: small.key, size: 5, etag: small.etag, lastModified: null,
      status: 'skipped', reason: 'already there', errorCode: null, partSize: null, uploadId: null, fileMtime: null,
    })
  })

  test('getObject of an unknown key is undefined', () => {
    expect(store.getObject('nope')).toBeUndefined()
  })

  test('keeps keys exactly: non-ASCII, spaces, and keys that differ only in case', () => {
    const keys = ['été/データ.csv', 'a b/c', 'Case', 'case']
    keys.forEach((key, i) => store.putObject({ key, size: i }, 'pending'))
    for (const [i, key] of keys.entries()) expect(store.getObject(key)?.size).toBe(i)
  })

  test('putObject of a new version replaces the row and clears its parts and part size', () => {
    store.putObject(big, 'pending')
    store.setPartSize(big.key, 8 * 1024 * 1024)
    store.recordPart(big.key, 0, 'aa'.repeat(16))
    store.recordPart(big.key, 1, null)
    store.setStatus(big.key, 'failed', 'boom', 'SOAKER_X')
    store.putObject({ ...big, etag: '0cc175b9c0f1b6a831c399e269772661-13', size: big.size + 1 }, 'pending')
    expect(store.doneParts(big.key).size).toBe(0)
    expect(store.getObject(big.key)).toMatchObject({
      etag: '0cc175b9c0f1b6a831c399e269772661-13', size: big.size + 1, status: 'pending', reason: null, errorCode: null, partSize: null,
    })
  })

  test('putObject clears only the parts of its own key', () => {
    store.putObject(big, 'pending')
    store.putObject(small, 'pending')
    store.recordPart(big.key, 0, null)
    store.recordPart(small.key, 0, null)
    store.putObject(big, 'pending')
    expect(store.doneParts(big.key).size).toBe(0)
    expect([...store.doneParts(small.key).keys()]).toEqual([0])
  })

  test('recordPart and doneParts: index to MD5, null where none was computed, replaced when recorded again', () => {
    store.putObject(big, 'pending')
    store.recordPart(big.key, 2, 'bb'.repeat(16))
    store.recordPart(big.key, 0, 'aa'.repeat(16))
    store.recordPart(big.key, 5, null)
    store.recordPart(big.key, 2, 'cc'.repeat(16))
    expect(store.doneParts(big.key)).toEqual(new Map<number, string | null>([[0, 'aa'.repeat(16)], [2, 'cc'.repeat(16)], [5, null]]))
    expect(store.doneParts('other').size).toBe(0)
  })

  test('clearParts drops every part of the key', () => {
    store.putObject(big, 'pending')
    store.recordPart(big.key, 0, null)
    store.recordPart(big.key, 1, null)
    store.clearParts(big.key)
    expect(store.doneParts(big.key).size).toBe(0)
  })

  test('recordProgress and partProgress: index to bytes arrived, replaced when recorded again', () => {
    store.putObject(big, 'pending')
    store.recordProgress(big.key, 3, 1000)
    store.recordProgress(big.key, 1, 5)
    store.recordProgress(big.key, 3, 4096)
    expect(store.partProgress(big.key)).toEqual(new Map([[1, 5], [3, 4096]]))
    expect(store.partProgress('other').size).toBe(0)
  })

  test('recordPart drops the progress of that part only', () => {
    store.putObject(big, 'pending')
    store.recordProgress(big.key, 0, 100)
    store.recordProgress(big.key, 1, 200)
    store.recordPart(big.key, 0, null)
    expect(store.partProgress(big.key)).toEqual(new Map([[1, 200]]))
  })

  test('clearParts, a new version, a new part size and a new upload each drop the progress with the parts', () => {
    store.putObject(big, 'pending')
    const withProgress = (): void => { store.recordProgress(big.key, 0, 100) }
    withProgress()
    store.clearParts(big.key)
    expect(store.partProgress(big.key).size).toBe(0)
    withProgress()
    store.putObject({ ...big, etag: '0cc175b9c0f1b6a831c399e269772661-13' }, 'pending')
    expect(store.partProgress(big.key).size).toBe(0)
    withProgress()
    store.setPartSize(big.key, 8 * 1024 * 1024)
    expect(store.partProgress(big.key).size).toBe(0)
    withProgress()
    store.setPartSize(big.key, 8 * 1024 * 1024) // the same size keeps it
    expect(store.partProgress(big.key).size).toBe(1)
    store.setUpload(big.key, 'upload-1', 8 * 1024 * 1024)
    expect(store.partProgress(big.key).size).toBe(0)
  })

  test('progress survives a reopen of the database (a kill -9 loses only what was not committed)', () => {
    store.putObject(big, 'pending')
    store.recordProgress(big.key, 2, 12345)
    store.commit()
    store.close()
    store = new SqliteStateStore(path)
    expect(store.partProgress(big.key)).toEqual(new Map([[2, 12345]]))
  })

  test('setPartSize with a different size clears the parts', () => {
    store.putObject(big, 'pending')
    store.setPartSize(big.key, 8 * 1024 * 1024)
    store.recordPart(big.key, 0, null)
    store.recordPart(big.key, 1, null)
    store.setPartSize(big.key, 16 * 1024 * 1024)
    expect(store.getObject(big.key)?.partSize).toBe(16 * 1024 * 1024)
    expect(store.doneParts(big.key).size).toBe(0)
  })

  test('setPartSize with the same size keeps the parts', () => {
    store.putObject(big, 'pending')
    store.setPartSize(big.key, 8 * 1024 * 1024)
    store.recordPart(big.key, 0, 'aa'.repeat(16))
    store.recordPart(big.key, 1, null)
    store.setPartSize(big.key, 8 * 1024 * 1024)
    expect(store.getObject(big.key)?.partSize).toBe(8 * 1024 * 1024)
    expect(store.doneParts(big.key)).toEqual(new Map<number, string | null>([[0, 'aa'.repeat(16)], [1, null]]))
  })

  test('setPartSize on a row without a part size drops parts recorded without one', () => {
    store.putObject(big, 'pending')
    store.recordPart(big.key, 0, null)
    store.setPartSize(big.key, 8 * 1024 * 1024)
    expect(store.doneParts(big.key).size).toBe(0)
  })

  test('setStatus records the status, reason and error code, and clears them when not given', () => {
    store.putObject(small, 'pending')
    store.setStatus(small.key, 'failed', 'HTTP 403', 'AccessDenied')
    expect(store.getObject(small.key)).toMatchObject({ status: 'failed', reason: 'HTTP 403', errorCode: 'AccessDenied' })
    store.setStatus(small.key, 'done')
    expect(store.getObject(small.key)).toMatchObject({ status: 'done', reason: null, errorCode: null })
  })

  test('counts gives objects and bytes by status, with zeros for absent statuses', () => {
    expect(store.counts()).toEqual({
      pending: { objects: 0, bytes: 0 }, done: { objects: 0, bytes: 0 }, skipped: { objects: 0, bytes: 0 }, failed: { objects: 0, bytes: 0 },
    })
    store.putObject({ key: 'a', size: 10 }, 'pending')
    store.putObject({ key: 'b', size: 20 }, 'pending')
    store.putObject({ key: 'c', size: 30 }, 'done')
    store.putObject({ key: 'd', size: 40 }, 'failed')
    store.putObject({ key: 'e', size: 0 }, 'skipped')
    store.setStatus('b', 'done')
    expect(store.counts()).toEqual({
      pending: { objects: 1, bytes: 10 },
      done: { objects: 2, bytes: 50 },
      skipped: { objects: 1, bytes: 0 },
      failed: { objects: 1, bytes: 40 },
    })
  })

  test('failures lists failed objects in key order with their code and reason, up to the limit', () => {
    for (const key of ['z', 'b', 'm', 'a']) {
      store.putObject({ key, size: 1 }, 'pending')
      store.setStatus(key, 'failed', `reason ${key}`, `CODE_${key}`)
    }
    store.putObject({ key: 'ok', size: 1 }, 'done')
    expect(store.failures(10)).toEqual([
      { key: 'a', errorCode: 'CODE_a', reason: 'reason a' },
      { key: 'b', errorCode: 'CODE_b', reason: 'reason b' },
      { key: 'm', errorCode: 'CODE_m', reason: 'reason m' },
      { key: 'z', errorCode: 'CODE_z', reason: 'reason z' },
    ])
    expect(store.failures(2).map((f) => f.key)).toEqual(['a', 'b'])
  })

  test('firstKeyUnder gives the first key with the prefix in byte order, leaving out rows failed with the given codes', () => {
    for (const key of ['a', 'a-x', 'a.b', 'a0', 'a/z', 'a/b', 'ab/c']) store.putObject({ key, size: 1 }, 'pending')
    expect(store.firstKeyUnder('a/', [])).toBe('a/b')
    store.setStatus('a/b', 'failed', 'refused', 'SOAKER_UNSAFE_KEY')
    expect(store.firstKeyUnder('a/', ['SOAKER_UNSAFE_KEY'])).toBe('a/z')
    expect(store.firstKeyUnder('a/', ['SOAKER_OTHER'])).toBe('a/b')
    store.setStatus('a/z', 'failed', 'network', 'InternalError')
    expect(store.firstKeyUnder('a/', ['SOAKER_UNSAFE_KEY'])).toBe('a/z') // failed for another reason: still a key
    expect(store.firstKeyUnder('ab/', [])).toBe('ab/c')
    expect(store.firstKeyUnder('a-x/', [])).toBeUndefined()
    expect(store.firstKeyUnder('b/', [])).toBeUndefined()
  })

  test('beginRun, endRun and lastRun record runs, the latest last', () => {
    expect(store.lastRun()).toBeUndefined()
    const before = Date.now()
    const first = store.beginRun('s3://bucket/a', '/data/a')
    store.endRun(first, 'ok', { copied: 5, failed: 1, transferred: 1234 })
    expect(store.lastRun()).toMatchObject({ id: first, status: 'ok', copied: 5, failed: 1, transferred: 1234, peakBytesPerSecond: null })
    const second = store.beginRun('s3://bucket/b', '/data/b')
    expect(second).toBeGreaterThan(first)
    const running = store.lastRun()
    expect(running).toMatchObject({ id: second, status: 'running', endedAt: null, source: 's3://bucket/b', destination: '/data/b' })
    expect(running!.startedAt).toBeGreaterThanOrEqual(before)
    expect(running!.startedAt).toBeLessThanOrEqual(Date.now())
    store.recordSample(second, { at: Date.now(), target: 16, inFlight: 16, bytesPerSecond: 5e6, throttles: 0, errors: 0 })
    store.recordSample(second, { at: Date.now(), target: 32, inFlight: 30, bytesPerSecond: 9e6, throttles: 1, errors: 2 })
    store.endRun(second, 'interrupted', { copied: 0, failed: 0, transferred: 0 })
    expect(store.runs(5).map((r) => r.id)).toEqual([second, first])
    expect(store.lastRun()!.peakBytesPerSecond).toBe(9e6)
    const ended = store.lastRun()
    expect(ended).toMatchObject({ id: second, status: 'interrupted' })
    expect(ended!.endedAt).toBeGreaterThanOrEqual(ended!.startedAt)
  })

  test('a check verdict is found again only for the same versions of both sides', () => {
    store.recordCheck('a/b.txt', '10:e1:1000', '10::2000', { same: true, sizeOnly: false, detail: 'MD5 matches' })
    expect(store.checked('a/b.txt', '10:e1:1000', '10::2000')).toEqual({ same: true, sizeOnly: false, detail: 'MD5 matches' })
    expect(store.checked('a/b.txt', '10:e2:1000', '10::2000')).toBeUndefined()
    expect(store.checked('a/b.txt', '10:e1:1000', '10::2001')).toBeUndefined()
    store.recordCheck('a/b.txt', '10:e2:1000', '10::2000', { same: false, sizeOnly: false, detail: 'MD5 differs' })
    expect(store.checked('a/b.txt', '10:e2:1000', '10::2000')?.same).toBe(false)
  })

  test('samples(run) gives back a run\'s samples in order, with the sources busy at once (1 where not told)', () => {
    const run = store.beginRun('s3://a s3://b', '/data')
    store.recordSample(run, { at: 1, target: 16, inFlight: 12, bytesPerSecond: 5e6, throttles: 0, errors: 0 })
    store.recordSample(run, { at: 2, target: 32, inFlight: 30, bytesPerSecond: 9e6, throttles: 1, errors: 2, sources: 3 })
    expect(store.samples(run)).toEqual([
      { at: 1, target: 16, inFlight: 12, bytesPerSecond: 5e6, throttles: 0, errors: 0, sources: 1 },
      { at: 2, target: 32, inFlight: 30, bytesPerSecond: 9e6, throttles: 1, errors: 2, sources: 3 },
    ])
    expect(store.samples(run + 1)).toEqual([])
  })

  test('reopening the file keeps everything, and migrations run only once', () => {
    store.putObject(big, 'pending')
    store.setPartSize(big.key, 8 * 1024 * 1024)
    store.recordPart(big.key, 3, 'dd'.repeat(16))
    const run = store.beginRun('s3://bucket', '/data')
    store.close()

    for (let i = 0; i < 2; i++) {
      const again = new SqliteStateStore(path)
      try {
        expect(again.getObject(big.key)).toMatchObject({ etag: big.etag, partSize: 8 * 1024 * 1024, status: 'pending' })
        expect(again.doneParts(big.key)).toEqual(new Map([[3, 'dd'.repeat(16)]]))
        expect(again.lastRun()?.id).toBe(run)
      } finally {
        again.close()
      }
    }
    const db = new Database(path, { readonly: true })
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(migrations.length)
      expect(migrations.length).toBeGreaterThanOrEqual(1)
    } finally {
      db.close()
    }
    store = new SqliteStateStore(path)
  })

  test('the database is in WAL mode', () => {
    store.putObject(small, 'pending')
    const db = new Database(path, { readonly: true })
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    } finally {
      db.close()
    }
    expect(existsSync(path + '-wal')).toBe(true)
  })

  test('a path that cannot be a database is a LocationError naming it', () => {
    const file = join(dir, 'a-file')
    writeFileSync(file, 'not a directory')
    const bad = join(file, 'state.db')
    let caught: unknown
    try {
      new SqliteStateStore(bad).close()
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(LocationError)
    expect((caught as LocationError).code).toBe('SOAKER_LOCATION')
    expect((caught as LocationError).message).toContain(`Cannot open the state database \`${bad}\``)
  })

  test('a file that is not a SQLite database is a LocationError naming it', () => {
    const junk = join(dir, 'junk.db')
    writeFileSync(junk, 'this is not a SQLite database, only text. '.repeat(200))
    let caught: unknown
    try {
      new SqliteStateStore(junk).close()
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(LocationError)
    expect((caught as Error).message).toContain(`Cannot open the state database \`${junk}\``)
  })

  test('close can be called twice', () => {
    store.close()
    store.close()
    expect(() => store.getObject('x')).toThrow()
  })
})

describe('SqliteStateStore: what uploads need', () => {
  const rows = [
    { key: 'c', size: 30 }, { key: 'a', size: 10 }, { key: 'b', size: 20 }, { key: 'd', size: 20 }, { key: 'e', size: 5 },
  ]
  const scan = (order: 'size-asc' | 'size-desc' | 'path', limit: number): string[] => {
    const out: string[] = []
    let cursor: { size: number; key: string } | undefined
    for (;;) {
      const batch = store.pendingRows(order, cursor, limit)
      out.push(...batch.map((r) => r.key))
      if (batch.length < limit) return out
      cursor = { size: batch.at(-1)!.size, key: batch.at(-1)!.key }
    }
  }

  test.each([
    ['size-asc', ['e', 'a', 'b', 'd', 'c']],
    ['size-desc', ['c', 'b', 'd', 'a', 'e']],
    ['path', ['a', 'b', 'c', 'd', 'e']],
  ] as const)('pendingRows in %s order, resumed from a cursor across batches (ties by key)', (order, expected) => {
    for (const r of rows) store.putObject(r, 'pending')
    store.putObject({ key: 'done-one', size: 1 }, 'done')
    expect(scan(order, 2)).toEqual(expected)
    expect(scan(order, 100)).toEqual(expected)
  })

  test('setUpload records the upload id and part size; a new id drops the parts of the old one', () => {
    store.putObject(big, 'pending')
    store.setUpload(big.key, 'up-1', 8 << 20)
    store.recordPart(big.key, 0, 'etag0')
    store.setUpload(big.key, 'up-1', 8 << 20)
    expect(store.doneParts(big.key)).toEqual(new Map([[0, 'etag0']]))
    expect(store.openUploads()).toEqual([{ key: big.key, uploadId: 'up-1' }])
    store.setUpload(big.key, 'up-2', 8 << 20)
    expect(store.doneParts(big.key).size).toBe(0)
    expect(store.getObject(big.key)).toMatchObject({ uploadId: 'up-2', partSize: 8 << 20 })
    store.setUpload(big.key, null, null)
    expect(store.openUploads()).toEqual([])
    // A new version of the file forgets the upload too.
    store.setUpload(big.key, 'up-3', 8 << 20)
    store.putObject({ ...big, size: big.size + 1 }, 'pending')
    expect(store.getObject(big.key)?.uploadId).toBeNull()
  })

  test('putObject records the error code of a failed row in the same write; a later put clears it', () => {
    store.putObject(small, 'failed', 'cannot read', 'SOAKER_LOCAL_READ')
    expect(store.getObject(small.key)).toMatchObject({ status: 'failed', reason: 'cannot read', errorCode: 'SOAKER_LOCAL_READ' })
    store.putObject(small, 'pending')
    expect(store.getObject(small.key)).toMatchObject({ status: 'pending', reason: null, errorCode: null })
  })

  test('the remote listing is kept per run, and a download keeps the mtime it gave a file', () => {
    store.putRemote({ key: 'x', size: 3, etag: 'abc' })
    expect(store.getRemote('x')).toEqual({ size: 3, etag: 'abc' })
    expect(store.getRemote('y')).toBeUndefined()
    store.clearRemote()
    expect(store.getRemote('x')).toBeUndefined()
    store.putObject(small, 'done')
    store.setFileMtime(small.key, 1_577_934_245_123)
    expect(store.getObject(small.key)?.fileMtime).toBe(1_577_934_245_123)
  })
})
