import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { putMultipart, putObject } from '../../scripts/support/seed.js'
import { body, client, faultProxyForFile, freshBucket, md5, partialFiles, readState, s3, soaker, tempDir, treeOf } from './helpers.js'

const MiB = 1024 * 1024
const fault = faultProxyForFile()
const cp = fault.cp

/** The GETs of `key` the proxy passed since request `from`. */
const gets = (bucket: string, key: string, from: number): number =>
  fault.proxy.requests.slice(from).filter((r) => r.method === 'GET' && r.path === `/${bucket}/${key}`).length

describe('cp on data threads (--data-threads)', () => {
  test('cp s3://b/p dir --data-threads 2: every byte arrives, and each part\'s MD5, taken on a data thread as it streamed, is that of its bytes on disk', async () => {
    const bucket = await freshBucket()
    const big = body(40 * MiB)
    const small = { 'p/a.bin': body(30_000), 'p/b.bin': body(2 * MiB) }
    await putMultipart(client, bucket, 'p/big.bin', big, 8 * MiB)
    for (const [k, v] of Object.entries(small)) await putObject(client, bucket, k, v)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const r = await soaker(cp(`s3://${bucket}/p`, dest, state, '--data-threads', '2', '--log-level', 'debug'))
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/2 data threads ready/)
    expect(await treeOf(dest)).toEqual({ 'a.bin': md5(small['p/a.bin']), 'b.bin': md5(small['p/b.bin']), 'big.bin': md5(big) })
    const onDisk = await readFile(join(dest, 'big.bin'))
    const parts = (await readState(state)).parts.get('p/big.bin')!
    expect([...parts.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4])
    for (const [i, digest] of parts) expect(digest).toBe(createHash('md5').update(onDisk.subarray(i * 8 * MiB, (i + 1) * 8 * MiB)).digest('hex'))
    expect(await partialFiles(dest)).toEqual([])
  })

  test.runIf(s3.kind === 'ceph')('a part corrupted on the way to a data thread fails the multipart ETag check; nothing reaches the final path; the next run refetches it', async () => {
    const bucket = await freshBucket()
    const data = body(24 * MiB)
    await putMultipart(client, bucket, 'v/big.bin', data, 8 * MiB)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const args = cp(`s3://${bucket}/v`, dest, state, '--data-threads', '2')
    // Every ranged read of the first run: whichever thread takes a part, its bytes are bad.
    fault.proxy.setRule(({ method, path }) => method === 'GET' && path === `/${bucket}/v/big.bin` ? 'corrupt' : undefined)
    try {
      const r = await soaker(args)
      expect(r.code).toBe(1)
      expect((await readState(state)).objects.map(({ status, errorCode }) => ({ status, errorCode }))).toEqual([
        { status: 'failed', errorCode: 'SOAKER_CHECKSUM_MISMATCH' },
      ])
      expect(await treeOf(dest)).not.toHaveProperty('big.bin')
    } finally {
      fault.proxy.setRule(undefined)
    }
    const mark = fault.proxy.requests.length
    const again = await soaker(args)
    expect(again.code).toBe(0)
    expect(md5(await readFile(join(dest, 'big.bin')))).toBe(md5(data))
    expect(gets(bucket, 'v/big.bin', mark)).toBe(3)
  })

  test('cp --verify size checks sizes only: no part is hashed, and the parts are recorded as unhashed', async () => {
    const bucket = await freshBucket()
    const data = body(20 * MiB)
    await putMultipart(client, bucket, 'z/big.bin', data, 8 * MiB)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const r = await soaker(cp(`s3://${bucket}/z`, dest, state, '--verify', 'size', '--data-threads', '1'))
    expect(r.code, r.stderr).toBe(0)
    expect(md5(await readFile(join(dest, 'big.bin')))).toBe(md5(data))
    expect([...(await readState(state)).parts.get('z/big.bin')!.values()]).toEqual(['unhashed', 'unhashed', 'unhashed'])
  })

  test('cp --verify sizes and --data-threads -1: each names the flag and what it takes', async () => {
    const dest = tempDir()
    const verify = await soaker(['cp', 's3://bucket/x', dest, '--verify', 'sizes'])
    expect(verify.code).toBe(2)
    expect(verify.stderr).toMatch(/Expected `--verify` to be true, false or size, got `sizes`/)
    const threads = await soaker(['cp', 's3://bucket/x', dest, '--data-threads', '-1'])
    expect(threads.code).toBe(2)
    expect(threads.stderr).toMatch(/--data-threads/)
  })
})
