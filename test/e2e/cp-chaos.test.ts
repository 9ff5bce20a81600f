import { join } from 'node:path'
import { GetObjectCommand } from '@aws-sdk/client-s3'
import { describe, expect, test } from 'vitest'
import { chaosRule } from '../../scripts/support/fault-proxy.js'
import { putMultipart, putObject } from '../../scripts/support/seed.js'
import { body, client, faultProxyForFile, freshBucket, md5, readState, soaker, sourceTree, tempDir, treeOf } from './helpers.js'

const MiB = 1024 * 1024
const faults = faultProxyForFile()
const cp = faults.cp

/** The JSON events of a run's stdout of one type. */
function events(stdout: string, event: string): Array<Record<string, unknown>> {
  return stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.event === event)
}

/** `count` objects of `size` bytes and more (each one byte longer) under `p/` of a fresh bucket. */
async function seedObjects(count: number, size: number): Promise<{ bucket: string; files: Record<string, Buffer> }> {
  const bucket = await freshBucket()
  const files: Record<string, Buffer> = {}
  for (let i = 0; i < count; i++) files[`o-${String(i).padStart(3, '0')}`] = body(size + i)
  await Promise.all(Object.entries(files).map(([k, v]) => putObject(client, bucket, `p/${k}`, v)))
  return { bucket, files }
}

/** What treeOf gives for a destination holding exactly `files`. */
const md5sOf = (files: Record<string, Buffer>): Record<string, string> => Object.fromEntries(Object.entries(files).map(([k, v]) => [k, md5(v)]))

/** `cp s3://bucket/p DEST --json` at the defaults, timed; the caller asserts on what arrived. */
async function timedCopy(bucket: string): Promise<{ r: Awaited<ReturnType<typeof soaker>>; seconds: number; dest: string }> {
  const dest = tempDir()
  const started = Date.now()
  const r = await soaker(cp(`s3://${bucket}/p`, dest, join(tempDir(), 's.db'), '--json'))
  return { r, seconds: (Date.now() - started) / 1000, dest }
}

async function objectMd5(bucket: string, key: string): Promise<string> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  return md5(Buffer.from(await out.Body!.transformToByteArray()))
}

