import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { putObject } from '../../scripts/support/seed.js'
import { SqliteStateStore } from '../../src/state/sqlite-store.js'
import { body, client, freshBucket, md5, readState, s3, soaker, tempDir, treeOf } from './helpers.js'

describe('many buckets in one run', () => {
  test('--buckets-file with comments and three buckets lands each in its own directory, one state database for all', async () => {
    const [a, b, c] = [await freshBucket(), await freshBucket(), await freshBucket()]
    // The same key in every bucket: the state rows must not collide.
    for (const bucket of [a, b, c]) await putObject(client, bucket, 'same/key.txt', `from ${bucket}`)
    await putObject(client, b, 'photos/p1.jpg', 'p1')
    await putObject(client, b, 'other/not-me.txt', 'outside the prefix')
    const file = join(tempDir(), 'buckets.txt')
    writeFileSync(file, `# buckets to fetch\n${a}\n\n  ${b}/photos   # only the photos\ns3://${c}\n`)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const args = ['cp', '--buckets-file', file, dest, '--endpoint-url', s3.endpoint, '--state', state]
    const r = await soaker(args)
    expect(r.code).toBe(0)
    expect(await treeOf(dest)).toEqual({
      [`${a}/same/key.txt`]: md5(`from ${a}`),
      [`${b}/photos/p1.jpg`]: md5('p1'),
      [`${c}/same/key.txt`]: md5(`from ${c}`),
    })
    expect((await readState(state)).objects.map(({ key, status }) => ({ key, status }))).toEqual([
      { key: `s3://${a}/same/key.txt`, status: 'done' },
      { key: `s3://${b}/photos/p1.jpg`, status: 'done' },
      { key: `s3://${c}/same/key.txt`, status: 'done' },
    ])
    const again = await soaker(args)
    expect(again.stdout).toMatch(/0 copied \(0 B\), 3 skipped/)
  })

  test('--buckets-file of three buckets runs through one pool: requests of several buckets are in flight at once', async () => {
    const buckets = [await freshBucket(), await freshBucket(), await freshBucket()]
    const data = new Map<string, Buffer>()
    for (const bucket of buckets) {
      for (let i = 0; i < 30; i++) {
        const b = body(64 * 1024)
        data.set(`${bucket}/obj-${i}`, b)
        await putObject(client, bucket, `obj-${i}`, b)
      }
    }
    const file = join(tempDir(), 'buckets.txt')
    writeFileSync(file, buckets.join('\n'))
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    // A cap that makes the run last a few tuning intervals, so that samples are taken.
    const r = await soaker(['cp', '--buckets-file', file, dest, '--endpoint-url', s3.endpoint, '--state', state,
      '--max-speed', '2MB/s', '--tune-interval', '0.2'])
    expect(r.code).toBe(0)
    expect(await treeOf(dest)).toEqual(Object.fromEntries([...data].map(([k, b]) => [k, md5(b)])))
    const store = new SqliteStateStore(state)
    try {
      const [run] = await store.runs(1)
      expect(run).toMatchObject({ source: buckets.map((b) => `s3://${b}`).join(' '), destination: dest, status: 'ok', copied: 90 })
      const samples = await store.samples(run!.id)
      expect(samples.length).toBeGreaterThan(2)
      expect(Math.max(...samples.map((s) => s.sources ?? 1))).toBe(3)
    } finally {
      await store.close()
    }
  })

  test('soaker cp s3://a s3://b dest: a bucket that does not exist is reported, the others arrive, exit 1', async () => {
    const a = await freshBucket()
    await putObject(client, a, 'x', 'x')
    const dest = tempDir()
    const r = await soaker(['cp', `s3://${a}`, 's3://no-such-bucket-many', dest, '--endpoint-url', s3.endpoint, '--state', join(tempDir(), 's.db')])
    expect(r.code).toBe(1)
    expect(await treeOf(dest)).toEqual({ [`${a}/x`]: md5('x') })
    expect(r.stdout).toMatch(/s3:\/\/no-such-bucket-many: Bucket `no-such-bucket-many` does not exist .*\[SOAKER_NO_SUCH_BUCKET\]/)
  })

  test('a bad line in the buckets file: exit 2 naming the file and the line', async () => {
    const file = join(tempDir(), 'buckets.txt')
    writeFileSync(file, 'good-bucket\n# fine\nbad bucket name\n')
    const r = await soaker(['cp', '--buckets-file', file, tempDir()])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`${file}:3: expected a bucket or bucket/prefix, got \`bad bucket name\``)
  })
})
