import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, afterEach, beforeEach, describe, expect, test } from 'vitest'
import { LocationError } from '../../src/errors.js'
import type { ObjectInfo } from '../../src/providers/provider.js'
import { migrations } from '../../src/state/migrations.js'
import { SqliteStateStore } from '../../src/state/sqlite-store.js'
import { storeContract } from './store-conformance.js'

const big: ObjectInfo = { key: 'data/big.bin', size: 100 * 1024 * 1024, etag: 'e2fc714c4727ee9395f324cd2e7f331f-13', lastModified: new Date('2024-05-01T12:34:56Z') }
const small: ObjectInfo = { key: 'data/small.txt', size: 5, etag: '5d41402abc4b2a76b9719d911017c592' }

const contractDirs: string[] = []
storeContract('SqliteStateStore', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'soaker-state-'))
  contractDirs.push(dir)
  return new SqliteStateStore(join(dir, 'state.db'))
})
afterAll(() => {
  for (const dir of contractDirs) rmSync(dir, { recursive: true, force: true })
})

describe('SqliteStateStore: the file', () => {
  let dir: string
  let path: string
  let store: SqliteStateStore

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'soaker-state-'))
    path = join(dir, 'nested', 'state.db')
    store = new SqliteStateStore(path)
  })
  afterEach(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test('finds the destination listing an earlier run kept, and one kept after it was first asked', async () => {
    expect(await store.getRemote('a')).toBeUndefined() // nothing listed yet
    store.putRemote({ key: 'a', size: 1, etag: 'e1' })
    expect(await store.getRemote('a')).toEqual({ size: 1, etag: 'e1' })
    await store.close()
    store = new SqliteStateStore(path) // a new run on the same file
    expect(await store.getRemote('a')).toEqual({ size: 1, etag: 'e1' })
    store.clearRemote()
    expect(await store.getRemote('a')).toBeUndefined()
    store.putRemote({ key: 'b', size: 2 }) // a listing without ETags
    expect(await store.getRemote('b')).toEqual({ size: 2, etag: null })
  })

  test('creates the database, and its directory, at the path it is given', async () => {
    expect(existsSync(path)).toBe(true)
    expect(store.path).toBe(path)
  })

  test('reopening the file keeps everything, and migrations run only once', async () => {
    store.putObject(big, 'pending')
    store.setUpload(big.key, 'upload-1', 8 * 1024 * 1024)
    store.recordPart(big.key, 3, 'dd'.repeat(16))
    const run = await store.beginRun('s3://bucket', '/data')
    await store.close()

    for (let i = 0; i < 2; i++) {
      const again = new SqliteStateStore(path)
      try {
        expect(await again.getObject(big.key)).toMatchObject({ etag: big.etag, partSize: 8 * 1024 * 1024, status: 'pending' })
        expect(await again.doneParts(big.key)).toEqual(new Map([[3, 'dd'.repeat(16)]]))
        expect((await again.lastRun())?.id).toBe(run)
      } finally {
        await again.close()
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

  test('a database made at schema 8, with part_progress, opens and migrates: the table goes, objects and parts stay', async () => {
    const old = join(dir, 'v8.db')
    const v8 = new Database(old)
    try {
      for (const step of migrations.slice(0, 8)) v8.exec(step)
      v8.pragma('user_version = 8')
      v8.prepare("INSERT INTO objects (key, size, status, part_size, updated_at) VALUES (?, ?, 'pending', ?, 0)").run(big.key, big.size, 8 << 20)
      v8.prepare('INSERT INTO parts (key, idx, md5) VALUES (?, 0, ?)').run(big.key, 'aa'.repeat(16))
      v8.prepare('INSERT INTO part_progress (key, idx, bytes) VALUES (?, 1, 4096)').run(big.key)
    } finally {
      v8.close()
    }
    const migrated = new SqliteStateStore(old)
    try {
      expect(await migrated.getObject(big.key)).toMatchObject({ size: big.size, partSize: 8 << 20, status: 'pending' })
      expect(await migrated.doneParts(big.key)).toEqual(new Map([[0, 'aa'.repeat(16)]]))
    } finally {
      await migrated.close()
    }
    const db = new Database(old, { readonly: true })
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(migrations.length)
      expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'part_progress'").all()).toEqual([])
    } finally {
      db.close()
    }
  })

  test('read-only: reads what a writer committed, writes nothing, and never makes a database', async () => {
    store.putObject(small, 'done')
    await store.flush()
    const reader = new SqliteStateStore(path, { readOnly: true })
    try {
      expect(await reader.getObject(small.key)).toMatchObject({ status: 'done' })
      expect(() => reader.putObject(big, 'pending')).toThrow(/readonly/)
    } finally {
      await reader.close()
    }
    const absent = join(dir, 'absent.db')
    expect(() => new SqliteStateStore(absent, { readOnly: true })).toThrow(LocationError)
    expect(existsSync(absent)).toBe(false)
  })

  test('the database is in WAL mode', async () => {
    store.putObject(small, 'pending')
    const db = new Database(path, { readonly: true })
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    } finally {
      db.close()
    }
    expect(existsSync(path + '-wal')).toBe(true)
  })

  test('a path that cannot be a database is a LocationError naming it', async () => {
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

  test('a file that is not a SQLite database is a LocationError naming it', async () => {
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
})
