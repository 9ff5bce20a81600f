import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { putObject } from '../../scripts/support/seed.js'
import { body, client, cpArgs, exists, freshBucket, md5, readState, s3, soaker, soakerEnv, tempDir, treeOf } from './helpers.js'

// Each case: the exit status, a message naming the bad input, and nothing written where it should not be.
describe('soaker cp with bad input', () => {
  test('cp --no-such-flag: exit 2 naming the flag', async () => {
    const r = await soaker(['cp', 's3://bucket/x', tempDir(), '--no-such-flag'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("unknown option '--no-such-flag'")
  })

  test.each([
    ['s3:/bucket/x', 'Expected an S3 URI like s3://bucket/prefix'],
    ['s3://', 'Expected an S3 URI like s3://bucket/prefix'],
    ['s3://a', 'bucket name of 3-255'],
    ['ftp://bucket/x', 'scheme `ftp:` is not supported'],
    ['gs://x/y', 'bucket name of 3-63'],
    ['hf://gpt2', 'Expected a Hugging Face URI'],
  ])('cp %s dir: exit 2, "%s"', async (uri, message) => {
    const dest = tempDir()
    const r = await soaker(['cp', uri, dest])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(message)
    expect(r.stderr).toContain(uri)
  })

  test('cp --max-speed fast: exit 2 with the expected shape', async () => {
    const r = await soaker(['cp', 's3://bucket/x', tempDir(), '--max-speed', 'fast'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('Expected `--max-speed` to be a rate in MB/s like 50 or 50MB/s, got `fast`')
  })

  test('MAX_PROCESSES=0 (legacy variable) is named in the error', async () => {
    const r = await soaker(['cp', 's3://bucket/x', tempDir()], soakerEnv({ MAX_PROCESSES: '0' }))
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('Expected `MAX_PROCESSES` to be an integer >= 1, got `0`')
  })

  test('missing credentials: exit 1 saying where soaker looked', async () => {
    const env = soakerEnv({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined })
    const r = await soaker(cpArgs('s3://bucket/x', tempDir(), join(tempDir(), 's.db')), env)
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('No AWS credentials found')
    expect(r.stderr).toContain('SOAKER_NO_CREDENTIALS')
  })

  test('unreachable endpoint: exit 1 within the connect timeout, naming the endpoint', async () => {
    const started = Date.now()
    const r = await soaker(['cp', 's3://bucket/x', tempDir(), '--endpoint-url', 'http://127.0.0.1:9', '--connect-timeout', '1', '--retries', '1', '--state', join(tempDir(), 's.db')])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('Cannot reach http://127.0.0.1:9')
    expect(Date.now() - started).toBeLessThan(20_000)
  })

  test('an endpoint that is not S3 (a web server answering 404): exit 1, saying it does not look like S3', async () => {
    const server = createServer((_req, res) => { res.writeHead(404); res.end('not here') })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      const r = await soaker(['cp', 's3://bucket/x', tempDir(), '--endpoint-url', url, '--state', join(tempDir(), 's.db')])
      expect(r.code).toBe(1)
      expect(r.stderr).toContain(`${url} answered HTTP 404 without S3's x-amz-request-id header`)
    } finally {
      server.close()
    }
  })

  test('a bucket that does not exist: exit 1, NoSuchBucket named', async () => {
    const r = await soaker(cpArgs('s3://no-such-bucket-soaker/x', tempDir(), join(tempDir(), 's.db')))
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('Bucket `no-such-bucket-soaker` does not exist')
    expect(r.stderr).toContain('SOAKER_NO_SUCH_BUCKET')
  })

  test('wrong secret key: exit 1, access denied', async () => {
    const bucket = await freshBucket()
    const r = await soaker(cpArgs(`s3://${bucket}/x`, tempDir(), join(tempDir(), 's.db')), soakerEnv({ AWS_SECRET_ACCESS_KEY: 'wrong' }))
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/Access denied to s3:\/\/.*SOAKER_ACCESS_DENIED/)
  })

  test('a destination that cannot be a directory: exit 1, nothing written', async () => {
    const bucket = await freshBucket()
    await putObject(client, bucket, 'p/a', 'a')
    const file = join(tempDir(), 'a-file')
    writeFileSync(file, 'I am a file')
    const r = await soaker(cpArgs(`s3://${bucket}/p`, join(file, 'dest'), join(tempDir(), 's.db')))
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`Destination \`${join(file, 'dest')}\` is not a writable directory`)
  })

  test('a prefix with nothing under it and no such object: exit 1, saying so', async () => {
    const bucket = await freshBucket()
    const r = await soaker(cpArgs(`s3://${bucket}/nothing-here`, tempDir(), join(tempDir(), 's.db')))
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`Nothing to copy at s3://${bucket}/nothing-here`)
  })
})

