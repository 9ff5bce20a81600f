import type pg from 'pg'
import { LocationError } from '../errors.js'
import type { WorkerRow } from './store.js'

/** A process working on a job, as the fleet sees it. */
export interface WorkerIdentity {
  /** Unique among the job's workers; a worker restarted under the same id takes its earlier claims back. */
  id: string
  host: string
}

type Queryable = Pick<pg.ClientBase, 'query'>

/** The id of the job named `name`, made when absent if `create`; a LocationError when absent otherwise. */
export async function findJob(q: Queryable, name: string, create: boolean): Promise<number> {
  const { rows } = create
    ? await q.query<{ id: number }>(
      'INSERT INTO soaker.jobs (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id', [name])
    : await q.query<{ id: number }>('SELECT id FROM soaker.jobs WHERE name = $1', [name])
  if (rows[0] === undefined) throw new LocationError(`it holds no job named \`${name}\``)
  return rows[0].id
}

/** Registers `worker` as started now, in no run yet, nothing done. */
export async function registerWorker(q: Queryable, jobId: number, worker: WorkerIdentity, leaseMs: number): Promise<void> {
  await q.query(
    `INSERT INTO soaker.workers (job_id, id, host, pid, started_at, heartbeat_at, lease_ms)
     VALUES ($1, $2, $3, $4, clock_timestamp(), clock_timestamp(), $5)
     ON CONFLICT (job_id, id) DO UPDATE SET host = excluded.host, pid = excluded.pid, started_at = excluded.started_at,
       heartbeat_at = excluded.heartbeat_at, lease_ms = excluded.lease_ms, generation = NULL, objects = 0, bytes = 0,
       stopped_at = NULL`,
    [jobId, worker.id, worker.host, process.pid, leaseMs])
}

/**
 * Inside the caller's transaction: joins the job's current run if another worker is alive in it,
 * else starts a new one (the next generation: earlier plans are no longer claimable, the listing
 * starts over); frees the claims whose lease ran out and this worker's own; records the run.
 * The job's row is locked first, so that workers starting together decide one after another.
 */
export async function startRun(client: pg.ClientBase, jobId: number, workerId: string, source: string,
  destination: string): Promise<number> {
  const { rows: [job] } = await client.query<{ generation: number }>(
    'SELECT generation FROM soaker.jobs WHERE id = $1 FOR UPDATE', [jobId])
  const { rows: [others] } = await client.query<{ n: number }>(
    `SELECT count(*)::integer AS n FROM soaker.workers WHERE job_id = $1 AND id <> $2 AND generation = $3 AND stopped_at IS NULL
       AND heartbeat_at + lease_ms * interval '1 millisecond' > clock_timestamp()`, [jobId, workerId, job!.generation])
  let generation = job!.generation
  if (others!.n === 0) {
    generation++
    await client.query('UPDATE soaker.jobs SET generation = $2, listing_cursor = NULL, listing_done = false WHERE id = $1',
      [jobId, generation])
  }
  await client.query(
    `UPDATE soaker.objects SET claimed_by = NULL, lease_until = NULL
     WHERE job_id = $1 AND claimed_by IS NOT NULL AND (claimed_by = $2 OR lease_until < clock_timestamp())`, [jobId, workerId])
  await client.query(
    'UPDATE soaker.workers SET generation = $3, heartbeat_at = clock_timestamp(), stopped_at = NULL WHERE job_id = $1 AND id = $2',
    [jobId, workerId, generation])
  const { rows: [run] } = await client.query<{ id: number }>(
    `INSERT INTO soaker.runs (job_id, worker_id, started_at, status, source, destination)
     VALUES ($1, $2, $3, 'running', $4, $5) RETURNING id`, [jobId, workerId, Date.now(), source, destination])
  return run!.id
}

/** Extends this worker's claims by `leaseMs` from now and records its heartbeat; the number of claims renewed. */
export async function renew(q: Queryable, jobId: number, workerId: string, leaseMs: number,
  progress: { objects: number; bytes: number }): Promise<number> {
  const { rows } = await q.query<{ n: number }>(
    `WITH renewed AS (
       UPDATE soaker.objects SET lease_until = clock_timestamp() + $3 * interval '1 millisecond'
       WHERE job_id = $1 AND claimed_by = $2 AND status = 'pending' RETURNING 1),
     beat AS (
       UPDATE soaker.workers SET heartbeat_at = clock_timestamp(), objects = $4, bytes = $5 WHERE job_id = $1 AND id = $2)
     SELECT count(*)::integer AS n FROM renewed`, [jobId, workerId, leaseMs, progress.objects, progress.bytes])
  return rows[0]!.n
}

/** Gives every claim of this worker back to the pool and marks it stopped. */
export async function leave(q: Queryable, jobId: number, workerId: string): Promise<void> {
  await q.query(
    `WITH released AS (UPDATE soaker.objects SET claimed_by = NULL, lease_until = NULL WHERE job_id = $1 AND claimed_by = $2)
     UPDATE soaker.workers SET stopped_at = clock_timestamp() WHERE job_id = $1 AND id = $2`, [jobId, workerId])
}

/** The job's workers, oldest first, live or not. */
export async function listWorkers(q: Queryable, jobId: number): Promise<WorkerRow[]> {
  const ms = (column: string): string => `(extract(epoch FROM ${column}) * 1000)::bigint`
  const { rows } = await q.query<WorkerRow>(
    `SELECT w.id, w.host, w.pid, ${ms('w.started_at')} AS "startedAt", ${ms('w.heartbeat_at')} AS "heartbeatAt",
       ${ms('w.stopped_at')} AS "stoppedAt",
       (w.stopped_at IS NULL AND w.heartbeat_at + w.lease_ms * interval '1 millisecond' > clock_timestamp()) AS alive,
       w.objects, w.bytes,
       CASE WHEN w.heartbeat_at > w.started_at THEN w.bytes / extract(epoch FROM w.heartbeat_at - w.started_at) END::float8
         AS "bytesPerSecond",
       (SELECT count(*) FROM soaker.objects o WHERE o.job_id = w.job_id AND o.claimed_by = w.id AND o.status = 'pending'
          AND o.lease_until > clock_timestamp())::integer AS claims
     FROM soaker.workers w WHERE w.job_id = $1 ORDER BY w.started_at, w.id`, [jobId])
  return rows
}
