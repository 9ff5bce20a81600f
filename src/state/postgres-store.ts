import pg from 'pg'
import { errorMessage } from '../errors.js'
import type { ObjectInfo } from '../providers/provider.js'
import { connectionFor, endpointUrl, openError, type Connection } from './postgres-connection.js'
import { findJob, leave, listWorkers, registerWorker, renew, startRun } from './postgres-fleet.js'
import type { WorkerIdentity } from './postgres-fleet.js'
import { ListingLock, listingLockClass } from './postgres-listing.js'
import { migrate } from './postgres-migrations.js'
import { objectRowOf, type ObjectColumns } from './object-columns.js'
import { WriteBatch, writeBatch, type ObjectWrite } from './postgres-writes.js'
import type {
  CheckedPair, ClaimOrder, ListingCursor, ObjectRow, ObjectStatus, RemoteRow, RunRow, RunTotals, Sample, SharedJob, StateStore, StatusCount, WorkerRow,
} from './store.js'

export type { WorkerIdentity } from './postgres-fleet.js'

export interface PostgresStoreOptions {
  /** `postgres://user@host:port/database` (or postgresql://); see connectionFor for what fills the gaps. */
  url: string
  /** The job's name, unique in the database: the caller's source and destination pair. */
  job: string
  /** This process as the fleet sees it. Absent: a reader (`soaker status`) that claims and registers nothing. */
  worker?: WorkerIdentity
  /** How long a claim is this worker's without renewLeases; a worker that dies loses its claims after it. @default 30_000 */
  leaseMs?: number
  /** @default 10_000 */
  connectTimeoutMs?: number
  /** Notes for the run's log: a password file ignored, the listing lock lost, a write retried. */
  log?: (message: string) => void
}

type RawObject = ObjectColumns<Buffer>

const objectColumns = 'key, size, etag, last_modified, status, reason, error_code, part_size, upload_id, file_mtime'
/** Writes are committed together at most this long after the first of them. */
const commitEveryMs = 100
/** A batch this large is written at the next turn of the event loop rather than after commitEveryMs. */
const flushAtWrites = 10_000
/** After a failed write the batch is kept and tried again this much later (or at the next flush or read). */
const retryAfterMs = 1_000
/**
 * Connections of the pool: one commits while others read. A fleet of N workers needs about 4N
 * connections of the server (one more for the worker that lists), or a pooler in session mode:
 * the listing lock lives as long as its session.
 */
const connectionsPerWorker = 3
/**
 * The planner's statistics are brought up to date after this many objects are planned, and again
 * each time the count doubles: a job the statistics do not know looks like one row to the
 * planner, which then chooses to walk the whole job for each batch of keys it updates (4 workers
 * over 50,000 objects spent 80 ms of the server per claim and 8 ms per write). Autovacuum's own
 * ANALYZE waits for a tenth of the table to change: a new job in a table of 100 million rows
 * would wait 10 million.
 */
const analyzeFirstAt = 1_000
const claimOrder: Record<ClaimOrder, string> = { path: 'key', 'size-asc': 'size, key', 'size-desc': 'size DESC, key' }
const bytes = (key: string): Buffer => Buffer.from(key, 'utf8')

/**
 * A job's state in PostgreSQL, shared by every worker of a fleet: the StateStore contract (the
 * SQLite store's, write for write) plus leases, heartbeats and the listing lock a fleet needs.
 * Writes are buffered and committed in one transaction per interval, a few multi-row statements
 * whatever the number of rows; every read first writes what is buffered, so a process always
 * reads its own writes. A write that fails to commit stays buffered, is tried again, and the
 * failure reaches the next flush or read.
 *
 * Claims carry a lease: `claim` hands a pending object to this worker until `leaseMs` from now,
 * `renewLeases` extends every claim it holds, and an object whose lease ran out is claimable by
 * any worker again, with its recorded parts. `FOR UPDATE SKIP LOCKED` keeps two workers
 * claiming at once from taking the same object.
 */
