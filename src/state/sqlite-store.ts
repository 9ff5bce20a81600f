import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { LocationError } from '../errors.js'
import type { ObjectInfo } from '../providers/provider.js'
import { migrations } from './migrations.js'
import type { UploadOrder } from '../options.js'
import type { CheckedPair, Cursor, ObjectRow, ObjectStatus, RunRow, RunTotals, Sample, StatusCount, UploadStateStore } from './store.js'

interface RawObject {
  key: string
  size: number
  etag: string | null
  last_modified: number | null
  status: ObjectStatus
  reason: string | null
  error_code: string | null
  part_size: number | null
  upload_id: string | null
  file_mtime: number | null
}

/** Writes are committed together at most this long after the first of them. */
const commitEveryMs = 100

export class SqliteStateStore implements UploadStateStore {
  private readonly db: Database.Database
  private readonly stmt
  private commitTimer: NodeJS.Timeout | undefined

  constructor(readonly path: string) {
    try {
      mkdirSync(dirname(path), { recursive: true })
      this.db = new Database(path)
      // The first statements are where a file that is not a database shows itself.
      this.db.pragma('journal_mode = WAL')
      // NORMAL in WAL mode survives a killed process; only a power cut can lose the last commits,
      // and those are re-fetched parts, never a wrong file (final files are checked before rename).
      this.db.pragma('synchronous = NORMAL')
      this.db.pragma('busy_timeout = 5000')
      this.migrate()
    } catch (err) {
      throw new LocationError(`Cannot open the state database \`${path}\`: ${(err as Error).message}`, { cause: err })
    }
    const db = this.db
    this.stmt = {
      get: db.prepare('SELECT * FROM objects WHERE key = ?'),
      put: db.prepare(`INSERT INTO objects (key, size, etag, last_modified, status, reason, error_code, part_size, updated_at)
                       VALUES (@key, @size, @etag, @lastModified, @status, @reason, @errorCode, NULL, @now)
                       ON CONFLICT (key) DO UPDATE SET size = excluded.size, etag = excluded.etag,
                         last_modified = excluded.last_modified, status = excluded.status, reason = excluded.reason,
                         error_code = excluded.error_code, part_size = NULL, upload_id = NULL, file_mtime = NULL, updated_at = excluded.updated_at`),
      setStatus: db.prepare('UPDATE objects SET status = ?, reason = ?, error_code = ?, updated_at = ? WHERE key = ?'),
      setPartSize: db.prepare('UPDATE objects SET part_size = ? WHERE key = ?'),
      setUpload: db.prepare('UPDATE objects SET upload_id = ?, part_size = ? WHERE key = ?'),
      setFileMtime: db.prepare('UPDATE objects SET file_mtime = ? WHERE key = ?'),
      openUploads: db.prepare('SELECT key, upload_id AS uploadId FROM objects WHERE upload_id IS NOT NULL ORDER BY key'),
      pending: {
        'size-asc': {
          first: db.prepare("SELECT * FROM objects WHERE status = 'pending' ORDER BY size, key LIMIT ?"),
          after: db.prepare("SELECT * FROM objects WHERE status = 'pending' AND (size > @size OR (size = @size AND key > @key)) ORDER BY size, key LIMIT @limit"),
        },
        'size-desc': {
          first: db.prepare("SELECT * FROM objects WHERE status = 'pending' ORDER BY size DESC, key LIMIT ?"),
          after: db.prepare("SELECT * FROM objects WHERE status = 'pending' AND (size < @size OR (size = @size AND key > @key)) ORDER BY size DESC, key LIMIT @limit"),
        },
        path: {
          first: db.prepare("SELECT * FROM objects WHERE status = 'pending' ORDER BY key LIMIT ?"),
          after: db.prepare("SELECT * FROM objects WHERE status = 'pending' AND key > @key ORDER BY key LIMIT @limit"),
        },
      },
      clearRemote: db.prepare('DELETE FROM remote_objects'),
      putRemote: db.prepare('INSERT OR REPLACE INTO remote_objects (key, size, etag) VALUES (?, ?, ?)'),
      getRemote: db.prepare('SELECT size, etag FROM remote_objects WHERE key = ?'),
      parts: db.prepare('SELECT idx, md5 FROM parts WHERE key = ?'),
      recordPart: db.prepare('INSERT OR REPLACE INTO parts (key, idx, md5) VALUES (?, ?, ?)'),
      clearParts: db.prepare('DELETE FROM parts WHERE key = ?'),
      progress: db.prepare('SELECT idx, bytes FROM part_progress WHERE key = ?'),
      recordProgress: db.prepare('INSERT OR REPLACE INTO part_progress (key, idx, bytes) VALUES (?, ?, ?)'),
      clearPartProgress: db.prepare('DELETE FROM part_progress WHERE key = ? AND idx = ?'),
      clearProgress: db.prepare('DELETE FROM part_progress WHERE key = ?'),
      counts: db.prepare('SELECT status, COUNT(*) AS objects, COALESCE(SUM(size), 0) AS bytes FROM objects GROUP BY status'),
      // Keys from the prefix up to the prefix with its last character's successor: one range of the key index.
      firstKeyUnder: db.prepare(`SELECT key FROM objects WHERE key >= @from AND key < @to
                                 AND NOT (status = 'failed' AND error_code IN (SELECT value FROM json_each(@codes)))
                                 ORDER BY key LIMIT 1`),
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

  getObject(key: string): ObjectRow | undefined {
    const r = this.stmt.get.get(key) as RawObject | undefined
    return r && toRow(r)
  }

  putObject(info: ObjectInfo, status: ObjectStatus, reason?: string, errorCode?: string): void {
    this.writing()
    this.db.transaction(() => {
      this.dropParts(info.key)
      this.stmt.put.run({
        key: info.key, size: info.size, etag: info.etag ?? null, lastModified: info.lastModified?.getTime() ?? null,
        status, reason: reason ?? null, errorCode: errorCode ?? null, now: Date.now(),
      })
    })()
  }

  setStatus(key: string, status: ObjectStatus, reason: string | null = null, errorCode: string | null = null): void {
    this.writing()
    this.stmt.setStatus.run(status, reason, errorCode, Date.now(), key)
  }

  setPartSize(key: string, partSize: number): void {
    const row = this.getObject(key)
    if (row?.partSize === partSize) return
    this.writing()
    this.db.transaction(() => {
      this.dropParts(key)
      this.stmt.setPartSize.run(partSize, key)
    })()
  }

  setUpload(key: string, uploadId: string | null, partSize: number | null): void {
    const row = this.getObject(key)
    if (row?.uploadId === uploadId && row?.partSize === partSize) return
    this.writing()
    this.db.transaction(() => {
      this.dropParts(key)
      this.stmt.setUpload.run(uploadId, partSize, key)
    })()
  }

  setFileMtime(key: string, mtimeMs: number): void {
    this.writing()
    this.stmt.setFileMtime.run(mtimeMs, key)
  }

  pendingRows(order: UploadOrder, after: Cursor | undefined, limit: number): ObjectRow[] {
    const q = this.stmt.pending[order]
    const rows = (after ? q.after.all({ ...after, limit }) : q.first.all(limit)) as RawObject[]
    return rows.map(toRow)
  }

  openUploads(): Array<{ key: string; uploadId: string }> {
    return this.stmt.openUploads.all() as Array<{ key: string; uploadId: string }>
  }

  clearRemote(): void {
    this.writing()
    this.stmt.clearRemote.run()
  }

  putRemote(info: ObjectInfo): void {
    this.writing()
    this.stmt.putRemote.run(info.key, info.size, info.etag ?? null)
  }

  getRemote(key: string): { size: number; etag: string | null } | undefined {
    return this.stmt.getRemote.get(key) as { size: number; etag: string | null } | undefined
  }

  doneParts(key: string): Map<number, string | null> {
    const rows = this.stmt.parts.all(key) as Array<{ idx: number; md5: string | null }>
    return new Map(rows.map((r) => [r.idx, r.md5]))
  }

  recordPart(key: string, index: number, md5: string | null): void {
    this.writing()
    this.stmt.recordPart.run(key, index, md5)
    this.stmt.clearPartProgress.run(key, index)
  }

  clearParts(key: string): void {
    this.writing()
    this.dropParts(key)
  }

  /** Finished parts and progress go together: progress is only valid with the parts it belongs to. */
  private dropParts(key: string): void {
    this.stmt.clearParts.run(key)
    this.stmt.clearProgress.run(key)
  }

  recordProgress(key: string, index: number, bytes: number): void {
    this.writing()
    this.stmt.recordProgress.run(key, index, bytes)
  }

  partProgress(key: string): Map<number, number> {
    const rows = this.stmt.progress.all(key) as Array<{ idx: number; bytes: number }>
    return new Map(rows.map((r) => [r.idx, r.bytes]))
  }

  counts(): Record<ObjectStatus, StatusCount> {
    const out: Record<ObjectStatus, StatusCount> = {
      pending: { objects: 0, bytes: 0 }, done: { objects: 0, bytes: 0 }, skipped: { objects: 0, bytes: 0 }, failed: { objects: 0, bytes: 0 },
    }
    for (const r of this.stmt.counts.all() as Array<{ status: ObjectStatus; objects: number; bytes: number }>) {
      out[r.status] = { objects: r.objects, bytes: r.bytes }
    }
    return out
  }

  failures(limit: number): Array<{ key: string; errorCode: string | null; reason: string | null }> {
    return this.stmt.failures.all(limit) as Array<{ key: string; errorCode: string | null; reason: string | null }>
  }

  recordSample(runId: number, s: Sample): void {
    this.writing()
    this.stmt.sample.run(runId, s.at, s.target, s.inFlight, s.bytesPerSecond, s.throttles, s.errors, s.sources ?? 1)
  }

  firstKeyUnder(prefix: string, exceptErrorCodes: readonly string[]): string | undefined {
    if (prefix === '') throw new Error('firstKeyUnder needs a prefix')
    const to = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)
    const row = this.stmt.firstKeyUnder.get({ from: prefix, to, codes: JSON.stringify(exceptErrorCodes) }) as { key: string } | undefined
    return row?.key
  }

  objectsWithStatus(status: ObjectStatus, afterKey: string, limit: number): ObjectInfo[] {
    const rows = this.stmt.objectsWithStatus.all(status, afterKey, limit) as Array<{ key: string; size: number; etag: string | null; last_modified: number | null }>
    return rows.map((r) => ({
      key: r.key, size: r.size, etag: r.etag ?? undefined,
      lastModified: r.last_modified === null ? undefined : new Date(r.last_modified),
    }))
  }

  beginRun(source: string, destination: string): number {
    this.commit()
    return Number(this.stmt.beginRun.run(Date.now(), source, destination).lastInsertRowid)
  }

  endRun(id: number, status: string, totals: RunTotals): void {
    this.commit()
    this.stmt.endRun.run(Date.now(), status, totals.copied, totals.failed, totals.transferred, id)
  }

  runs(limit: number): RunRow[] {
    this.commit()
    return this.stmt.runs.all(limit) as RunRow[]
  }

  /** `soaker check`: the verdict recorded for `key` when its two sides were at these versions. */
  checked(key: string, srcVersion: string, dstVersion: string): CheckedPair | undefined {
    const r = this.stmt.getCheck.get(key, srcVersion, dstVersion) as { same: number; sizeOnly: number; detail: string } | undefined
    return r && { same: r.same === 1, sizeOnly: r.sizeOnly === 1, detail: r.detail }
  }

  /** Records a check's verdict on `key` (committed with the current group of writes). */
  recordCheck(key: string, srcVersion: string, dstVersion: string, pair: CheckedPair): void {
    this.writing()
    this.stmt.putCheck.run(key, srcVersion, dstVersion, pair.same ? 1 : 0, pair.sizeOnly ? 1 : 0, pair.detail)
  }

  samples(runId: number): Sample[] {
    this.commit()
    return this.stmt.samples.all(runId) as Sample[]
  }

  lastRun(): RunRow | undefined {
    return this.runs(1)[0]
  }

  close(): void {
    this.commit()
    if (this.db.open) this.db.close()
  }
}

function toRow(r: RawObject): ObjectRow {
  return {
    key: r.key, size: r.size, etag: r.etag, lastModified: r.last_modified, status: r.status,
    reason: r.reason, errorCode: r.error_code, partSize: r.part_size, uploadId: r.upload_id, fileMtime: r.file_mtime,
  }
}
