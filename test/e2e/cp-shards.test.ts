// Static shards end to end: the real CLI, N runs of one command with --shard 0/N … N-1/N against
// the test server (Ceph radosgw where installed), each through a counting proxy of its own, so
// that what each shard read from the source is known key by key.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startFaultProxy, type FaultProxy } from '../../scripts/support/fault-proxy.js'
import { putObject } from '../../scripts/support/seed.js'
import { defaultStatePath } from '../../src/engine/copy.js'
import { shardOf } from '../../src/engine/shard.js'
import { SqliteStateStore } from '../../src/state/sqlite-store.js'
import { body, client, freshBucket, keysOf, md5, objectBytes, readState, s3, soaker, soakerEnv, sourceTree, tempDir, treeOf } from './helpers.js'

const MiB = 1024 * 1024
const shards = 4

/** One counting proxy per shard: the requests of each shard's run apart. */
const proxies: FaultProxy[] = []
beforeAll(async () => { for (let i = 0; i < shards; i++) proxies.push(await startFaultProxy(s3.endpoint)) })
afterAll(async () => { await Promise.all(proxies.map((p) => p.stop())) })

/**
 * Keys of `bucket` whose bytes the requests since `mark` read or asked after (GET, HEAD of
 * `/bucket/key`): not listings, not the bucket's own check (`/bucket/`).
 */
function keysRead(proxy: FaultProxy, bucket: string, mark: number): Set<string> {
  const keys = new Set<string>()
  for (const r of proxy.requests.slice(mark)) {
    if ((r.method !== 'GET' && r.method !== 'HEAD') || /list-type=/.test(r.query) || !r.path.startsWith(`/${bucket}/`)) continue
    const key = decodeURIComponent(r.path.slice(bucket.length + 2))
    if (key !== '') keys.add(key)
  }
  return keys
}

/**
 * A source bucket under `p/` of 52 objects: keys differing in a character, nested folders,
 * non-ASCII and spaced names, an empty object, a folder marker, and one object above the part
 * size (read in ranges). Returns the files a download makes (relative path → MD5).
 */
async function seedSource(): Promise<{ bucket: string; files: Record<string, string>; keys: string[] }> {
  const bucket = await freshBucket()
  const objects: Record<string, Buffer> = {}
  for (let i = 0; i < 40; i++) objects[`p/img_${String(i).padStart(3, '0')}.bin`] = body(1000 + i)
  for (const name of ['deep/a/b/c.txt', 'deep/a/d.txt', 'données/été.txt', '日本/ファイル.bin', 'with space/x y.txt', '🦀.rs', 'empty']) {
    objects[`p/${name}`] = name === 'empty' ? Buffer.alloc(0) : body(500)
  }
  objects['p/big.bin'] = body(9 * MiB + 7)
  for (let i = 0; i < 3; i++) objects[`p/more/f${i}`] = body(64 * 1024)
  for (const [key, data] of Object.entries(objects)) await putObject(client, bucket, key, data)
  await putObject(client, bucket, 'p/emptydir/', '')
  const files = Object.fromEntries(Object.entries(objects).map(([key, data]) => [key.slice(2), md5(data)]))
  return { bucket, files, keys: [...Object.keys(objects), 'p/emptydir/'].sort() }
}

/** The keys of the object rows of a state database, sorted. */
async function rowKeys(state: string): Promise<string[]> {
  return (await readState(state)).objects.map((o) => o.key).sort()
}

function recordedShard(state: string): unknown {
  const store = new SqliteStateStore(state, { readOnly: true })
  try {
    return store.recordedShard()
  } finally {
    void store.close()
  }
}

