import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { CreateMultipartUploadCommand, HeadBucketCommand } from '@aws-sdk/client-s3'
import { putMultipart, putObject } from '../../scripts/support/seed.js'
import { purgeBucket } from '../../bench/upload/bucket.js'
import { uploadScenarios } from '../../bench/upload/scenarios.js'
import { verifyBucket } from '../../bench/upload/verify-bucket.js'
import { body, client, freshBucket, md5, tempDir } from '../e2e/helpers.js'

const MiB = 1024 * 1024

/** A local tree of `files` and one empty directory, as an upload scenario describes it. */
function dataset(files: Record<string, Buffer>): Parameters<typeof verifyBucket>[3] {
  const dir = tempDir('upload-verify')
  mkdirSync(join(dir, 'sub'))
  mkdirSync(join(dir, 'empty'))
  for (const [path, data] of Object.entries(files)) writeFileSync(join(dir, path), data)
  return {
    dir,
    files: Object.entries(files).map(([path, data]) => ({ path, size: data.length, md5: md5(data) })),
    totalBytes: Object.values(files).reduce((sum, data) => sum + data.length, 0),
    emptyDirectories: ['empty'],
  }
}

describe('upload bench verification', () => {
  const files = { 'a.bin': body(1000), 'sub/b.bin': body(0), 'big.bin': body(11 * MiB) }

  test('a complete upload passes: single-part ETags, a multipart ETag in 5 MiB parts, an empty-directory marker', async () => {
    const bucket = await freshBucket()
    const local = dataset(files)
    await putObject(client, bucket, 'up/a.bin', files['a.bin'])
    await putObject(client, bucket, 'up/sub/b.bin', files['sub/b.bin'])
    await putObject(client, bucket, 'up/empty/', '')
    await putMultipart(client, bucket, 'up/big.bin', files['big.bin'], 5 * MiB)
    expect(await verifyBucket(client, bucket, 'up', local)).toBeUndefined()
  })

  test('a missing, a short, a stray and a changed object each fail the run, named', async () => {
    const bucket = await freshBucket()
    const local = dataset(files)
    await putObject(client, bucket, 'up/a.bin', files['a.bin'].subarray(0, 999))
    await putObject(client, bucket, 'up/stray.bin', 'x')
    await putMultipart(client, bucket, 'up/big.bin', body(11 * MiB), 5 * MiB)
    const failure = await verifyBucket(client, bucket, 'up', local)
    expect(failure).toContain('a.bin has 999 bytes, expected 1000')
    expect(failure).toContain('missing sub/b.bin')
    expect(failure).toContain('unexpected stray.bin')

    const other = await freshBucket()
    await putObject(client, other, 'up/a.bin', files['a.bin'])
    await putObject(client, other, 'up/sub/b.bin', files['sub/b.bin'])
    await putMultipart(client, other, 'up/big.bin', body(11 * MiB), 5 * MiB)
    expect(await verifyBucket(client, other, 'up', local)).toMatch(/^1 problem\(s\): big.bin differs from the source/)
  })

  test('--quick sizes name the data in the report', () => {
    const quick = uploadScenarios({ upSmallFiles: 500, upBigMiB: 64, upTreeFiles: 1000 })
    expect(quick['up-small'].description).toBe('upload 500 files of 16 KiB')
    expect(quick['up-big'].description).toBe('upload one 64 MiB file')
    expect(uploadScenarios({ upSmallFiles: 20_000, upBigMiB: 1024, upTreeFiles: 100_000 })['up-tree'].rssTargetMiB).toBe(250)
  })

  test('purgeBucket deletes more than one page of objects and a multipart upload left behind, then the bucket', async () => {
    const bucket = await freshBucket()
    const keys = Array.from({ length: 1100 }, (_, i) => `k/${i}`)
    for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((key) => putObject(client, bucket, key, 'x')))
    await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'half' }))
    await purgeBucket(client, bucket)
    await expect(client.send(new HeadBucketCommand({ Bucket: bucket }))).rejects.toThrow()
  })
})
