import { execFileSync, spawn } from 'node:child_process'
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3'
import { afterAll, describe, expect, test, type TestContext } from 'vitest'
import type { ObjectRow } from '../../src/state/store.js'
import { removeUnprivilegedCopy, unprivilegedCli } from './unprivileged.js'
import { bin, body, client, cpArgs, freshBucket, md5, readState, soaker, soakerEnv, sourceTree as writeTree, tempDir, treeOf, type RunResult, waitFor } from './helpers.js'

const MiB = 1024 * 1024

async function keysOf(bucket: string, prefix = ''): Promise<string[]> {
  const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))
  return (out.Contents ?? []).map((o) => o.Key!).sort()
}

async function objectBytes(bucket: string, key: string): Promise<Buffer> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  return Buffer.from(await out.Body!.transformToByteArray())
}

async function rowsOf(state: string): Promise<Array<Pick<ObjectRow, 'key' | 'status' | 'reason'>>> {
  return (await readState(state)).objects.map(({ key, status, reason }) => ({ key, status, reason }))
}

/** A source tree in a fresh temp dir that any user may read. */
/** A tree the unprivileged user of some tests may enter (mkdtemp makes it 0700). */
function sourceTree(files: Record<string, string | Buffer>): string {
  const root = writeTree(files)
  chmodSync(root, 0o755)
  return root
}

/**
 * Runs soaker as a user that file modes apply to (nobody, when the tests run as root), with a
 * HOME, state dir and state file that user can write. Skips the test, saying why, where no such
 * user can run the CLI.
 */
function soakerUnprivileged(args: string[], ctx: TestContext): Promise<RunResult> {
  const cli = unprivilegedCli()
  if (cli.kind === 'unavailable') {
    console.warn(`[soaker tests] skipped "${ctx.task.name}": ${cli.why}`)
    ctx.skip(cli.why)
  }
  const env = soakerEnv()
  for (const dir of [env.HOME!, env.XDG_STATE_HOME!]) chmodSync(dir, 0o777)
  const ids = cli.kind === 'nobody' ? cli.ids : {}
  const child = spawn(process.execPath, [cli.bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], ...ids })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })))
}

afterAll(removeUnprivilegedCopy)

/** A temp dir anyone may write, for a state file an unprivileged run creates. */
function sharedStatePath(): string {
  const dir = tempDir('state')
  chmodSync(dir, 0o777)
  return join(dir, 's.db')
}

