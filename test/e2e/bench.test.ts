import { describe, expect, test } from 'vitest'
import { putObject } from '../../scripts/support/seed.js'
import { join } from 'node:path'
import { client, cpArgs, freshBucket, keysOf, md5, objectBytes, s3, soaker, startSoaker, tempDir, treeOf } from './helpers.js'

/** The JSON rows of a bench's stdout. */
function rowsOf(stdout: string): Array<Record<string, number | string>> {
  return stdout.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, number | string>)
}

/** A row measured something: every count and rate is a positive number (speeds themselves are never asserted). */
function expectPositive(row: Record<string, number | string>): void {
  for (const field of ['objects', 'bytes', 'seconds', 'cpu_seconds', 'objects_per_second', 'mb_per_second', 'cpu_seconds_per_gb']) {
    expect(row[field], `${field} of ${JSON.stringify(row)}`).toBeGreaterThan(0)
  }
}

const tiny = ['--seconds', '0.2', '--size', '64KiB', '--count', '8']

describe('soaker bench: the data plane alone', () => {
  test('bench --seconds 0.2 --data-threads-list 0,1 --concurrency-list 2,4 prints a line per setting with positive numbers', async () => {
    const r = await soaker(['bench', ...tiny, '--data-threads-list', '0,1', '--concurrency-list', '2,4'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const lines = r.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^Data plane alone: synthetic:\/\/8x65536 .* into \/dev\/null, MD5 in stream/)
    expect(lines[1]!.split(/\s+/)).toEqual(['direction', 'threads', 'concurrency', 'objects/s', 'MB/s', 'CPU-s/GB'])
    const rows = lines.slice(2).map((l) => l.trim().split(/\s+/))
    expect(rows.map((c) => c.slice(0, 3))).toEqual([['read', '0', '2'], ['read', '0', '4'], ['read', '1', '2'], ['read', '1', '4']])
    for (const c of rows) for (const v of c.slice(3)) expect(Number(v)).toBeGreaterThan(0)
  })

  test('bench --json --verify false, objects in ranges: one JSON object per setting', async () => {
    const r = await soaker(['bench', '--json', '--verify', 'false', '--seconds', '0.2', '--size', '3MiB', '--part-size', '1MiB', '--count', '2',
      '--data-threads-list', '2', '--concurrency-list', '3'])
    expect(r.code).toBe(0)
    const rows = rowsOf(r.stdout)
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ type: 'bench', direction: 'read', threads: 2, concurrency: 3 })
    expectPositive(rows[0]!)
    expect(Number(rows[0]!.bytes) % (3 * 1024 * 1024)).toBe(0) // whole objects only
  })
})

