// `soaker cp gs://bucket/prefix ./dir` end to end: the real CLI, with STORAGE_EMULATOR_HOST, against
// soaker's own GCS JSON API test server (scripts/support/gcs-server.ts, in this process, objects in
// memory; firebase-tools' emulator was measured and not taken: 625 packages, 242 MB, and a
// dependency that downloads a binary at install time). A counting fault proxy sits in front of it
// for the corruption test. Objects are written through the real @google-cloud/storage client.
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Storage, type Bucket } from '@google-cloud/storage'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startFaultProxy, type FaultProxy } from '../../scripts/support/fault-proxy.js'
import { startGcsEmulator, type TestGcs } from '../../scripts/support/gcs-emulator.js'
import { body, md5, readState, soaker, soakerEnv, startSoaker, tempDir, treeOf, waitFor } from './helpers.js'

const MiB = 1024 * 1024

let gcs: TestGcs
let proxy: FaultProxy
let storage: Storage
beforeAll(async () => {
  gcs = await startGcsEmulator()
  proxy = await startFaultProxy(gcs.host)
  storage = new Storage({ apiEndpoint: gcs.host, projectId: 'test', retryOptions: { autoRetry: false } })
})
afterAll(async () => {
  await proxy?.stop()
  await gcs?.stop()
})

let count = 0
function freshBucket(): Bucket {
  const name = `e2e-${process.pid}-${count++}`
  gcs.createBucket(name)
  return storage.bucket(name)
}

async function put(bucket: Bucket, key: string, data: Buffer): Promise<void> {
  await bucket.file(key).save(data, { resumable: false })
}

const gsEnv = (host = gcs.host): NodeJS.ProcessEnv => soakerEnv({ STORAGE_EMULATOR_HOST: host, GOOGLE_APPLICATION_CREDENTIALS: undefined })

/** Media GETs the server answered for `key` in `bucket`, with their Range headers. */
const mediaGets = (bucket: Bucket, key: string, from: number): Array<string | undefined> =>
  gcs.requests.slice(from).filter((r) => r.method === 'GET' && r.path === `/b/${bucket.name}/o/${key}` && r.query.get('alt') === 'media').map((r) => r.range)

