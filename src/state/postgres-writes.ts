import type pg from 'pg'
import type { CheckedPair, ObjectStatus, RemoteRow, Sample } from './store.js'

/** A buffered change to one object's row or parts, kept in the order the caller made it. */
export type ObjectWrite =
  | { kind: 'put'; key: string; size: number; etag: string | null; lastModified: number | null; status: ObjectStatus
    reason: string | null; errorCode: string | null; at: number }
  | { kind: 'status'; key: string; status: ObjectStatus; reason: string | null; errorCode: string | null; at: number }
  | { kind: 'release'; key: string }
  | { kind: 'upload'; key: string; uploadId: string | null; partSize: number | null; keepParts: boolean }
  | { kind: 'part'; key: string; index: number; md5: string | null }
  | { kind: 'clearParts'; key: string }
  | { kind: 'fileMtime'; key: string; mtimeMs: number }

type Kind = ObjectWrite['kind']

/**
 * Two writes of one kind to one key within a batch: 'last', the later one alone has the effect
 * of both; 'apart', each must see the other's effect (setUpload compares with the row as it is).
 */
const merging: Record<Kind, 'last' | 'apart'> = {
  put: 'last', status: 'last', release: 'last', upload: 'apart', part: 'last', clearParts: 'last', fileMtime: 'last',
}

/** Everything written since the last flush. */
export class WriteBatch {
  objects: ObjectWrite[] = []
  /** The destination's listing was cleared: every earlier remote row goes before `remote` is written. */
  remoteCleared = false
  readonly remote = new Map<string, RemoteRow>()
  readonly checks = new Map<string, { srcVersion: string; dstVersion: string; pair: CheckedPair }>()
  samples: Array<{ runId: number; sample: Sample }> = []
  listing: { token?: string; done?: true } = {}

  get size(): number {
    return this.objects.length + this.remote.size + this.checks.size + this.samples.length +
      (this.remoteCleared ? 1 : 0) + Object.keys(this.listing).length
  }

  /** `earlier` (a batch that failed to commit) with this batch's writes after it. */
  after(earlier: WriteBatch): WriteBatch {
    const both = new WriteBatch()
    both.objects = [...earlier.objects, ...this.objects]
    both.remoteCleared = earlier.remoteCleared || this.remoteCleared
    if (!this.remoteCleared) for (const [k, v] of earlier.remote) both.remote.set(k, v)
    for (const [k, v] of this.remote) both.remote.set(k, v)
    for (const [k, v] of [...earlier.checks, ...this.checks]) both.checks.set(k, v)
    both.samples = [...earlier.samples, ...this.samples]
    both.listing = { ...earlier.listing, ...this.listing }
    return both
  }
}

interface Segment {
  kind: Kind
  /** By key (by key and part index for parts): a later write of a 'last' kind replaces an earlier one. */
  rows: Map<string, ObjectWrite>
}

/**
 * Groups writes into segments of one kind each, to be run in order, one statement per segment.
 * Writes to different keys commute, so a write joins the latest segment of its kind unless a
 * write of another kind to the same key (or one of its own that must stay apart) came after that
 * segment began; then a new segment starts. The engine's pattern (put, or setUpload, parts,
 * status, for object after object) becomes a handful of statements whatever the number of objects.
 */
export function segments(writes: readonly ObjectWrite[]): Segment[] {
  const out: Segment[] = []
  const latestOfKind = new Map<Kind, number>()
  /** The segment of each key's latest write. */
  const lastOfKey = new Map<string, number>()
  for (const w of writes) {
    const latest = latestOfKind.get(w.kind)
    const last = lastOfKey.get(w.key)
    // The latest segment of this kind holding this key's latest write is of this kind too.
    const joins = latest !== undefined && (last === undefined || latest > last || (latest === last && merging[w.kind] === 'last'))
    let at = latest!
    if (!joins) {
      at = out.push({ kind: w.kind, rows: new Map() }) - 1
      latestOfKind.set(w.kind, at)
    }
    out[at]!.rows.set(w.kind === 'part' ? `${w.index}:${w.key}` : w.key, w)
    lastOfKey.set(w.key, at)
  }
  return out
}

/** Rows per statement: large enough to need few round trips, small enough to keep each statement's parameters modest. */
const rowsPerStatement = 5000

const bytes = (key: string): Buffer => Buffer.from(key, 'utf8')

/** One array per column, for unnest: `columns(rows, (r) => r.a, (r) => r.b)` is `[[a1, a2, ...], [b1, b2, ...]]`. */
function columns<T>(rows: readonly T[], ...pick: Array<(row: T) => unknown>): unknown[][] {
  return pick.map((p) => rows.map(p))
}

