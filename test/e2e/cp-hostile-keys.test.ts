import { mkdirSync, readdirSync, symlinkSync, unlinkSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { putObject } from '../../scripts/support/seed.js'
import { body, client, cpArgs, exists, freshBucket, md5, partialFiles, readState, soaker, soakerEnv, tempDir, treeOf } from './helpers.js'
import { bodyOf, startHostileStore, type HostileStore } from './hostile-listing.js'

const MiB = 1024 * 1024

/** Keys that arrive byte for byte. */
const good = [
  'good.txt', 'sub/deep/file.bin', 'back\\slash.txt', 'x', 'x.soaker-partial', 'f', 'f-x', 'sub/.soaker/nested-is-fine.txt',
  'ünï/名前.txt', 'z/child',
]
/** Refused keys: the code and what the reason says. */
const refused: Record<string, [code: string, reason: RegExp]> = {
  '../escape.txt': ['SOAKER_UNSAFE_KEY', /would escape the destination directory \(`\.\.` segment\)/],
  'a/../../escape2.txt': ['SOAKER_UNSAFE_KEY', /`\.\.` segment/],
  '/abs-soaker-test.txt': ['SOAKER_UNSAFE_KEY', /is an absolute path/],
  'a//b': ['SOAKER_UNSAFE_KEY', /empty or `\.` path segment/],
  './dot': ['SOAKER_UNSAFE_KEY', /empty or `\.` path segment/],
  'nul\0key': ['SOAKER_UNSAFE_KEY', /contains a NUL character/],
  'line\nbreak.txt': ['SOAKER_UNSAFE_KEY', /contains a control character/],
  'esc\u001b[31m.txt': ['SOAKER_UNSAFE_KEY', /contains a control character/],
  'del\u007f.txt': ['SOAKER_UNSAFE_KEY', /contains a control character/],
  'tab\tcr\r.txt': ['SOAKER_UNSAFE_KEY', /contains a control character/],
  [`${'n'.repeat(256)}`]: ['SOAKER_UNSAFE_KEY', /name of 256 bytes; the file system allows 255/],
  '.soaker/partial/planted': ['SOAKER_UNSAFE_KEY', /is reserved: `\.soaker\/` at the destination root holds soaker's partial files/],
  'f/child': ['SOAKER_KEY_CONFLICT', /key "f\/child" needs a folder where the object "f" is a file: it is in the way/],
  // Listed after z/child (this store does not sort): the file is refused, naming the key under it.
  'z': ['SOAKER_KEY_CONFLICT', /key "z" is a file where the object "z\/child" needs a folder: it is in the way/],
  'link/planted.txt': ['SOAKER_UNSAFE_KEY', /link` is a symbolic link already in the destination; nothing is written through one/],
  'abslink/deeper/planted.txt': ['SOAKER_UNSAFE_KEY', /abslink` is a symbolic link already in the destination/],
}
// The order the store lists them in: mostly sorted, `a-x` between `f` and `f/child`, `z` after `z/child`.
const listed = [
  '../escape.txt', '.soaker/partial/planted', './dot', '/abs-soaker-test.txt', 'a//b', 'a/../../escape2.txt', 'abslink/deeper/planted.txt',
  'back\\slash.txt', 'del\u007f.txt', 'esc\u001b[31m.txt', 'f', 'f-x', 'f/child', 'good.txt', 'line\nbreak.txt', 'link/planted.txt',
  `${'n'.repeat(256)}`, 'nul\0key', 'sub/.soaker/nested-is-fine.txt', 'sub/deep/file.bin', 'tab\tcr\r.txt', 'x', 'x.soaker-partial',
  'z/child', 'z', 'ünï/名前.txt',
]

/** The printed form of a key: control characters as \uXXXX, as the summary shows them. */
const printed = (key: string): string => key.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

describe('soaker cp with keys that could escape the destination', () => {
  let store: HostileStore
  beforeAll(async () => { store = await startHostileStore(listed) })
  afterAll(async () => { await store.stop() })

  test('cp s3://hostile/ dest refuses each unsafe key with its reason, copies the rest byte for byte, writes nothing outside; exit 1', async () => {
    expect(new Set(listed)).toEqual(new Set([...good, ...Object.keys(refused)]))
    const base = tempDir('hostile')
    const dest = join(base, 'dest')
    const outside = join(base, 'outside')
    mkdirSync(dest)
    mkdirSync(outside)
    symlinkSync('../outside', join(dest, 'link'))
    symlinkSync(outside, join(dest, 'abslink'))
    const state = join(tempDir(), 's.db')
    const args = ['cp', `s3://${store.bucket}/`, dest, '--endpoint-url', store.url, '--state', state]

    const first = await soaker([...args, '--json'])
    expect(first.code).toBe(1)
    const events = first.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    const summary = events.at(-1) as { event: string; status: string; failures: Array<{ key: string; code: string; reason: string }> }
    expect(summary).toMatchObject({ event: 'summary', status: 'failed', objects_copied: good.length, objects_failed: Object.keys(refused).length })
    const failedEvents = events.filter((e) => e.event === 'object_failed')
    for (const [key, [code, reason]] of Object.entries(refused)) {
      const inSummary = summary.failures.find((f) => f.key === key)
      expect(inSummary, key).toMatchObject({ code, reason: expect.stringMatching(reason) as unknown })
      expect(failedEvents.find((e) => e.key === key), key).toMatchObject({ code, reason: expect.stringMatching(reason) as unknown })
    }

    const rows = Object.fromEntries((await readState(state)).objects.map((r) => [r.key, r]))
    for (const key of good) expect(rows[key], key).toMatchObject({ status: 'done' })
    for (const [key, [code, reason]] of Object.entries(refused)) {
      expect(rows[key], key).toMatchObject({ status: 'failed', errorCode: code, reason: expect.stringMatching(reason) as unknown })
    }
    // A refused key is never fetched, so its bytes never reach the machine.
    expect(store.fetched.sort()).toEqual([...good].sort())

    // A rerun decides the same: the good files are kept, the same keys refused for the same reasons.
    const second = await soaker(args)
    expect(second.code).toBe(1)
    expect(second.stdout).toMatch(new RegExp(`0 copied .*${good.length} skipped .*${Object.keys(refused).length} failed`))
    expect(second.stdout).toContain('Failures:')
    for (const key of Object.keys(refused)) expect(second.stdout).toContain(`  ${printed(key)}: `)
    expect(second.stdout).toContain('  f/child: key "f/child" needs a folder where the object "f" is a file: it is in the way [SOAKER_KEY_CONFLICT]')
    expect(second.stdout).toContain('  esc\\u001b[31m.txt: key "esc\\u001b[31m.txt" contains a control character [SOAKER_UNSAFE_KEY]')
    expect(second.stdout + second.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/) // nothing raw reaches the terminal

    expect(readdirSync(outside)).toEqual([])
    expect(readdirSync(base).sort()).toEqual(['dest', 'outside'])
    expect(await exists('/abs-soaker-test.txt')).toBe(false)
    unlinkSync(join(dest, 'link'))
    unlinkSync(join(dest, 'abslink'))
    expect(await treeOf(dest)).toEqual(Object.fromEntries(good.map((k) => [k, md5(bodyOf(k))])))
  })
})

describe('soaker cp: partial files never share a name with a key', () => {
  test('a bucket holding x and x.soaker-partial: both arrive, and both are right after x changes (whole, then ranged)', async () => {
    const bucket = await freshBucket()
    const other = body(3000)
    await putObject(client, bucket, 'p/x', 'x, first version')
    await putObject(client, bucket, 'p/x.soaker-partial', other)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const first = await soaker(cpArgs(`s3://${bucket}/p`, dest, state))
    expect(first.code).toBe(0)
    expect(await treeOf(dest)).toEqual({ x: md5('x, first version'), 'x.soaker-partial': md5(other) })

    const changed = body(20 * MiB) // above the part size: fetched in ranges into a partial file
    await putObject(client, bucket, 'p/x', changed)
    const second = await soaker(cpArgs(`s3://${bucket}/p`, dest, state))
    expect(second.code).toBe(0)
    expect(second.stdout).toMatch(/1 copied .*1 skipped/)
    expect(await treeOf(dest)).toEqual({ x: md5(changed), 'x.soaker-partial': md5(other) })
    expect(await exists(join(dest, '.soaker'))).toBe(false)
  })

  test('cp s3://b/file.bin dir/ and cp s3://b/file.bin out.bin leave only the file', async () => {
    const bucket = await freshBucket()
    const data = body(12 * MiB)
    await putObject(client, bucket, 'a/file.bin', data)
    const dir = tempDir()
    expect((await soaker(cpArgs(`s3://${bucket}/a/file.bin`, dir + '/', join(tempDir(), 's.db')))).code).toBe(0)
    expect(await treeOf(dir)).toEqual({ 'file.bin': md5(data) })
    expect(readdirSync(dir)).toEqual(['file.bin'])
    const out = join(tempDir(), 'out.bin')
    expect((await soaker(cpArgs(`s3://${bucket}/a/file.bin`, out, join(tempDir(), 's.db')))).code).toBe(0)
    expect(md5(await readFile(out))).toBe(md5(data))
    expect(readdirSync(join(out, '..'))).toEqual(['out.bin'])
  })

  test('a .soaker in the destination that is a symbolic link stops the run before anything is written through it', async () => {
    const bucket = await freshBucket()
    await putObject(client, bucket, 'p/a.txt', 'a')
    const base = tempDir()
    const dest = join(base, 'dest')
    const outside = join(base, 'outside')
    mkdirSync(dest)
    mkdirSync(outside)
    symlinkSync(outside, join(dest, '.soaker'))
    const r = await soaker(cpArgs(`s3://${bucket}/p`, dest, join(tempDir(), 's.db')))
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`Cannot keep partial files in \`${join(dest, '.soaker', 'partial')}\``)
    expect(r.stderr).toContain('is a symbolic link already in the destination')
    expect(readdirSync(outside)).toEqual([])
    expect(await partialFiles(dest)).toEqual([])
  })
})

describe('soaker cp through a symbolic link already in the destination', () => {
  test('dest/link -> ../outside: link/planted.txt and a ranged link/big.bin are refused, the others arrive; exit 1', async () => {
    const bucket = await freshBucket()
    const big = body(10 * MiB)
    await putObject(client, bucket, 'p/link/planted.txt', 'planted')
    await putObject(client, bucket, 'p/link/big.bin', big)
    await putObject(client, bucket, 'p/ok.txt', 'ok')
    await putObject(client, bucket, 'p/real/inside.txt', 'inside')
    const base = tempDir()
    const dest = join(base, 'dest')
    mkdirSync(join(dest, 'real'), { recursive: true })
    mkdirSync(join(base, 'outside'))
    symlinkSync('../outside', join(dest, 'link'))
    const state = join(tempDir(), 's.db')
    const r = await soaker(cpArgs(`s3://${bucket}/p`, dest, state), soakerEnv())
    expect(r.code).toBe(1)
    const failed = (await readState(state)).objects.filter((o) => o.status === 'failed')
    expect(failed.map(({ key, errorCode }) => ({ key, errorCode }))).toEqual([
      { key: 'p/link/big.bin', errorCode: 'SOAKER_UNSAFE_KEY' }, { key: 'p/link/planted.txt', errorCode: 'SOAKER_UNSAFE_KEY' },
    ])
    expect(r.stdout).toContain(`${join(dest, 'link')}\` is a symbolic link already in the destination`)
    expect(readdirSync(join(base, 'outside'))).toEqual([])
    unlinkSync(join(dest, 'link'))
    expect(await treeOf(dest)).toEqual({ 'ok.txt': md5('ok'), 'real/inside.txt': md5('inside') })
  })
})
