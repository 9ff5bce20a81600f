import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { putMultipart, putObject } from '../../scripts/support/seed.js'
import { digester } from '../../src/checksums/digester.js'
import { toBase64 } from '../../src/checksums/s3-checksum.js'
import { body, client, exists, faultProxyForFile, freshBucket, md5, partialFiles, readState, soaker, startSoaker, tempDir, treeOf, waitFor } from './helpers.js'

// Ceph 16 keeps no flexible checksums: the proxy answers HEADs and whole GETs with the headers a
// store that keeps a full-object CRC64NVME sends, computed here from the bytes (or wrong ones).

const MiB = 1024 * 1024
const fault = faultProxyForFile()

async function crc64Base64(data: Buffer): Promise<string> {
  const d = await digester('crc64nvme')
  d.update(data)
  return toBase64('crc64nvme', d.digest())
}

/**
 * Answers about `bucket`'s keys carry their CRC64NVME from `checksums` (key → base64), where the
 * client asked for checksums (or, `unasked`, whether it asked or not).
 */
function storeKeeps(bucket: string, checksums: Record<string, string>, unasked = false): void {
  fault.proxy.setHeaders(({ method, path, headers }) => {
    const value = checksums[path.slice(bucket.length + 2)]
    const asked = headers['x-amz-checksum-mode'] === 'ENABLED'
    if (!path.startsWith(`/${bucket}/`) || value === undefined || !(asked || unasked)) return undefined
    if (method !== 'HEAD' && !(method === 'GET' && headers.range === undefined)) return undefined
    return { 'x-amz-checksum-crc64nvme': value, 'x-amz-checksum-type': 'FULL_OBJECT' }
  })
}

function reset(): void {
  fault.proxy.setHeaders(undefined)
  fault.proxy.setRule(undefined)
}

/** Bytes of object bodies the server sent for `key` since request number `from`. */
function bytesSent(bucket: string, key: string, from: number): number {
  return fault.proxy.requests.slice(from).filter((r) => r.method === 'GET' && r.path === `/${bucket}/${key}`).reduce((n, r) => n + r.bytes, 0)
}

