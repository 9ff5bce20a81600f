import { randomUUID } from 'node:crypto'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import pg from 'pg'
import { afterEach, describe, expect, inject, test } from 'vitest'
import { AccessDeniedError, EndpointUnreachableError, LocationError, UsageError } from '../../src/errors.js'
import type { ObjectInfo } from '../../src/providers/provider.js'
import { listingLockClass } from '../../src/state/postgres-listing.js'
import { postgresMigrations } from '../../src/state/postgres-migrations.js'
import { PostgresStateStore, type PostgresStoreOptions } from '../../src/state/postgres-store.js'
import { SqliteStateStore } from '../../src/state/sqlite-store.js'
import type { ObjectStatus, StateStore } from '../../src/state/store.js'
import { storeContract } from './store-conformance.js'

const url = inject('postgres').url
const server = new URL(url)
const password = decodeURIComponent(server.password)

/** `url` with its parts replaced: `{ password: 'x' }`, `{ pathname: '/db' }`. */
function urlWith(parts: Partial<Pick<URL, 'password' | 'port' | 'pathname' | 'search'>>): string {
  const u = new URL(url)
  Object.assign(u, parts)
  return u.toString()
}

const newJob = (): string => `test ${randomUUID()}`

/** A worker's store; every one a test opens is closed after it. */
const opened: PostgresStateStore[] = []
async function open(o: Partial<PostgresStoreOptions> = {}): Promise<PostgresStateStore> {
  const store = await PostgresStateStore.open({ url, job: newJob(), worker: { id: `w-${randomUUID()}`, host: 'test-host' }, ...o })
  opened.push(store)
  return store
}
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close().catch(() => undefined)
})