describe('soaker cp with keys that cannot become files', () => {
  test('unsafe keys, a file next to a folder of the same name and a too-long name are recorded as failed; the rest arrive; exit 1', async () => {
    const bucket = await freshBucket()
    const good = body(2000)
    const keys = {
      escape: 'p/a/../../../escaped.txt',
      dotdot: 'p/../up.txt',
      empty: 'p/double//slash',
      long: `p/${'n'.repeat(300)}`,
      fileVsDir1: 'p/x',
      fileVsDir2: 'p/x/y',
    }
    for (const k of Object.values(keys)) await putObject(client, bucket, k, 'bad')
    await putObject(client, bucket, 'p/good.bin', good)
    const root = tempDir()
    const dest = join(root, 'dest')
    mkdirSync(dest)
    const state = join(tempDir(), 's.db')
    const r = await soaker(cpArgs(`s3://${bucket}/p/`, dest, state))
    expect(r.code).toBe(1)
    const rows = Object.fromEntries((await readState(state)).objects.map((row) => [row.key, row]))
    // Ceph stores these keys verbatim. A server that normalises `..` in URL paths stores other
    // keys instead; whatever reached the listing must be refused, nothing written outside dest.
    for (const k of [keys.escape, keys.dotdot]) {
      if (s3.kind === 'ceph' || rows[k]) expect(rows[k]).toMatchObject({ status: 'failed', errorCode: 'SOAKER_UNSAFE_KEY' })
    }
    expect(await exists(join(root, 'escaped.txt'))).toBe(false)
    expect(await exists(join(root, 'up.txt'))).toBe(false)
    expect(rows[keys.empty]).toMatchObject({ status: 'failed', errorCode: 'SOAKER_UNSAFE_KEY' })
    expect(rows[keys.long]).toMatchObject({ status: 'failed', errorCode: 'SOAKER_UNSAFE_KEY' })
    expect(String(rows[keys.long]!.reason)).toContain('300 bytes; the file system allows 255')
    // `x` and `x/y` cannot both exist: exactly one of them is failed, with a reason saying why.
    const conflict = [rows[keys.fileVsDir1], rows[keys.fileVsDir2]]
    expect(conflict.filter((c) => c?.status === 'failed')).toHaveLength(1)
    expect(conflict.find((c) => c?.status === 'failed')!.reason).toMatch(/is in the way/)
    expect((await treeOf(dest))['good.bin']).toBe(md5(good))
    expect(r.stdout).toContain('Failures:')
    expect(r.stdout).toContain('SOAKER_UNSAFE_KEY')
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/) // no stack trace
  })

})

/** A 2 MiB tmpfs, for a real ENOSPC; undefined where this user cannot mount one. */
function smallDisk(): string | undefined {
  const dir = tempDir('full')
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'ignore' })
    return dir
  } catch {
    return undefined
  }
}

describe('soaker cp onto a full disk', () => {
  const disk = smallDisk()
  afterAll(() => { if (disk) execFileSync('umount', [disk]) })

  test.skipIf(disk === undefined)('stops the run with a clear error, exit 1, and every file at a final path is whole', async () => {
    const bucket = await freshBucket()
    const files = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`f${i}`, body(700 * 1024)]))
    for (const [k, v] of Object.entries(files)) await putObject(client, bucket, `d/${k}`, v)
    const state = join(tempDir(), 's.db')
    const r = await soaker(cpArgs(`s3://${bucket}/d`, disk!, state, '--concurrency', '1'))
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/Stopped: cannot write `.*`: the destination disk is full \(ENOSPC\)/)
    const failed = (await readState(state)).objects.filter((o) => o.status === 'failed')
    expect(failed.map(({ errorCode, reason }) => ({ errorCode, reason }))).toEqual([
      { errorCode: 'SOAKER_LOCAL_WRITE', reason: expect.stringContaining('disk is full') as unknown },
    ])
    const arrived = await treeOf(disk!)
    const finals = Object.keys(arrived).filter((f) => !f.startsWith('.soaker/'))
    expect(finals.length).toBeGreaterThan(0)
    expect(finals.length).toBeLessThan(6)
    for (const f of finals) expect(md5(await readFile(join(disk!, f)))).toBe(md5(files[f]!))
  })
})