describe('soaker cp dir s3://bucket/prefix: what the walk finds', () => {
  test('cp dir s3://b/p skips symbolic links with a warning and records them as skipped', async () => {
    const src = sourceTree({ 'a.txt': 'a', 'sub/b.txt': 'bb' })
    symlinkSync('a.txt', join(src, 'to-file'))
    symlinkSync('sub', join(src, 'to-dir'))
    symlinkSync('nowhere', join(src, 'broken'))
    const bucket = await freshBucket()
    const state = join(tempDir(), 's.db')
    const r = await soaker(cpArgs(src, `s3://${bucket}/p`, state))
    expect(r.code).toBe(0)
    expect(await keysOf(bucket)).toEqual(['p/a.txt', 'p/sub/b.txt'])
    const notFollowed = expect.stringMatching(/^symbolic link, not followed/) as unknown
    expect(await rowsOf(state)).toEqual([
      { key: 'p/a.txt', status: 'done', reason: null },
      { key: 'p/broken', status: 'skipped', reason: notFollowed },
      { key: 'p/sub/b.txt', status: 'done', reason: null },
      { key: 'p/to-dir', status: 'skipped', reason: notFollowed },
      { key: 'p/to-file', status: 'skipped', reason: notFollowed },
    ])
    for (const name of ['to-file', 'to-dir', 'broken']) expect(r.stderr).toMatch(new RegExp(`${name}: symbolic link, not followed`))
  })

  test('cp dir s3://b/p --follow-symlinks uploads what links point to under the links\' keys, skips loops, fails broken links', async () => {
    const outside = sourceTree({ 'o.txt': 'outside' })
    const files = { 'a.txt': body(100), 'sub/b.txt': body(200) }
    const src = sourceTree(files)
    symlinkSync('a.txt', join(src, 'to-file'))
    symlinkSync('sub', join(src, 'to-dir'))
    symlinkSync(outside, join(src, 'to-outside'))
    symlinkSync('..', join(src, 'sub', 'up')) // back to the root: a loop
    symlinkSync('.', join(src, 'self')) // the root itself: a loop
    symlinkSync('nowhere', join(src, 'broken'))
    const bucket = await freshBucket()
    const state = join(tempDir(), 's.db')
    const r = await soaker(cpArgs(src, `s3://${bucket}/p`, state, '--follow-symlinks'))
    expect(r.code).toBe(1) // the broken link
    expect(await keysOf(bucket)).toEqual(['p/a.txt', 'p/sub/b.txt', 'p/to-dir/b.txt', 'p/to-file', 'p/to-outside/o.txt'])
    expect(md5(await objectBytes(bucket, 'p/to-file'))).toBe(md5(files['a.txt']))
    expect(md5(await objectBytes(bucket, 'p/to-dir/b.txt'))).toBe(md5(files['sub/b.txt']))
    expect((await objectBytes(bucket, 'p/to-outside/o.txt')).toString()).toBe('outside')
    const loop = expect.stringContaining('symbolic link loop') as unknown
    expect(await rowsOf(state)).toEqual([
      { key: 'p/a.txt', status: 'done', reason: null },
      { key: 'p/broken', status: 'failed', reason: expect.stringMatching(/broken symbolic link .*broken/) as unknown },
      { key: 'p/self/', status: 'skipped', reason: loop },
      { key: 'p/sub/b.txt', status: 'done', reason: null },
      { key: 'p/sub/up/', status: 'skipped', reason: loop },
      { key: 'p/to-dir/b.txt', status: 'done', reason: null },
      { key: 'p/to-dir/up/', status: 'skipped', reason: loop }, // sub/up again, by way of to-dir
      { key: 'p/to-file', status: 'done', reason: null },
      { key: 'p/to-outside/o.txt', status: 'done', reason: null },
    ])
    expect(r.stderr).toMatch(/sub\/up: symbolic link loop/)
    expect(r.stdout).toMatch(/p\/broken: broken symbolic link/)
  })

  test('cp dir s3://b/p skips FIFOs, sockets and devices without opening them, and records them as skipped', async () => {
    const src = sourceTree({ 'a.txt': 'a' })
    execFileSync('mkfifo', [join(src, 'fifo')]) // opening it would block forever
    const server: Server = createServer()
    await new Promise<void>((resolve) => server.listen(join(src, 'sock'), resolve))
    const devices = tempDir('dev')
    symlinkSync('/dev/null', join(devices, 'null'))
    symlinkSync(devices, join(src, 'devices')) // followed: /dev/null is a character device
    const bucket = await freshBucket()
    const state = join(tempDir(), 's.db')
    try {
      const r = await soaker(cpArgs(src, `s3://${bucket}/p`, state, '--follow-symlinks'))
      expect(r.code).toBe(0)
      expect(await keysOf(bucket)).toEqual(['p/a.txt'])
      expect(await rowsOf(state)).toEqual([
        { key: 'p/a.txt', status: 'done', reason: null },
        { key: 'p/devices/null', status: 'skipped', reason: 'character device, not uploaded' },
        { key: 'p/fifo', status: 'skipped', reason: 'FIFO, not uploaded' },
        { key: 'p/sock', status: 'skipped', reason: 'socket, not uploaded' },
      ])
      expect(r.stderr).toMatch(/fifo: FIFO, not uploaded/)
      expect(r.stderr).toMatch(/sock: socket, not uploaded/)
      expect(r.stdout).toMatch(/1 copied .* 3 skipped/)
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })

  test('cp dir s3://b/p records files and directories it may not read as failed, uploads the rest, and exits 1', async (ctx) => {
    const files = { 'ok.txt': body(10), 'small.bin': body(100), 'streamed.bin': body(2 * MiB), 'locked/inner.txt': body(10) }
    const src = sourceTree(files)
    chmodSync(join(src, 'small.bin'), 0o000)
    chmodSync(join(src, 'streamed.bin'), 0o000) // over 1 MiB: read by a stream and hashed on a worker
    chmodSync(join(src, 'locked'), 0o000)
    const bucket = await freshBucket()
    const state = sharedStatePath()
    const r = await soakerUnprivileged(cpArgs(src, `s3://${bucket}/p`, state), ctx)
    expect(r.code).toBe(1)
    expect(await keysOf(bucket)).toEqual(['p/ok.txt'])
    expect(md5(await objectBytes(bucket, 'p/ok.txt'))).toBe(md5(files['ok.txt']))
    const denied = (path: string): unknown => expect.stringMatching(new RegExp(`EACCES.*${path}`)) as unknown
    expect(await rowsOf(state)).toEqual([
      { key: 'p/locked/', status: 'failed', reason: denied(join(src, 'locked')) },
      { key: 'p/ok.txt', status: 'done', reason: null },
      { key: 'p/small.bin', status: 'failed', reason: denied(join(src, 'small.bin')) },
      { key: 'p/streamed.bin', status: 'failed', reason: denied(join(src, 'streamed.bin')) },
    ])
    expect(r.stdout).toMatch(/1 copied .* 3 failed/)
    expect(r.stdout).toMatch(/p\/locked\/: cannot read directory/)
  })

  // A file over 1 MiB is hashed on a worker thread before it streams: its read error must read
  // like the one of a small file read in one go.
  test('an unreadable file is reported with the same code and message shape whatever its size', async (ctx) => {
    const src = sourceTree({ 'small.bin': body(100), 'streamed.bin': body(2 * MiB) })
    chmodSync(join(src, 'small.bin'), 0o000)
    chmodSync(join(src, 'streamed.bin'), 0o000)
    const bucket = await freshBucket()
    const state = sharedStatePath()
    const r = await soakerUnprivileged(cpArgs(src, `s3://${bucket}/p`, state), ctx)
    expect(r.code).toBe(1)
    const { objects } = await readState(state)
    expect(objects.map(({ key, errorCode, reason }) => ({ key, errorCode, reason }))).toEqual(['small.bin', 'streamed.bin'].map((name) => ({
      key: `p/${name}`, errorCode: 'SOAKER_LOCAL_READ', reason: expect.stringMatching(new RegExp(`^cannot read ${join(src, name)}: EACCES`)) as unknown,
    })))
  })

  test('cp dir s3://b/p records names that are not valid UTF-8 as failed, shown with \\xNN escapes, and exits 1', async () => {
    const src = sourceTree({ 'ok.txt': 'ok' })
    const bad = Buffer.from([0x62, 0x61, 0x64, 0xff]) // "bad" and a byte no UTF-8 text holds
    writeFileSync(Buffer.concat([Buffer.from(src + '/'), bad]), 'x')
    const badDir = Buffer.concat([Buffer.from(src + '/dir-'), Buffer.from([0xc3, 0x28])]) // a broken two-byte sequence
    mkdirSync(badDir)
    writeFileSync(Buffer.concat([badDir, Buffer.from('/inner.txt')]), 'y')
    const bucket = await freshBucket()
    const state = join(tempDir(), 's.db')
    const r = await soaker(cpArgs(src, `s3://${bucket}/p`, state))
    expect(r.code).toBe(1)
    expect(await keysOf(bucket)).toEqual(['p/ok.txt'])
    expect(await rowsOf(state)).toEqual([
      // `dir//name`: a row no real file's key can be (see the next test).
      { key: 'p//bad\\xff', status: 'failed', reason: expect.stringContaining(`not valid UTF-8, so it cannot be an object key: ${src}/bad\\xff`) as unknown },
      { key: 'p//dir-\\xc3(', status: 'failed', reason: expect.stringContaining('not valid UTF-8') as unknown },
      { key: 'p/ok.txt', status: 'done', reason: null },
    ])
    expect(r.stdout).toContain('p//bad\\xff: name is not valid UTF-8')
    expect(r.stdout).toMatch(/1 copied .* 2 failed/)
  })

  // Were the failed row of `bad<0xff>` keyed `p/bad\xff`, it would be the row of a file whose name
  // is those seven characters, and whichever the walk met second would overwrite the other's row.
  test('a valid name spelled like the \\xNN escape of an invalid one still uploads, and the invalid one is still recorded', async () => {
    const src = sourceTree({ 'bad\\xff': 'a valid name' })
    writeFileSync(Buffer.concat([Buffer.from(src + '/'), Buffer.from([0x62, 0x61, 0x64, 0xff])]), 'x')
    const bucket = await freshBucket()
    const state = join(tempDir(), 's.db')
    const r = await soaker(cpArgs(src, `s3://${bucket}/p`, state))
    expect(r.code).toBe(1)
    expect(await keysOf(bucket)).toEqual(['p/bad\\xff'])
    expect((await objectBytes(bucket, 'p/bad\\xff')).toString()).toBe('a valid name')
    const failed = (await readState(state)).objects.filter((o) => o.status === 'failed')
    expect(failed.map(({ reason }) => ({ reason }))).toEqual([{ reason: expect.stringContaining('not valid UTF-8') as unknown }])
  })

  test('empty files become 0-byte objects, empty directories `dir/` markers, and cp s3://b/p dir brings both back', async () => {
    const src = sourceTree({ 'zero': '', 'full/f.txt': 'f', 'nested/sub/g.txt': 'g' })
    mkdirSync(join(src, 'empty'))
    mkdirSync(join(src, 'nested', 'also-empty'))
    const bucket = await freshBucket()
    const up = await soaker(cpArgs(src, `s3://${bucket}/p`, join(tempDir(), 'up.db')))
    expect(up.code).toBe(0)
    // Only directories with nothing in them get a marker.
    expect(await keysOf(bucket)).toEqual(['p/empty/', 'p/full/f.txt', 'p/nested/also-empty/', 'p/nested/sub/g.txt', 'p/zero'])
    for (const key of ['p/zero', 'p/empty/', 'p/nested/also-empty/']) expect((await objectBytes(bucket, key)).length).toBe(0)

    const dest = tempDir()
    const down = await soaker(cpArgs(`s3://${bucket}/p`, dest, join(tempDir(), 'down.db')))
    expect(down.code).toBe(0)
    expect(await treeOf(dest)).toEqual({ 'zero': md5(''), 'full/f.txt': md5('f'), 'nested/sub/g.txt': md5('g') })
    for (const dir of ['empty', 'nested/also-empty']) {
      expect(statSync(join(dest, dir)).isDirectory()).toBe(true)
      expect(readdirSync(join(dest, dir))).toEqual([])
    }
  })

  test('a second cp dir s3://b/p with empty files and directories puts nothing again', async () => {
    const src = sourceTree({ 'zero': '' })
    mkdirSync(join(src, 'empty'))
    const bucket = await freshBucket()
    const state = join(tempDir(), 's.db')
    expect((await soaker(cpArgs(src, `s3://${bucket}/p`, state))).code).toBe(0)
    const again = await soaker(cpArgs(src, `s3://${bucket}/p`, state))
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/Done in .*: 0 copied .* 2 skipped/)
  })
})

