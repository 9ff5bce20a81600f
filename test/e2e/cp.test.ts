import { readFile, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ListObjectsV2Command } from '@aws-sdk/client-s3'
import { describe, expect, test } from 'vitest'
import { putMultipart, putObject } from '../../scripts/support/seed.js'
import { body, client, cpArgs, exists, freshBucket, md5, readState, s3, soaker, tempDir, treeOf } from './helpers.js'

const MiB = 1024 * 1024

describe('soaker cp s3://bucket/prefix dir', () => {
  test('cp s3://b/photos dir copies every object under the prefix, byte for byte, keys relative to it', async () => {
    const bucket = await freshBucket()
    const files: Record<string, Buffer> = {
      'a.txt': body(10), 'nested/deep/b.bin': body(70_000), 'nested/c': body(1), 'empty.dat': Buffer.alloc(0),
    }
    for (const [k, v] of Object.entries(files)) await putObject(client, bucket, `photos/${k}`, v)
    await putObject(client, bucket, 'photos-other/not-me.txt', 'outside the prefix')
    await putObject(client, bucket, 'elsewhere.txt', 'outside the prefix')
    const dest = tempDir()
    const state = join(tempDir(), 'state.db')
    const r = await soaker(cpArgs(`s3://${bucket}/photos`, dest, state))
    expect(r.stderr).not.toMatch(/Warning/)
    expect(r.code).toBe(0)
    expect(await treeOf(dest)).toEqual(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, md5(v)])))
    expect(r.stdout).toMatch(/Done in .*: 4 copied/)
    const rows = (await readState(state)).objects.map(({ key, status }) => ({ key, status }))
    expect(rows).toEqual(Object.keys(files).sort().map((k) => ({ key: `photos/${k}`, status: 'done' })))
  })

  test('cp s3://b/photos/ dir (trailing slash) means the same prefix', async () => {
    const bucket = await freshBucket()
    await putObject(client, bucket, 'photos/x.txt', 'x')
    const dest = tempDir()
    const r = await soaker(cpArgs(`s3://${bucket}/photos/`, dest, join(tempDir(), 's.db')))
    expect(r.code).toBe(0)
    expect(await treeOf(dest)).toEqual({ 'x.txt': md5('x') })
  })

  test('cp s3://b/a/file.bin dir copies that one object into dir/file.bin', async () => {
    const bucket = await freshBucket()
    const data = body(5000)
    await putObject(client, bucket, 'a/file.bin', data)
    await putObject(client, bucket, 'a/file.bin.other', 'not this one')
    const dest = tempDir()
    const r = await soaker(cpArgs(`s3://${bucket}/a/file.bin`, dest, join(tempDir(), 's.db')))
    expect(r.code).toBe(0)
    expect(await treeOf(dest)).toEqual({ 'file.bin': md5(data) })
  })

  test('the whole bucket, past 1,000 keys (ListObjectsV2 pagination)', async () => {
    const bucket = await freshBucket()
    const n = 1_050
    const keys = Array.from({ length: n }, (_, i) => `k/${String(i).padStart(5, '0')}`)
    for (let i = 0; i < n; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => putObject(client, bucket, k, k)))
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const r = await soaker(cpArgs(`s3://${bucket}`, dest, state))
    expect(r.code).toBe(0)
    const tree = await treeOf(dest)
    expect(Object.keys(tree)).toHaveLength(n)
    expect(tree['k/01049']).toBe(md5('k/01049'))
    expect((await readState(state)).counts.done.objects).toBe(n)
  })

  test('multipart objects arrive whole and are checked part by part against their ETag', async () => {
    const bucket = await freshBucket()
    const data = body(21 * MiB)
    await putMultipart(client, bucket, 'mp/big.bin', data, 5 * MiB)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const r = await soaker(cpArgs(`s3://${bucket}/mp`, dest, state, '--log-level', 'debug'))
    expect(r.code).toBe(0)
    expect(md5(await readFile(join(dest, 'big.bin')))).toBe(md5(data))
    const { objects, parts } = await readState(state)
    expect(objects.map(({ partSize }) => ({ partSize }))).toEqual([{ partSize: 5 * MiB }])
    if (s3.kind === 'ceph') {
      // Each range follows an upload part, so its MD5 is a term of the `-5` ETag.
      const digests = [...parts.values()].flatMap((p) => [...p.values()])
      expect(digests.filter((d) => d !== null)).toHaveLength(5)
      expect(r.stderr).not.toMatch(/not verified/)
    }
  })

  test.runIf(s3.kind === 'ceph')('a multipart object with an unusual part size is verified by trying the other plausible sizes', async () => {
    const bucket = await freshBucket()
    const data = body(9 * MiB)
    await putMultipart(client, bucket, 'odd/nine.bin', data, 6 * MiB) // 8 MiB is the first guess, 6 the truth
    const dest = tempDir()
    const r = await soaker(cpArgs(`s3://${bucket}/odd`, dest, join(tempDir(), 's.db'), '--log-level', 'debug'))
    expect(r.code).toBe(0)
    expect(r.stderr).toContain(`verified with an upload part size of ${6 * MiB} bytes`)
    expect(md5(await readFile(join(dest, 'nine.bin')))).toBe(md5(data))
  })

  test('the file mtime is the object\'s LastModified', async () => {
    const bucket = await freshBucket()
    await putObject(client, bucket, 'p/t.txt', 'time')
    const dest = tempDir()
    await new Promise((r) => setTimeout(r, 1500)) // so that the write time differs from LastModified
    const r = await soaker(cpArgs(`s3://${bucket}/p`, dest, join(tempDir(), 's.db')))
    expect(r.code).toBe(0)
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'p/' }))
    const lastModified = listed.Contents![0]!.LastModified!.getTime()
    const st = await stat(join(dest, 't.txt'))
    expect(Math.abs(st.mtimeMs - lastModified)).toBeLessThan(2)
  })

  test('a second run fetches nothing; files already there with the same size and mtime are skipped without a state store', async () => {
    const bucket = await freshBucket()
    for (let i = 0; i < 5; i++) await putObject(client, bucket, `p/f${i}`, body(1000))
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    expect((await soaker(cpArgs(`s3://${bucket}/p`, dest, state))).code).toBe(0)
    const again = await soaker(cpArgs(`s3://${bucket}/p`, dest, state))
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/0 copied \(0 B\), 5 skipped/)
    // Another tool put the files there: a fresh state store still skips them by size and mtime.
    const fresh = await soaker(cpArgs(`s3://${bucket}/p`, dest, join(tempDir(), 'other.db')))
    expect(fresh.code).toBe(0)
    expect(fresh.stdout).toMatch(/0 copied \(0 B\), 5 skipped/)
    // A file with another mtime is fetched again.
    await utimes(join(dest, 'f0'), new Date(2001, 1, 1), new Date(2001, 1, 1))
    const one = await soaker(cpArgs(`s3://${bucket}/p`, dest, join(tempDir(), 'third.db')))
    expect(one.stdout).toMatch(/1 copied .* 4 skipped/)
  })

  test('a source object whose ETag changed since the last run is fetched again', async () => {
    const bucket = await freshBucket()
    await putObject(client, bucket, 'p/doc.txt', 'version one')
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    expect((await soaker(cpArgs(`s3://${bucket}/p`, dest, state))).code).toBe(0)
    await new Promise((r) => setTimeout(r, 1100)) // a new LastModified second
    await putObject(client, bucket, 'p/doc.txt', 'version two, longer')
    const r = await soaker(cpArgs(`s3://${bucket}/p`, dest, state))
    expect(r.code).toBe(0)
    expect(await readFile(join(dest, 'doc.txt'), 'utf8')).toBe('version two, longer')
    expect(r.stdout).toMatch(/1 copied/)
  })

  test('folder markers become directories, empty objects empty files, non-ASCII keys their names', async () => {
    const bucket = await freshBucket()
    await putObject(client, bucket, 'p/', '')
    await putObject(client, bucket, 'p/empty-folder/', '')
    await putObject(client, bucket, 'p/zero.bin', '')
    await putObject(client, bucket, 'p/café/ünïcødé-名前.txt', 'ünï')
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const r = await soaker(cpArgs(`s3://${bucket}/p/`, dest, state))
    expect(r.code).toBe(0)
    expect((await stat(join(dest, 'empty-folder'))).isDirectory()).toBe(true)
    expect(await treeOf(dest)).toEqual({ 'zero.bin': md5(''), 'café/ünïcødé-名前.txt': md5('ünï') })
    const folders = (await readState(state)).objects.filter((o) => o.key.endsWith('/'))
    expect(folders.map(({ key, status }) => ({ key, status }))).toEqual([
      { key: 'p/', status: 'skipped' }, { key: 'p/empty-folder/', status: 'skipped' },
    ])
  })

  test('overwrites a different local file, and never leaves a partial file behind', async () => {
    const bucket = await freshBucket()
    await putObject(client, bucket, 'p/f.txt', 'from the store')
    const dest = tempDir()
    await writeFile(join(dest, 'f.txt'), 'stale local content that differs')
    const r = await soaker(cpArgs(`s3://${bucket}/p`, dest, join(tempDir(), 's.db')))
    expect(r.code).toBe(0)
    expect(await readFile(join(dest, 'f.txt'), 'utf8')).toBe('from the store')
    expect(await exists(join(dest, 'f.txt.soaker-partial'))).toBe(false)
    // Partial files live in .soaker/partial/, which goes once it is empty.
    expect(await exists(join(dest, '.soaker'))).toBe(false)
  })
})
