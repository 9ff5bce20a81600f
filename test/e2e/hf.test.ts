// `soaker cp hf://owner/repo ./dir` end to end: the real CLI against a Hub of our own
// (scripts/support/hf-hub.ts, answering as huggingface.co does), reached through HF_ENDPOINT.
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startHfHub, type TestHfHub } from '../../scripts/support/hf-hub.js'
import { body, md5, readState, soaker, soakerEnv, startSoaker, tempDir, treeOf, waitFor } from './helpers.js'

const MiB = 1024 * 1024

let hub: TestHfHub
beforeAll(async () => { hub = await startHfHub() })
afterAll(async () => { await hub?.stop() })

let count = 0
/** A new repository with `files` committed on main; returns its id (`e2e/rN`). */
function freshRepo(files: Record<string, Buffer | string>, type: 'model' | 'dataset' = 'model', options: { private?: boolean; readers?: string[] } = {}): string {
  const id = `e2e/r${process.pid}-${count++}`
  const name = type === 'model' ? id : `datasets/${id}`
  hub.createRepo(name, options)
  hub.commit(name, files)
  return id
}

const hfEnv = (extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv => soakerEnv({ HF_ENDPOINT: hub.url, HF_TOKEN: undefined, ...extra })
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
const md5s = (files: Record<string, Buffer | string>): Record<string, string> => Object.fromEntries(Object.entries(files).map(([k, v]) => [k, md5(v)]))

describe('soaker cp hf://owner/repo dir', () => {
  test('downloads every file byte for byte, the big LFS file in ranged parts from the CDN, and a second run copies nothing', async () => {
    const files = {
      'config.json': '{"hidden_size": 8}', 'tokenizer/vocab.txt': body(70_000), 'model.safetensors': body(20 * MiB + 3), 'README.md': '# a model',
    }
    const id = freshRepo(files)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const from = hub.requests.length
    const r = await soaker(['cp', `hf://${id}`, dest, '--state', state], hfEnv())
    expect(r.stderr).not.toMatch(/WARN|ERROR/)
    expect(r.code).toBe(0)
    const gitattributes = (await treeOf(dest))['.gitattributes'] // the Hub puts one in every new repository
    expect(await treeOf(dest)).toEqual({ ...md5s(files), '.gitattributes': gitattributes })
    // 20 MiB in 8 MiB ranges: three recorded parts, three ranged GETs at the CDN, none with a token.
    expect((await readState(state)).parts.get('model.safetensors')?.size).toBe(3)
    const cdn = hub.requests.slice(from).filter((q) => q.origin === 'cdn')
    expect(cdn.map((q) => q.range).sort()).toEqual(['bytes=0-8388607', 'bytes=16777216-20971522', 'bytes=8388608-16777215'])
    expect(cdn.every((q) => q.status === 206)).toBe(true)
    // The parts share the CDN URL of one resolve: the Hub rate-limits resolves.
    expect(hub.requests.slice(from).filter((q) => q.path.includes('/resolve/') && q.path.endsWith('/model.safetensors'))).toHaveLength(1)
    expect((await readState(state)).objects.map(({ key, status }) => ({ key, status }))).toEqual(
      ['.gitattributes', ...Object.keys(files)].sort().map((k) => ({ key: k, status: 'done' })))

    const again = await soaker(['cp', `hf://${id}`, dest, '--state', state], hfEnv())
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/0 copied.*5 skipped/)
  })

  test('after main moves on, the next run fetches only the files whose content ids changed', async () => {
    const id = freshRepo({ 'same.bin': body(5000), 'changes.txt': 'v1' })
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    expect((await soaker(['cp', `hf://${id}`, dest, '--state', state], hfEnv())).code).toBe(0)
    // Every file is dated with its snapshot's commit: the new commit dates same.bin anew too.
    await new Promise((resolve) => setTimeout(resolve, 1100))
    hub.commit(id, { 'changes.txt': 'v2, longer' })
    const again = await soaker(['cp', `hf://${id}`, dest, '--state', state], hfEnv())
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/1 copied.*2 skipped/)
    expect((await treeOf(dest))['changes.txt']).toBe(md5('v2, longer'))
  })

  test('a folder of a repository, one file, and a private dataset at a tag, with HF_TOKEN', async () => {
    const id = freshRepo({ 'tokenizer/a.txt': 'a', 'tokenizer/deep/b.txt': 'b', 'config.json': '{}', 'tokenizerX/no': 'no' })
    const folder = tempDir()
    expect((await soaker(['cp', `hf://${id}/tokenizer`, folder, '--state', join(tempDir(), 's.db')], hfEnv())).code).toBe(0)
    expect(await treeOf(folder)).toEqual(md5s({ 'a.txt': 'a', 'deep/b.txt': 'b' }))
    const one = tempDir()
    expect((await soaker(['cp', `hf://${id}/config.json`, one, '--state', join(tempDir(), 's.db')], hfEnv())).code).toBe(0)
    expect(await treeOf(one)).toEqual(md5s({ 'config.json': '{}' }))

    const token = 'hf_e2eToken'
    hub.tokens.add(token)
    const data = freshRepo({ 'data/train.parquet': 'v1 rows' }, 'dataset', { private: true, readers: [token] })
    const v1 = hub.commit(`datasets/${data}`, { 'data/test.parquet': 'v1 test' })
    hub.setRef(`datasets/${data}`, 'v1', v1, 'tag')
    hub.commit(`datasets/${data}`, { 'data/train.parquet': 'v2 rows, more of them' })
    const dest = tempDir()
    const r = await soaker(['cp', `hf://datasets/${data}@v1/data`, dest, '--state', join(tempDir(), 's.db')], hfEnv({ HF_TOKEN: token }))
    expect(r.stderr).not.toMatch(/WARN|ERROR/)
    expect(r.code).toBe(0)
    expect(await treeOf(dest)).toEqual(md5s({ 'train.parquet': 'v1 rows', 'test.parquet': 'v1 test' }))
    expect(r.stdout + r.stderr).not.toContain(token)
  })

  test('after kill -9 in the middle of a big LFS file, the same command fetches only the parts it lacks', async () => {
    const data = body(40 * MiB)
    const id = freshRepo({ 'huge.bin': data })
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const args = ['cp', `hf://${id}/huge.bin`, dest, '--state', state, '--part-size', '4MiB', '--concurrency', '1', '--max-concurrency', '1']
    const first = startSoaker([...args, '--max-speed', '8'], hfEnv())
    await waitFor(async () => (await readState(state)).partCount >= 2, 60_000, 'two recorded parts')
    first.child.kill('SIGKILL')
    await first.done
    const before = (await readState(state)).partCount
    const from = hub.requests.length
    const second = await soaker([...args, '--json'], hfEnv())
    expect(second.code).toBe(0)
    expect(second.stdout).toMatch(new RegExp(`resuming huge\\.bin: ${before} of 10 parts already here`))
    const summary = JSON.parse(second.stdout.trim().split('\n').at(-1)!) as { event: string; bytes_transferred: number; bytes_resumed: number }
    expect(summary.event).toBe('summary')
    expect(summary.bytes_resumed).toBe(before * 4 * MiB)
    expect(summary.bytes_transferred).toBe(data.length - before * 4 * MiB)
    expect(hub.requests.slice(from).filter((q) => q.origin === 'cdn')).toHaveLength(10 - before)
    expect(await treeOf(dest)).toEqual({ 'huge.bin': md5(data) })
  })

  test('bytes corrupted on the way fail the Hub\'s content ids: a whole file is fetched again at once, one in parts on the next run', async () => {
    const files = { 'small.bin': body(100_000), 'plain.txt': 'a plain file, checked by its git blob id', 'big.bin': body(20 * MiB) }
    const id = freshRepo(files)
    const firstGet = (path: string): boolean =>
      path.endsWith(sha256(files['small.bin'])) || path.endsWith(sha256(files['big.bin'])) || (path.includes('/resolve-cache/') && path.endsWith('/plain.txt'))
    hub.setRule(({ method, path, nth }) => (method === 'GET' && nth === 1 && firstGet(path) ? 'corrupt' : undefined))
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const from = hub.requests.length
    try {
      const first = await soaker(['cp', `hf://${id}`, dest, '--state', state], hfEnv())
      expect(first.code).toBe(1)
      expect(first.stdout).toMatch(/3 copied .*1 failed/)
      expect(first.stdout).toMatch(/2 retries/)
      expect(first.stdout).toMatch(new RegExp(`big\\.bin: SHA-256 [0-9a-f]{64} does not match the store's ETag ${sha256(files['big.bin'])}`))
    } finally {
      hub.setRule(undefined)
    }
    // The small LFS file (SHA-256) and the plain one (git blob id) were each fetched twice.
    const gets = hub.requests.slice(from).filter((q) => q.status === 200)
    expect(gets.filter((q) => q.path.endsWith(sha256(files['small.bin'])))).toHaveLength(2)
    expect(gets.filter((q) => q.path.endsWith('/plain.txt'))).toHaveLength(2)
    const second = await soaker(['cp', `hf://${id}`, dest, '--state', state], hfEnv())
    expect(second.code).toBe(0)
    const tree = await treeOf(dest)
    expect(tree).toEqual({ ...md5s(files), '.gitattributes': tree['.gitattributes'] })
  })

  test('a repository or revision that does not exist: one clear error, exit 1, nothing written', async () => {
    const dest = tempDir()
    const missing = await soaker(['cp', 'hf://e2e/no-such-repo', dest, '--state', join(tempDir(), 's.db')], hfEnv())
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain(`Repository hf://e2e/no-such-repo does not exist at ${hub.url}, or it is private: set HF_TOKEN to a token that can read it`)
    const id = freshRepo({ 'f.txt': 'x' })
    const noRev = await soaker(['cp', `hf://${id}@no-such-branch`, dest, '--state', join(tempDir(), 's.db')], hfEnv())
    expect(noRev.code).toBe(1)
    expect(noRev.stderr).toContain(`Revision \`no-such-branch\` does not exist in hf://${id}@no-such-branch`)
    expect(await treeOf(dest)).toEqual({})
  })
})

