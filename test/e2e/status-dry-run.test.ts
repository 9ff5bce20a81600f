import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startFaultProxy, type FaultProxy } from '../../scripts/support/fault-proxy.js'
import { putObject } from '../../scripts/support/seed.js'
import { client, exists, freshBucket, s3, soaker, soakerEnv, tempDir, treeOf } from './helpers.js'

let proxy: FaultProxy
beforeAll(async () => { proxy = await startFaultProxy(s3.endpoint) })
afterAll(async () => { await proxy.stop() })

/** GETs of objects (not listings) the server answered since request number `from`. */
function objectGets(bucket: string, from: number): number {
  // Listings are GETs of the bucket itself (`/bucket/?list-type=2`); objects are `/bucket/key`.
  return proxy.requests.slice(from).filter((r) => r.method === 'GET' && r.path.startsWith(`/${bucket}/`) && r.path !== `/${bucket}/`).length
}

async function seed(n: number): Promise<string> {
  const bucket = await freshBucket()
  for (let i = 0; i < n; i++) await putObject(client, bucket, `p/f${i}`, `content ${i}`)
  return bucket
}

describe('soaker cp --dry-run', () => {
  test('lists what would be copied, fetches no object, creates nothing and records nothing', async () => {
    const bucket = await seed(25)
    const dest = join(tempDir(), 'not-yet')
    const state = join(tempDir(), 's.db')
    const mark = proxy.requests.length
    const r = await soaker(['cp', `s3://${bucket}/p`, dest, '--endpoint-url', proxy.url, '--state', state, '--dry-run'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('Dry run, nothing transferred: would copy 25 objects (')
    expect(r.stdout).toContain('  p/f0\n')
    expect(r.stdout).toContain('… and 5 more')
    expect(objectGets(bucket, mark)).toBe(0)
    expect(await exists(dest)).toBe(false)
    expect(await exists(state)).toBe(false)
  })

  test('after a run, a dry run says everything would be skipped', async () => {
    const bucket = await seed(3)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    expect((await soaker(['cp', `s3://${bucket}/p`, dest, '--endpoint-url', s3.endpoint, '--state', state])).code).toBe(0)
    const r = await soaker(['cp', `s3://${bucket}/p`, dest, '--endpoint-url', s3.endpoint, '--state', state, '--dry-run'])
    expect(r.stdout).toMatch(/would copy 0 objects \(0 B\), skip 3 /)
  })
})

describe('soaker status', () => {
  test('after a run with failures, lists them with reasons and exits 1; after the retry, exits 0 saying complete', async () => {
    const bucket = await seed(4)
    proxy.setRule(({ method, path }) => method === 'GET' && path === `/${bucket}/p/f2` ? { status: 500, code: 'InternalError' } : undefined)
    const env = soakerEnv()
    const dest = tempDir()
    const cp = ['cp', `s3://${bucket}/p`, dest, '--endpoint-url', proxy.url, '--retries', '0']
    try {
      expect((await soaker(cp, env)).code).toBe(1)
    } finally {
      proxy.setRule(undefined)
    }
    // No --state anywhere: status finds the job's database from the same source and destination.
    const failed = await soaker(['status', `s3://${bucket}/p`, dest], env)
    expect(failed.code).toBe(1)
    expect(failed.stdout).toMatch(/Objects: 4 in all; 3 done .* 1 failed/)
    expect(failed.stdout).toMatch(/run #1 started .*: failed after .*, 3 copied, 1 failed/)
    expect(failed.stdout).toMatch(/p\/f2: injected by the test proxy \[InternalError\]/)
    expect((await soaker(cp, env)).code).toBe(0)
    const complete = await soaker(['status', `s3://${bucket}/p`, dest], env)
    expect(complete.code).toBe(0)
    expect(complete.stdout).toContain('Complete: every object is done or skipped.')
    expect(complete.stdout).toMatch(/run #2 .*: ok after .*, 1 copied, 0 failed/)
  })

  test('with neither --state nor a job, exit 2; with a database that does not exist, exit 1 naming it', async () => {
    const none = await soaker(['status'])
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('Expected `--state PATH`, or the source and destination of the cp command')
    const missing = join(tempDir(), 'nope.db')
    const r = await soaker(['status', '--state', missing])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`No state database at \`${missing}\``)
  })
})

describe('soaker cp --retry-failed', () => {
  test('fetches only what failed, without listing the source again', async () => {
    const bucket = await seed(6)
    const broken = [`/${bucket}/p/f1`, `/${bucket}/p/f4`]
    proxy.setRule(({ method, path }) => method === 'GET' && broken.includes(path) ? { status: 500, code: 'InternalError' } : undefined)
    const env = soakerEnv()
    const dest = tempDir()
    const cp = ['cp', `s3://${bucket}/p`, dest, '--endpoint-url', proxy.url, '--retries', '0']
    try {
      expect((await soaker(cp, env)).code).toBe(1)
    } finally {
      proxy.setRule(undefined)
    }
    const mark = proxy.requests.length
    const r = await soaker([...cp, '--retry-failed'], env)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/2 copied .* 0 failed, 2 listed/)
    const gets = proxy.requests.slice(mark).filter((q) => q.method === 'GET' && q.path !== `/${bucket}/`).map((q) => q.path).sort()
    expect(gets).toEqual(broken)
    // The full listing of p/ was not read again (only the one-key probe that tells a prefix from an object).
    expect(proxy.requests.slice(mark).filter((q) => q.method === 'GET' && q.path === `/${bucket}/`).length).toBeLessThanOrEqual(1)
    expect((await soaker(['status', `s3://${bucket}/p`, dest], env)).code).toBe(0)
  })

  test('with no state database there is nothing to retry: exit 1 saying so', async () => {
    const bucket = await seed(1)
    const r = await soaker(['cp', `s3://${bucket}/p`, tempDir(), '--endpoint-url', s3.endpoint, '--retry-failed', '--state', join(tempDir(), 'none.db')])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('Nothing to retry: no state database at')
  })
})

describe('soaker plan', () => {
  test('keeps the plan in the state database and transfers nothing; the next cp fetches the planned objects without listing again', async () => {
    const bucket = await seed(5)
    const env = soakerEnv()
    const dest = tempDir()
    const args = [`s3://${bucket}/p`, dest, '--endpoint-url', proxy.url]
    const mark = proxy.requests.length
    const planned = await soaker(['plan', ...args], env)
    expect(planned.code).toBe(0)
    expect(planned.stdout).toContain('Planned, nothing transferred: would copy 5 objects')
    expect(planned.stdout).toContain('soaker cp with the same arguments starts transferring at once')
    expect(objectGets(bucket, mark)).toBe(0)
    const status = await soaker(['status', `s3://${bucket}/p`, dest], env)
    expect(status.stdout).toMatch(/5 pending/)
    expect(status.stdout).toMatch(/run #1 .*: planned/)
    const beforeCp = proxy.requests.length
    const cp = await soaker(['cp', ...args], env)
    expect(cp.code).toBe(0)
    expect(cp.stderr).toContain('using the plan made at')
    expect(objectGets(bucket, beforeCp)).toBe(5)
    // Only the one-key probe that tells a prefix from an object lists the bucket; the plan replaces the listing.
    expect(proxy.requests.slice(beforeCp).filter((q) => q.method === 'GET' && q.path === `/${bucket}/`).length).toBe(1)
    expect(Object.keys(await treeOf(dest))).toHaveLength(5)
  })
})
