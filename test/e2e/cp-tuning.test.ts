import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startFaultProxy, type FaultProxy } from '../../scripts/support/fault-proxy.js'
import { putObject } from '../../scripts/support/seed.js'
import { body, client, freshBucket, md5, readState, s3, soaker, tempDir, treeOf } from './helpers.js'

let proxy: FaultProxy
beforeAll(async () => { proxy = await startFaultProxy(s3.endpoint) })
afterAll(async () => { await proxy.stop() })

describe('self-tuning concurrency', () => {
  test('503 SlowDown makes soaker back off, log why, and keep the samples; every object still arrives', async () => {
    const bucket = await freshBucket()
    const data = body(4000)
    const keys = Array.from({ length: 200 }, (_, i) => `t/${String(i).padStart(3, '0')}`)
    for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => putObject(client, bucket, k, data)))
    // Every object's first GET is throttled, and the server is slowed so the run spans intervals.
    proxy.setRule(({ method, nth }) => method === 'GET' && nth === 1 ? { status: 503, code: 'SlowDown' } : undefined)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    try {
      const r = await soaker(['cp', `s3://${bucket}/t`, dest, '--endpoint-url', proxy.url, '--state', state,
        '--tune-interval', '0.1', '--retry-delay', '0.2', '--concurrency', '16'])
      expect(r.code).toBe(0)
      // The first interval is 0.1 s: on a loaded machine its answers may all come after it, so
      // the first back-off is from 16 or from the 32 tried first, whichever was throttled.
      expect(r.stderr).toMatch(/concurrency (16 → 11|32 → 22): \d+ throttled requests at (16|32) in flight: backing off \(measured .* MB\/s, peak (16|32) in flight\)/)
      expect(Object.keys(await treeOf(dest))).toHaveLength(200)
      expect((await treeOf(dest))['000']).toBe(md5(data))
      const { samples } = await readState(state)
      expect(samples.length).toBeGreaterThan(0)
      expect(samples.some((s) => s.throttles > 0)).toBe(true)
      expect(samples.some((s) => s.target < 16)).toBe(true)
    } finally {
      proxy.setRule(undefined)
    }
  })
})