describe('soaker cp --shard K/N', () => {
  test('cp s3://b/p DIR --shard K/4, four runs at once into one folder: together every object byte for byte, each key read by one shard only, each shard its own state', async () => {
    const { bucket, files, keys } = await seedSource()
    const dest = tempDir('shards')
    const env = soakerEnv() // one XDG_STATE_HOME for the four, as on one machine
    const marks = proxies.map((p) => p.requests.length)
    const runs = await Promise.all(proxies.map((proxy, k) =>
      soaker(['cp', `s3://${bucket}/p`, dest, '--endpoint-url', proxy.url, '--shard', `${k}/${shards}`], env)))
    for (const r of runs) {
      expect(r.stderr).not.toMatch(/ENOENT|error/i)
      expect(r.code).toBe(0)
    }
    expect(await treeOf(dest)).toEqual(files)
    expect(existsSync(join(dest, 'emptydir'))).toBe(true)
    expect(readdirSync(join(dest, '.soaker', 'partial'))).toEqual([]) // kept for the other shards, empty

    // Each shard read exactly its keys: the rule's, none twice across shards, all together.
    const read = proxies.map((p, k) => keysRead(p, bucket, marks[k]!))
    for (let k = 0; k < shards; k++) {
      const own = keys.filter((key) => shardOf(key, shards) === k && !key.endsWith('/'))
      expect([...read[k]!].sort()).toEqual(own)
      expect(own.length).toBeGreaterThan(0)
    }
    expect(read.reduce((n, s) => n + s.size, 0)).toBe(keys.length - 1) // the folder marker is not read
    const copied = runs.map((r) => Number(/(\d+) copied/.exec(r.stdout)![1]))
    expect(copied.reduce((a, b) => a + b, 0)).toBe(keys.length - 1)

    // Four state databases by default, one per shard, each with its shard's rows alone.
    const states = Array.from({ length: shards }, (_, k) =>
      defaultStatePath(`s3://${bucket}/p`, resolve(dest), { index: k, count: shards }, { XDG_STATE_HOME: env.XDG_STATE_HOME }))
    expect(new Set(states).size).toBe(shards)
    expect(readdirSync(join(env.XDG_STATE_HOME!, 'soaker')).filter((f) => f.endsWith('.db')).sort())
      .toEqual(states.map((s) => s.slice(s.lastIndexOf('/') + 1)).sort())
    const rows = await Promise.all(states.map(rowKeys))
    for (let k = 0; k < shards; k++) {
      expect(rows[k]).toEqual(keys.filter((key) => shardOf(key, shards) === k))
      expect(recordedShard(states[k]!)).toEqual({ index: k, count: shards, hash: 'sha256-64' })
    }

    // status finds each shard's state by its --shard and names it.
    const status = await soaker(['status', `s3://${bucket}/p`, dest, '--shard', `2/${shards}`], env)
    expect(status.stdout).toContain(`State: ${states[2]}`)
    expect(status.stdout).toContain('Shard: 2/4 (only the objects whose keys sha256-64 assigns to it')
    expect(status.stdout).toContain(`Objects: ${rows[2]!.length} in all`)
    expect(status.stdout).toContain('Complete: every object of shard 2/4 is done or skipped.')
    expect(status.code).toBe(0)

    // Run again: each shard lists, finds its objects done, and reads nothing.
    const again = proxies.map((p) => p.requests.length)
    const reruns = await Promise.all(proxies.map((proxy, k) =>
      soaker(['cp', `s3://${bucket}/p`, dest, '--endpoint-url', proxy.url, '--shard', `${k}/${shards}`], env)))
    expect(reruns.map((r) => r.code)).toEqual([0, 0, 0, 0])
    expect(proxies.map((p, k) => keysRead(p, bucket, again[k]!).size)).toEqual([0, 0, 0, 0])
  })

  test('cp --dry-run --shard 1/4 plans only the shard\'s objects; --json names the shard', async () => {
    const { bucket, keys } = await seedSource()
    const listed = keys.filter((key) => shardOf(key, shards) === 1)
    const own = listed.filter((key) => !key.endsWith('/')) // a folder marker is made a folder, and counted skipped
    const dry = await soaker(['cp', `s3://${bucket}/p`, tempDir(), '--endpoint-url', s3.endpoint, '--shard', '1/4', '--dry-run'])
    expect(dry.code).toBe(0)
    expect(dry.stdout).toMatch(new RegExp(`would copy ${own.length} objects \\(.*\\), skip ${listed.length - own.length} .*, ${listed.length} listed`))
    const json = await soaker(['cp', `s3://${bucket}/p`, tempDir(), '--endpoint-url', s3.endpoint, '--shard', '1/4', '--json'])
    expect(json.code).toBe(0)
    const events = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(events[0]).toMatchObject({ event: 'run_started', source: `s3://${bucket}/p`, shard: '1/4' })
    expect(events.filter((e) => e.event === 'object_done').map((e) => `p/${String(e.key).replace(/^p\//, '')}`).sort()).toEqual(own)
  })

  test('a state database is refused to another shard, and to a run without --shard, before anything moves', async () => {
    const { bucket } = await seedSource()
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const proxy = proxies[0]!
    const cp = (...more: string[]): Promise<Awaited<ReturnType<typeof soaker>>> =>
      soaker(['cp', `s3://${bucket}/p`, dest, '--endpoint-url', proxy.url, '--state', state, ...more])
    expect((await cp('--shard', '0/4')).code).toBe(0)
    const before = await readState(state)
    const tree = await treeOf(dest)
    const mark = proxy.requests.length
    for (const more of [['--shard', '1/4'], ['--shard', '0/2'], []]) {
      const r = await cp(...more)
      expect(r.code).toBe(2)
      expect(r.stderr).toContain(`soaker: The state database \`${state}\` holds the objects of shard 0/4 (--shard 0/4), but this run is `)
      expect(r.stderr).toContain('pass --shard 0/4 to continue it, or give this run a state of its own')
      expect(r.stderr).toContain('[SOAKER_SHARD_MISMATCH]')
    }
    expect(keysRead(proxy, bucket, mark).size).toBe(0)
    expect(await treeOf(dest)).toEqual(tree)
    const after = await readState(state)
    expect(after.runs.length).toBe(before.runs.length)
    expect(after.objects).toEqual(before.objects)
    expect(existsSync(`${state}.lock`)).toBe(false)

    // A state of every object refuses a run of one shard.
    const whole = join(tempDir(), 'whole.db')
    expect((await soaker(['cp', `s3://${bucket}/p`, tempDir(), '--endpoint-url', s3.endpoint, '--state', whole])).code).toBe(0)
    const r = await soaker(['cp', `s3://${bucket}/p`, tempDir(), '--endpoint-url', s3.endpoint, '--state', whole, '--shard', '3/4'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`The state database \`${whole}\` holds every object (made by runs without --shard), but this run is shard 3/4`)
  })

  test('bad --shard values exit 2 naming the input and what was expected, before anything is contacted', async () => {
    const bucket = await freshBucket()
    const cases: Array<[string[], NodeJS.ProcessEnv, string]> = [
      [['--shard', '4/4'], {}, 'Expected `--shard` to be K/N with K below N (4 shards are 0/4 to 3/4), got `4/4`'],
      [['--shard', 'auto', '--shards', '4'], {}, 'Expected `JOB_COMPLETION_INDEX` for `--shard auto`'],
      [['--shard', 'auto'], { JOB_COMPLETION_INDEX: '1' }, 'Expected `--shards N` or `SOAKER_SHARDS` for `--shard auto`'],
      [['--shards', '4'], {}, 'Expected `--shard auto` or `--shard K/4` with `--shards` (4), got no `--shard`'],
    ]
    for (const [more, extra, message] of cases) {
      const r = await soaker(['cp', `s3://${bucket}/p`, tempDir(), '--endpoint-url', 'http://127.0.0.1:9', ...more], soakerEnv(extra))
      expect(r.stderr).toContain(message)
      expect(r.code).toBe(2)
    }
  })
})

describe('soaker cp --shard auto, and other directions', () => {
  test('cp ./tree s3://b/up --shard auto in two pods of an Indexed Job (JOB_COMPLETION_INDEX, SOAKER_SHARDS): together every file once; status and abort find each shard', async () => {
    const files: Record<string, Buffer> = {}
    for (let i = 0; i < 30; i++) files[`d${i % 3}/f${String(i).padStart(2, '0')}.bin`] = body(2000 + i)
    files['ünïcode/名前.txt'] = body(100)
    const tree = sourceTree(files)
    mkdirSync(join(tree, 'hollow'))
    const bucket = await freshBucket()
    const xdg = tempDir('xdg')
    const pod = (index: number): NodeJS.ProcessEnv => soakerEnv({ XDG_STATE_HOME: xdg, JOB_COMPLETION_INDEX: String(index), SOAKER_SHARDS: '2' })
    const runs = await Promise.all([0, 1].map((k) => soaker(['cp', tree, `s3://${bucket}/up`, '--endpoint-url', s3.endpoint, '--shard', 'auto'], pod(k))))
    expect(runs.map((r) => r.code)).toEqual([0, 0])
    const expected = [...Object.keys(files).map((rel) => `up/${rel}`), 'up/hollow/'].sort()
    expect(await keysOf(bucket)).toEqual(expected)
    for (const [rel, data] of Object.entries(files)) expect(md5(await objectBytes(bucket, `up/${rel}`))).toBe(md5(data))

    // An upload's keys are assigned by their path relative to the directory.
    const states = [0, 1].map((k) => defaultStatePath(resolve(tree), `s3://${bucket}/up`, { index: k, count: 2 }, { XDG_STATE_HOME: xdg }))
    const rows = await Promise.all(states.map(rowKeys))
    for (const k of [0, 1]) expect(rows[k]).toEqual(expected.filter((key) => shardOf(key.slice('up/'.length), 2) === k))
    expect(rows[0]!.length + rows[1]!.length).toBe(expected.length)

    // In a pod, `soaker status` with the same environment finds the pod's shard.
    const status = await soaker(['status', tree, `s3://${bucket}/up`], { ...pod(1), SOAKER_SHARD: 'auto' })
    expect(status.stdout).toContain(`State: ${states[1]}`)
    expect(status.stdout).toContain('Shard: 1/2 ')
    expect(status.code).toBe(0)
    // abort finds it the same way: a finished upload leaves nothing to abort.
    const abort = await soaker(['abort', tree, `s3://${bucket}/up`, '--endpoint-url', s3.endpoint, '--shard', '0/2'], pod(0))
    expect(abort.stdout).toContain('No unfinished multipart uploads are recorded: nothing to abort.')
    expect(abort.code).toBe(0)
    const unsharded = await soaker(['abort', tree, `s3://${bucket}/up`, '--endpoint-url', s3.endpoint], soakerEnv({ XDG_STATE_HOME: xdg }))
    expect(unsharded.stderr).toContain('No state database at')
  })

  test('cp s3://a/p s3://b/q --shard K/3 (the store copies): together every object under q/, each shard the source keys the rule gives it', async () => {
    const { bucket: src, keys } = await seedSource()
    const dst = await freshBucket()
    const env = soakerEnv()
    for (let k = 0; k < 3; k++) {
      const r = await soaker(['cp', `s3://${src}/p`, `s3://${dst}/q`, '--endpoint-url', s3.endpoint, '--shard', `${k}/3`], env)
      expect(r.stderr).toContain('(server-side)')
      expect(r.code).toBe(0)
      const state = defaultStatePath(`s3://${src}/p`, `s3://${dst}/q`, { index: k, count: 3 }, { XDG_STATE_HOME: env.XDG_STATE_HOME })
      // Rows are destination keys; the shard is the source key's.
      expect(await rowKeys(state)).toEqual(keys.filter((key) => shardOf(key, 3) === k).map((key) => `q/${key.slice(2)}`))
    }
    expect(await keysOf(dst)).toEqual(keys.map((key) => `q/${key.slice(2)}`))
    const status = await soaker(['status', `s3://${src}/p`, `s3://${dst}/q`, '--shard', '1/3'], env)
    expect(status.stdout).toContain('Shard: 1/3 ')
    expect(status.code).toBe(0)
    for (const key of ['p/big.bin', 'p/données/été.txt', 'p/empty']) {
      expect(md5(await objectBytes(dst, `q/${key.slice(2)}`))).toBe(md5(await objectBytes(src, key)))
    }
  })

  test('soaker run job.yaml --shard K/2: the job\'s items split by key, together every object', async () => {
    const { bucket, files } = await seedSource()
    const root = tempDir('job')
    const jobFile = join(tempDir(), 'job.yaml')
    writeFileSync(jobFile, `download_root: ${root}
download_items:
  - type: s3
    endpoint_url: ${s3.endpoint}
    access_key_id: ${s3.accessKeyId}
    secret_key: ${s3.secretAccessKey}
    buckets:
      - name: ${bucket}
        items:
          - folder: p/deep
            target_path: deep
          - folder: p
            target_path: all
            glob: "img_*"
`)
    const env = soakerEnv()
    const results = await Promise.all([0, 1].map((k) => soaker(['run', jobFile, '--shard', `${k}/2`], env)))
    expect(results.map((r) => r.code)).toEqual([0, 0])
    const imgs = Object.fromEntries(Object.entries(files).filter(([rel]) => rel.startsWith('img_')).map(([rel, m]) => [`all/${rel}`, m]))
    const deep = Object.fromEntries(Object.entries(files).filter(([rel]) => rel.startsWith('deep/')).map(([rel, m]) => [rel, m]))
    expect(await treeOf(root)).toEqual({ ...imgs, ...deep })
    const copied = results.map((r) => Number(/(\d+) copied/.exec(r.stdout)![1]))
    expect(copied[0]! + copied[1]!).toBe(Object.keys(imgs).length + Object.keys(deep).length)
    expect(Math.min(...copied)).toBeGreaterThan(0)
  })
})