describe('downloads verified by the CRC the store keeps', () => {
  test('cp s3://b/crc dir --part-size 2MiB verifies a multipart object by its CRC64NVME, combined from its parts\' CRCs: no MD5, no upload part layout', async () => {
    const bucket = await freshBucket()
    const big = body(11 * MiB + 123)
    const mid = body(MiB + MiB / 2) // one part, filled whole on a data thread
    const small = body(50_000) // read whole
    await putMultipart(client, bucket, 'crc/big.bin', big, 5 * MiB)
    await putObject(client, bucket, 'crc/mid.bin', mid)
    await putObject(client, bucket, 'crc/small.bin', small)
    storeKeeps(bucket, { 'crc/big.bin': await crc64Base64(big), 'crc/mid.bin': await crc64Base64(mid), 'crc/small.bin': await crc64Base64(small) })
    const mark = fault.proxy.requests.length
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    try {
      const r = await soaker(fault.cp(`s3://${bucket}/crc`, dest, state, '--part-size', '2MiB', '--log-level', 'debug'))
      expect(r.code).toBe(0)
      expect(await treeOf(dest)).toEqual({ 'big.bin': md5(big), 'mid.bin': md5(mid), 'small.bin': md5(small) })
      expect(r.stderr).toContain('crc/big.bin: verified by the store\'s x-amz-checksum-crc64nvme, combined from the CRCs of 6 parts')
      // The 2 MiB parts do not follow the 5 MiB upload parts: an ETag check would need the layout (HEAD ?partNumber=1), and skip.
      expect(r.stderr).not.toContain('multipart ETag not checked')
      expect(fault.proxy.requests.slice(mark).filter((q) => q.query.includes('partNumber'))).toEqual([])
      expect(bytesSent(bucket, 'crc/big.bin', mark)).toBe(big.length)
    } finally {
      reset()
    }
  })

  test('cp --data-threads 2: the CRCs are taken on the data threads; a wrong one of a range read there is caught as well', async () => {
    const bucket = await freshBucket()
    const big = body(9 * MiB)
    const small = body(50_000)
    const bad = body(3 * MiB)
    await putMultipart(client, bucket, 't/big.bin', big, 5 * MiB)
    await putObject(client, bucket, 't/small.bin', small)
    await putObject(client, bucket, 't/bad.bin', bad)
    storeKeeps(bucket, { 't/big.bin': await crc64Base64(big), 't/small.bin': await crc64Base64(small), 't/bad.bin': await crc64Base64(small) })
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    try {
      const r = await soaker(fault.cp(`s3://${bucket}/t`, dest, state, '--part-size', '2MiB', '--data-threads', '2', '--retries', '0', '--log-level', 'debug'))
      expect(r.stderr).toContain('2 data threads ready')
      expect(r.code).toBe(1)
      const tree = await treeOf(dest)
      expect([tree['big.bin'], tree['small.bin']]).toEqual([md5(big), md5(small)])
      expect(tree).not.toHaveProperty('bad.bin') // its parts stay in its partial file for the next run
      expect(r.stderr).toContain('t/big.bin: verified by the store\'s x-amz-checksum-crc64nvme, combined from the CRCs of 5 parts')
      const failed = (await readState(state)).objects.filter((o) => o.status === 'failed')
      expect(failed.map(({ key, errorCode }) => ({ key, errorCode }))).toEqual([{ key: 't/bad.bin', errorCode: 'SOAKER_CHECKSUM_MISMATCH' }])
    } finally {
      reset()
    }
  })

  test('a wrong CRC64NVME fails each object, naming it and the checksum; nothing reaches the final path; exit 1', async () => {
    const bucket = await freshBucket()
    const big = body(7 * MiB)
    const mid = body(3 * MiB)
    const small = body(50_000)
    await putMultipart(client, bucket, 'w/big.bin', big, 5 * MiB)
    await putObject(client, bucket, 'w/mid.bin', mid)
    await putObject(client, bucket, 'w/small.bin', small)
    const wrong = await crc64Base64(Buffer.from('not these bytes'))
    storeKeeps(bucket, { 'w/big.bin': wrong, 'w/mid.bin': wrong, 'w/small.bin': wrong })
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    try {
      const r = await soaker(fault.cp(`s3://${bucket}/w`, dest, state, '--part-size', '4MiB', '--retries', '0'))
      expect(r.code).toBe(1)
      const { objects } = await readState(state)
      expect(objects.map(({ key, status, errorCode }) => ({ key, status, errorCode }))).toEqual(['w/big.bin', 'w/mid.bin', 'w/small.bin'].map((key) =>
        ({ key, status: 'failed', errorCode: 'SOAKER_CHECKSUM_MISMATCH' })))
      for (const o of objects) {
        expect(o.reason).toMatch(new RegExp(`${o.key}: CRC64NVME \\S+ does not match the store's x-amz-checksum-crc64nvme ${wrong.replace(/[+/]/g, '\\$&')}`))
      }
      expect(r.stdout).toContain('w/big.bin:')
      expect(await treeOf(dest)).not.toHaveProperty('big.bin')
      for (const name of ['big.bin', 'mid.bin', 'small.bin']) expect(await exists(join(dest, name))).toBe(false)
    } finally {
      reset()
    }
  })

  test('cp --store-checksums false asks for no checksum and verifies by the ETag alone, whatever CRC an answer carries', async () => {
    const bucket = await freshBucket()
    const big = body(7 * MiB)
    const small = body(50_000)
    await putMultipart(client, bucket, 'n/big.bin', big, 5 * MiB)
    await putObject(client, bucket, 'n/small.bin', small)
    const wrong = await crc64Base64(Buffer.from('not these bytes'))
    storeKeeps(bucket, { 'n/big.bin': wrong, 'n/small.bin': wrong }, true)
    const mark = fault.proxy.requests.length
    const dest = tempDir()
    try {
      const r = await soaker(fault.cp(`s3://${bucket}/n`, dest, join(tempDir(), 's.db'), '--store-checksums', 'false', '--log-level', 'debug'))
      expect(r.code).toBe(0)
      expect(await treeOf(dest)).toEqual({ 'big.bin': md5(big), 'small.bin': md5(small) })
      expect(fault.proxy.requests.slice(mark).filter((q) => q.headers['x-amz-checksum-mode'] !== undefined)).toEqual([])
      expect(r.stderr).not.toContain('verified by the store')
    } finally {
      reset()
    }
  })

  test('under --max-speed (reads stream through the main thread) a whole object is checked by its CRC as it streams; parts fall back to the ETag', async () => {
    const bucket = await freshBucket()
    const big = body(11 * MiB)
    const mid = body(3 * MiB)
    await putMultipart(client, bucket, 'm/big.bin', big, 5 * MiB)
    await putObject(client, bucket, 'm/mid.bin', mid)
    await putObject(client, bucket, 'm/bad.bin', body(2 * MiB))
    storeKeeps(bucket, { 'm/big.bin': await crc64Base64(big), 'm/mid.bin': await crc64Base64(mid), 'm/bad.bin': await crc64Base64(Buffer.from('other bytes')) })
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    try {
      const r = await soaker(fault.cp(`s3://${bucket}/m`, dest, state, '--part-size', '4MiB', '--max-speed', '1GB/s', '--retries', '0'))
      expect(r.code).toBe(1)
      expect(await treeOf(dest)).toEqual({ 'big.bin': md5(big), 'mid.bin': md5(mid) })
      const { objects } = await readState(state)
      expect(objects.map(({ key, status, errorCode }) => ({ key, status, errorCode }))).toEqual([
        { key: 'm/bad.bin', status: 'failed', errorCode: 'SOAKER_CHECKSUM_MISMATCH' },
        { key: 'm/big.bin', status: 'done', errorCode: null },
        { key: 'm/mid.bin', status: 'done', errorCode: null },
      ])
      expect(objects[0]!.reason).toMatch(/m\/bad\.bin: CRC64NVME \S+ does not match the store's x-amz-checksum-crc64nvme/)
    } finally {
      reset()
    }
  })

  test('a range corrupted on the way fails the combined CRC; the next run fetches every part again and publishes the object', async () => {
    const bucket = await freshBucket()
    const data = body(9 * MiB)
    await putMultipart(client, bucket, 'x/obj.bin', data, 5 * MiB)
    storeKeeps(bucket, { 'x/obj.bin': await crc64Base64(data) })
    fault.proxy.setRule(({ method, path, nth }) => method === 'GET' && path === `/${bucket}/x/obj.bin` && nth === 2 ? 'corrupt' : undefined)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const args = fault.cp(`s3://${bucket}/x`, dest, state, '--part-size', '2MiB')
    try {
      const r = await soaker(args)
      expect(r.code).toBe(1)
      const { objects } = await readState(state)
      expect(objects.map(({ status, errorCode }) => ({ status, errorCode }))).toEqual([{ status: 'failed', errorCode: 'SOAKER_CHECKSUM_MISMATCH' }])
      expect(objects[0]!.reason).toMatch(/x\/obj\.bin: CRC64NVME \S+ does not match the store's x-amz-checksum-crc64nvme/)
      expect(await exists(join(dest, 'obj.bin'))).toBe(false)
      fault.proxy.setRule(undefined)
      const mark = fault.proxy.requests.length
      const again = await soaker(args)
      expect(again.code).toBe(0)
      expect(md5(await readFile(join(dest, 'obj.bin')))).toBe(md5(data))
      expect(bytesSent(bucket, 'x/obj.bin', mark)).toBe(data.length)
    } finally {
      reset()
    }
  })

  test('cp after kill -9 verifies the object from the CRCs recorded by the killed run and the new parts\' CRCs, fetching only the missing parts', async () => {
    const bucket = await freshBucket()
    const data = body(12 * MiB + 7)
    await putMultipart(client, bucket, 'k/blob.bin', data, 5 * MiB)
    storeKeeps(bucket, { 'k/blob.bin': await crc64Base64(data) })
    // The fourth part's answer stops half-way and never ends: the first run is killed while it waits.
    fault.proxy.setRule(({ method, path, nth }) => method === 'GET' && path === `/${bucket}/k/blob.bin` && nth >= 4 ? 'stall-body' : undefined)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const args = fault.cp(`s3://${bucket}/k`, dest, state, '--part-size', '1MiB', '--concurrency', '1', '--log-level', 'debug')
    try {
      const first = startSoaker(args)
      await waitFor(async () => (await readState(state)).partCount >= 3, 30_000, 'three finished parts')
      first.child.kill('SIGKILL')
      expect((await first.done).signal).toBe('SIGKILL')
      expect(await exists(join(dest, 'blob.bin'))).toBe(false)
      const recorded = (await readState(state)).parts.get('k/blob.bin')!
      expect(recorded.size).toBe(3)
      for (const receipt of recorded.values()) expect(receipt).toMatch(/^crc64nvme:[0-9a-f]{16}$/)
      fault.proxy.setRule(undefined)
      const mark = fault.proxy.requests.length
      const second = await soaker(args)
      expect(second.code).toBe(0)
      expect(md5(await readFile(join(dest, 'blob.bin')))).toBe(md5(data))
      expect(second.stderr).toContain('k/blob.bin: verified by the store\'s x-amz-checksum-crc64nvme, combined from the CRCs of 13 parts')
      expect(bytesSent(bucket, 'k/blob.bin', mark)).toBe(data.length - 3 * MiB)
      expect(await partialFiles(dest)).toEqual([])
    } finally {
      reset()
    }
  })
})