/**
 * PostgreSQL text cannot hold NUL. Keys are kept as bytes for that reason; a NUL in a
 * descriptive field (a reason, an ETag a server sent) is written as U+FFFD rather than fail the
 * whole batch.
 */
function text(value: string | null): string | null {
  return value !== null && value.includes('\0') ? value.replaceAll('\0', '\uFFFD') : value
}

/** The generation of the job's current run: pending rows planned in it are claimable. */
const generation = '(SELECT generation FROM soaker.jobs WHERE id = $1)'

const statements: { [K in Kind]: { sql: string; params: (rows: Array<Extract<ObjectWrite, { kind: K }>>) => unknown[] } } = {
  // A new version of an object: its parts and upload go, and it is planned in this run when pending.
  put: {
    sql: `WITH r AS (SELECT * FROM unnest($2::bytea[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[],
                                          $9::bigint[]) AS r(key, size, etag, last_modified, status, reason, error_code, updated_at)),
               gone AS (DELETE FROM soaker.parts p USING r WHERE p.job_id = $1 AND p.key = r.key)
          INSERT INTO soaker.objects (job_id, key, size, etag, last_modified, status, reason, error_code, planned, updated_at)
          SELECT $1, key, size, etag, last_modified, status, reason, error_code,
                 CASE WHEN status = 'pending' THEN ${generation} END, updated_at FROM r
          ON CONFLICT (job_id, key) DO UPDATE SET size = excluded.size, etag = excluded.etag, last_modified = excluded.last_modified,
            status = excluded.status, reason = excluded.reason, error_code = excluded.error_code, part_size = NULL, upload_id = NULL,
            file_mtime = NULL, planned = excluded.planned, claimed_by = NULL, lease_until = NULL, updated_at = excluded.updated_at`,
    params: (rows) => columns(rows, (r) => bytes(r.key), (r) => r.size, (r) => text(r.etag), (r) => r.lastModified, (r) => r.status,
      (r) => text(r.reason), (r) => text(r.errorCode), (r) => r.at),
  },
  status: {
    sql: `UPDATE soaker.objects o SET status = r.status, reason = r.reason, error_code = r.error_code,
            planned = CASE WHEN r.status = 'pending' THEN ${generation} END, claimed_by = NULL, lease_until = NULL,
            updated_at = r.updated_at
          FROM unnest($2::bytea[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS r(key, status, reason, error_code, updated_at)
          WHERE o.job_id = $1 AND o.key = r.key`,
    params: (rows) => columns(rows, (r) => bytes(r.key), (r) => r.status, (r) => text(r.reason), (r) => text(r.errorCode), (r) => r.at),
  },
  // Only an unclaimed row or one of this worker's: a claim another worker took over stays its.
  release: {
    sql: `UPDATE soaker.objects SET planned = ${generation}, claimed_by = NULL, lease_until = NULL
          WHERE job_id = $1 AND key = ANY($2::bytea[]) AND status = 'pending' AND (claimed_by IS NULL OR claimed_by = $3::text)`,
    params: (rows) => columns(rows, (r) => bytes(r.key)),
  },
  // Nothing changes for a row whose upload and part size are these already; parts go with a change, unless kept.
  upload: {
    sql: `WITH r AS (SELECT * FROM unnest($2::bytea[], $3::text[], $4::bigint[], $5::boolean[])
                       AS r(key, upload_id, part_size, keep_parts)),
               changed AS (SELECT r.* FROM r LEFT JOIN soaker.objects o ON o.job_id = $1 AND o.key = r.key
                           WHERE o.key IS NULL OR o.upload_id IS DISTINCT FROM r.upload_id OR o.part_size IS DISTINCT FROM r.part_size),
               gone AS (DELETE FROM soaker.parts p USING changed c WHERE p.job_id = $1 AND p.key = c.key AND NOT c.keep_parts)
          UPDATE soaker.objects o SET upload_id = c.upload_id, part_size = c.part_size
          FROM changed c WHERE o.job_id = $1 AND o.key = c.key`,
    params: (rows) => columns(rows, (r) => bytes(r.key), (r) => text(r.uploadId), (r) => r.partSize, (r) => r.keepParts),
  },
  part: {
    sql: `INSERT INTO soaker.parts (job_id, key, idx, md5) SELECT $1, * FROM unnest($2::bytea[], $3::integer[], $4::text[])
          ON CONFLICT (job_id, key, idx) DO UPDATE SET md5 = excluded.md5`,
    params: (rows) => columns(rows, (r) => bytes(r.key), (r) => r.index, (r) => text(r.md5)),
  },
  clearParts: {
    sql: 'DELETE FROM soaker.parts WHERE job_id = $1 AND key = ANY($2::bytea[])',
    params: (rows) => columns(rows, (r) => bytes(r.key)),
  },
  fileMtime: {
    sql: `UPDATE soaker.objects o SET file_mtime = r.file_mtime FROM unnest($2::bytea[], $3::bigint[]) AS r(key, file_mtime)
          WHERE o.job_id = $1 AND o.key = r.key`,
    params: (rows) => columns(rows, (r) => bytes(r.key), (r) => r.mtimeMs),
  },
}