/** Statements run as the server's superuser, on a connection of their own. */
async function admin<T>(work: (client: pg.Client) => Promise<T>, connectTo = url): Promise<T> {
  const client = new pg.Client({ connectionString: connectTo })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/** Calls `probe` until `ok` holds for what it gives (never a fixed sleep for a condition), or fails after `timeoutMs`. */
async function until<T>(probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (ok(value)) return value
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${inspect(value)}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

const keysOf = (rows: Array<{ key: string }>): string[] => rows.map((r) => r.key)
const big: ObjectInfo = { key: 'data/big.bin', size: 100 << 20, etag: 'e2fc714c4727ee9395f324cd2e7f331f-13' }

storeContract('PostgresStateStore', () => open())

describe('PostgresStateStore: a fleet on one job', () => {
  test('two workers claiming at once get disjoint sets whose union is every pending object', async () => {
    const job = newJob()
    const a = await open({ job })
    await a.beginRun('s3://b', '/d')
    const pending = Array.from({ length: 500 }, (_, i) => `k${String(i).padStart(4, '0')}`)
    for (const key of pending) a.putObject({ key, size: 1 }, 'pending')
    for (let i = 0; i < 10; i++) a.putObject({ key: `done${i}`, size: 1 }, 'done')
    await a.flush()
    const b = await open({ job })
    await b.beginRun('s3://b', '/d')
    const drain = async (store: PostgresStateStore): Promise<string[]> => {
      const got: string[] = []
      for (;;) {
        const batch = await store.claim(7, 'path')
        if (batch.length === 0) return got
        got.push(...keysOf(batch))
      }
    }
    const [byA, byB] = await Promise.all([drain(a), drain(b)])
    expect(byA.length).toBeGreaterThan(0)
    expect(byB.length).toBeGreaterThan(0)
    expect(byA.filter((k) => byB.includes(k))).toEqual([])
    expect([...byA, ...byB].sort()).toEqual(pending)
  })

  test('a claim reads the destination listing rows of what it claims with it: the first getRemote of each asks the database nothing', async () => {
    const a = await open()
    await a.beginRun('s3://b', '/d')
    a.putRemote({ key: 'k/1', size: 5, etag: 'e1' })
    a.putRemote({ key: 'other', size: 7, etag: 'e2' })
    for (const key of ['k/1', 'k/2']) a.putObject({ key, size: 5 }, 'pending')
    expect(keysOf(await a.claim(10, 'path'))).toEqual(['k/1', 'k/2'])
    // Gone from the database since the claim: the row read with the claim still answers, once.
    await admin((c) => c.query('DELETE FROM soaker.remote_objects WHERE job_id = $1', [a.jobId]))
    expect(await a.getRemote('k/1')).toEqual({ size: 5, etag: 'e1' })
    expect(await a.getRemote('k/2')).toBeUndefined()
    expect(await a.getRemote('k/1')).toBeUndefined()
    a.putRemote({ key: 'other', size: 8, etag: 'e3' })
    expect(await a.getRemote('other')).toEqual({ size: 8, etag: 'e3' })
  })

  test('a worker that joins a running job leaves the others\' claims and plans alone; a run of a job nobody works on starts over', async () => {
    const job = newJob()
    const a = await open({ job })
    await a.beginRun('s3://b', '/d')
    for (let i = 0; i < 10; i++) a.putObject({ key: `k${i}`, size: 1 }, 'pending')
    const byA = keysOf(await a.claim(4, 'path'))
    const b = await open({ job })
    await b.beginRun('s3://b', '/d')
    expect(keysOf(await b.claim(100, 'path'))).toEqual(['k4', 'k5', 'k6', 'k7', 'k8', 'k9'])
    expect(await a.renewLeases({ objects: 0, bytes: 0 })).toBe(byA.length)
    await a.close()
    await b.close()
    const c = await open({ job })
    await c.beginRun('s3://b', '/d')
    expect(await c.claim(100, 'path')).toEqual([])
    expect((await c.counts()).pending.objects).toBe(10)
  })

  test('a worker that stops renewing loses its claims when its lease runs out: another takes them, recorded parts and upload kept', async () => {
    const job = newJob()
    const a = await open({ job, leaseMs: 1500 })
    await a.beginRun('s3://b', '/d')
    a.putObject(big, 'pending')
    expect(keysOf(await a.claim(10, 'path'))).toEqual([big.key])
    a.setUpload(big.key, 'up-1', 8 << 20)
    a.recordPart(big.key, 0, 'etag0')
    a.recordPart(big.key, 1, 'etag1')
    await a.flush()
    const b = await open({ job })
    await b.beginRun('s3://b', '/d')
    expect(await b.claim(10, 'path')).toEqual([])
    const taken = await until(() => b.claim(10, 'path'), (rows) => rows.length > 0)
    expect(taken).toEqual([expect.objectContaining({ key: big.key, uploadId: 'up-1', partSize: 8 << 20, status: 'pending' })])
    expect(await b.doneParts(big.key)).toEqual(new Map([[0, 'etag0'], [1, 'etag1']]))
    // The first worker, late, gives up the claim it lost: the object stays the second's.
    a.release(big.key)
    expect(await a.claim(10, 'path')).toEqual([])
    expect(await a.renewLeases({ objects: 0, bytes: 0 })).toBe(0)
    expect(await b.renewLeases({ objects: 0, bytes: 0 })).toBe(1)
  })

  test('renewLeases keeps a worker\'s claims past their lease and records its heartbeat; they go once it stops', async () => {
    const job = newJob()
    const a = await open({ job, leaseMs: 600, worker: { id: 'worker-a', host: 'host-a' } })
    await a.beginRun('s3://b', '/d')
    for (const key of ['x', 'y', 'z']) a.putObject({ key, size: 1 }, 'pending')
    expect(await a.claim(10, 'path')).toHaveLength(3)
    const b = await open({ job })
    await b.beginRun('s3://b', '/d')
    // Three leases long, renewing every sixth of one: the claims never come free.
    const end = Date.now() + 1800
    while (Date.now() < end) {
      expect(await a.renewLeases({ objects: 7, bytes: 7000 })).toBe(3)
      expect(await b.claim(10, 'path')).toEqual([])
      await new Promise((r) => setTimeout(r, 100))
    }
    const [first] = await b.workers()
    expect(first).toMatchObject({ id: 'worker-a', host: 'host-a', pid: process.pid, alive: true, objects: 7, bytes: 7000, claims: 3, stoppedAt: null })
    expect(first!.heartbeatAt).toBeGreaterThan(first!.startedAt + 1000)
    const average = 7000 / ((first!.heartbeatAt - first!.startedAt) / 1000) // the times are rounded to milliseconds
    expect(Math.abs(first!.bytesPerSecond! - average) / average).toBeLessThan(0.01)
    const taken = await until(() => b.claim(10, 'path'), (rows) => rows.length > 0)
    expect(keysOf(taken)).toEqual(['x', 'y', 'z'])
    expect((await b.workers()).find((w) => w.id === 'worker-a')).toMatchObject({ alive: false, claims: 0 })
  })

  test('one worker at a time holds the listing lock; another takes it once released or once the holder\'s connection dies, with the cursor', async () => {
    const job = newJob()
    const lost: string[] = []
    const a = await open({ job })
    const b = await open({ job, log: (m) => lost.push(m) })
    expect(await a.tryLeadListing()).toBe(true)
    expect(await a.tryLeadListing()).toBe(true)
    expect(await b.tryLeadListing()).toBe(false)
    expect(a.leadsListing).toBe(true)
    expect(b.leadsListing).toBe(false)
    expect(() => b.setListingCursor('page-9')).toThrow(/listing lock/)
    a.setListingCursor('page-1')
    await a.flush()
    expect(await b.listingCursor()).toEqual({ token: 'page-1', done: false })

    await a.releaseListing()
    expect(a.leadsListing).toBe(false)
    expect(await b.tryLeadListing()).toBe(true)
    b.setListingCursor('page-2')
    await b.flush()

    // The server ends the holder's session, as it does when a worker's machine dies.
    const ended = await admin(async (c) => (await c.query(
      `SELECT pg_terminate_backend(pid) AS ended FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2
         AND objsubid = 2 AND granted`, [listingLockClass, a.jobId])).rows)
    expect(ended).toEqual([{ ended: true }])
    await until(() => a.tryLeadListing(), (got) => got)
    await until(async () => b.leadsListing, (leads) => !leads)
    expect(lost.join('\n')).toMatch(/lost the listing lock/)
    expect(await a.listingCursor()).toEqual({ token: 'page-2', done: false })
    a.finishListing()
    await a.flush()
    expect(await b.listingCursor()).toEqual({ token: 'page-2', done: true })
  })

  test('a new run of the job starts the listing over; a worker that joins keeps where it got', async () => {
    const job = newJob()
    const a = await open({ job })
    await a.beginRun('s3://b', '/d')
    expect(await a.tryLeadListing()).toBe(true)
    a.setListingCursor('page-3')
    await a.flush()
    const b = await open({ job })
    await b.beginRun('s3://b', '/d')
    expect(await b.listingCursor()).toEqual({ token: 'page-3', done: false })
    await a.close()
    await b.close()
    const c = await open({ job })
    await c.beginRun('s3://b', '/d')
    expect(await c.listingCursor()).toEqual({ token: null, done: false })
  })

  test('a reader sees the workers and totals and claims nothing; a job that does not exist is a LocationError', async () => {
    const job = newJob()
    const a = await open({ job, worker: { id: 'only', host: 'h1' } })
    await a.beginRun('s3://b', '/d')
    a.putObject({ key: 'k', size: 3 }, 'done')
    await a.flush()
    const reader = await open({ job, worker: undefined })
    expect((await reader.workers()).map((w) => [w.id, w.host, w.alive])).toEqual([['only', 'h1', true]])
    expect((await reader.counts()).done).toEqual({ objects: 1, bytes: 3 })
    await expect(reader.claim(1, 'path')).rejects.toThrow(/needs a worker/)
    const absent = await PostgresStateStore.open({ url, job: newJob() }).catch((err: unknown) => err)
    expect(absent).toBeInstanceOf(LocationError)
    expect((absent as Error).message).toMatch(/no job named/)
    await a.close()
    expect((await reader.workers())[0]).toMatchObject({ id: 'only', alive: false, claims: 0 })
    expect((await reader.workers())[0]!.stoppedAt).toEqual(expect.any(Number))
  })
})

describe('PostgresStateStore: the schema', () => {
  test('workers opening a new database together apply each migration once', async () => {
    const database = `soaker_m_${randomUUID().replaceAll('-', '')}`
    await admin((c) => c.query(`CREATE DATABASE ${database}`))
    const there = urlWith({ pathname: `/${database}` })
    try {
      const stores = await Promise.all(Array.from({ length: 5 }, (_, i) =>
        PostgresStateStore.open({ url: there, job: 'one job', worker: { id: `w${i}`, host: 'h' } })))
      expect(new Set(stores.map((s) => s.jobId)).size).toBe(1)
      await Promise.all(stores.map((s) => s.close()))
      const again = await PostgresStateStore.open({ url: there, job: 'one job' })
      await again.close()
      const versions = await admin(async (c) => (await c.query('SELECT version FROM soaker.migrations ORDER BY version')).rows, there)
      expect(versions).toEqual(postgresMigrations.map((_, i) => ({ version: i + 1 })))
    } finally {
      await admin((c) => c.query(`DROP DATABASE ${database} WITH (FORCE)`))
    }
  })

  test('reopening a job keeps everything', async () => {
    const job = newJob()
    const a = await open({ job, worker: { id: 'a', host: 'h' } })
    const run = await a.beginRun('s3://bucket', '/data')
    a.putObject(big, 'pending')
    a.setUpload(big.key, 'upload-1', 8 << 20)
    a.recordPart(big.key, 3, 'dd'.repeat(16))
    await a.close()
    const again = await open({ job })
    expect(await again.getObject(big.key)).toMatchObject({ etag: big.etag, partSize: 8 << 20, uploadId: 'upload-1', status: 'pending' })
    expect(await again.doneParts(big.key)).toEqual(new Map([[3, 'dd'.repeat(16)]]))
    expect((await again.lastRun())?.id).toBe(run)
  })
})

describe('PostgresStateStore: connecting', () => {
  const secretOf = (err: unknown): string => `${String(err)}\n${(err as Error).stack}\n${inspect(err, { depth: 10 })}`

  test('a wrong password is an AccessDeniedError naming the server, database and user, never the password', async () => {
    const wrong = 'wrong-password-6e1f0c'
    const err = await PostgresStateStore.open({ url: urlWith({ password: wrong }), job: newJob() }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AccessDeniedError)
    expect((err as AccessDeniedError).code).toBe('SOAKER_ACCESS_DENIED')
    expect((err as Error).message).toContain(`postgres://soaker@127.0.0.1:${server.port}/postgres refused user \`soaker\``)
    expect((err as Error).message).toContain('password authentication failed')
    expect(secretOf(err)).not.toContain(wrong)
    expect(secretOf(err)).not.toContain(password)
  })

  test('a port nobody listens on is an EndpointUnreachableError saying what was expected there, without the password', async () => {
    const port = await closedPort()
    const err = await PostgresStateStore.open({ url: urlWith({ port: String(port) }), job: newJob() }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(EndpointUnreachableError)
    expect((err as Error).message).toContain(`Cannot reach the state database postgres://soaker@127.0.0.1:${port}/postgres`)
    expect((err as Error).message).toContain(`Expected a PostgreSQL server listening at 127.0.0.1 port ${port}`)
    expect(secretOf(err)).not.toContain(password)
  })

  test('a server that accepts the connection and never answers fails after connectTimeoutMs', async () => {
    const sockets: Socket[] = []
    const silent = createServer((s) => sockets.push(s))
    const port = await listen(silent)
    try {
      const started = Date.now()
      const err = await PostgresStateStore.open({ url: urlWith({ port: String(port) }), job: newJob(), connectTimeoutMs: 300 })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(EndpointUnreachableError)
      expect((err as Error).message).toMatch(/timeout/)
      expect(Date.now() - started).toBeLessThan(10_000)
      expect(secretOf(err)).not.toContain(password)
    } finally {
      for (const s of sockets) s.destroy()
      silent.close()
    }
  })

  test('without a password in the URL: PGPASSWORD, else the password file; a password file any user may read is not used', async () => {
    const bare = urlWith({ password: '' })
    const dir = mkdtempSync(join(tmpdir(), 'soaker-pgpass-'))
    const file = join(dir, 'pgpass')
    const saved = { PGPASSFILE: process.env.PGPASSFILE, PGPASSWORD: process.env.PGPASSWORD }
    try {
      process.env.PGPASSWORD = password
      await (await PostgresStateStore.open({ url: bare, job: newJob(), worker: { id: 'w', host: 'h' } })).close()
      delete process.env.PGPASSWORD

      writeFileSync(file, `# soaker's test server\nother:1:*:*:nope\n127.0.0.1:${server.port}:postgres:soaker:${password.replaceAll(':', '\\:')}\n`)
      chmodSync(file, 0o600)
      process.env.PGPASSFILE = file
      await (await PostgresStateStore.open({ url: bare, job: newJob(), worker: { id: 'w', host: 'h' } })).close()

      chmodSync(file, 0o644)
      const notes: string[] = []
      const err = await PostgresStateStore.open({ url: bare, job: newJob(), log: (m) => notes.push(m) }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(AccessDeniedError)
      expect(notes.join('\n')).toContain(`the password file \`${file}\` may be read by any user (mode 644): not read`)
      expect(secretOf(err)).not.toContain(password)
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('PG* environment variables fill in what the URL leaves out', async () => {
    const names = ['PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE', 'PGPASSWORD'] as const
    const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]))
    try {
      Object.assign(process.env, { PGHOST: '127.0.0.1', PGPORT: server.port, PGUSER: 'soaker', PGDATABASE: 'postgres', PGPASSWORD: password })
      const store = await PostgresStateStore.open({ url: 'postgres://', job: newJob(), worker: { id: 'w', host: 'h' } })
      await store.close()
    } finally {
      for (const n of names) {
        if (saved[n] === undefined) delete process.env[n]
        else process.env[n] = saved[n]
      }
    }
  })

  test('a location that is not a PostgreSQL URL is a UsageError that hides its password', async () => {
    const err = await PostgresStateStore.open({ url: 'mysql://u:hunter22@h/db', job: newJob() }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UsageError)
    expect((err as Error).message).toBe('Expected a PostgreSQL URL like postgres://user@host:5432/database, got `mysql://u:***@h/db`')
  })
})

describe('PostgresStateStore: writes', () => {
  test('writes are committed by themselves within moments, in batches larger than one statement holds', async () => {
    const job = newJob()
    const a = await open({ job })
    const reader = await open({ job, worker: undefined })
    for (let i = 0; i < 12_345; i++) a.putObject({ key: `k/${i}`, size: i }, 'pending')
    await until(async () => (await reader.counts()).pending.objects, (n) => n === 12_345)
    expect((await reader.counts()).pending.bytes).toBe((12_344 * 12_345) / 2)
    expect(keysOf(await reader.objects('k/12343', 3))).toEqual(['k/12344', 'k/1235', 'k/1236'])
  })

  test('a job the planner statistics did not know is in them once its first thousand objects are planned, without autovacuum', async () => {
    // Autovacuum analyzes after a tenth of the table changes; a new job's rows below that look
    // like one row to the planner, which then walks the whole job for each batch it updates.
    const a = await open()
    await admin((c) => c.query('ALTER TABLE soaker.objects SET (autovacuum_enabled = false)'))
    try {
      const estimate = async (): Promise<number> => admin(async (c) => {
        const { rows: [row] } = await c.query<{ 'QUERY PLAN': Array<{ Plan: { 'Plan Rows': number } }> }>(
          `EXPLAIN (FORMAT JSON) SELECT key FROM soaker.objects WHERE job_id = ${a.jobId}`)
        return row!['QUERY PLAN'][0]!.Plan['Plan Rows']
      })
      for (let i = 0; i < 1_500; i++) a.putObject({ key: `k/${i}`, size: i }, 'pending')
      await a.flush()
      expect(await until(estimate, (rows) => rows > 500)).toBeGreaterThan(500)
    } finally {
      await admin((c) => c.query('ALTER TABLE soaker.objects RESET (autovacuum_enabled)'))
    }
  })

  test('keys are bytes: a NUL, case and accents come back exactly, in UTF-8 byte order', async () => {
    const a = await open()
    const keys = ['é', 'b', 'a\0b', 'B', 'a', 'z']
    for (const key of keys) a.putObject({ key, size: 1 }, 'failed', `refused ${key}`, 'SOAKER_UNSAFE_KEY')
    expect(keysOf(await a.objects('', 10))).toEqual(['B', 'a', 'a\0b', 'b', 'z', 'é'])
    expect(await a.getObject('a\0b')).toMatchObject({ key: 'a\0b', reason: 'refused a\uFFFDb' })
    expect((await a.failures(10)).map((f) => f.key)).toEqual(['B', 'a', 'a\0b', 'b', 'z', 'é'])
  })

  test('a batch that fails to commit stays buffered; the failure reaches the caller, and the next flush writes it', async () => {
    const a = await open({ url: urlWith({ search: '?statement_timeout=300' }) })
    a.putObject(big, 'pending')
    await a.flush()
    const blocker = new pg.Client({ connectionString: url })
    await blocker.connect()
    try {
      await blocker.query('BEGIN')
      await blocker.query('LOCK TABLE soaker.parts IN ACCESS EXCLUSIVE MODE')
      a.recordPart(big.key, 0, 'etag0')
      a.setStatus(big.key, 'failed', 'why', 'SOAKER_X')
      await expect(a.flush()).rejects.toThrow(/statement timeout/)
      await expect(a.doneParts(big.key)).rejects.toThrow(/statement timeout/)
    } finally {
      await blocker.query('ROLLBACK')
      await blocker.end()
    }
    expect(await a.doneParts(big.key)).toEqual(new Map([[0, 'etag0']]))
    expect(await a.getObject(big.key)).toMatchObject({ status: 'failed', reason: 'why' })
  })

  test('any sequence of writes ends as it does in the SQLite store: batching reorders nothing that matters', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'soaker-twin-'))
    const sqlite = new SqliteStateStore(join(dir, 'state.db'))
    const postgres = await open()
    try {
      const random = seeded(15)
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!
      const keys = ['a', 'b', 'c', 'd', 'e', 'f']
      const statuses: ObjectStatus[] = ['pending', 'pending', 'done', 'failed', 'skipped']
      for (const store of [sqlite, postgres] as StateStore[]) await store.beginRun('s', 'd')
      const claimed: string[][][] = [[], []]
      for (let step = 0; step < 4000; step++) {
        const key = pick(keys)
        const op = Math.floor(random() * 10)
        const value = Math.floor(random() * 4)
        const both = async (write: (s: StateStore, i: number) => unknown): Promise<void> => {
          for (const [i, s] of ([sqlite, postgres] as StateStore[]).entries()) await write(s, i)
        }
        if (op === 0) await both((s) => s.putObject({ key, size: value, etag: `e${value}` }, statuses[value]!))
        else if (op === 1) await both((s) => s.setStatus(key, statuses[value]!, value ? `r${value}` : null))
        else if (op === 2) await both((s) => s.release(key))
        else if (op === 3) await both((s) => s.setUpload(key, value ? `u${value % 2}` : null, value ? (value % 3) << 20 : null, value === 3))
        else if (op === 4 || op === 5) await both((s) => s.recordPart(key, value, value ? `m${step}` : null))
        else if (op === 6) await both((s) => s.clearParts(key))
        else if (op === 7) await both((s) => s.setFileMtime(key, step))
        else if (op === 8) await both((s) => (value ? s.putRemote({ key, size: step, etag: `r${step}` }) : s.clearRemote()))
        else if (step % 20 === 9) {
          const order = pick(['path', 'size-asc', 'size-desc'] as const)
          await both(async (s, i) => claimed[i]!.push((await s.claim(2, order)).map((r) => `${r.key}:${r.size}:${order}`)))
        }
      }
      const state = async (s: StateStore): Promise<unknown> => ({
        rows: await s.objects('', 100),
        parts: await Promise.all(keys.map(async (k) => [...(await s.doneParts(k))].sort())),
        remote: await Promise.all(keys.map((k) => s.getRemote(k))),
        claimable: keysOf(await s.claim(100, 'path')),
      })
      expect(claimed[1]).toEqual(claimed[0])
      expect(await state(postgres)).toEqual(await state(sqlite))
    } finally {
      await sqlite.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

/** A small deterministic generator (mulberry32), so that a failing sequence can be replayed. */
function seeded(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function listen(s: Server): Promise<number> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port)))
}

/** A loopback port that was free a moment ago and is closed now. */
async function closedPort(): Promise<number> {
  const s = createServer()
  const port = await listen(s)
  await new Promise((r) => s.close(r))
  return port
}
