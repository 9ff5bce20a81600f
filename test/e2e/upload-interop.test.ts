import { execFile, spawnSync } from 'node:child_process'
import { mkdirSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, test } from 'vitest'
import { body, cpArgs, freshBucket, md5, readState, s3, soaker, tempDir, treeOf } from './helpers.js'

const run = promisify(execFile)
const hasRclone = spawnSync('rclone', ['version'], { stdio: 'ignore' }).status === 0

/**
 * rclone against the test server, configured by environment alone: remote `t:`, no config file,
 * no AWS_CA_BUNDLE (rclone 1.60 refuses to start with one), times printed in UTC.
 */
async function rclone(...args: string[]): Promise<string> {
  const configDir = tempDir('rclone')
  const configFile = join(configDir, 'rclone.conf')
  writeFileSync(configFile, '')
  const env = {
    PATH: process.env.PATH, HOME: configDir, TZ: 'UTC', RCLONE_CONFIG: configFile,
    RCLONE_CONFIG_T_TYPE: 's3', RCLONE_CONFIG_T_PROVIDER: s3.kind === 'ceph' ? 'Ceph' : 'Other',
    RCLONE_CONFIG_T_ENDPOINT: s3.endpoint, RCLONE_CONFIG_T_REGION: s3.region,
    RCLONE_CONFIG_T_ACCESS_KEY_ID: s3.accessKeyId, RCLONE_CONFIG_T_SECRET_ACCESS_KEY: s3.secretAccessKey,
  }
  const { stdout } = await run('rclone', args, { env, timeout: 30_000 })
  return stdout
}

/** `rclone lsl` lines as path → { size, time }, the time as rclone prints it (`2020-01-02 03:04:05.123456789`). */
function parseLsl(out: string): Record<string, { size: number; time: string }> {
  const rows: Record<string, { size: number; time: string }> = {}
  for (const line of out.split('\n').filter((l) => l.trim() !== '')) {
    const m = /^\s*(\d+) (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9}) (.+)$/.exec(line)
    if (!m) throw new Error(`unexpected rclone lsl line: ${line}`)
    rows[m[3]!] = { size: Number(m[1]), time: m[2]! }
  }
  return rows
}

/** A file's mtime in rclone's notation, in UTC, to the microsecond (what utimes can set from Node). */
function mtimeAsRclonePrints(path: string): string {
  const ns = statSync(path, { bigint: true }).mtimeNs
  const iso = new Date(Number(ns / 1_000_000n)).toISOString() // 2020-01-02T03:04:05.123Z
  const micros = String((ns / 1000n) % 1_000_000n).padStart(6, '0')
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${micros}`
}

// Past times with digits below the millisecond, none of them a round number.
const times = { 'a.txt': 1577934245.123456, 'sub/b.bin': 1262304000.987654, 'sub/deep/empty': 946684799.000321 }

describe.skipIf(!hasRclone)('soaker and rclone read each other\'s mtimes', () => {
  test('cp dir s3://b/p: rclone lsl shows each file\'s size and original mtime, to the microsecond', async () => {
    const files = { 'a.txt': body(10), 'sub/b.bin': body(70_000), 'sub/deep/empty': Buffer.alloc(0) }
    const src = tempDir('src')
    for (const [rel, data] of Object.entries(files)) {
      const path = join(src, rel)
      mkdirSync(join(path, '..'), { recursive: true })
      writeFileSync(path, data)
      utimesSync(path, times[rel as keyof typeof times], times[rel as keyof typeof times])
    }
    const bucket = await freshBucket()
    const r = await soaker(cpArgs(src, `s3://${bucket}/p`, join(tempDir(), 's.db')))
    expect(r.code).toBe(0)
    const listed = parseLsl(await rclone('lsl', `t:${bucket}/p`))
    expect(Object.keys(listed).sort()).toEqual(Object.keys(files).sort())
    for (const [rel, data] of Object.entries(files)) {
      const expected = mtimeAsRclonePrints(join(src, rel))
      expect(expected.slice(0, 4)).not.toBe(new Date().toISOString().slice(0, 4)) // utimes took: a past year
      expect(listed[rel]!.size, rel).toBe(data.length)
      expect(listed[rel]!.time.slice(0, expected.length), rel).toBe(expected)
    }
  })

  test('cp dir s3://b/p skips files rclone uploaded with the same size and mtime, and cp s3://b/p dir restores rclone\'s mtimes', async () => {
    const data = body(5000)
    const src = tempDir('src')
    writeFileSync(join(src, 'r.bin'), data)
    utimesSync(join(src, 'r.bin'), 1577934245.123456, 1577934245.123456)
    const bucket = await freshBucket()
    await rclone('copy', src, `t:${bucket}/p`)

    const state = join(tempDir(), 's.db')
    const up = await soaker(cpArgs(src, `s3://${bucket}/p`, state))
    expect(up.code).toBe(0)
    expect((await readState(state)).objects.map(({ key, status, reason }) => ({ key, status, reason }))).toEqual([
      { key: 'p/r.bin', status: 'skipped', reason: 'already in the bucket with the same size and mtime' },
    ])

    const dest = tempDir()
    const down = await soaker(cpArgs(`s3://${bucket}/p`, dest, join(tempDir(), 'down.db')))
    expect(down.code).toBe(0)
    expect(await treeOf(dest)).toEqual({ 'r.bin': md5(data) })
    expect(statSync(join(dest, 'r.bin')).mtime.toISOString()).toBe('2020-01-02T03:04:05.123Z')
  })
})
