// `soaker cp ./dir gs://bucket/prefix`, `soaker cp s3://… gs://…` and `soaker cp gs://… gs://…` end
// to end: the real CLI writes into soaker's GCS JSON API test server (scripts/support/gcs-server.ts,
// in this process, objects in memory) through the upload pipeline: multipart uploads for whole
// objects, part temporaries composed for big ones, rewrites for copies within GCS. What arrived
// is read from the server's own store, and what was sent from its request log.
import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startGcsEmulator, type TestGcs } from '../../scripts/support/gcs-emulator.js'
import type { GcsObject, SeenGcsRequest } from '../../scripts/support/gcs-server.js'
import { putMultipart } from '../../scripts/support/seed.js'
import { body, client, freshBucket, md5, readState, s3, soaker, soakerEnv, sourceTree, startSoaker, tempDir, treeOf, waitFor } from './helpers.js'

const MiB = 1024 * 1024

let gcs: TestGcs
// Rewrites of more than 4 MiB take several calls, as GCS's do between locations or storage classes.
beforeAll(async () => { gcs = await startGcsEmulator({ rewriteBytesPerCall: 4 * MiB }) })
afterAll(async () => { await gcs?.stop() })

let count = 0
function freshGcsBucket(): string {
  const name = `up-${process.pid}-${count++}`
  gcs.createBucket(name)
  return name
}

const gsEnv = (): NodeJS.ProcessEnv => soakerEnv({ STORAGE_EMULATOR_HOST: gcs.host, GOOGLE_APPLICATION_CREDENTIALS: undefined })

/** The objects of a bucket on the server, by name. */
function stored(bucket: string): Map<string, GcsObject> {
  return gcs.buckets.get(bucket)!
}

const names = (bucket: string): string[] => [...stored(bucket).keys()].sort()
const bytesOf = (bucket: string, key: string): Buffer => stored(bucket).get(key)!.data

/** The part temporaries uploaded since `from` for `key`, by part number. */
function partsSent(from: number, key: string): Array<{ part: number; received: number }> {
  const partName = new RegExp(`^${key.replace(/[.]/g, '\\.')}\\.soaker-upload/[0-9a-f]{16}/(\\d{5})$`)
  return gcs.requests.slice(from).flatMap((r) => {
    const m = r.name === undefined ? null : partName.exec(r.name)
    return m && r.received !== undefined ? [{ part: Number(m[1]), received: r.received }] : []
  })
}

const isUpload = (r: SeenGcsRequest): boolean => r.method === 'POST' && r.path.startsWith('/upload/')
const isMediaGet = (r: SeenGcsRequest): boolean => r.method === 'GET' && r.query.get('alt') === 'media'

