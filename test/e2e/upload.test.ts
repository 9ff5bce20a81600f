import { execFileSync } from 'node:child_process'
import { appendFileSync, chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import {
  GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, ListPartsCommand,
} from '@aws-sdk/client-s3'
import { describe, expect, test } from 'vitest'
import { digester } from '../../src/checksums/digester.js'
import { toBase64 } from '../../src/checksums/s3-checksum.js'
import { body, client, cpArgs, faultProxyForFile, freshBucket, md5, readState, s3, soaker, soakerEnv, sourceTree, startSoaker, tempDir, treeOf, waitFor } from './helpers.js'

const MiB = 1024 * 1024

const fault = faultProxyForFile()
const viaProxy = fault.cp

async function objectBytes(bucket: string, key: string): Promise<Buffer> {
  const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  return Buffer.from(await r.Body!.transformToByteArray())
}

async function keysIn(bucket: string, prefix = ''): Promise<string[]> {
  const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))
  return (r.Contents ?? []).map((o) => o.Key!).sort()
}

/** The tree of the first test: nested directories, an empty file and directory, non-ASCII names, a multipart-sized file. */
function makeTree(): { root: string; files: Record<string, Buffer> } {
  const files: Record<string, Buffer> = {
    'a.txt': body(100),
    'nested/deep/b.bin': body(70_000),
    'nested/empty.dat': Buffer.alloc(0),
    'ñandú/été 2024/ça va?.txt': body(5),
    'big/twelve.bin': body(12 * MiB + 7),
    'medium.bin': body(3 * MiB),
  }
  const root = sourceTree(files, 'up-src')
  mkdirSync(join(root, 'empty-dir'))
  chmodSync(join(root, 'a.txt'), 0o640)
  chmodSync(join(root, 'nested/deep/b.bin'), 0o755)
  // A time with nanosecond digits, far from now, so that nothing else could produce it.
  execFileSync('touch', ['-m', '-d', '@1577934245.123456789', join(root, 'a.txt')])
  return { root, files }
}

