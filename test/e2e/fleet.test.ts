import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import { startWanProxy, type WanProxy } from '../../bench/wan/wan-proxy.js'
import { startFaultProxy, type FaultProxy } from '../../scripts/support/fault-proxy.js'
import { listingBody, listingKey, startListingServer } from '../../scripts/support/listing-server.js'
import { putMultipart, putObject } from '../../scripts/support/seed.js'
import { body, client, freshBucket, md5, objectBytes, s3, soaker, soakerEnv, sourceTree, startSoaker, tempDir, treeOf, waitFor, type RunResult } from './helpers.js'

const MiB = 1024 * 1024
const { url } = inject('postgres')
const db = new pg.Pool({ connectionString: url, max: 2 })
afterAll(async () => { await db.end() })

/** One row per query result, keys decoded (the store keeps them as bytes). */
async function rows<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  return (await db.query<T>(sql, params)).rows
}

/** The id of the shared job of `source` → `dest` once a worker has made it. */
async function jobId(source: string, dest: string): Promise<number | undefined> {
  const found = await rows<{ id: number }>('SELECT id FROM soaker.jobs WHERE name = $1', [`${source}\n${dest}`]).catch(() => [])
  return found[0]?.id
}

/** The fleet's workers by process id, as they registered. */
async function workerOf(job: number, pid: number): Promise<string | undefined> {
  return (await rows<{ id: string }>('SELECT id FROM soaker.workers WHERE job_id = $1 AND pid = $2', [job, pid]))[0]?.id
}

/** Keys `worker` holds a claim on, with their sizes and how many parts of each are recorded. */
async function claimsOf(job: number, worker: string): Promise<Array<{ key: string; size: number; parts: number }>> {
  return await rows(
    `SELECT convert_from(o.key, 'UTF8') AS key, o.size::float8 AS size,
       (SELECT count(*)::integer FROM soaker.parts p WHERE p.job_id = o.job_id AND p.key = o.key) AS parts
     FROM soaker.objects o WHERE o.job_id = $1 AND o.claimed_by = $2 AND o.status = 'pending'`, [job, worker])
}

type Worker = { pid: number; done: Promise<RunResult> }

/** Puts `objects` into `bucket`, 16 at a time; those over 1 MiB in parts of 6 MiB. */
async function putAll(bucket: string, objects: Map<string, Buffer>): Promise<void> {
  const entries = [...objects]
  for (let i = 0; i < entries.length; i += 16) {
    await Promise.all(entries.slice(i, i + 16).map(([key, data]) =>
      data.length > MiB ? putMultipart(client, bucket, key, data, 6 * MiB) : putObject(client, bucket, key, data)))
  }
}

/**
 * Kills by kill -9 whichever of `workers` first holds a big object with a part recorded, and
 * gives what it held at its death.
 */
async function killOneHoldingBig(workers: Worker[], source: string, dest: string, timeoutMs: number): Promise<{
  job: number; killed: Worker; held: Array<{ key: string; size: number; parts: number }>
}> {
  let job: number | undefined
  let found: { killed: Worker; victim: string } | undefined
  await waitFor(async () => {
    job ??= await jobId(source, dest)
    if (job === undefined) return false
    for (const w of workers) {
      const id = await workerOf(job, w.pid)
      if (id !== undefined && (await claimsOf(job, id)).some((c) => c.size > MiB && c.parts > 0)) found = { killed: w, victim: id }
      if (found) return true
    }
    return false
  }, timeoutMs, 'a worker holding a big object with a part recorded')
  process.kill(found!.killed.pid, 'SIGKILL')
  expect((await found!.killed.done).signal).toBe('SIGKILL')
  return { job: job!, killed: found!.killed, held: await claimsOf(job!, found!.victim) }
}

/**
 * After a kill: one more worker joins, and every worker still alive (the new one too) ends well.
 */
async function joinAndFinish(first: Worker[], killed: Worker, args: string[]): Promise<{ late: Worker; results: RunResult[] }> {
  const late = worker(args, 'd')
  const results = await Promise.all([...first.filter((w) => w !== killed).map((w) => w.done), late.done])
  for (const r of results) expect(r.code, r.stdout + r.stderr).toBe(0)
  return { late, results }
}

/** Each upload in parts that a killed worker held was resumed on the store by one of the others. */
function expectResumed(results: RunResult[], held: Array<{ key: string }>): void {
  const logs = results.map((r) => r.stderr).join('\n')
  for (const c of held) expect(logs).toMatch(new RegExp(`resuming the upload of ${c.key}: the store holds [1-9]\\d* of \\d+ parts`))
}