describe('soaker cp gs://bucket/prefix dir', () => {
  test('downloads every object under the prefix byte for byte, big ones in ranged parts, and a second run fetches nothing', async () => {
    const bucket = freshBucket()
    const files: Record<string, Buffer> = { 'a.txt': body(10), 'deep/b.bin': body(70_000), 'big.bin': body(20 * MiB + 3), 'empty': Buffer.alloc(0) }
    for (const [k, v] of Object.entries(files)) await put(bucket, `data/${k}`, v)
    // A composite object has no MD5: it is verified by its crc32c instead.
    await put(bucket, 'parts/1', body(1000))
    await put(bucket, 'parts/2', body(2000))
    await bucket.combine(['parts/1', 'parts/2'], 'data/composite.bin')
    files['composite.bin'] = Buffer.concat([(await bucket.file('parts/1').download())[0], (await bucket.file('parts/2').download())[0]])
    await put(bucket, 'other/not-me', Buffer.from('no'))
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const from = gcs.requests.length
    const r = await soaker(['cp', `gs://${bucket.name}/data`, dest, '--state', state], gsEnv())
    expect(r.stderr).not.toMatch(/WARN|ERROR/)
    expect(r.code).toBe(0)
    expect(await treeOf(dest)).toEqual(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, md5(v)])))
    // 20 MiB in 8 MiB ranges: three recorded parts, three ranged GETs and no whole one.
    expect((await readState(state)).parts.get('data/big.bin')?.size).toBe(3)
    expect(mediaGets(bucket, 'data/big.bin', from).sort()).toEqual([`bytes=0-${8 * MiB - 1}`, `bytes=${16 * MiB}-${20 * MiB + 2}`, `bytes=${8 * MiB}-${16 * MiB - 1}`])
    expect((await readState(state)).objects.map(({ key, status }) => ({ key, status }))).toEqual(
      Object.keys(files).sort().map((k) => ({ key: `data/${k}`, status: 'done' })))

    const before = gcs.requests.length
    const again = await soaker(['cp', `gs://${bucket.name}/data`, dest, '--state', state], gsEnv())
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/0 copied.*5 skipped/)
    expect(gcs.requests.slice(before).filter((q) => q.query.get('alt') === 'media')).toEqual([])
  })

  test('after kill -9 in the middle of a big object, the same command fetches only the parts it lacks', async () => {
    const bucket = freshBucket()
    const data = body(40 * MiB)
    await put(bucket, 'huge.bin', data)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const args = ['cp', `gs://${bucket.name}/huge.bin`, dest, '--state', state, '--part-size', '4MiB', '--concurrency', '1', '--max-concurrency', '1']
    const first = startSoaker([...args, '--max-speed', '8'], gsEnv())
    await waitFor(async () => (await readState(state)).partCount >= 2, 60_000, 'two recorded parts')
    first.child.kill('SIGKILL')
    await first.done
    const before = (await readState(state)).partCount
    const from = gcs.requests.length
    const second = await soaker([...args, '--json'], gsEnv())
    expect(second.code).toBe(0)
    expect(second.stdout).toMatch(new RegExp(`resuming huge\\.bin: ${before} of 10 parts already here`))
    const summary = JSON.parse(second.stdout.trim().split('\n').at(-1)!) as { event: string; bytes_transferred: number; bytes_resumed: number }
    expect(summary.event).toBe('summary')
    expect(summary.bytes_resumed).toBe(before * 4 * MiB)
    expect(summary.bytes_transferred).toBe(data.length - before * 4 * MiB)
    expect(mediaGets(bucket, 'huge.bin', from)).toHaveLength(10 - before)
    expect(await treeOf(dest)).toEqual({ 'huge.bin': md5(data) })
  })

  test('an object overwritten between a kill and the next run is fetched again whole, as it is now', async () => {
    const bucket = freshBucket()
    await put(bucket, 'v.bin', body(24 * MiB))
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const args = ['cp', `gs://${bucket.name}/v.bin`, dest, '--state', state, '--part-size', '4MiB', '--concurrency', '1', '--max-concurrency', '1']
    const first = startSoaker([...args, '--max-speed', '8'], gsEnv())
    await waitFor(async () => (await readState(state)).partCount >= 1, 60_000, 'a recorded part')
    first.child.kill('SIGKILL')
    await first.done
    const now = body(24 * MiB)
    await put(bucket, 'v.bin', now)
    const second = await soaker([...args, '--json'], gsEnv())
    expect(second.code).toBe(0)
    const summary = JSON.parse(second.stdout.trim().split('\n').at(-1)!) as { bytes_resumed: number; bytes_transferred: number }
    expect(summary.bytes_resumed).toBe(0)
    expect(summary.bytes_transferred).toBe(now.length)
    expect(await treeOf(dest)).toEqual({ 'v.bin': md5(now) })
  })

  test('bytes corrupted on the way fail the MD5: a small object is fetched again at once, a big one on the next run', async () => {
    const bucket = freshBucket()
    const files = { 'small.bin': body(100_000), 'big.bin': body(20 * MiB) }
    for (const [k, v] of Object.entries(files)) await put(bucket, k, v)
    // The first media GET of each (a big object's stat is a GET of the same path, so count here).
    const seen = new Set<string>()
    proxy.setRule(({ method, path, query }) => {
      if (method !== 'GET' || !query.includes('alt=media') || seen.has(path)) return undefined
      seen.add(path)
      return 'corrupt'
    })
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    try {
      const first = await soaker(['cp', `gs://${bucket.name}`, dest, '--state', state], gsEnv(proxy.url))
      expect(first.code).toBe(1)
      expect(first.stdout).toMatch(/1 copied .*1 failed/)
      expect(first.stdout).toMatch(new RegExp(`big\\.bin: MD5 [0-9a-f]{32} does not match the store's ETag ${md5(files['big.bin'])}`))
    } finally {
      proxy.setRule(undefined)
    }
    // Never a bad file at its final path; the parts stay in the partial file for the next run.
    expect(Object.keys(await treeOf(dest)).sort()).toEqual([expect.stringMatching(/^\.soaker\/partial\/[0-9a-f]{32}-big\.bin$/), 'small.bin'])
    const second = await soaker(['cp', `gs://${bucket.name}`, dest, '--state', state], gsEnv(proxy.url))
    expect(second.code).toBe(0)
    expect(await treeOf(dest)).toEqual({ 'small.bin': md5(files['small.bin']), 'big.bin': md5(files['big.bin']) })
  })

  test('a composite object (no MD5) is verified by its crc32c, combined from the CRCs of its ranges; a range corrupted on the way fails it', async () => {
    const bucket = freshBucket()
    const pieces = [body(5 * MiB), body(5 * MiB), body(MiB + 17)]
    for (const [i, piece] of pieces.entries()) await put(bucket, `pieces/${i}`, piece)
    await bucket.combine(pieces.map((_, i) => `pieces/${i}`), 'c/big.bin')
    await put(bucket, 'pieces/s1', body(3000))
    await bucket.combine(['pieces/s1', 'pieces/0'], 'c/mid.bin')
    const big = Buffer.concat(pieces)
    const mid = Buffer.concat([(await bucket.file('pieces/s1').download())[0], pieces[0]!])
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const args = ['cp', `gs://${bucket.name}/c`, dest, '--state', state, '--part-size', '2MiB', '--log-level', 'debug']
    const r = await soaker(args, gsEnv())
    expect(r.code).toBe(0)
    expect(await treeOf(dest)).toEqual({ 'big.bin': md5(big), 'mid.bin': md5(mid) })
    expect(r.stderr).toContain('c/big.bin: verified by the store\'s crc32c, combined from the CRCs of 6 parts')
    expect(r.stderr).toContain('c/mid.bin: verified by the store\'s crc32c, combined from the CRCs of 3 parts')

    // The second ranged GET of big.bin is corrupted: the combined CRC32C differs, nothing is published.
    const again = tempDir()
    let ranged = 0
    proxy.setRule(({ method, path, query }) => method === 'GET' && path.endsWith('/o/c/big.bin') && query.includes('alt=media') && ++ranged === 2 ? 'corrupt' : undefined)
    try {
      const bad = await soaker(['cp', `gs://${bucket.name}/c/big.bin`, again, '--state', join(tempDir(), 's.db'), '--part-size', '2MiB'], gsEnv(proxy.url))
      expect(ranged).toBeGreaterThanOrEqual(2)
      expect(bad.code).toBe(1)
      expect(bad.stdout).toMatch(/big\.bin: CRC32C \S+ does not match the store's crc32c /)
      expect(await treeOf(again)).not.toHaveProperty('big.bin')
    } finally {
      proxy.setRule(undefined)
    }
  })

  test('a bucket that does not exist, or an emulator that does not answer: one clear error, exit 1, nothing written', async () => {
    const dest = tempDir()
    const missing = await soaker(['cp', 'gs://no-such-bucket/x', dest, '--state', join(tempDir(), 's.db')], gsEnv())
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain(`Bucket \`no-such-bucket\` does not exist at ${gcs.host}`)
    const down = await soaker(['cp', 'gs://some-bucket/x', dest, '--state', join(tempDir(), 's.db')], gsEnv('http://127.0.0.1:1'))
    expect(down.code).toBe(1)
    expect(down.stderr).toMatch(/Cannot reach http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)/)
    expect(await treeOf(dest)).toEqual({})
  })
})