describe('requests that stall', () => {
  test('cp s3://b/p dir --timeout 2: answers that stop mid-body or never come are cancelled and retried; every byte arrives', async () => {
    const bucket = await freshBucket()
    const files: Record<string, Buffer> = {}
    for (let i = 0; i < 12; i++) files[`small-${i}`] = body(40_000 + i)
    files.big = body(20 * MiB)
    for (const [k, v] of Object.entries(files)) {
      if (k === 'big') await putMultipart(client, bucket, `p/${k}`, v)
      else await putObject(client, bucket, `p/${k}`, v)
    }
    faults.proxy.setRule(({ method, path, query, nth }) => {
      if (method !== 'GET' || nth !== 1 || query.startsWith('list-type')) return undefined
      if (path === `/${bucket}/p/small-3`) return 'stall-body'
      if (path === `/${bucket}/p/small-7`) return 'stall-headers'
      return undefined
    })
    const mark = faults.proxy.requests.length
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    try {
      const started = Date.now()
      const r = await soaker(cp(`s3://${bucket}/p`, dest, state, '--timeout', '2', '--json', '--retries', '0'))
      const seconds = (Date.now() - started) / 1000
      expect(r.code, r.stderr.slice(-2000)).toBe(0)
      expect(await treeOf(dest)).toEqual(md5sOf(files))
      const stalls = events(r.stdout, 'retry').filter((e) => e.code === 'SOAKER_STALLED')
      expect(stalls.map((e) => e.key).sort()).toEqual([`p/small-3`, `p/small-7`])
      expect(seconds).toBeLessThan(30) // one timeout each, not a hang
      // each stalled object was asked for twice: the stalled attempt and its retry
      for (const key of ['small-3', 'small-7']) {
        expect(faults.proxy.requests.slice(mark).filter((q) => q.method === 'GET' && q.path === `/${bucket}/p/${key}`)).toHaveLength(2)
      }
    } finally {
      faults.proxy.setRule(undefined)
    }
  })

  test('a stalled ranged part of a big object is retried alone; the other parts are not fetched again', async () => {
    const bucket = await freshBucket()
    const big = body(24 * MiB)
    await putMultipart(client, bucket, 'p/big', big)
    let ranged = 0
    faults.proxy.setRule(({ method, path }) => {
      if (method === 'GET' && path === `/${bucket}/p/big` && ++ranged === 2) return 'stall-body'
      return undefined
    })
    const mark = faults.proxy.requests.length
    const dest = tempDir()
    try {
      const r = await soaker(cp(`s3://${bucket}/p`, dest, join(tempDir(), 's.db'), '--timeout', '2', '--json'))
      expect(r.code, r.stderr.slice(-2000)).toBe(0)
      expect(await treeOf(dest)).toEqual({ big: md5(big) })
      expect(events(r.stdout, 'retry').map((e) => e.code)).toEqual(['SOAKER_STALLED'])
      expect(faults.proxy.requests.slice(mark).filter((q) => q.method === 'GET' && q.path === `/${bucket}/p/big`)).toHaveLength(4) // 3 parts + 1 retry
    } finally {
      faults.proxy.setRule(undefined)
    }
  })

  test('at the default --timeout of 30 s, a GET that stalls after 100 prompt ones is cut short at the learnt limit, not after 30 s', async () => {
    const { bucket, files } = await seedObjects(140, 3000)
    let gets = 0
    faults.proxy.setRule(({ method, query }) => (method === 'GET' && !query.startsWith('list-type') && ++gets === 120 ? 'stall-headers' : undefined))
    try {
      const { r, seconds, dest } = await timedCopy(bucket)
      expect(r.code, r.stderr.slice(-2000)).toBe(0)
      expect(await treeOf(dest)).toEqual(md5sOf(files))
      expect(events(r.stdout, 'retry').map((e) => e.code)).toEqual(['SOAKER_STALLED'])
      expect(seconds).toBeLessThan(25) // the limit learnt from 100 GETs of milliseconds is the floor of 2 s
    } finally {
      faults.proxy.setRule(undefined)
    }
  })

  test('a listing page whose answer never comes is sent again beside it after 2 s; the run does not wait out --timeout', async () => {
    const { bucket, files } = await seedObjects(5, 100)
    faults.proxy.setRule(({ method, query, nth }) => (method === 'GET' && query.startsWith('list-type') && nth === 1 ? 'stall-headers' : undefined))
    const mark = faults.proxy.requests.length
    try {
      const { r, seconds, dest } = await timedCopy(bucket)
      expect(r.code, r.stderr.slice(-2000)).toBe(0)
      expect(await treeOf(dest)).toEqual(md5sOf(files))
      const listings = faults.proxy.requests.slice(mark).filter((q) => q.method === 'GET' && q.query.startsWith('list-type'))
      // The first page, asked for to learn whether p is a prefix, stalled; its second copy
      // answered; then the listing itself.
      expect(listings.map((q) => [q.query, q.status])).toEqual([['list-type=2&prefix=p%2F', 0], ['list-type=2&prefix=p%2F', 200], ['list-type=2&prefix=p%2F', 200]])
      expect(events(r.stdout, 'retry')).toEqual([]) // the second copy answered: no attempt failed
      expect(seconds).toBeLessThan(25)
    } finally {
      faults.proxy.setRule(undefined)
    }
  })

  test('cp dir s3://b/p --timeout 2: an upload whose answer never comes is sent again; every object is right', async () => {
    const files = { 'a.txt': body(1000), 'b.bin': body(3 * MiB), 'c.txt': body(10) }
    const src = sourceTree(files)
    const bucket = await freshBucket()
    faults.proxy.setRule(({ method, path, nth }) => method === 'PUT' && nth === 1 && (path.endsWith('/a.txt') || path.endsWith('/b.bin')) ? 'stall-headers' : undefined)
    try {
      const r = await soaker(cp(src, `s3://${bucket}/up`, join(tempDir(), 's.db'), '--timeout', '2', '--json'))
      expect(r.code, r.stderr.slice(-2000)).toBe(0)
      expect(events(r.stdout, 'retry').filter((e) => e.code === 'SOAKER_STALLED').map((e) => e.key).sort()).toEqual(['up/a.txt', 'up/b.bin'])
      for (const [name, data] of Object.entries(files)) expect(await objectMd5(bucket, `up/${name}`)).toBe(md5(data))
    } finally {
      faults.proxy.setRule(undefined)
    }
  })
})

describe('random faults', () => {
  test('cp s3://b/p dir through 10% SlowDowns and 6% resets at random: every object arrives, none fails, exit 0', async () => {
    const { bucket, files } = await seedObjects(150, 2000)
    const rule = chaosRule({ slowDown: 0.1, reset: 0.06 }, 7)
    faults.proxy.setRule((req) => (req.method === 'GET' && !req.query.startsWith('list-type') ? rule(req) : undefined))
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    try {
      const r = await soaker(cp(`s3://${bucket}/p`, dest, state, '--json'))
      expect(r.code, r.stderr.slice(-2000)).toBe(0)
      expect(await treeOf(dest)).toEqual(md5sOf(files))
      expect((await readState(state)).counts.done.objects).toBe(150)
      expect(events(r.stdout, 'retry').length).toBeGreaterThan(5) // the faults did happen
    } finally {
      faults.proxy.setRule(undefined)
    }
  })
})

describe('pushback that grows with load', () => {
  test('connections refused beyond 4 open at once lower the target; every object still arrives', async () => {
    const { bucket, files } = await seedObjects(120, 50_000)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    faults.proxy.setMaxConnections(4)
    try {
      const r = await soaker(cp(`s3://${bucket}/p`, dest, state, '--concurrency', '16', '--tune-interval', '0.2', '--retry-delay', '0.05'))
      expect(r.code, r.stderr.slice(-2000)).toBe(0)
      expect(await treeOf(dest)).toEqual(md5sOf(files))
      expect(faults.proxy.refused).toBeGreaterThan(0)
      expect(r.stderr).toMatch(/concurrency \d+ → \d+: \d+ throttled requests at \d+ in flight: backing off/)
      const targets = (await readState(state)).samples.map((s) => s.target)
      expect(Math.min(...targets)).toBeLessThan(16)
    } finally {
      faults.proxy.setMaxConnections(undefined)
    }
  })
})

