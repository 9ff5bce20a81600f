import type pg from 'pg'
import { LocationError } from '../errors.js'

/**
 * Numbered schema steps of the PostgreSQL store, all in the schema `soaker` (a database may hold
 * other applications' tables, and many jobs: every table is keyed by the job). The table
 * soaker.migrations records the steps that ran. Never edit one that shipped.
 */
export const postgresMigrations: string[] = [
  // 1: jobs, their objects and parts, the destination's listing, check verdicts, runs and their
  // samples, and the workers of a fleet.
  // Keys are bytes (bytea), not text: a key may hold NUL, which PostgreSQL text cannot, and bytes
  // sort in the order SQLite gives keys (UTF-8 byte order) whatever the database's collation.
  // A pending object is claimable when `planned` is its job's `generation` (planned in the job's
  // current run) and nobody holds a lease on it (`claimed_by` NULL or `lease_until` past).
  `CREATE TABLE soaker.jobs (
     id serial PRIMARY KEY,
     name text NOT NULL UNIQUE,
     created_at timestamptz NOT NULL DEFAULT now(),
     generation integer NOT NULL DEFAULT 0,
     listing_cursor text,
     listing_done boolean NOT NULL DEFAULT false
   );
   CREATE TABLE soaker.objects (
     job_id integer NOT NULL REFERENCES soaker.jobs ON DELETE CASCADE,
     key bytea NOT NULL,
     size bigint NOT NULL,
     etag text,
     last_modified bigint,
     status text NOT NULL CHECK (status IN ('pending', 'done', 'skipped', 'failed')),
     reason text,
     error_code text,
     part_size bigint,
     upload_id text,
     file_mtime bigint,
     planned integer,
     claimed_by text,
     lease_until timestamptz,
     updated_at bigint NOT NULL,
     PRIMARY KEY (job_id, key)
   );
   CREATE INDEX objects_claimable_key ON soaker.objects (job_id, planned, key) WHERE status = 'pending';
   CREATE INDEX objects_claimable_size ON soaker.objects (job_id, planned, size, key) WHERE status = 'pending';
   CREATE INDEX objects_claimable_size_desc ON soaker.objects (job_id, planned, size DESC, key) WHERE status = 'pending';
   CREATE INDEX objects_status_key ON soaker.objects (job_id, status, key);
   CREATE INDEX objects_claimed_by ON soaker.objects (job_id, claimed_by) WHERE claimed_by IS NOT NULL;
   CREATE INDEX objects_open_uploads ON soaker.objects (job_id, key) WHERE upload_id IS NOT NULL;
   CREATE TABLE soaker.parts (
     job_id integer NOT NULL REFERENCES soaker.jobs ON DELETE CASCADE,
     key bytea NOT NULL,
     idx integer NOT NULL,
     md5 text,
     PRIMARY KEY (job_id, key, idx)
   );
   CREATE TABLE soaker.remote_objects (
     job_id integer NOT NULL REFERENCES soaker.jobs ON DELETE CASCADE,
     key bytea NOT NULL,
     size bigint NOT NULL,
     etag text,
     PRIMARY KEY (job_id, key)
   );
   CREATE TABLE soaker.checks (
     job_id integer NOT NULL REFERENCES soaker.jobs ON DELETE CASCADE,
     key bytea NOT NULL,
     src_version text NOT NULL,
     dst_version text NOT NULL,
     same boolean NOT NULL,
     size_only boolean NOT NULL,
     detail text NOT NULL,
     PRIMARY KEY (job_id, key)
   );
   CREATE TABLE soaker.runs (
     id bigserial PRIMARY KEY,
     job_id integer NOT NULL REFERENCES soaker.jobs ON DELETE CASCADE,
     worker_id text,
     started_at bigint NOT NULL,
     ended_at bigint,
     status text NOT NULL,
     source text NOT NULL,
     destination text NOT NULL,
     copied bigint NOT NULL DEFAULT 0,
     failed bigint NOT NULL DEFAULT 0,
     transferred bigint NOT NULL DEFAULT 0
   );
   CREATE INDEX runs_job ON soaker.runs (job_id, id);
   CREATE TABLE soaker.samples (
     id bigserial PRIMARY KEY,
     job_id integer NOT NULL REFERENCES soaker.jobs ON DELETE CASCADE,
     run_id bigint NOT NULL,
     at bigint NOT NULL,
     target float8 NOT NULL,
     in_flight float8 NOT NULL,
     bytes_per_second float8 NOT NULL,
     throttles float8 NOT NULL,
     errors float8 NOT NULL,
     sources integer NOT NULL DEFAULT 1
   );
   CREATE INDEX samples_run ON soaker.samples (job_id, run_id, id);
   CREATE TABLE soaker.workers (
     job_id integer NOT NULL REFERENCES soaker.jobs ON DELETE CASCADE,
     id text NOT NULL,
     host text NOT NULL,
     pid integer NOT NULL,
     started_at timestamptz NOT NULL,
     heartbeat_at timestamptz NOT NULL,
     lease_ms integer NOT NULL,
     generation integer,
     objects bigint NOT NULL DEFAULT 0,
     bytes bigint NOT NULL DEFAULT 0,
     stopped_at timestamptz,
     PRIMARY KEY (job_id, id)
   );`,
]

/** The key of the transaction-level advisory lock that migrations run under ('soaker' in ASCII). */
const migrationLock = 0x736f616b6572

/**
 * Brings the database to the current schema in one transaction, under an advisory lock: workers
 * starting together wait for the first, then find nothing left to do. Nothing is created when
 * the schema is current (a role that may not create tables can use a database set up before).
 */
export async function migrate(client: pg.ClientBase): Promise<void> {
  // pg_tables is read with the statement's snapshot; to_regclass would consult this session's
  // catalog cache, which may not yet know of a table another worker made while this one waited.
  const current = async (): Promise<number> => {
    const { rows } = await client.query<{ made: boolean }>(
      "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = 'soaker' AND tablename = 'migrations') AS made")
    if (!rows[0]!.made) return 0
    const { rows: v } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM soaker.migrations')
    return v[0]!.version ?? 0
  }
  const found = await current()
  if (found > postgresMigrations.length) {
    throw new LocationError(`its schema is at version ${found}, newer than this soaker knows (${postgresMigrations.length}): ` +
      'use the soaker release the other workers of this database run, or a newer one')
  }
  if (found === postgresMigrations.length) return
  await client.query('BEGIN')
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [migrationLock])
    let version = await current()
    if (version === 0) {
      await client.query(`CREATE SCHEMA IF NOT EXISTS soaker;
                          CREATE TABLE IF NOT EXISTS soaker.migrations (
                            version integer PRIMARY KEY,
                            applied_at timestamptz NOT NULL DEFAULT now()
                          )`)
    }
    for (; version < postgresMigrations.length; version++) {
      await client.query(postgresMigrations[version]!)
      await client.query('INSERT INTO soaker.migrations (version) VALUES ($1)', [version + 1])
    }
    await client.query('COMMIT')
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw err
  }
}