export class PostgresStateStore implements StateStore, SharedJob {
  private batch = new WriteBatch()
  private timer: NodeJS.Timeout | undefined
  private timerSoon = false
  private writes: Promise<void> = Promise.resolve()
  private closed = false
  /** Objects planned (put) by this worker, and the count at which the statistics are renewed next. */
  private planned = { objects: 0, analyzeAt: analyzeFirstAt }
  private analyzing: Promise<void> = Promise.resolve()
  /**
   * The destination's listing row (or null: none) of each object this worker claimed, read with
   * the claim. The pipeline asks for it once per object; a query each time would also commit the
   * buffered writes each time (a read sees them), a transaction per object. Forgotten once asked
   * for, or once the object's status is written or it is released.
   */
  private readonly claimedRemote = new Map<string, RemoteRow | null>()
  private readonly listing: ListingLock
  private readonly log: (message: string) => void

  private constructor(
    private readonly pool: pg.Pool,
    private readonly connection: Connection,
    /** The job's row in soaker.jobs. */
    readonly jobId: number,
    private readonly worker: WorkerIdentity | undefined,
    readonly leaseMs: number,
    log: (message: string) => void,
  ) {
    this.log = log
    this.listing = new ListingLock(connection.config, jobId,
      (reason) => log(`lost the listing lock of the job in ${this.where}: ${reason}; another worker may list now`))
  }

  /**
   * Connects, brings the schema up to date, finds or makes the job and registers the worker.
   * Rejects with a LocationError (AccessDeniedError, EndpointUnreachableError) naming the
   * server, database and user, never the password.
   */
  static async open(o: PostgresStoreOptions): Promise<PostgresStateStore> {
    const log = o.log ?? (() => undefined)
    const leaseMs = o.leaseMs ?? 30_000
    const connection = connectionFor(o.url, { connectTimeoutMs: o.connectTimeoutMs, warn: log })
    const pool = new pg.Pool({ ...connection.config, max: connectionsPerWorker })
    const where = endpointUrl(connection.endpoint)
    const failed = (err: Error): void => log(`a connection to the state database ${where} failed: ${errorMessage(err)}`)
    pool.on('error', failed)
    let jobId: number
    try {
      const client = await pool.connect()
      client.on('error', failed)
      try {
        await migrate(client)
        jobId = await findJob(client, o.job, o.worker !== undefined)
        if (o.worker) await registerWorker(client, jobId, o.worker, leaseMs)
      } finally {
        client.release(true) // with its error listener: the pool makes its own connections
      }
    } catch (err) {
      await pool.end().catch(() => undefined)
      throw openError(err, connection)
    }
    return new PostgresStateStore(pool, connection, jobId, o.worker, leaseMs, log)
  }

  /**
   * The names of the jobs the database at `url` holds, oldest first (`soaker status` without the
   * cp command's source and destination). None where soaker has never run against it.
   */
  static async jobNames(url: string, o: { connectTimeoutMs?: number; log?: (message: string) => void } = {}): Promise<string[]> {
    const connection = connectionFor(url, { connectTimeoutMs: o.connectTimeoutMs, warn: o.log ?? (() => undefined) })
    const client = new pg.Client(connection.config)
    try {
      await client.connect()
      const { rows: [found] } = await client.query<{ t: string | null }>("SELECT to_regclass('soaker.jobs')::text AS t")
      if (found?.t === null) return []
      const { rows } = await client.query<{ name: string }>('SELECT name FROM soaker.jobs ORDER BY id')
      return rows.map((r) => r.name)
    } catch (err) {
      throw openError(err, connection)
    } finally {
      await client.end().catch(() => undefined)
    }
  }

  private get where(): string {
    return endpointUrl(this.connection.endpoint)
  }

  // ---- writes: buffered, committed together ----

  private buffer(): WriteBatch {
    if (this.closed) throw new Error('The PostgreSQL state store is closed')
    if (this.batch.size >= flushAtWrites) this.schedule(0)
    else this.schedule(commitEveryMs)
    return this.batch
  }

  private object(w: ObjectWrite): void {
    this.buffer().objects.push(w)
  }

