import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { putMultipart, putObject } from '../../scripts/support/seed.js'
import { body, client, freshBucket, s3, soaker, tempDir } from './helpers.js'

const MiB = 1024 * 1024

/** A bucket with a small object, one in a folder, and a multipart object (two 5 MiB parts and a bit). */
type Tree = Record<'a.txt' | 'dir/b.bin' | 'big.bin', Buffer>

async function seeded(): Promise<{ bucket: string; data: Tree }> {
  const bucket = await freshBucket()
  const data: Tree = { 'a.txt': body(1000), 'dir/b.bin': body(70_000), 'big.bin': body(10 * MiB + 123) }
  await putObject(client, bucket, 'tree/a.txt', data['a.txt'])
  await putObject(client, bucket, 'tree/dir/b.bin', data['dir/b.bin'])
  await putMultipart(client, bucket, 'tree/big.bin', data['big.bin'], 5 * MiB)
  return { bucket, data }
}

function localCopy(data: Record<string, Buffer>): string {
  const dir = tempDir('check-local')
  for (const [key, b] of Object.entries(data)) {
    const path = join(dir, ...key.split('/'))
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, b)
  }
  return dir
}

const endpoint = (): string[] => ['--endpoint-url', s3.endpoint]

describe('soaker check', () => {
  test('check s3://b/tree dir on an identical pair: exit 0, the multipart object hashed under its part layout', async () => {
    const { bucket, data } = await seeded()
    const dir = tempDir('check-same')
    expect((await soaker(['cp', `s3://${bucket}/tree`, dir, ...endpoint(), '--state', join(tempDir(), 's.db')])).code).toBe(0)
    const r = await soaker(['check', `s3://${bucket}/tree`, dir, ...endpoint(), '--json'])
    expect(r.code).toBe(0)
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    const entries = lines.filter((l) => l.type === 'check')
    expect(entries.map((e) => e.key).sort()).toEqual(Object.keys(data).sort())
    expect(entries.every((e) => e.verdict === 'match')).toBe(true)
    expect(entries.find((e) => e.key === 'big.bin')?.detail).toMatch(/multipart ETag \(3 parts of 5242880 bytes\) matches/)
    expect(entries.find((e) => e.key === 'a.txt')?.detail).toBe('MD5 matches')
    expect(lines.at(-1)).toEqual({ type: 'check_summary', identical: true, match: 3, size_only: 0, recorded: 0, differ: 0, missing_on_dst: 0, missing_on_src: 0, errors: 0 })
  })

  test('a check run again compares only the pairs that changed since; its verdicts live in the state database', async () => {
    const { bucket, data } = await seeded()
    const dir = localCopy(data)
    const state = join(tempDir(), 'check.db')
    const args = ['check', dir, `s3://${bucket}/tree`, ...endpoint(), '--state', state, '--json']
    const summary = (stdout: string): Record<string, unknown> => JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>
    const first = await soaker(args)
    expect(first.code).toBe(0)
    expect(summary(first.stdout)).toMatchObject({ match: 3, recorded: 0 })
    const again = await soaker(args)
    expect(summary(again.stdout)).toMatchObject({ identical: true, match: 3, recorded: 3 })
    // The object changes on the store (same size, new bytes): that pair alone is compared again.
    const changed = Buffer.from(data['a.txt'])
    changed[0] = changed[0]! ^ 1
    await putObject(client, bucket, 'tree/a.txt', changed)
    const third = await soaker(args)
    expect(third.code).toBe(1)
    expect(summary(third.stdout)).toMatchObject({ identical: false, match: 2, differ: 1, recorded: 2 })
  })

  test('check dir s3://b/tree finds a missing object, an extra one and a same-size corruption; exit 1; report files', async () => {
    const { bucket, data } = await seeded()
    const dir = localCopy({ 'a.txt': data['a.txt'], 'dir/b.bin': Buffer.from(data['dir/b.bin']), 'extra.txt': Buffer.from('only here') })
    // The same size, one byte changed.
    const corrupt = Buffer.from(data['dir/b.bin'])
    corrupt[500] = corrupt[500]! ^ 0xff
    writeFileSync(join(dir, 'dir', 'b.bin'), corrupt)
    const reports = tempDir('reports')
    const r = await soaker(['check', dir, `s3://${bucket}/tree`, ...endpoint(),
      '--combined', join(reports, 'combined.txt'), '--differ', join(reports, 'differ.txt'),
      '--missing-on-src', join(reports, 'missing-on-src.txt'), '--missing-on-dst', join(reports, 'missing-on-dst.txt')])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(`missing from s3://${bucket}/tree: extra.txt`)
    expect(r.stdout).toContain(`missing from ${dir}: big.bin`)
    expect(r.stdout).toMatch(/differs: dir\/b\.bin: MD5 differs: [0-9a-f]{32} and [0-9a-f]{32}/)
    expect(r.stdout).toMatch(/Checked 4 keys against .*: 1 same, 1 differ, 1 missing from the destination, 1 missing from the source, 0 could not be read; 3 differences found/)
    const lines = (f: string): string[] => readFileSync(join(reports, f), 'utf8').trim().split('\n').sort()
    expect(lines('combined.txt')).toEqual(['* dir/b.bin', '+ big.bin', '- extra.txt', '= a.txt'])
    expect(lines('differ.txt')).toEqual(['dir/b.bin'])
    expect(lines('missing-on-src.txt')).toEqual(['big.bin'])
    expect(lines('missing-on-dst.txt')).toEqual(['extra.txt'])
  })

  test('check s3://a s3://b: different part layouts share no digest; sizes decide unless --download, which finds the corruption', async () => {
    const a = await freshBucket()
    const b = await freshBucket()
    const same = body(6 * MiB)
    const bad = Buffer.from(same)
    bad[123] = bad[123]! ^ 1
    await putMultipart(client, a, 'x.bin', same, 5 * MiB)
    await putObject(client, b, 'x.bin', bad)
    await putObject(client, a, 'y.txt', 'same in both')
    await putObject(client, b, 'y.txt', 'same in both')
    const bySize = await soaker(['check', `s3://${a}`, `s3://${b}`, ...endpoint()])
    expect(bySize.code).toBe(0)
    expect(bySize.stdout).toMatch(/2 same \(1 by size alone: no digest known to both sides; --download compares their bytes\)/)
    const read = await soaker(['check', `s3://${a}`, `s3://${b}`, ...endpoint(), '--download'])
    expect(read.code).toBe(1)
    expect(read.stdout).toContain('differs: x.bin: bytes differ (read from both sides)')
    expect(read.stdout).toMatch(/1 same, 1 differ/)
  })

  test('bad input: a bucket that does not exist, a local side that is not a directory, an unknown flag', async () => {
    const dir = tempDir('check-bad')
    const missing = await soaker(['check', 's3://no-such-bucket-check', dir, ...endpoint()])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/Bucket `no-such-bucket-check` does not exist.*\[SOAKER_NO_SUCH_BUCKET\]/)
    const notDir = await soaker(['check', join(dir, 'nothing-here'), dir])
    expect(notDir.code).toBe(1)
    expect(notDir.stderr).toMatch(/Expected a directory to check, got `.*nothing-here` \(it does not exist\)/)
    const flag = await soaker(['check', dir, dir, '--no-such-flag'])
    expect(flag.code).toBe(2)
    expect(flag.stderr).toContain("unknown option '--no-such-flag'")
  })
})