/** The nice value of each thread of `pid` (field 19 of /proc/<pid>/task/<tid>/stat); empty once it is gone. */
function threadNices(pid: number): Map<number, number> {
  const out = new Map<number, number>()
  let tids: string[]
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      // The command name (field 2) is in parentheses and may hold spaces; field 3 follows the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      out.set(Number(tid), Number(fields[19 - 3]))
    } catch {
      // the thread ended meanwhile
    }
  }
  return out
}

describe('soaker cp --nice', () => {
  test.runIf(process.platform === 'linux')('cp dir s3://b/p --nice runs every thread at nice 19 from then on, until it exits', async () => {
    const src = sourceTree({ 'big.bin': body(3 * MiB) }) // over 1 MiB: hashed on a worker thread started during the run
    const bucket = await freshBucket()
    const args = cpArgs(src, `s3://${bucket}/p`, join(tempDir(), 's.db'), '--nice', '--max-speed', '1MB/s')
    const env = soakerEnv()
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => { output += d.toString() })
    child.stderr.on('data', (d: Buffer) => { output += d.toString() })
    const done = new Promise<number | null>((resolve) => child.on('close', resolve))
    let exited = false
    void done.then(() => { exited = true })

    // Before soaker lowers its priority its threads run at 0: wait until every one is at 19.
    let lowered: Map<number, number> | undefined
    await waitFor(() => {
      const nices = threadNices(child.pid!)
      if (nices.size > 0 && [...nices.values()].every((n) => n === 19)) lowered = nices
      return lowered !== undefined || exited
    }, 30_000, 'all threads at nice 19')
    expect(lowered, output).toBeDefined()
    // From then on, until it exits, no thread of it runs above 19.
    const seen = new Map<number, number>()
    let samples = 0
    while (!exited) {
      const nices = threadNices(child.pid!)
      if (nices.size > 0) samples++
      for (const [tid, n] of nices) if (n !== 19 || !seen.has(tid)) seen.set(tid, n)
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(await done, output).toBe(0)
    expect(samples).toBeGreaterThan(10) // the upload took long enough for the sampling to see it
    expect([...seen].filter(([, n]) => n !== 19), 'threads above nice 19').toEqual([])
    expect(md5(await objectBytes(bucket, 'p/big.bin'))).toBe(md5(readFileSync(join(src, 'big.bin'))))
  })
})