describe('soaker check gs://bucket/prefix dir', () => {
  test('a local copy against its objects by md5Hash; a same-size corruption and a missing file found, exit 1', async () => {
    const bucket = freshBucket()
    const files: Record<string, Buffer> = { 'a.bin': body(3000), 'deep/b.bin': body(90_000) }
    for (const [k, v] of Object.entries(files)) await put(bucket, `data/${k}`, v)
    const dest = tempDir()
    expect((await soaker(['cp', `gs://${bucket.name}/data`, dest, '--state', join(tempDir(), 's.db')], gsEnv())).code).toBe(0)
    const same = await soaker(['check', `gs://${bucket.name}/data`, dest, '--state', join(tempDir(), 'c.db')], gsEnv())
    expect(same.code).toBe(0)
    expect(same.stdout).toMatch(/Checked 2 keys against .*: 2 same, 0 differ, 0 missing from the destination, 0 missing from the source, 0 could not be read; the trees are the same/)
    const corrupt = Buffer.from(files['deep/b.bin']!)
    corrupt[3] = corrupt[3]! ^ 1
    writeFileSync(join(dest, 'deep', 'b.bin'), corrupt)
    rmSync(join(dest, 'a.bin'))
    const differ = await soaker(['check', `gs://${bucket.name}/data`, dest, '--state', join(tempDir(), 'c.db')], gsEnv())
    expect(differ.code).toBe(1)
    expect(differ.stdout).toContain(`differs: deep/b.bin: MD5 differs: ${md5(files['deep/b.bin']!)} and ${md5(corrupt)}`)
    expect(differ.stdout).toContain(`missing from ${dest}: a.bin`)
  })
})