describe('soaker bench s3://…', () => {
  const reach = ['--endpoint-url', s3.endpoint]

  test('bench s3://bucket/scratch uploads, downloads and deletes, at each setting; the prefix is empty afterwards', async () => {
    const bucket = await freshBucket()
    const r = await soaker(['bench', `s3://${bucket}/scratch`, ...reach, '--json', '--count', '3', '--size', '6MiB', '--part-size', '5MiB',
      '--concurrency-list', '2,4', '--data-threads-list', '0,1'])
    expect(r.stderr).toMatch(new RegExp(`deleted the 3 objects the bench wrote under s3://${bucket}/scratch/soaker-bench-[0-9a-f]{8}/`))
    expect(r.stderr).not.toContain('Warning')
    expect(r.code).toBe(0)
    const rows = rowsOf(r.stdout)
    expect(rows.map((row) => [row.direction, row.threads, row.concurrency])).toEqual([
      ['upload', 0, 2], ['download', 0, 2], ['download', 1, 2], ['upload', 0, 4], ['download', 0, 4], ['download', 1, 4],
    ])
    for (const row of rows) {
      expectPositive(row)
      expect(row).toMatchObject({ objects: 3, bytes: 3 * 6 * 1024 * 1024 })
    }
    expect(await keysOf(bucket)).toEqual([])
  })

  test('bench s3://bucket/prefix refuses a prefix that holds objects; with --force it writes beside them and deletes only its own', async () => {
    const bucket = await freshBucket()
    await putObject(client, bucket, 'data/keep.txt', 'mine')
    const refused = await soaker(['bench', `s3://${bucket}/data`, ...reach, '--count', '1', '--size', '1KiB', '--concurrency-list', '1'])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain(`Expected an empty prefix for the bench's objects, got \`s3://${bucket}/data/\`, which holds \`data/keep.txt\``)
    expect(refused.stdout).toBe('')
    const forced = await soaker(['bench', `s3://${bucket}/data`, ...reach, '--force', '--count', '2', '--size', '1KiB', '--concurrency-list', '1', '--data-threads-list', '0'])
    expect(forced.code).toBe(0)
    expect(forced.stdout).toMatch(/^upload +0 +1 /m)
    expect(forced.stdout).toMatch(/^download +0 +1 /m)
    expect(await keysOf(bucket)).toEqual(['data/keep.txt'])
  })

  test('Ctrl-C during bench s3://…: exit 130, and the objects it wrote are deleted', async () => {
    const bucket = await freshBucket()
    const run = startSoaker(['bench', `s3://${bucket}`, ...reach, '--json', '--count', '6', '--size', '6MiB', '--part-size', '5MiB',
      '--concurrency-list', '1,1,1,1,1,1,1,1', '--data-threads-list', '0'])
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => { if (run.output().includes('"direction":"upload"')) { clearInterval(poll); resolve() } }, 20)
    })
    run.child.kill('SIGINT')
    const r = await run.done
    expect(r.code).toBe(130)
    expect(r.stderr).toContain('SIGINT: stopping, then deleting the bench\'s objects')
    expect(await keysOf(bucket)).toEqual([])
  })
})

describe('soaker bench with bad input', () => {
  test.each([
    [['--concurrency-list', 'x'], 'Expected `--concurrency-list` to be a comma-separated list of integers >= 1 like 4,16,64, got `x`'],
    [['--data-threads-list', '1,-2'], 'Expected `--data-threads-list` to be a comma-separated list of integers >= 0 like 0,1,2, got `1,-2`'],
    [['--size', 'huge'], 'Expected `--size` to be a size like 8MiB, 16M or 8388608, got `huge`'],
    [['--seconds', '0'], 'Expected `--seconds` to be more than 0, got `0`'],
    [['gs://bucket/p'], 'Expected an s3://bucket[/prefix] target, or none to measure the data plane alone, got `gs://bucket/p`'],
    [['./scratch'], 'Expected an s3://bucket[/prefix] target, or none to measure the data plane alone, got `./scratch`'],
    [['s3://bucket/p', '--size', '20MiB', '--part-size', '1MiB'], 'Expected `--part-size` to be at least 5MiB where objects are uploaded in parts'],
  ])('bench %j: exit 2, naming the input', async (args, message) => {
    const r = await soaker(['bench', ...args])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(message)
    expect(r.stdout).toBe('')
  })
})

describe('synthetic:// as any command\'s source', () => {
  test('cp synthetic://3x6MiB s3://bucket/gen uploads the generated objects, each with the bytes its ETag promises', async () => {
    const bucket = await freshBucket()
    const r = await soaker([...cpArgs('synthetic://3x6MiB', `s3://${bucket}/gen`, join(tempDir(), 's.db')), '--part-size', '5MiB'])
    expect(r.code).toBe(0)
    expect(await keysOf(bucket)).toEqual(['gen/obj-000000', 'gen/obj-000001', 'gen/obj-000002'])
    const local = tempDir()
    expect((await soaker(cpArgs('synthetic://3x6MiB', local, join(tempDir(), 's.db')))).code).toBe(0)
    const files = await treeOf(local)
    for (const key of ['obj-000000', 'obj-000001', 'obj-000002']) expect(md5(await objectBytes(bucket, `gen/${key}`))).toBe(files[key])
    expect(new Set(Object.values(files)).size).toBe(3)
  })
})