describe('soaker check hf://owner/repo dir', () => {
  test('a local copy against the Hub: LFS files by SHA-256, plain files by git blob id; a same-size corruption found', async () => {
    const files = { 'config.json': '{"hidden_size": 8}', 'model.safetensors': body(3 * MiB + 5) }
    const id = freshRepo(files)
    const dest = tempDir()
    expect((await soaker(['cp', `hf://${id}`, dest, '--state', join(tempDir(), 's.db')], hfEnv())).code).toBe(0)
    const same = await soaker(['check', `hf://${id}`, dest, '--json', '--state', join(tempDir(), 'c.db')], hfEnv())
    expect(same.code).toBe(0)
    const details = Object.fromEntries(same.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.type === 'check').map((e) => [e.key, e.detail]))
    expect(details).toMatchObject({ 'config.json': 'git blob id matches', 'model.safetensors': 'SHA-256 matches' })
    const corrupt = Buffer.from(files['model.safetensors'])
    corrupt[7] = corrupt[7]! ^ 0x40
    writeFileSync(join(dest, 'model.safetensors'), corrupt)
    const differ = await soaker(['check', `hf://${id}`, dest, '--state', join(tempDir(), 'c.db')], hfEnv())
    expect(differ.code).toBe(1)
    expect(differ.stdout).toContain(`differs: model.safetensors: SHA-256 differs: ${sha256(files['model.safetensors'])} and ${sha256(corrupt)}`)
  })
})