describe('soaker cp into gs://bucket/prefix', () => {
  test('a local tree: every file an object byte for byte with mtime, mode and content type, the big one composed from parts; a rerun sends nothing', async () => {
    const bucket = freshGcsBucket()
    const src = tempDir('src')
    const files: Record<string, Buffer> = { 'a.txt': body(1000), 'empty': Buffer.alloc(0), 'big.bin': body(13 * MiB + 7) }
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(src, name), bytes, { mode: 0o640 })
    const state = join(tempDir(), 's.db')
    const args = ['cp', src, `gs://${bucket}/up`, '--state', state, '--part-size', '5MiB']
    const from = gcs.requests.length
    const r = await soaker(args, gsEnv())
    expect(r.stderr).not.toMatch(/WARN|ERROR/)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/3 copied/)
    // No temporary is left beside the objects.
    expect(names(bucket)).toEqual(['up/a.txt', 'up/big.bin', 'up/empty'])
    for (const [name, bytes] of Object.entries(files)) {
      const o = stored(bucket).get(`up/${name}`)!
      expect(md5(o.data)).toBe(md5(bytes))
      expect(o.metadata?.mode).toBe('0640')
      expect(Number(o.metadata?.mtime) * 1000).toBeCloseTo(statSync(join(src, name)).mtimeMs, 0)
      expect(o.contentType).toBe('application/octet-stream')
    }
    // 13 MiB in parts of 5 MiB: three temporaries, each sent once, composed into one object.
    expect(partsSent(from, 'up/big.bin').map((p) => [p.part, p.received > 0]).sort()).toEqual([[1, true], [2, true], [3, true]])
    expect(stored(bucket).get('up/big.bin')!.componentCount).toBe(3)
    expect(gcs.requests.slice(from).filter((q) => q.path === `/b/${bucket}/o/up/big.bin/compose`)).toHaveLength(1)

    const mark = gcs.requests.length
    const again = await soaker(args, gsEnv())
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/0 copied .* 3 skipped/)
    expect(gcs.requests.slice(mark).filter(isUpload)).toEqual([])
  })

  test('an S3 prefix: small objects with their metadata and content type, a multipart one split as the source was and checked by its parts\' MD5s', async () => {
    const src = await freshBucket()
    const small = body(5000)
    await client.send(new PutObjectCommand({ Bucket: src, Key: 'data/a.txt', Body: small, ContentType: 'text/x-soaker', Metadata: { owner: 'ann' } }))
    const big = body(24 * MiB)
    await putMultipart(client, src, 'data/big.bin', big, 8 * MiB)
    const bucket = freshGcsBucket()
    const from = gcs.requests.length
    const r = await soaker(['cp', `s3://${src}/data`, `gs://${bucket}/copy`, '--endpoint-url', s3.endpoint, '--state', join(tempDir(), 's.db')], gsEnv())
    expect(r.stderr).not.toMatch(/again|WARN|ERROR/)
    expect(r.code).toBe(0)
    expect(names(bucket)).toEqual(['copy/a.txt', 'copy/big.bin'])
    expect(md5(bytesOf(bucket, 'copy/a.txt'))).toBe(md5(small))
    expect(md5(bytesOf(bucket, 'copy/big.bin'))).toBe(md5(big))
    const a = stored(bucket).get('copy/a.txt')!
    expect(a.contentType).toBe('text/x-soaker')
    expect(a.metadata).toMatchObject({ owner: 'ann', mtime: expect.stringMatching(/^\d{10}/) })
    // Split as the source was: three parts of 8 MiB, whose MD5s make the source's ETag.
    expect(partsSent(from, 'copy/big.bin').map((p) => p.part).sort()).toEqual([1, 2, 3])
    expect(stored(bucket).get('copy/big.bin')!.componentCount).toBe(3)
  })

  test('kill -9 in the middle of an object sent in parts: the same command sends only the parts GCS does not hold, and composes them', async () => {
    const bucket = freshGcsBucket()
    const src = tempDir('src')
    const data = body(40 * MiB)
    writeFileSync(join(src, 'big.bin'), data)
    const state = join(tempDir(), 's.db')
    const args = (...more: string[]): string[] => ['cp', src, `gs://${bucket}/up`, '--state', state, '--part-size', '5MiB', '--concurrency', '4', ...more]
    const first = startSoaker(args('--max-speed', '10MB/s'), gsEnv())
    const recorded = async (): Promise<number> => (await readState(state)).partCount
    await waitFor(async () => await recorded() >= 2, 60_000, 'two parts recorded')
    first.child.kill('SIGKILL')
    expect((await first.done).signal).toBe('SIGKILL')
    // The killed run's connections close; a part whose body was cut short is not stored.
    await waitFor(async () => (await gcs.connections()) === 0, 10_000, 'the killed run\'s connections to close')
    const heldParts = names(bucket).map((n) => /\.soaker-upload\/[0-9a-f]{16}\/(\d{5})$/.exec(n)?.[1]).filter((n) => n !== undefined).map(Number)
    expect(heldParts.length).toBeGreaterThanOrEqual(2)
    expect(heldParts.length).toBeLessThan(8)

    const from = gcs.requests.length
    const second = await soaker(args(), gsEnv())
    expect(second.code).toBe(0)
    expect(second.stderr).toMatch(new RegExp(`resuming the upload of up/big.bin: the store holds ${heldParts.length} of 8 parts`))
    const sent = partsSent(from, 'up/big.bin')
    const missing = [1, 2, 3, 4, 5, 6, 7, 8].filter((n) => !heldParts.includes(n))
    expect(sent.map((p) => p.part).sort((x, y) => x - y)).toEqual(missing)
    // Each part's body is its bytes and a multipart upload's framing (its JSON and boundaries).
    const partBytes = sent.reduce((n, p) => n + p.received, 0)
    expect(partBytes).toBeGreaterThanOrEqual(missing.length * 5 * MiB)
    expect(partBytes).toBeLessThan(missing.length * (5 * MiB + 1024))
    expect(md5(bytesOf(bucket, 'up/big.bin'))).toBe(md5(data))
    expect(stored(bucket).get('up/big.bin')!.componentCount).toBe(8)
    expect(names(bucket)).toEqual(['up/big.bin'])
  })

  test('gs:// to gs:// is copied by GCS itself: rewrites pinned to each source\'s generation, no byte read or sent here; the copies come down whole', async () => {
    const src = freshGcsBucket()
    const files: Record<string, Buffer> = { 'a.txt': body(3000), 'deep/b.bin': body(70_000), 'big.bin': body(10 * MiB + 3) }
    // Seeded through soaker itself, the big one composed from parts.
    const seeded = await soaker(['cp', sourceTree(files), `gs://${src}/data`, '--state', join(tempDir(), 's.db'), '--part-size', '5MiB'], gsEnv())
    expect(seeded.code).toBe(0)
    stored(src).get('data/a.txt')!.metadata = { ...stored(src).get('data/a.txt')!.metadata, owner: 'ann' }
    stored(src).get('data/a.txt')!.contentType = 'text/x-soaker'

    const dst = freshGcsBucket()
    const from = gcs.requests.length
    const r = await soaker(['cp', `gs://${src}/data`, `gs://${dst}/copy`, '--state', join(tempDir(), 's.db')], gsEnv())
    expect(r.stderr).not.toMatch(/WARN|ERROR/)
    expect(r.code).toBe(0)
    expect(r.stdout + r.stderr).toMatch(/copying \(server-side\)/)
    expect(r.stdout).toMatch(/3 copied/)
    const since = gcs.requests.slice(from)
    expect(since.filter(isMediaGet)).toEqual([])
    expect(since.filter(isUpload)).toEqual([])
    const rewrites = since.filter((q) => q.path.includes('/rewriteTo/'))
    // One call for each small object; the 10 MiB one in three calls of 4 MiB, chained by its token.
    expect(rewrites.filter((q) => q.path === `/b/${src}/o/data/big.bin/rewriteTo/b/${dst}/o/copy/big.bin`).map((q) => q.query.has('rewriteToken'))).toEqual([false, true, true])
    expect(rewrites).toHaveLength(5)
    for (const q of rewrites) {
      const name = q.path.slice(`/b/${src}/o/`.length, q.path.indexOf('/rewriteTo/'))
      expect(q.query.get('ifSourceGenerationMatch')).toBe(stored(src).get(name)!.generation)
    }
    expect(names(dst)).toEqual(['copy/a.txt', 'copy/big.bin', 'copy/deep/b.bin'])
    for (const [name, bytes] of Object.entries(files)) expect(md5(bytesOf(dst, `copy/${name}`))).toBe(md5(bytes))
    const a = stored(dst).get('copy/a.txt')!
    expect(a.contentType).toBe('text/x-soaker')
    expect(a.metadata).toEqual(stored(src).get('data/a.txt')!.metadata)
    expect(a.metadata).toMatchObject({ owner: 'ann', mode: expect.stringMatching(/^0\d{3}$/) })

    // And back down: a composite object (no MD5) and the others, byte for byte.
    const dest = tempDir()
    const down = await soaker(['cp', `gs://${dst}/copy`, dest, '--state', join(tempDir(), 's.db')], gsEnv())
    expect(down.code).toBe(0)
    expect(await treeOf(dest)).toEqual(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, md5(v)])))
  })

  test('a destination that takes no writes is refused, naming the ones that do', async () => {
    const r = await soaker(['cp', tempDir('src'), 'hf://org/repo'], gsEnv())
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/Expected a local directory, or an s3:\/\/, az:\/\/ or gs:\/\/ destination, got `hf:\/\/org\/repo`: soaker does not write to hf:\/\/ yet/)
  })
})