  /** Arms the commit timer: `ms` after the first buffered write, or at once for a large batch. */
  private schedule(ms: number): void {
    if (this.timer && (this.timerSoon || ms > 0)) return
    clearTimeout(this.timer)
    this.timerSoon = ms === 0
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.flush().catch((err) => this.log(`writing to the state database ${this.where} failed (tried again later): ${errorMessage(err)}`))
    }, ms)
    this.timer.unref()
  }

  /** Commits every write buffered so far; batches are written one after another, in order. */
  flush(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    const done = this.writes.then(() => this.writeOut())
    this.writes = done.catch(() => undefined)
    return done
  }

  private async writeOut(): Promise<void> {
    if (this.batch.size === 0) return
    const batch = this.batch
    this.batch = new WriteBatch()
    try {
      const listingWritten = await retriedOnConflict(() => this.transaction((client) => writeBatch(client, batch, {
        jobId: this.jobId, workerId: this.worker?.id ?? null, listingBackend: this.listing.backend, listingLockClass,
      })))
      if (!listingWritten) this.log('the listing cursor was not recorded: this worker no longer holds the listing lock')
      this.planned.objects += batch.objects.filter((w) => w.kind === 'put').length
      if (this.planned.objects >= this.planned.analyzeAt) this.analyze()
    } catch (err) {
      // Nothing of the batch was committed: it goes back ahead of what was buffered since.
      this.batch = this.batch.after(batch)
      if (!this.closed) this.schedule(retryAfterMs)
      throw err
    }
  }

  /** Renews the planner's statistics of the objects, beside the writes that go on meanwhile. */
  private analyze(): void {
    this.planned.analyzeAt = 2 * this.planned.objects
    this.analyzing = this.analyzing.then(() => this.pool.query('ANALYZE soaker.objects, soaker.remote_objects')).then(() => undefined,
      (err) => this.log(`updating the statistics of the state database ${this.where} failed: ${errorMessage(err)}`))
  }

  /** Commits every buffered write, so that what follows reads them. */
  private async ready(): Promise<void> {
    if (this.closed) throw new Error('The PostgreSQL state store is closed')
    await this.flush()
  }

  /** Rows of a query run after every buffered write is committed. */
  private async read<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<R[]> {
    await this.ready()
    return (await this.pool.query<R>(sql, params)).rows
  }

  putObject(info: ObjectInfo, status: ObjectStatus, reason?: string, errorCode?: string): void {
    this.object({
      kind: 'put', key: info.key, size: info.size, etag: info.etag ?? null, lastModified: info.lastModified?.getTime() ?? null,
      status, reason: reason ?? null, errorCode: errorCode ?? null, at: Date.now(),
    })
  }

  setStatus(key: string, status: ObjectStatus, reason: string | null = null, errorCode: string | null = null): void {
    this.claimedRemote.delete(key)
    this.object({ kind: 'status', key, status, reason, errorCode, at: Date.now() })
  }

  /** Ready to claim again, unless another worker holds it now (this worker's lease ran out and it was taken over). */
  release(key: string): void {
    this.claimedRemote.delete(key)
    this.object({ kind: 'release', key })
  }

  setUpload(key: string, uploadId: string | null, partSize: number | null, keepParts = false): void {
    this.object({ kind: 'upload', key, uploadId, partSize, keepParts })
  }

  recordPart(key: string, index: number, md5: string | null): void {
    this.object({ kind: 'part', key, index, md5 })
  }

  clearParts(key: string): void {
    this.object({ kind: 'clearParts', key })
  }

  setFileMtime(key: string, mtimeMs: number): void {
    this.object({ kind: 'fileMtime', key, mtimeMs })
  }

  clearRemote(): void {
    const batch = this.buffer()
    batch.remoteCleared = true
    batch.remote.clear()
  }

  putRemote(info: ObjectInfo): void {
    this.buffer().remote.set(info.key, { size: info.size, etag: info.etag ?? null })
  }

  recordCheck(key: string, srcVersion: string, dstVersion: string, pair: CheckedPair): void {
    this.buffer().checks.set(key, { srcVersion, dstVersion, pair })
  }

  recordSample(runId: number, sample: Sample): void {
    this.buffer().samples.push({ runId, sample })
  }

  // ---- reads ----

  async lookup(keys: readonly string[]): Promise<Map<string, ObjectRow>> {
    const rows = await this.read<RawObject>(
      `SELECT ${objectColumns} FROM soaker.objects WHERE job_id = $1 AND key = ANY($2::bytea[])`, [this.jobId, keys.map(bytes)])
    return new Map(rows.map((r) => [r.key.toString('utf8'), toRow(r)]))
  }

  async getObject(key: string): Promise<ObjectRow | undefined> {
    return (await this.lookup([key])).get(key)
  }

  /**
   * Claims up to `limit` pending objects planned in the job's current run that no worker holds a
   * live lease on, for this worker until `leaseMs` from now. Rows other workers are claiming at
   * the same moment are skipped, never waited for.
   */
  async claim(limit: number, order: ClaimOrder, under = ''): Promise<ObjectRow[]> {
    const worker = this.needWorker('claim')
    const range = under === '' ? '' : 'AND key >= $5 AND key < $6'
    const by = claimOrder[order]
    const params = [this.jobId, limit, worker.id, this.leaseMs, ...(under === '' ? [] : [bytes(under), successor(bytes(under))])]
    const rows = await this.read<RawObject & { remote_size: number | null; remote_etag: string | null }>(
      `WITH picked AS (
         SELECT key FROM soaker.objects
         WHERE job_id = $1 AND status = 'pending' AND planned = (SELECT generation FROM soaker.jobs WHERE id = $1)
           AND (claimed_by IS NULL OR lease_until < clock_timestamp()) ${range}
         ORDER BY ${by} LIMIT $2 FOR UPDATE SKIP LOCKED),
       claimed AS (
         UPDATE soaker.objects o SET claimed_by = $3, lease_until = clock_timestamp() + $4 * interval '1 millisecond'
         FROM picked WHERE o.job_id = $1 AND o.key = picked.key RETURNING o.*)
       SELECT ${objectColumns}, remote_size, remote_etag
       FROM (SELECT claimed.*, r.size AS remote_size, r.etag AS remote_etag FROM claimed
             LEFT JOIN soaker.remote_objects r ON r.job_id = $1 AND r.key = claimed.key) c
       ORDER BY ${by}`, params)
    return rows.map((r) => {
      const row = toRow(r)
      this.claimedRemote.set(row.key, r.remote_size === null ? null : { size: Number(r.remote_size), etag: r.remote_etag })
      return row
    })
  }

  async doneParts(key: string): Promise<Map<number, string | null>> {
    const rows = await this.read<{ idx: number; md5: string | null }>(
      'SELECT idx, md5 FROM soaker.parts WHERE job_id = $1 AND key = $2', [this.jobId, bytes(key)])
    return new Map(rows.map((r) => [r.idx, r.md5]))
  }

  async openUploads(): Promise<Array<{ key: string; uploadId: string }>> {
    const rows = await this.read<{ key: Buffer; upload_id: string }>(
      'SELECT key, upload_id FROM soaker.objects WHERE job_id = $1 AND upload_id IS NOT NULL ORDER BY key', [this.jobId])
    return rows.map((r) => ({ key: r.key.toString('utf8'), uploadId: r.upload_id }))
  }

  async getRemote(key: string): Promise<RemoteRow | undefined> {
    const claimed = this.claimedRemote.get(key)
    if (claimed !== undefined) {
      this.claimedRemote.delete(key)
      return claimed ?? undefined
    }
    const rows = await this.read<RemoteRow>(
      'SELECT size, etag FROM soaker.remote_objects WHERE job_id = $1 AND key = $2', [this.jobId, bytes(key)])
    return rows[0]
  }

  async counts(): Promise<Record<ObjectStatus, StatusCount>> {
    const none = (): StatusCount => ({ objects: 0, bytes: 0 })
    const out: Record<ObjectStatus, StatusCount> = { pending: none(), done: none(), skipped: none(), failed: none() }
    const rows = await this.read<{ status: ObjectStatus; objects: number; bytes: number }>(
      `SELECT status, count(*) AS objects, COALESCE(sum(size), 0)::bigint AS bytes
       FROM soaker.objects WHERE job_id = $1 GROUP BY status`, [this.jobId])
    for (const r of rows) out[r.status] = { objects: r.objects, bytes: r.bytes }
    return out
  }

  async failures(limit: number): Promise<Array<{ key: string; errorCode: string | null; reason: string | null }>> {
    const rows = await this.read<{ key: Buffer; error_code: string | null; reason: string | null }>(
      `SELECT key, error_code, reason FROM soaker.objects WHERE job_id = $1 AND status = 'failed' ORDER BY key LIMIT $2`,
      [this.jobId, limit])
    return rows.map((r) => ({ key: r.key.toString('utf8'), errorCode: r.error_code, reason: r.reason }))
  }

  async firstKeyUnder(prefix: string, exceptErrorCodes: readonly string[]): Promise<string | undefined> {
    if (prefix === '') throw new Error('firstKeyUnder needs a prefix')
    const rows = await this.read<{ key: Buffer }>(
      `SELECT key FROM soaker.objects WHERE job_id = $1 AND key >= $2 AND key < $3
         AND NOT (status = 'failed' AND error_code = ANY($4::text[])) ORDER BY key LIMIT 1`,
      [this.jobId, bytes(prefix), successor(bytes(prefix)), exceptErrorCodes])
    return rows[0]?.key.toString('utf8')
  }

  async firstKeysUnder(prefixes: readonly string[], exceptErrorCodes: readonly string[]): Promise<Map<string, string>> {
    if (prefixes.includes('')) throw new Error('firstKeysUnder needs prefixes')
    const found = new Map<string, string>()
    if (prefixes.length === 0) return found
    const from = prefixes.map(bytes)
    const rows = await this.read<{ prefix: Buffer; key: Buffer }>(
      `SELECT p.prefix, f.key FROM unnest($2::bytea[], $3::bytea[]) AS p(prefix, upto)
       CROSS JOIN LATERAL (SELECT key FROM soaker.objects o WHERE o.job_id = $1 AND o.key >= p.prefix AND o.key < p.upto
         AND NOT (o.status = 'failed' AND o.error_code = ANY($4::text[])) ORDER BY o.key LIMIT 1) f`,
      [this.jobId, from, from.map(successor), exceptErrorCodes])
    for (const r of rows) found.set(r.prefix.toString('utf8'), r.key.toString('utf8'))
    return found
  }

  async objects(afterKey: string, limit: number): Promise<ObjectRow[]> {
    const rows = await this.read<RawObject>(
      `SELECT ${objectColumns} FROM soaker.objects WHERE job_id = $1 AND key > $2 ORDER BY key LIMIT $3`,
      [this.jobId, bytes(afterKey), limit])
    return rows.map(toRow)
  }

  async objectsWithStatus(status: ObjectStatus, afterKey: string, limit: number): Promise<ObjectInfo[]> {
    const rows = await this.read<RawObject>(
      `SELECT ${objectColumns} FROM soaker.objects WHERE job_id = $1 AND status = $2 AND key > $3 ORDER BY key LIMIT $4`,
      [this.jobId, status, bytes(afterKey), limit])
    return rows.map((r) => ({
      key: r.key.toString('utf8'), size: r.size, etag: r.etag ?? undefined,
      lastModified: r.last_modified === null ? undefined : new Date(r.last_modified),
    }))
  }

  async checked(key: string, srcVersion: string, dstVersion: string): Promise<CheckedPair | undefined> {
    const rows = await this.read<{ same: boolean; size_only: boolean; detail: string }>(
      'SELECT same, size_only, detail FROM soaker.checks WHERE job_id = $1 AND key = $2 AND src_version = $3 AND dst_version = $4',
      [this.jobId, bytes(key), srcVersion, dstVersion])
    const r = rows[0]
    return r && { same: r.same, sizeOnly: r.size_only, detail: r.detail }
  }

  // ---- runs ----

  /**
   * Records this worker's run of the job. When another worker is alive in the job's current run
   * (heard from within its lease), this worker joins that run: the plans stay, every live
   * worker's claims stay theirs, and only claims whose lease ran out (and this worker's own, from
   * an earlier life under the same id) return to the pool. When none is, a new run of the job
   * begins: the plans and claims of earlier runs are forgotten (an object left the source since
   * is never fetched) and the listing starts over. Concurrent calls are serialized on the job's row.
   */
  async beginRun(source: string, destination: string): Promise<number> {
    const worker = this.needWorker('beginRun')
    await this.ready()
    return this.transaction((client) => startRun(client, this.jobId, worker.id, source, destination))
  }

  async endRun(id: number, status: string, totals: RunTotals): Promise<void> {
    await this.read(
      'UPDATE soaker.runs SET ended_at = $3, status = $4, copied = $5, failed = $6, transferred = $7 WHERE job_id = $1 AND id = $2',
      [this.jobId, id, Date.now(), status, totals.copied, totals.failed, totals.transferred])
  }

  /** The job's most recent runs, every worker's, newest first. */
  async runs(limit: number): Promise<RunRow[]> {
    return this.read<RunRow>(
      `SELECT id, started_at AS "startedAt", ended_at AS "endedAt", status, source, destination, copied, failed, transferred,
         (SELECT max(bytes_per_second) FROM soaker.samples s WHERE s.job_id = r.job_id AND s.run_id = r.id) AS "peakBytesPerSecond"
       FROM soaker.runs r WHERE job_id = $1 ORDER BY id DESC LIMIT $2`, [this.jobId, limit])
  }

  async lastRun(): Promise<RunRow | undefined> {
    return (await this.runs(1))[0]
  }

  async samples(runId: number): Promise<Sample[]> {
    return this.read<Sample>(
      `SELECT at, target, in_flight AS "inFlight", bytes_per_second AS "bytesPerSecond", throttles, errors, sources
       FROM soaker.samples WHERE job_id = $1 AND run_id = $2 ORDER BY id`, [this.jobId, runId])
  }

  // ---- the fleet ----

  /**
   * Extends the lease of every claim this worker holds to `leaseMs` from now, and records its
   * heartbeat with the objects and bytes it has done so far. Call it well within the lease
   * (every third of it): a claim whose lease ran out may have been taken over, and is then
   * no longer this worker's. Returns the number of claims renewed.
   */
  async renewLeases(progress: { objects: number; bytes: number }): Promise<number> {
    const worker = this.needWorker('renewLeases')
    await this.ready()
    // In turn with this worker's writes: both lock its claimed rows, and two transactions of one
    // worker locking them in different orders would deadlock each other.
    const renewed = this.writes.then(() => renew(this.pool, this.jobId, worker.id, this.leaseMs, progress))
    this.writes = renewed.then(() => undefined, () => undefined)
    return renewed
  }

  /**
   * Takes the job's listing lock unless another worker holds it: true when this worker is the
   * one to list (it holds the lock until releaseListing, close, or its connection dies).
   */
  async tryLeadListing(): Promise<boolean> {
    this.needWorker('tryLeadListing')
    try {
      return await this.listing.take()
    } catch (err) {
      throw openError(err, this.connection)
    }
  }

  /** Whether this worker holds the listing lock; false again once its connection is gone. */
  get leadsListing(): boolean {
    return this.listing.holding
  }

  /** Gives the listing lock up: another worker may list. */
  async releaseListing(): Promise<void> {
    await this.listing.release()
  }

  /** Where the job's listing has got to, as its leader recorded it (reset when a new run of the job begins). */
  async listingCursor(): Promise<ListingCursor> {
    const rows = await this.read<{ token: string | null; done: boolean }>(
      'SELECT listing_cursor AS token, listing_done AS done FROM soaker.jobs WHERE id = $1', [this.jobId])
    return rows[0]!
  }

  /**
   * Records how far the listing got (a token the lister can continue after), written with the
   * writes buffered before it, so that the rows it stands for are never missing. Only the
   * holder of the listing lock may: the cursor is not written once the lock is lost.
   */
  setListingCursor(token: string): void {
    this.needListing('setListingCursor')
    this.buffer().listing.token = token
  }

  /** Records that the listing is complete: workers that find nothing to claim are done. */
  finishListing(): void {
    this.needListing('finishListing')
    this.buffer().listing.done = true
  }

  /** A worker's store is its share of the job; a reader's (`soaker status`) is not. */
  get shared(): SharedJob | undefined {
    return this.worker === undefined ? undefined : this
  }

  /**
   * Whether pending objects planned in the job's current run are claimed by other workers, their
   * leases live or not: they come back to the pool if a lease runs out, so a worker whose own
   * work is done waits while there are any.
   */
  async heldElsewhere(): Promise<boolean> {
    const worker = this.needWorker('heldElsewhere')
    const rows = await this.read<{ held: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM soaker.objects WHERE job_id = $1 AND status = 'pending' AND claimed_by IS NOT NULL AND claimed_by <> $2
         AND planned = (SELECT generation FROM soaker.jobs WHERE id = $1)) AS held`, [this.jobId, worker.id])
    return rows[0]!.held
  }

  /** The job's workers, oldest first, live or not. */
  async workers(): Promise<WorkerRow[]> {
    await this.ready()
    return listWorkers(this.pool, this.jobId)
  }

  /**
   * Commits what is buffered, gives this worker's claims back to the pool, marks it stopped,
   * gives the listing lock up and closes the connections. A second call does nothing.
   */
  async close(): Promise<void> {
    if (this.closed) return
    let failure: unknown
    try {
      await this.flush()
    } catch (err) {
      failure = err
    }
    this.closed = true
    clearTimeout(this.timer)
    try {
      await this.analyzing
      if (this.worker) await leave(this.pool, this.jobId, this.worker.id)
      await this.listing.release()
    } catch (err) {
      failure ??= err
    } finally {
      await this.pool.end()
    }
    if (failure !== undefined) throw failure
  }

  /**
   * Runs `work` in a transaction on a connection of the pool. A connection that fails while
   * checked out has nobody else to tell, so the failure is noted here; the statement running
   * then rejects with it.
   */
  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect()
    const failed = (err: Error): void => this.log(`a connection to the state database ${this.where} failed: ${errorMessage(err)}`)
    client.on('error', failed)
    try {
      await client.query('BEGIN')
      const result = await work(client)
      await client.query('COMMIT')
      client.removeListener('error', failed)
      client.release()
      return result
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined)
      client.removeListener('error', failed)
      client.release(true)
      throw err
    }
  }

  private needWorker(what: string): WorkerIdentity {
    if (this.closed) throw new Error('The PostgreSQL state store is closed')
    if (!this.worker) throw new Error(`${what} needs a worker: this store was opened to read`)
    return this.worker
  }

  private needListing(what: string): void {
    if (!this.listing.holding) throw new Error(`${what} needs the listing lock (tryLeadListing), which this worker does not hold`)
  }
}

/** The smallest key after every key that starts with `prefix`: the end of its range (UTF-8 never holds 0xff: the last byte can grow). */
/** SQLSTATEs of a transaction that lost to a concurrent one and may simply run again: deadlock, serialization failure. */
const conflictCodes = new Set(['40P01', '40001'])
const conflictRetries = 5

/** Runs `attempt` again when the server chose it as a deadlock's or a serialization conflict's victim. */
async function retriedOnConflict<T>(attempt: () => Promise<T>): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt()
    } catch (err) {
      if (n >= conflictRetries || !conflictCodes.has((err as { code?: string }).code ?? '')) throw err
      await new Promise((resolve) => setTimeout(resolve, 10 * 2 ** n * Math.random()))
    }
  }
}

function successor(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix)
  end[end.length - 1]! += 1
  return end
}

function toRow(r: RawObject): ObjectRow {
  return objectRowOf(r, r.key.toString('utf8'))
}
