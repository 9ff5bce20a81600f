import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startFaultProxy, type FaultProxy } from '../../scripts/support/fault-proxy.js'
import { putMultipart, putObject } from '../../scripts/support/seed.js'
import { body, client, freshBucket, md5, readState, s3, soaker, tempDir, treeOf } from './helpers.js'

let proxy: FaultProxy
beforeAll(async () => { proxy = await startFaultProxy(s3.endpoint) })
afterAll(async () => { await proxy.stop() })

function gets(bucket: string, key: string, from: number): number {
  return proxy.requests.slice(from).filter((r) => r.method === 'GET' && r.path === `/${bucket}/${key}`).length
}

describe('failures', () => {
  test('503 SlowDown with Retry-After and a reset connection are retried; a failing object is recorded while the others finish; exit 1', async () => {
    const bucket = await freshBucket()
    const files = { slow: body(3000), reset: body(3000), broken: body(3000), denied: body(3000), fine: body(3000) }
    for (const [k, v] of Object.entries(files)) await putObject(client, bucket, `f/${k}`, v)
    const mark = proxy.requests.length
    proxy.setRule(({ method, path, nth }) => {
      if (method !== 'GET') return undefined
      if (path === `/${bucket}/f/slow` && nth <= 2) return { status: 503, code: 'SlowDown', headers: { 'retry-after': '1' } }
      if (path === `/${bucket}/f/reset` && nth === 1) return 'reset'
      if (path === `/${bucket}/f/broken`) return { status: 500, code: 'InternalError' }
      if (path === `/${bucket}/f/denied`) return { status: 403, code: 'AccessDenied' }
      return undefined
    })
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    try {
      const r = await soaker(['cp', `s3://${bucket}/f`, dest, '--endpoint-url', proxy.url, '--state', state, '--retries', '2'])
      expect(r.code).toBe(1)
      expect(await treeOf(dest)).toEqual({ slow: md5(files.slow), reset: md5(files.reset), fine: md5(files.fine) })
      expect(gets(bucket, 'f/slow', mark)).toBe(3) // two SlowDowns, then the object
      expect(gets(bucket, 'f/broken', mark)).toBe(3) // the first try and two retries
      expect(gets(bucket, 'f/denied', mark)).toBe(1) // never retried: no retry fixes it
      const failed = (await readState(state)).objects.filter((o) => o.status === 'failed')
      expect(failed.map(({ key, errorCode, reason }) => ({ key, errorCode, reason }))).toEqual([
        { key: 'f/broken', errorCode: 'InternalError', reason: expect.stringMatching(/injected/) as unknown },
        { key: 'f/denied', errorCode: 'SOAKER_ACCESS_DENIED', reason: expect.stringMatching(/Access denied to s3:\/\/.*f\/denied/) as unknown },
      ])
      expect(r.stdout).toMatch(/Finished with failures .* 3 copied .* 2 failed/)
      expect(r.stdout).toMatch(/retries \(3 throttled\)/) // two SlowDowns and the reset: both are pushback
      expect(r.stdout).toContain('f/broken:')
    } finally {
      proxy.setRule(undefined)
    }
  })

  test('the next run retries what failed and exits 0 once everything arrived', async () => {
    const bucket = await freshBucket()
    await putObject(client, bucket, 'g/a', 'a')
    await putObject(client, bucket, 'g/b', 'b')
    proxy.setRule(({ method, path }) => method === 'GET' && path === `/${bucket}/g/b` ? { status: 500, code: 'InternalError' } : undefined)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const args = ['cp', `s3://${bucket}/g`, dest, '--endpoint-url', proxy.url, '--state', state, '--retries', '0']
    try {
      expect((await soaker(args)).code).toBe(1)
    } finally {
      proxy.setRule(undefined)
    }
    const mark = proxy.requests.length
    const r = await soaker(args)
    expect(r.code).toBe(0)
    expect(gets(bucket, 'g/a', mark)).toBe(0)
    expect(gets(bucket, 'g/b', mark)).toBe(1)
    expect(await treeOf(dest)).toEqual({ a: md5('a'), b: md5('b') })
  })
})

describe('verification', () => {
  test('a corrupted small object is caught by its MD5 ETag and fetched again', async () => {
    const bucket = await freshBucket()
    const data = body(50_000)
    await putObject(client, bucket, 'v/small.bin', data)
    proxy.setRule(({ method, path, nth }) => method === 'GET' && path === `/${bucket}/v/small.bin` && nth === 1 ? 'corrupt' : undefined)
    const mark = proxy.requests.length
    try {
      const dest = tempDir()
      const r = await soaker(['cp', `s3://${bucket}/v`, dest, '--endpoint-url', proxy.url, '--state', join(tempDir(), 's.db'), '--log-level', 'debug'])
      expect(r.code).toBe(0)
      expect(r.stderr).toMatch(/SOAKER_CHECKSUM_MISMATCH/)
      expect(gets(bucket, 'v/small.bin', mark)).toBe(2)
      expect(await treeOf(dest)).toEqual({ 'small.bin': md5(data) })
    } finally {
      proxy.setRule(undefined)
    }
  })

  test.runIf(s3.kind === 'ceph')('a corrupted part of a multipart object fails the multipart ETag check; nothing reaches the final path; the next run refetches it whole', async () => {
    const bucket = await freshBucket()
    const data = body(20 * 1024 * 1024)
    await putMultipart(client, bucket, 'v/big.bin', data, 5 * 1024 * 1024)
    proxy.setRule(({ method, path, nth }) => method === 'GET' && path === `/${bucket}/v/big.bin` && nth === 2 ? 'corrupt' : undefined)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const args = ['cp', `s3://${bucket}/v`, dest, '--endpoint-url', proxy.url, '--state', state]
    try {
      const r = await soaker(args)
      expect(r.code).toBe(1)
      const { objects } = await readState(state)
      expect(objects.map(({ status, errorCode }) => ({ status, errorCode }))).toEqual([
        { status: 'failed', errorCode: 'SOAKER_CHECKSUM_MISMATCH' },
      ])
      expect(await treeOf(dest)).not.toHaveProperty('big.bin')
    } finally {
      proxy.setRule(undefined)
    }
    const again = await soaker(args)
    expect(again.code).toBe(0)
    expect(md5(await readFile(join(dest, 'big.bin')))).toBe(md5(data))
  })
})