/** Who writes: the job's rows, this worker's claims, and the backend holding the listing lock if this worker does. */
export interface Writer {
  jobId: number
  workerId: string | null
  /** The backend pid of this worker's connection holding the listing lock; the listing is written only while it does. */
  listingBackend: number | undefined
  /** The advisory lock's first key (the second is the job id). */
  listingLockClass: number
}

/**
 * Writes `batch` through `client`, inside the transaction the caller opened: the object writes
 * segment by segment, then the destination's listing, check verdicts, samples and the listing
 * cursor. Returns false when the listing cursor was not written because this worker no longer
 * holds the listing lock.
 */
export async function writeBatch(client: pg.ClientBase, batch: WriteBatch, w: Writer): Promise<boolean> {
  for (const segment of segments(batch.objects)) {
    const statement = statements[segment.kind] as { sql: string; params: (rows: ObjectWrite[]) => unknown[] }
    const extra = segment.kind === 'release' ? [w.workerId] : []
    for (const rows of chunks([...segment.rows.values()])) {
      await client.query(statement.sql, [w.jobId, ...statement.params(rows), ...extra])
    }
  }
  if (batch.remoteCleared) await client.query('DELETE FROM soaker.remote_objects WHERE job_id = $1', [w.jobId])
  for (const rows of chunks([...batch.remote])) {
    await client.query(`INSERT INTO soaker.remote_objects (job_id, key, size, etag)
                        SELECT $1, * FROM unnest($2::bytea[], $3::bigint[], $4::text[])
                        ON CONFLICT (job_id, key) DO UPDATE SET size = excluded.size, etag = excluded.etag`,
    [w.jobId, ...columns(rows, ([k]) => bytes(k), ([, r]) => r.size, ([, r]) => text(r.etag))])
  }
  for (const rows of chunks([...batch.checks])) {
    await client.query(`INSERT INTO soaker.checks (job_id, key, src_version, dst_version, same, size_only, detail)
                        SELECT $1, * FROM unnest($2::bytea[], $3::text[], $4::text[], $5::boolean[], $6::boolean[], $7::text[])
                        ON CONFLICT (job_id, key) DO UPDATE SET src_version = excluded.src_version, dst_version = excluded.dst_version,
                          same = excluded.same, size_only = excluded.size_only, detail = excluded.detail`,
    [w.jobId, ...columns(rows, ([k]) => bytes(k), ([, c]) => text(c.srcVersion), ([, c]) => text(c.dstVersion), ([, c]) => c.pair.same,
      ([, c]) => c.pair.sizeOnly, ([, c]) => text(c.pair.detail))])
  }
  for (const rows of chunks(batch.samples)) {
    await client.query(`INSERT INTO soaker.samples (job_id, run_id, at, target, in_flight, bytes_per_second, throttles, errors, sources)
                        SELECT $1, run_id, at, target, in_flight, bytes_per_second, throttles, errors, sources
                        FROM unnest($2::bigint[], $3::bigint[], $4::float8[], $5::float8[], $6::float8[], $7::float8[],
                                    $8::float8[], $9::integer[])
                          WITH ORDINALITY AS s(run_id, at, target, in_flight, bytes_per_second, throttles, errors, sources, n)
                        ORDER BY n`,
    [w.jobId, ...columns(rows, (r) => r.runId, (r) => r.sample.at, (r) => r.sample.target, (r) => r.sample.inFlight,
      (r) => r.sample.bytesPerSecond, (r) => r.sample.throttles, (r) => r.sample.errors, (r) => r.sample.sources ?? 1)])
  }
  if (batch.listing.token === undefined && batch.listing.done === undefined) return true
  const { rowCount } = await client.query(
    `UPDATE soaker.jobs SET listing_cursor = CASE WHEN $2 THEN $3 ELSE listing_cursor END, listing_done = listing_done OR $4
     WHERE id = $1 AND EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $5::oid AND objid = $1::oid
                               AND objsubid = 2 AND pid = $6 AND granted)`,
    [w.jobId, batch.listing.token !== undefined, text(batch.listing.token ?? null), batch.listing.done === true,
      w.listingLockClass, w.listingBackend ?? 0])
  return rowCount === 1
}

function* chunks<T>(rows: readonly T[]): Iterable<T[]> {
  for (let i = 0; i < rows.length; i += rowsPerStatement) yield rows.slice(i, i + rowsPerStatement)
}