describe('soaker cp ./dir s3://bucket/prefix', () => {
  test('uploads a tree byte for byte with mtime and mode as metadata, and a download restores bytes, mtimes and modes', async () => {
    const bucket = await freshBucket()
    const { root, files } = makeTree()
    const state = join(tempDir(), 'up.db')
    const r = await soaker(cpArgs(root, `s3://${bucket}/backup`, state, '--part-size', '5MiB'))
    expect(r.stderr).not.toMatch(/WARN|ERROR/)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/6 copied|7 copied/)
    expect(await keysIn(bucket)).toEqual([...Object.keys(files).map((k) => `backup/${k}`), 'backup/empty-dir/'].sort())
    for (const [rel, data] of Object.entries(files)) {
      expect(md5(await objectBytes(bucket, `backup/${rel}`)), rel).toBe(md5(data))
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `backup/${rel}` }))
      const st = statSync(join(root, rel))
      expect(Number(head.Metadata!.mtime) * 1000, rel).toBeCloseTo(st.mtimeMs, 0)
      expect(head.Metadata!.mode, rel).toBe('0' + (st.mode & 0o777).toString(8))
    }
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'backup/a.txt' }))
    expect(head.Metadata!.mode).toBe('0640')
    // Float epoch seconds with the file system's precision, as rclone writes them.
    expect(head.Metadata!.mtime).toBe('1577934245.123456789')
    // 12 MiB in 5 MiB parts: a multipart object whose ETag soaker checked against its parts.
    const big = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'backup/big/twelve.bin' }))
    expect(big.ETag).toMatch(/-3"$/)
    const job = await readState(state)
    expect(job.counts.done.objects).toBe(7)
    expect(job.objects.filter((o) => o.uploadId !== null)).toHaveLength(0)

    const dest = tempDir('up-back')
    const down = await soaker(cpArgs(`s3://${bucket}/backup`, dest, join(tempDir(), 'down.db')))
    expect(down.code).toBe(0)
    expect(await treeOf(dest)).toEqual(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, md5(v)])))
    expect(statSync(join(dest, 'empty-dir')).isDirectory()).toBe(true)
    for (const rel of Object.keys(files)) {
      const a = statSync(join(root, rel))
      const b = statSync(join(dest, rel))
      expect(b.mtimeMs, rel).toBeCloseTo(a.mtimeMs, 0)
      expect(b.mode & 0o777, rel).toBe(a.mode & 0o777)
    }
    expect(statSync(join(dest, 'a.txt')).mtimeMs).toBeCloseTo(1_577_934_245_123, 0)
  })

  test('one file: into a prefix ending in / it keeps its name, otherwise the key is the prefix itself', async () => {
    const bucket = await freshBucket()
    const dir = tempDir()
    const file = join(dir, 'report.csv')
    writeFileSync(file, 'a,b\n1,2\n')
    expect((await soaker(cpArgs(file, `s3://${bucket}/in/`, join(dir, '1.db')))).code).toBe(0)
    expect((await soaker(cpArgs(file, `s3://${bucket}/exact-name`, join(dir, '2.db')))).code).toBe(0)
    expect(await keysIn(bucket)).toEqual(['exact-name', 'in/report.csv'])
    expect((await objectBytes(bucket, 'in/report.csv')).toString()).toBe('a,b\n1,2\n')
  })

  test('a second run sends nothing; after the state database is lost, matching size and mtime metadata on the objects is enough', async () => {
    const bucket = await freshBucket()
    const { root, files } = makeTree()
    const state = join(tempDir(), 'up.db')
    expect((await soaker(viaProxy(root, `s3://${bucket}/p`, state))).code).toBe(0)
    fault.proxy.requests.length = 0
    const again = await soaker(viaProxy(root, `s3://${bucket}/p`, state))
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/0 copied/)
    expect(fault.proxy.requests.filter((q) => q.method === 'PUT' || q.method === 'POST')).toEqual([])

    // A changed file is sent again, and only it.
    writeFileSync(join(root, 'a.txt'), 'changed')
    fault.proxy.requests.length = 0
    const changed = await soaker(viaProxy(root, `s3://${bucket}/p`, state))
    expect(changed.code).toBe(0)
    expect(fault.proxy.requests.filter((q) => q.method === 'PUT').map((q) => q.path)).toEqual([`/${bucket}/p/a.txt`])
    expect((await objectBytes(bucket, 'p/a.txt')).toString()).toBe('changed')

    // No state database: the listing and a HEAD of each same-size object decide.
    fault.proxy.requests.length = 0
    const fresh = await soaker(viaProxy(root, `s3://${bucket}/p`, join(tempDir(), 'new.db')))
    expect(fresh.code).toBe(0)
    expect(fault.proxy.requests.filter((q) => q.method === 'PUT' || q.method === 'POST')).toEqual([])
    expect(fault.proxy.requests.filter((q) => q.method === 'HEAD' && q.path.startsWith(`/${bucket}/p/`)).map((q) => q.path).sort())
      .toEqual(Object.keys(files).map((k) => `/${bucket}/p/${k}`).sort())
  })

  test('a body corrupted on the way is refused by the store (Content-MD5) and sent again', async () => {
    const bucket = await freshBucket()
    const small = body(20_000)
    const big = body(11 * MiB)
    const root = sourceTree({ 'small.bin': small, 'big.bin': big })
    fault.proxy.requests.length = 0
    fault.proxy.setRule((q) => q.method === 'PUT' && q.nth === 1 ? 'corrupt-request' : undefined)
    try {
      const r = await soaker(viaProxy(root, `s3://${bucket}/c`, join(tempDir(), 's.db'), '--part-size', '5MiB'))
      expect(r.code).toBe(0)
    } finally {
      fault.proxy.setRule(undefined)
    }
    expect(fault.proxy.requests.filter((q) => q.status === 400).length).toBeGreaterThanOrEqual(2)
    expect(md5(await objectBytes(bucket, 'c/small.bin'))).toBe(md5(small))
    expect(md5(await objectBytes(bucket, 'c/big.bin'))).toBe(md5(big))
  })

  test('--upload-checksum none sends no Content-MD5; a corrupted body is then stored as sent (the switch is real)', async () => {
    const bucket = await freshBucket()
    const data = body(20_000)
    const root = sourceTree({ 'x.bin': data })
    fault.proxy.setRule((q) => q.method === 'PUT' ? 'corrupt-request' : undefined)
    try {
      const r = await soaker(viaProxy(root, `s3://${bucket}/n`, join(tempDir(), 's.db'), '--upload-checksum', 'none'))
      expect(r.code).toBe(0)
    } finally {
      fault.proxy.setRule(undefined)
    }
    expect(md5(await objectBytes(bucket, 'n/x.bin'))).not.toBe(md5(data))
  })

  test('--upload-checksum crc32 sends x-amz-checksum-crc32 on each PUT and part (Ceph 16 ignores it, so the header is what is checked)', async () => {
    const bucket = await freshBucket()
    const small = body(1000)
    const big = body(6 * MiB)
    const root = sourceTree({ 'small.bin': small, 'big.bin': big })
    fault.proxy.requests.length = 0
    const r = await soaker(viaProxy(root, `s3://${bucket}/crc`, join(tempDir(), 's.db'), '--upload-checksum', 'crc32', '--part-size', '5MiB'))
    expect(r.code).toBe(0)
    const crc = (b: Buffer): string => { const out = Buffer.alloc(4); out.writeUInt32BE(crc32(b)); return out.toString('base64') }
    const puts = fault.proxy.requests.filter((q) => q.method === 'PUT' && q.path !== `/${bucket}/`)
    const seen = Object.fromEntries(puts.map((q) => [`${q.path.split('/').pop()}${q.query.match(/partNumber=\d+/)?.[0] ?? ''}`, q.headers['x-amz-checksum-crc32']]))
    expect(seen).toEqual({
      'small.bin': crc(small),
      'big.binpartNumber=1': crc(big.subarray(0, 5 * MiB)),
      'big.binpartNumber=2': crc(big.subarray(5 * MiB)),
    })
    expect(puts.every((q) => q.headers['content-md5'] === undefined)).toBe(true)
    expect(md5(await objectBytes(bucket, 'crc/big.bin'))).toBe(md5(big))
  })

  test('--upload-checksum crc64nvme sends each PUT\'s and part\'s CRC64NVME, declares a FULL_OBJECT upload, and completes it with the parts\' CRCs combined (Ceph 16 takes and ignores them)', async () => {
    const bucket = await freshBucket()
    const small = body(1000) // read whole
    const medium = body(3 * MiB) // streamed in one PUT, its CRC taken ahead on a hash thread
    const big = body(11 * MiB + 5)
    const root = sourceTree({ 'small.bin': small, 'medium.bin': medium, 'big.bin': big })
    const crc = async (b: Buffer): Promise<string> => {
      const d = await digester('crc64nvme')
      d.update(b)
      return toBase64('crc64nvme', d.digest())
    }
    const mark = fault.proxy.requests.length
    const r = await soaker(viaProxy(root, `s3://${bucket}/c64`, join(tempDir(), 's.db'), '--upload-checksum', 'crc64nvme', '--part-size', '5MiB'))
    expect(r.code).toBe(0)
    const seen = fault.proxy.requests.slice(mark).filter((q) => q.path.startsWith(`/${bucket}/c64/`))
    const puts = seen.filter((q) => q.method === 'PUT')
    expect(Object.fromEntries(puts.map((q) => [`${q.path.split('/').pop()}${q.query.match(/partNumber=\d+/)?.[0] ?? ''}`, q.headers['x-amz-checksum-crc64nvme']]))).toEqual({
      'small.bin': await crc(small),
      'medium.bin': await crc(medium),
      'big.binpartNumber=1': await crc(big.subarray(0, 5 * MiB)),
      'big.binpartNumber=2': await crc(big.subarray(5 * MiB, 10 * MiB)),
      'big.binpartNumber=3': await crc(big.subarray(10 * MiB)),
    })
    expect(puts.every((q) => q.headers['content-md5'] === undefined)).toBe(true)
    const create = seen.filter((q) => q.method === 'POST' && q.query.startsWith('uploads'))
    expect(create.map((q) => [q.headers['x-amz-checksum-algorithm'], q.headers['x-amz-checksum-type']])).toEqual([['CRC64NVME', 'FULL_OBJECT']])
    const completes = seen.filter((q) => q.method === 'POST' && q.query.startsWith('uploadId='))
    expect(completes.map((q) => [q.headers['x-amz-checksum-crc64nvme'], q.headers['x-amz-checksum-type']])).toEqual([[await crc(big), 'FULL_OBJECT']])
    for (const [key, data] of [['small.bin', small], ['medium.bin', medium], ['big.bin', big]] as const) {
      expect(md5(await objectBytes(bucket, `c64/${key}`))).toBe(md5(data))
    }
  })

  test('after kill -9 in the middle of a multipart upload, the same command sends only the parts the store lacks', async () => {
    const bucket = await freshBucket()
    const data = body(40 * MiB)
    const root = sourceTree({ 'huge.bin': data })
    const state = join(tempDir(), 'up.db')
    // Slow enough to be caught in the middle: 8 parts of 5 MiB at 10 MB/s.
    const args = viaProxy(root, `s3://${bucket}/k`, state, '--part-size', '5MiB', '--concurrency', '2', '--max-concurrency', '2')
    fault.proxy.requests.length = 0
    const first = startSoaker([...args, '--max-speed', '10'])
    await waitFor(async () => (await readState(state)).partCount >= 3, 60_000, 'three recorded parts')
    first.child.kill('SIGKILL')
    await first.done
    const uploadId = (await readState(state)).objects[0]!.uploadId!
    expect(uploadId).toBeTruthy()
    const held = await client.send(new ListPartsCommand({ Bucket: bucket, Key: 'k/huge.bin', UploadId: uploadId }))
    const heldParts = (held.Parts ?? []).map((p) => p.PartNumber!)
    expect(heldParts.length).toBeGreaterThanOrEqual(3)

    fault.proxy.requests.length = 0
    const second = await soaker(args)
    expect(second.code).toBe(0)
    expect(second.stderr).toMatch(/resuming the upload of k\/huge\.bin: the store holds \d+ of 8 parts/)
    // A part whose body had all gone out before the kill may still complete on the server after
    // the ListParts above: the second run counts the parts the store holds when it starts.
    const holds = Number(/the store holds (\d+) of 8 parts/.exec(second.stderr)![1])
    expect(holds).toBeGreaterThanOrEqual(heldParts.length)
    const sentParts = fault.proxy.requests.filter((q) => q.method === 'PUT' && q.query.includes('partNumber=')).map((q) => Number(/partNumber=(\d+)/.exec(q.query)![1]))
    expect(sentParts.length).toBe(8 - holds)
    expect(new Set(sentParts).size).toBe(sentParts.length)
    expect(sentParts.filter((n) => heldParts.includes(n))).toEqual([])
    expect(md5(await objectBytes(bucket, 'k/huge.bin'))).toBe(md5(data))
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k/huge.bin' }))
    expect(head.Metadata!.mtime).toBeDefined()
    expect((await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toEqual([])
  })

  test('soaker abort deletes the multipart upload an interrupted run kept, and the next run starts that file over', async () => {
    const bucket = await freshBucket()
    const data = body(30 * MiB)
    const root = sourceTree({ 'f.bin': data })
    const state = join(tempDir(), 'up.db')
    const args = cpArgs(root, `s3://${bucket}/a`, state, '--part-size', '5MiB', '--max-speed', '8', '--concurrency', '1', '--max-concurrency', '1')
    const run = startSoaker(args)
    await waitFor(async () => (await readState(state)).partCount >= 1, 60_000, 'a recorded part')
    run.child.kill('SIGINT')
    const interrupted = await run.done
    expect(interrupted.code).toBe(130)
    expect(interrupted.stderr).toMatch(/kept on the store for the next run to resume.*soaker abort/s)
    expect((await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads).toHaveLength(1)

    const aborted = await soaker(['abort', '--state', state, '--endpoint-url', s3.endpoint])
    expect(aborted.code).toBe(0)
    expect(aborted.stdout).toMatch(/1 of 1 unfinished uploads aborted/)
    expect((await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toEqual([])
    const job = await readState(state)
    expect(job.objects.map(({ uploadId }) => ({ uploadId }))).toEqual([{ uploadId: null }])
    expect(job.partCount).toBe(0)

    const again = await soaker(['abort', '--state', state, '--endpoint-url', s3.endpoint])
    expect(again.stdout).toMatch(/nothing to abort/)
    const done = await soaker(cpArgs(root, `s3://${bucket}/a`, state, '--part-size', '5MiB'))
    expect(done.code).toBe(0)
    expect(md5(await objectBytes(bucket, 'a/f.bin'))).toBe(md5(data))
  })

  test('a file that keeps changing while it is uploaded is retried, then recorded as failed; the others arrive', async () => {
    const bucket = await freshBucket()
    const root = tempDir()
    const growing = join(root, 'growing.log')
    writeFileSync(growing, body(12 * MiB))
    writeFileSync(join(root, 'steady.txt'), 'steady')
    const state = join(tempDir(), 'up.db')
    const writer = setInterval(() => appendFileSync(growing, 'more\n'), 20)
    try {
      const r = await soaker(cpArgs(root, `s3://${bucket}/g`, state, '--part-size', '5MiB', '--max-speed', '20', '--retries', '1'), soakerEnv({ SOAKER_RETRY_DELAY: '0.01' }))
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/growing\.log changed while it was being uploaded/)
    } finally {
      clearInterval(writer)
    }
    expect((await readState(state)).objects.map(({ key, status, errorCode }) => ({ key, status, errorCode }))).toEqual([
      { key: 'g/growing.log', status: 'failed', errorCode: 'SOAKER_FILE_CHANGED' },
      { key: 'g/steady.txt', status: 'done', errorCode: null },
    ])
    expect(await keysIn(bucket)).toEqual(['g/steady.txt'])
    expect((await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toEqual([])
  })

  test('--dry-run lists what would be uploaded and sends nothing', async () => {
    const bucket = await freshBucket()
    const { root } = makeTree()
    const r = await soaker(cpArgs(root, `s3://${bucket}/d`, join(tempDir(), 's.db'), '--dry-run'))
    expect(r.code).toBe(0)
    expect(r.stdout + r.stderr).toMatch(/a\.txt/)
    expect(await keysIn(bucket)).toEqual([])
  })

  test('--order path uploads in key order, size-desc biggest first', async () => {
    const bucket = await freshBucket()
    const root = sourceTree({ 'c.bin': body(300), 'a.bin': body(100), 'b.bin': body(200), 'd.bin': body(50) })
    const order = async (o: string): Promise<string[]> => {
      fault.proxy.requests.length = 0
      const r = await soaker(viaProxy(root, `s3://${bucket}/${o}`, join(tempDir(), 's.db'), '--order', o, '--concurrency', '1', '--max-concurrency', '1'))
      expect(r.code).toBe(0)
      return fault.proxy.requests.filter((q) => q.method === 'PUT').map((q) => q.path.split('/').pop()!)
    }
    expect(await order('path')).toEqual(['a.bin', 'b.bin', 'c.bin', 'd.bin'])
    expect(await order('size-desc')).toEqual(['c.bin', 'b.bin', 'a.bin', 'd.bin'])
    expect(await order('size-asc')).toEqual(['d.bin', 'a.bin', 'b.bin', 'c.bin'])
  })
})

describe('upload: bad input', () => {
  test('a source that does not exist, a bucket that does not exist, several sources, a part size under 5 MiB', async () => {
    const bucket = await freshBucket()
    const dir = tempDir()
    const state = join(dir, 's.db')
    const missing = await soaker(cpArgs(join(dir, 'nope'), `s3://${bucket}/x`, state))
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/Cannot read the source `.*nope`: ENOENT/)
    const noBucket = await soaker(cpArgs(dir, 's3://no-such-bucket-soaker/x', state))
    expect(noBucket.code).toBe(1)
    expect(noBucket.stderr).toMatch(/Bucket `no-such-bucket-soaker` does not exist/)
    const two = await soaker(['cp', dir, dir, `s3://${bucket}/x`, '--endpoint-url', s3.endpoint])
    expect(two.code).toBe(2)
    expect(two.stderr).toMatch(/Expected one local file or directory to upload/)
    const tiny = await soaker(cpArgs(dir, `s3://${bucket}/x`, state, '--part-size', '1MiB'))
    expect(tiny.code).toBe(2)
    expect(tiny.stderr).toMatch(/at least 5MiB for uploads/)
    const order = await soaker(cpArgs(dir, `s3://${bucket}/x`, state, '--order', 'random'))
    expect(order.code).toBe(2)
    expect(order.stderr).toMatch(/--order.*one of size-asc, size-desc, path.*random/)
    await rm(dir, { recursive: true, force: true })
  })
})
