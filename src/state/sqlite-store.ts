import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { LocationError } from '../errors.js'
import type { ObjectInfo } from '../providers/provider.js'
import { migrations } from './migrations.js'
import { objectRowOf, type ObjectColumns } from './object-columns.js'
import type { CheckedPair, ClaimOrder, ObjectRow, ObjectStatus, RemoteRow, RunRow, RunTotals, Sample, ShardRow, StateStore, StatusCount } from './store.js'

type RawObject = ObjectColumns<string>

/** The claim column of a row of `status` just planned: 0 (queued) when pending, else NULL. */
const queued = (status: string): string => `CASE WHEN ${status} = 'pending' THEN 0 END`

/** Writes are committed together at most this long after the first of them. */
const commitEveryMs = 100

export class SqliteStateStore implements StateStore {
  private readonly db: Database.Database
  private readonly stmt
  private commitTimer: NodeJS.Timeout | undefined
  /**
   * Whether remote_objects holds any row; undefined until first asked. A download's destination
   * is never listed there, and asking for each of its objects would cost a query apiece.
   */
  private remoteListed: boolean | undefined

  /**
   * Opens the database at `path`, made and brought to the current schema where needed.
   * `readOnly`: a database that exists, for reading beside a run that writes it (nothing made).
   */
  constructor(readonly path: string, { readOnly = false } = {}) {
    try {
      if (readOnly) this.db = new Database(path, { readonly: true, fileMustExist: true })
      else {
        mkdirSync(dirname(path), { recursive: true })
        this.db = new Database(path)
      }
      // The first statements are where a file that is not a database shows itself.
      if (!readOnly) this.db.pragma('journal_mode = WAL')
      // NORMAL in WAL mode survives a killed process; only a power cut can lose the last commits,
      // and those are re-fetched parts, never a wrong file (final files are checked before rename).
      this.db.pragma('synchronous = NORMAL')
      this.db.pragma('busy_timeout = 5000')
      if (!readOnly) this.migrate()
    } catch (err) {
      throw new LocationError(`Cannot open the state database \`${path}\`: ${(err as Error).message}`, { cause: err })
    }
    const db = this.db
    this.stmt = {
      get: db.prepare('SELECT * FROM objects WHERE key = ?'),
      put: db.prepare(`INSERT INTO objects (key, size, etag, last_modified, status, reason, error_code, part_size, claim, updated_at)
                       VALUES (@key, @size, @etag, @lastModified, @status, @reason, @errorCode, NULL, ${queued('@status')}, @now)
                       ON CONFLICT (key) DO UPDATE SET size = excluded.size, etag = excluded.etag,
                         last_modified = excluded.last_modified, status = excluded.status, reason = excluded.reason,
                         error_code = excluded.error_code, part_size = NULL, upload_id = NULL, file_mtime = NULL, claim = excluded.claim,
                         updated_at = excluded.updated_at`),
      setStatus: db.prepare(`UPDATE objects SET status = @status, reason = @reason, error_code = @errorCode, claim = ${queued('@status')}, updated_at = @now
                             WHERE key = @key`),
      setUpload: db.prepare('UPDATE objects SET upload_id = ?, part_size = ? WHERE key = ?'),
      setFileMtime: db.prepare('UPDATE objects SET file_mtime = ? WHERE key = ?'),
      openUploads: db.prepare('SELECT key, upload_id AS uploadId FROM objects WHERE upload_id IS NOT NULL ORDER BY key'),
      claimable: {
        path: db.prepare("SELECT * FROM objects WHERE status = 'pending' AND claim = 0 ORDER BY key LIMIT ?"),
        pathUnder: db.prepare("SELECT * FROM objects WHERE status = 'pending' AND claim = 0 AND key >= @from AND key < @to ORDER BY key LIMIT @limit"),
        'size-asc': db.prepare(`SELECT * FROM objects WHERE status = 'pending' AND claim = 0
                                AND (@from = '' OR substr(key, 1, length(@from)) = @from) ORDER BY size, key LIMIT @limit`),
        'size-desc': db.prepare(`SELECT * FROM objects WHERE status = 'pending' AND claim = 0
                                 AND (@from = '' OR substr(key, 1, length(@from)) = @from) ORDER BY size DESC, key LIMIT @limit`),
      },
      claim: db.prepare('UPDATE objects SET claim = 1 WHERE key = ?'),
      release: db.prepare("UPDATE objects SET claim = 0 WHERE key = ? AND status = 'pending'"),
      releaseAll: db.prepare("UPDATE objects SET claim = NULL WHERE status = 'pending' AND claim IS NOT NULL"),
      clearRemote: db.prepare('DELETE FROM remote_objects'),
      putRemote: db.prepare('INSERT OR REPLACE INTO remote_objects (key, size, etag) VALUES (?, ?, ?)'),
      getRemote: db.prepare('SELECT size, etag FROM remote_objects WHERE key = ?'),
      anyRemote: db.prepare('SELECT EXISTS (SELECT 1 FROM remote_objects) AS found'),
      parts: db.prepare('SELECT idx, md5 FROM parts WHERE key = ?'),
      recordPart: db.prepare('INSERT OR REPLACE INTO parts (key, idx, md5) VALUES (?, ?, ?)'),
      clearParts: db.prepare('DELETE FROM parts WHERE key = ?'),
      counts: db.prepare('SELECT status, COUNT(*) AS objects, COALESCE(SUM(size), 0) AS bytes FROM objects GROUP BY status'),
      // Keys from the prefix up to the prefix with its last character's successor: one range of the key index.
      firstKeyUnder: db.prepare(`SELECT key FROM objects WHERE key >= @from AND key < @to
                                 AND NOT (status = 'failed' AND error_code IN (SELECT value FROM json_each(@codes)))
                                 ORDER BY key LIMIT 1`),
      objects: db.prepare('SELECT * FROM objects WHERE key > ? ORDER BY key LIMIT ?'),
      objectsWithStatus: db.prepare('SELECT key, size, etag, last_modified FROM objects WHERE status = ? AND key > ? ORDER BY key LIMIT ?'),
      failures: db.prepare("SELECT key, error_code AS errorCode, reason FROM objects WHERE status = 'failed' ORDER BY key LIMIT ?"),
      beginRun: db.prepare("INSERT INTO runs (started_at, status, source, destination) VALUES (?, 'running', ?, ?)"),
      endRun: db.prepare('UPDATE runs SET ended_at = ?, status = ?, copied = ?, failed = ?, transferred = ? WHERE id = ?'),
      sample: db.prepare('INSERT INTO samples (run_id, at, target, in_flight, bytes_per_second, throttles, errors, sources) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      runs: db.prepare(`SELECT id, started_at AS startedAt, ended_at AS endedAt, status, source, destination, copied, failed, transferred,
                         (SELECT MAX(bytes_per_second) FROM samples WHERE run_id = runs.id) AS peakBytesPerSecond
                        FROM runs ORDER BY id DESC LIMIT ?`),
      getCheck: db.prepare('SELECT same, size_only AS sizeOnly, detail FROM checks WHERE key = ? AND src_version = ? AND dst_version = ?'),
      putCheck: db.prepare('INSERT OR REPLACE INTO checks (key, src_version, dst_version, same, size_only, detail) VALUES (?, ?, ?, ?, ?, ?)'),
      getShard: db.prepare('SELECT shard_index AS "index", shard_count AS count, hash FROM shard'),
      putShard: db.prepare('INSERT INTO shard (only_row, shard_index, shard_count, hash) VALUES (1, ?, ?, ?)'),
      anyRun: db.prepare('SELECT EXISTS (SELECT 1 FROM runs) AS found'),
      samples: db.prepare(`SELECT at, target, in_flight AS inFlight, bytes_per_second AS bytesPerSecond, throttles, errors, sources
                           FROM samples WHERE run_id = ? ORDER BY rowid`),
    }
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number
    for (let i = version; i < migrations.length; i++) {
      this.db.transaction(() => {
        this.db.exec(migrations[i]!)
        this.db.pragma(`user_version = ${i + 1}`)
      })()
    }
  }

  /**
   * Opens a transaction that collects every write for up to `commitEveryMs`. One commit per
   * write costs a WAL append each, which dominated small-object runs. A kill -9 loses at most the
   * last interval's records; that is safe because a lost part record only means the part is
   * fetched again, and a lost 'done' is recovered by the planner finding the verified file.
   */
  private writing(): void {
    if (this.db.inTransaction) return
    this.db.exec('BEGIN')
    this.commitTimer = setTimeout(() => this.commit(), commitEveryMs)
    this.commitTimer.unref()
  }

  /** Commits what the current interval collected. */
  commit(): void {
    clearTimeout(this.commitTimer)
    this.commitTimer = undefined
    if (this.db.open && this.db.inTransaction) this.db.exec('COMMIT')
  }

  async flush(): Promise<void> {
    this.commit()
  }

  /** The row of `key`, read at once (the store's own read-modify-writes, and `soaker status`). */
  rowOf(key: string): ObjectRow | undefined {
    const r = this.stmt.get.get(key) as RawObject | undefined
    return r && toRow(r)
  }

  async lookup(keys: readonly string[]): Promise<Map<string, ObjectRow>> {
    const rows = new Map<string, ObjectRow>()
    for (const key of keys) {
      const row = this.rowOf(key)
      if (row) rows.set(key, row)
    }
    return rows
  }

  async getObject(key: string): Promise<ObjectRow | undefined> {
    return this.rowOf(key)
  }

  putObject(info: ObjectInfo, status: ObjectStatus, reason?: string, errorCode?: string): void {
    this.writing()
    this.db.transaction(() => {
      this.stmt.clearParts.run(info.key)
      this.stmt.put.run({
        key: info.key, size: info.size, etag: info.etag ?? null, lastModified: info.lastModified?.getTime() ?? null,
        status, reason: reason ?? null, errorCode: errorCode ?? null, now: Date.now(),
      })
    })()
  }

  setStatus(key: string, status: ObjectStatus, reason: string | null = null, errorCode: string | null = null): void {
    this.writing()
    this.stmt.setStatus.run({ status, reason, errorCode, now: Date.now(), key })
  }

  /**
   * Selects in the order's index, then marks each row claimed, in the same transaction: a
   * process holds the job's lock (StateLock), so nothing else claims between the two.
   */
  async claim(limit: number, order: ClaimOrder, under = ''): Promise<ObjectRow[]> {
    this.writing()
    const q = this.stmt.claimable
    const raw = (order !== 'path' ? q[order].all({ from: under, limit })
      : under === '' ? q.path.all(limit)
        : q.pathUnder.all({ from: under, to: successor(under), limit })) as RawObject[]
    for (const r of raw) this.stmt.claim.run(r.key)
    return raw.map(toRow)
  }

  release(key: string): void {
    this.writing()
    this.stmt.release.run(key)
  }

  setUpload(key: string, uploadId: string | null, partSize: number | null, keepParts = false): void {
    const row = this.rowOf(key)
    if (row?.uploadId === uploadId && row?.partSize === partSize) return
    this.writing()
    this.db.transaction(() => {
      if (!keepParts) this.stmt.clearParts.run(key)
      this.stmt.setUpload.run(uploadId, partSize, key)
    })()
  }

  setFileMtime(key: string, mtimeMs: number): void {
    this.writing()
    this.stmt.setFileMtime.run(mtimeMs, key)
  }

  async openUploads(): Promise<Array<{ key: string; uploadId: string }>> {
    return this.stmt.openUploads.all() as Array<{ key: string; uploadId: string }>
  }

  clearRemote(): void {
    this.writing()
    this.stmt.clearRemote.run()
    this.remoteListed = false
  }

  putRemote(info: ObjectInfo): void {
    this.writing()
    this.stmt.putRemote.run(info.key, info.size, info.etag ?? null)
    this.remoteListed = true
  }

  async getRemote(key: string): Promise<RemoteRow | undefined> {
    this.remoteListed ??= (this.stmt.anyRemote.get() as { found: number }).found === 1
    return this.remoteListed ? this.stmt.getRemote.get(key) as RemoteRow | undefined : undefined
  }

  async doneParts(key: string): Promise<Map<number, string | null>> {
    const rows = this.stmt.parts.all(key) as Array<{ idx: number; md5: string | null }>
    return new Map(rows.map((r) => [r.idx, r.md5]))
  }

  recordPart(key: string, index: number, md5: string | null): void {
    this.writing()
    this.stmt.recordPart.run(key, index, md5)
  }

  clearParts(key: string): void {
    this.writing()
    this.stmt.clearParts.run(key)
  }

  async counts(): Promise<Record<ObjectStatus, StatusCount>> {
    const out: Record<ObjectStatus, StatusCount> = {
      pending: { objects: 0, bytes: 0 }, done: { objects: 0, bytes: 0 }, skipped: { objects: 0, bytes: 0 }, failed: { objects: 0, bytes: 0 },
    }
    for (const r of this.stmt.counts.all() as Array<{ status: ObjectStatus; objects: number; bytes: number }>) {
      out[r.status] = { objects: r.objects, bytes: r.bytes }
    }
    return out
  }

  async failures(limit: number): Promise<Array<{ key: string; errorCode: string | null; reason: string | null }>> {
    return this.stmt.failures.all(limit) as Array<{ key: string; errorCode: string | null; reason: string | null }>
  }

  recordSample(runId: number, s: Sample): void {
    this.writing()
    this.stmt.sample.run(runId, s.at, s.target, s.inFlight, s.bytesPerSecond, s.throttles, s.errors, s.sources ?? 1)
  }

  async firstKeyUnder(prefix: string, exceptErrorCodes: readonly string[]): Promise<string | undefined> {
    if (prefix === '') throw new Error('firstKeyUnder needs a prefix')
    const row = this.stmt.firstKeyUnder.get({ from: prefix, to: successor(prefix), codes: JSON.stringify(exceptErrorCodes) }) as { key: string } | undefined
    return row?.key
  }

  async firstKeysUnder(prefixes: readonly string[], exceptErrorCodes: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>()
    for (const prefix of prefixes) {
      const key = await this.firstKeyUnder(prefix, exceptErrorCodes)
      if (key !== undefined) found.set(prefix, key)
    }
    return found
  }

  async objects(afterKey: string, limit: number): Promise<ObjectRow[]> {
    return (this.stmt.objects.all(afterKey, limit) as RawObject[]).map(toRow)
  }

  async objectsWithStatus(status: ObjectStatus, afterKey: string, limit: number): Promise<ObjectInfo[]> {
    const rows = this.stmt.objectsWithStatus.all(status, afterKey, limit) as Array<{ key: string; size: number; etag: string | null; last_modified: number | null }>
    return rows.map((r) => ({
      key: r.key, size: r.size, etag: r.etag ?? undefined,
      lastModified: r.last_modified === null ? undefined : new Date(r.last_modified),
    }))
  }

  async beginRun(source: string, destination: string): Promise<number> {
    this.commit()
    return this.db.transaction(() => {
      this.stmt.releaseAll.run()
      return Number(this.stmt.beginRun.run(Date.now(), source, destination).lastInsertRowid)
    })()
  }

  async endRun(id: number, status: string, totals: RunTotals): Promise<void> {
    this.commit()
    this.stmt.endRun.run(Date.now(), status, totals.copied, totals.failed, totals.transferred, id)
  }

  async runs(limit: number): Promise<RunRow[]> {
    this.commit()
    return this.stmt.runs.all(limit) as RunRow[]
  }

  async checked(key: string, srcVersion: string, dstVersion: string): Promise<CheckedPair | undefined> {
    const r = this.stmt.getCheck.get(key, srcVersion, dstVersion) as { same: number; sizeOnly: number; detail: string } | undefined
    return r && { same: r.same === 1, sizeOnly: r.sizeOnly === 1, detail: r.detail }
  }

  recordCheck(key: string, srcVersion: string, dstVersion: string, pair: CheckedPair): void {
    this.writing()
    this.stmt.putCheck.run(key, srcVersion, dstVersion, pair.same ? 1 : 0, pair.sizeOnly ? 1 : 0, pair.detail)
  }

  async samples(runId: number): Promise<Sample[]> {
    this.commit()
    return this.stmt.samples.all(runId) as Sample[]
  }

  /** The static shard whose objects this state holds (--shard), as its first run recorded it. */
  recordedShard(): ShardRow | undefined {
    return this.stmt.getShard.get() as ShardRow | undefined
  }

  /** Records the static shard of this state, once: before its first run. Committed at once. */
  recordShard(row: ShardRow): void {
    this.commit()
    this.stmt.putShard.run(row.index, row.count, row.hash)
  }

  /** Whether any run was ever recorded here. */
  hasRuns(): boolean {
    return (this.stmt.anyRun.get() as { found: number }).found === 1
  }

  async lastRun(): Promise<RunRow | undefined> {
    return (await this.runs(1))[0]
  }

  async close(): Promise<void> {
    this.commit()
    if (this.db.open) this.db.close()
  }
}

/** The smallest string after every string that starts with `prefix`: the end of its key range. */
function successor(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)
}

function toRow(r: RawObject): ObjectRow {
  return objectRowOf(r, r.key)
}