function worker(args: string[], name: string): Worker {
  // Each worker is a machine of its own: its own home and state directory.
  const started = startSoaker(args, soakerEnv())
  return { pid: started.child.pid!, done: started.done.then((r) => ({ ...r, stdout: `[${name}] ${r.stdout}` })) }
}

describe('a job shared by workers through PostgreSQL', () => {
  /**
   * A link of 12 MB/s in front of the test server, both ways, and a counting proxy in front of
   * that. Uploads are paced too: unpaced, a worker sent all the parts of a 24 MiB file, and
   * sometimes its CompleteMultipartUpload, before the kill that was to find them half sent.
   */
  let link: WanProxy
  let proxy: FaultProxy
  beforeAll(async () => {
    link = await startWanProxy({ target: s3.endpoint, linkBytesPerSec: 12e6, paceRequests: true })
    proxy = await startFaultProxy(link.url)
  })
  afterAll(async () => {
    await proxy.stop()
    await link.stop()
  })

  test('4 workers, one killed by kill -9 in the middle of a big object and one added after: every object arrives once, but those the killed one held', async () => {
    const bucket = await freshBucket()
    const objects = new Map<string, Buffer>()
    for (let i = 0; i < 6; i++) objects.set(`data/big-${i}.bin`, body(12 * MiB))
    // Enough small ones after the big ones (in key order) that some are unclaimed when the last
    // worker joins: 60 MB, seconds at the link's 12 MB/s, so that claims (a quarter second of a
    // worker's pace each) stay small. At 20 KB each, the two live workers had claimed every one
    // before a late worker slowed by a loaded machine asked.
    for (let i = 0; i < 300; i++) objects.set(`data/small-${String(i).padStart(3, '0')}.txt`, body(200_000 + i))
    await putAll(bucket, objects)
    const dest = tempDir()
    const source = `s3://${bucket}/data`
    const args = ['cp', source, dest, '--endpoint-url', proxy.url, '--state', url, '--lease', '5', '--concurrency', '2', '--max-concurrency', '2']
    const first = [worker(args, 'a'), worker(args, 'b'), worker(args, 'c')]

    // Whichever worker first holds a big object whose parts have started to arrive is killed.
    const { job, killed, held } = await killOneHoldingBig(first, source, dest, 60_000)
    expect(held.some((c) => c.size > MiB)).toBe(true)

    // A worker that joins halfway takes work too.
    const { late, results } = await joinAndFinish(first, killed, args)

    // Every object is at the destination, byte for byte.
    const tree = await treeOf(dest)
    expect(Object.keys(tree).sort()).toEqual([...objects.keys()].map((k) => k.slice('data/'.length)).sort())
    for (const [key, data] of objects) expect(md5(await readFile(join(dest, key.slice('data/'.length))))).toBe(md5(data))

    // Only the objects the killed worker held went twice; every other one was read exactly once.
    const fetched = new Map<string, number>()
    for (const r of proxy.requests) {
      if (r.method !== 'GET' || !r.path.startsWith(`/${bucket}/data/`)) continue
      const key = r.path.slice(bucket.length + 2)
      fetched.set(key, (fetched.get(key) ?? 0) + r.bytes)
    }
    const heldKeys = new Set(held.map((c) => c.key))
    for (const [key, data] of objects) {
      if (heldKeys.has(key)) expect(fetched.get(key)).toBeGreaterThanOrEqual(data.length)
      else expect(fetched.get(key), key).toBe(data.length)
    }
    const heldBytes = held.reduce((n, c) => n + c.size, 0)
    expect(held.reduce((n, c) => n + fetched.get(c.key)!, 0)).toBeGreaterThan(heldBytes)

    // The killed worker's claims went to others after its lease: it never stopped, and holds nothing.
    const workers = await rows<{ pid: number; stopped: boolean; objects: number }>(
      'SELECT pid, stopped_at IS NOT NULL AS stopped, objects::integer AS objects FROM soaker.workers WHERE job_id = $1', [job])
    expect(workers).toHaveLength(4)
    expect(workers.find((w) => w.pid === killed.pid)!.stopped).toBe(false)
    expect(workers.filter((w) => w.stopped)).toHaveLength(3)
    expect(await rows('SELECT key FROM soaker.objects WHERE job_id = $1 AND status <> $2', [job, 'done'])).toEqual([])
    expect(workers.find((w) => w.pid === late.pid)!.objects).toBeGreaterThan(0)

    // soaker status shows the fleet: four workers, one gone, and the job complete.
    const status = await soaker(['status', source, dest, '--state', url])
    expect(status.code, status.stderr).toBe(0)
    expect(status.stdout).toMatch(/^Workers: 4 in all, 0 running/m)
    expect(status.stdout).toMatch(/gone: not heard from since/)
    expect(status.stdout.match(/: stopped \d{4}-/g)).toHaveLength(3)
    expect(status.stdout).toMatch(/Complete: every object is done or skipped\./)
    expect(status.stdout).not.toContain('soaker-test-password')
  }, 240_000)

  test('a copy between buckets: a worker killed with an upload in parts half sent, and another resumes that upload on the store', async () => {
    const from = await freshBucket()
    const to = await freshBucket()
    const objects = new Map<string, Buffer>()
    for (let i = 0; i < 3; i++) objects.set(`data/big-${i}.bin`, body(24 * MiB))
    for (let i = 0; i < 60; i++) objects.set(`data/small-${String(i).padStart(3, '0')}.txt`, body(10_000 + i))
    await putAll(from, objects)
    const source = `s3://${from}/data`
    // Through this machine (no server-side copy), so that the link paces the parts.
    const args = ['cp', source, `s3://${to}/data`, '--endpoint-url', proxy.url, '--state', url, '--lease', '5',
      '--server-side-copy', 'false', '--concurrency', '2', '--max-concurrency', '2']
    const first = [worker(args, 'a'), worker(args, 'b'), worker(args, 'c')]
    const { killed, held: all } = await killOneHoldingBig(first, source, `s3://${to}/data`, 90_000)
    const held = all.filter((c) => c.size > MiB && c.parts > 0)
    expect(held.length).toBeGreaterThan(0)
    const { results } = await joinAndFinish(first, killed, args)
    // Every object is in the destination bucket, byte for byte.
    for (const [key, data] of objects) expect(md5(await objectBytes(to, key)), key).toBe(md5(data))
    // The uploads the killed worker had begun were resumed on the store by another worker, not begun again.
    expectResumed(results, held)
  }, 240_000)

  test('an upload from a local tree, walked in order by the worker that lists: one killed with an upload in parts half sent, another resumes it, and every other file is sent once', async () => {
    const to = await freshBucket()
    const files = new Map<string, Buffer>()
    for (let i = 0; i < 3; i++) files.set(`big-${i}.bin`, body(24 * MiB))
    for (let i = 0; i < 60; i++) files.set(`small/${String(i).padStart(3, '0')}.txt`, body(10_000 + i))
    const src = sourceTree(Object.fromEntries(files))
    const dest = `s3://${to}/up`
    // Every worker sees the tree at the same path, as pods sharing a volume do.
    const args = ['cp', src, dest, '--endpoint-url', proxy.url, '--state', url, '--lease', '5', '--part-size', '5MiB',
      '--concurrency', '2', '--max-concurrency', '2']
    const first = [worker(args, 'a'), worker(args, 'b'), worker(args, 'c')]
    const { killed, held: all } = await killOneHoldingBig(first, src, dest, 90_000)
    const held = all.filter((c) => c.size > MiB && c.parts > 0)
    expect(held.length).toBeGreaterThan(0)
    const { results } = await joinAndFinish(first, killed, args)
    for (const [rel, data] of files) expect(md5(await objectBytes(to, `up/${rel}`)), rel).toBe(md5(data))
    expectResumed(results, held)
    // A small file goes in one PUT: each went exactly once, whoever sent it.
    const puts = new Map<string, number>()
    for (const r of proxy.requests) {
      if (r.method === 'PUT' && r.path.startsWith(`/${to}/up/small/`)) puts.set(r.path, (puts.get(r.path) ?? 0) + 1)
    }
    expect(puts.size).toBe(60)
    expect([...puts.values()].every((n) => n === 1)).toBe(true)
  }, 240_000)

  test('the worker that lists is killed while listing: another takes the listing over where it stopped, and no key is missed or listed twice', async () => {
    const keys = 4000
    const server = await startListingServer({ keys, bucket: 'fleet-listing', pageDelayMs: 150 })
    try {
      const dest = tempDir()
      const source = 's3://fleet-listing/data'
      const args = ['cp', source, dest, '--endpoint-url', server.url, '--state', url, '--lease', '5']
      const env = { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x' }
      const lister = startSoaker(args, soakerEnv(env))
      let job: number | undefined
      await waitFor(async () => {
        job ??= await jobId(source, dest)
        if (job === undefined) return false
        const [cursor] = await rows<{ token: string | null }>('SELECT listing_cursor AS token FROM soaker.jobs WHERE id = $1', [job])
        const mark = cursor?.token ? (JSON.parse(cursor.token) as Record<string, string>)[''] : undefined
        return mark !== undefined && mark > listingKey(1500)
      }, 60_000, 'the listing recorded past its second page')
      lister.child.kill('SIGKILL')
      expect((await lister.done).signal).toBe('SIGKILL')
      // What the killed lister read, and what of it its last commit recorded done (the rest of a
      // crash's last fraction of a second is fetched again: README, "What a crash loses").
      const readByLister = new Map(server.gets)
      const recordedDone = new Set((await rows<{ key: string }>(
        `SELECT convert_from(key, 'UTF8') AS key FROM soaker.objects WHERE job_id = $1 AND status = 'done'`, [job])).map((r) => Number(/(\d+)$/.exec(r.key)![1])))
      const { token } = (await rows<{ token: string }>('SELECT listing_cursor AS token FROM soaker.jobs WHERE id = $1', [job]))[0]!
      const mark = (JSON.parse(token) as Record<string, string>)['']!
      expect(mark < listingKey(keys - 1)).toBe(true)
      const pagesBefore = server.counts.list

      const [a, b] = await Promise.all([soaker(args, soakerEnv(env)), soaker(args, soakerEnv(env))])
      expect(a.code, a.stderr).toBe(0)
      expect(b.code, b.stderr).toBe(0)
      // The listing went on from the mark (S3's StartAfter): the pages after it, not the whole
      // listing again, and one small listing per worker that tells a prefix from an object.
      const index = Number(mark.slice('data/'.length))
      expect(server.counts.list - pagesBefore).toBe(Math.ceil((keys - index - 1) / 1000) + 2)
      const { n } = (await rows<{ n: number }>('SELECT count(*)::integer AS n FROM soaker.objects WHERE job_id = $1', [job]))[0]!
      expect(n).toBe(keys)
      for (let i = 0; i < keys; i++) {
        expect((await readFile(join(dest, listingKey(i).slice('data/'.length)))).equals(listingBody(i))).toBe(true)
        // Read once, but those the killed lister read and had not recorded done.
        expect(server.gets.get(i) ?? 0).toBeGreaterThanOrEqual(1)
        if ((server.gets.get(i) ?? 0) > 1) {
          expect(readByLister.get(i) ?? 0, `${listingKey(i)} read again, never read by the killed lister`).toBeGreaterThanOrEqual(1)
          expect(recordedDone.has(i), `${listingKey(i)} read again, though recorded done`).toBe(false)
        }
      }
      // Its requests in flight (at most --max-concurrency, 64) and what it finished in its last
      // commit's 100 ms: far fewer than the keys it read.
      const twice = [...server.gets.values()].filter((g) => g > 1).length
      expect(twice).toBeLessThan(readByLister.size)
    } finally {
      await server.stop()
    }
  }, 240_000)

  test('a dry run of a shared job no worker has begun plans as its first run would, and leaves no job in the database; after a run, it says all would be skipped', async () => {
    const bucket = await freshBucket()
    for (let i = 0; i < 3; i++) await putObject(client, bucket, `data/f${i}.txt`, `body ${i}`)
    const source = `s3://${bucket}/data`
    const dest = tempDir()
    const dry = ['cp', source, dest, '--state', url, '--endpoint-url', s3.endpoint, '--dry-run']
    const first = await soaker(dry)
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toContain('Dry run, nothing transferred: would copy 3 objects (')
    expect(first.stderr).toMatch(/holds no job of this source and destination yet: the dry run plans as its first run would/)
    expect(await jobId(source, dest)).toBeUndefined()
    expect(await treeOf(dest)).toEqual({})
    const run = await soaker(['cp', source, dest, '--state', url, '--endpoint-url', s3.endpoint])
    expect(run.code, run.stderr).toBe(0)
    const again = await soaker(dry)
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toMatch(/would copy 0 objects \(0 B\), skip 3 /)
  })

  test('clear errors: a wrong password without echoing it, --shard beside a shared job', async () => {
    const bucket = await freshBucket()
    await putObject(client, bucket, 'data/a.txt', 'a')
    const wrong = url.replace('soaker-test-password', 'not-the-password')
    const denied = await soaker(['cp', `s3://${bucket}/data`, tempDir(), '--state', wrong, '--endpoint-url', s3.endpoint])
    expect(denied.code).not.toBe(0)
    expect(denied.stderr).toMatch(/postgres:\/\/soaker@127\.0\.0\.1:\d+\/postgres/)
    expect(denied.stderr).not.toContain('not-the-password')
    const both = await soaker(['cp', `s3://${bucket}/data`, tempDir(), '--state', url, '--shard', '0/2', '--endpoint-url', s3.endpoint])
    expect(both.code).toBe(2)
    expect(both.stderr).toMatch(/Expected either --shard or a shared job/)
    expect(both.stderr).not.toContain('soaker-test-password')
  })
})
