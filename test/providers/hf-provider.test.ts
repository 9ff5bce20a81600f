import { createHash } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { text } from 'node:stream/consumers'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  AccessDeniedError, EndpointUnreachableError, NoSuchBucketError, NotFoundError, SourceChangedError, TransientError, UsageError,
} from '../../src/errors.js'
import { digestFromEtag } from '../../src/engine/integrity.js'
import { HfProvider } from '../../src/providers/hf/hf-provider.js'
import type { RetryCalls } from '../../src/providers/provider.js'
import type { HfRepo } from '../../src/providers/hf/uri.js'
import { startHfHub, type TestHfHub } from '../../scripts/support/hf-hub.js'
import { providerConformance } from './conformance.js'

// The store is a Hub of our own (scripts/support/hf-hub.ts) on loopback, answering as
// huggingface.co does; the provider reaches it through @huggingface/hub's own calls and fetch.
let hub: TestHfHub
beforeAll(async () => { hub = await startHfHub() })
afterAll(async () => { await hub?.stop() })

const signal = new AbortController().signal
setMaxListeners(0, signal)
let repos = 0
const TOKEN = 'hf_testtokenSECRET1234'

/** A new repository (`owner/rN`, or `datasets/owner/rN`) and a provider over it. */
function fresh(options: { type?: HfRepo['type']; revision?: string; token?: string; env?: NodeJS.ProcessEnv; gitattributes?: boolean; retry?: RetryCalls } = {}): { provider: HfProvider; name: string; repo: HfRepo } {
  const id = `owner/r${++repos}`
  const type = options.type ?? 'model'
  const name = type === 'model' ? id : `${type}s/${id}`
  hub.createRepo(name, { gitattributes: options.gitattributes ?? false })
  const repo: HfRepo = { type, id, ...(options.revision !== undefined ? { revision: options.revision } : {}) }
  return { provider: open(repo, options), name, repo }
}

function open(repo: HfRepo, options: { token?: string; env?: NodeJS.ProcessEnv; retry?: RetryCalls } = {}): HfProvider {
  return HfProvider.create({ repo, env: options.env ?? { HF_ENDPOINT: hub.url }, token: options.token, retry: options.retry })
}

providerConformance('hf', async () => {
  const { provider, name } = fresh()
  return {
    provider,
    missing: open({ type: 'model', id: 'owner/no-such-repo' }),
    seed: async (key, body) => { hub.commit(name, { [key]: body }) },
    snapshot: true,
  }
})

const read = async (p: HfProvider, key: string, range?: { start: number; end: number }, ifMatch?: string): Promise<string> =>
  text((await p.read(key, { range, ifMatch, signal })).body)

async function keys(p: HfProvider, prefix = ''): Promise<string[]> {
  const out: string[] = []
  for await (const o of p.list(prefix, signal)) out.push(o.key)
  return out
}

const failure = async (p: Promise<unknown>): Promise<Error> => p.then(() => { throw new Error('expected a rejection') }, (e: unknown) => e as Error)
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
const gitBlobId = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex')

describe('hf provider', () => {
  test('check pins the revision: after the branch moves, list, stat and read still see the pinned commit', async () => {
    const { provider, name, repo } = fresh()
    hub.commit(name, { 'a.txt': 'one', 'keep.txt': 'k' })
    await provider.check(signal)
    hub.commit(name, { 'a.txt': 'two!', 'new.txt': 'n', 'keep.txt': null })
    expect(await keys(provider)).toEqual(['a.txt', 'keep.txt'])
    expect(await read(provider, 'a.txt')).toBe('one')
    expect((await provider.stat('a.txt', signal)).size).toBe(3)
    await expect(provider.stat('new.txt', signal)).rejects.toBeInstanceOf(NotFoundError)
    // A new run pins the new head.
    const later = open(repo)
    expect(await keys(later)).toEqual(['a.txt', 'new.txt'])
    expect(await read(later, 'a.txt')).toBe('two!')
  })

  test('every request after the revision lookup names the commit, never the branch', async () => {
    const { provider, name } = fresh()
    const sha = hub.commit(name, { 'd/f.txt': 'x' })
    const from = hub.requests.length
    await keys(provider)
    await provider.stat('d/f.txt', signal)
    await read(provider, 'd/f.txt')
    const seen = hub.requests.slice(from).filter((r) => r.origin === 'hub')
    expect(seen[0]!.path).toBe(`/api/models/${name}/revision/main`)
    expect(seen[0]!.query).toMatch(/(^|&)expand=sha(&|$)/)
    for (const r of seen.slice(1)) expect(r.path.includes(`/${sha}`) || r.path.includes('/resolve-cache/')).toBe(true)
  })

  test('a revision may be a tag, another branch or a commit id (or a prefix of one)', async () => {
    const { name, repo } = fresh()
    const v1 = hub.commit(name, { 'f.txt': 'v1' })
    hub.setRef(name, 'v1.0', v1, 'tag')
    hub.commit(name, { 'f.txt': 'dev' }, { branch: 'dev' })
    hub.commit(name, { 'f.txt': 'v2' })
    expect(await read(open({ ...repo, revision: 'v1.0' }), 'f.txt')).toBe('v1')
    expect(await read(open({ ...repo, revision: v1 }), 'f.txt')).toBe('v1')
    expect(await read(open({ ...repo, revision: v1.slice(0, 10) }), 'f.txt')).toBe('v1')
    expect(await read(open({ ...repo, revision: 'dev' }), 'f.txt')).toBe('dev')
    hub.setRef(name, 'refs/pr/1', v1)
    expect(await read(open({ ...repo, revision: 'refs/pr/1' }), 'f.txt')).toBe('v1')
    expect(await read(open(repo), 'f.txt')).toBe('v2')
  })

  test('list follows the tree pages of the Link header, one directory at a time, in byte order', async () => {
    const { provider, name } = fresh()
    hub.pageSize = 7
    try {
      const files = Array.from({ length: 20 }, (_, i) => `k/${String(i).padStart(2, '0')}`)
      hub.commit(name, Object.fromEntries(files.map((k) => [k, k])))
      await provider.check(signal)
      const from = hub.requests.length
      expect(await keys(provider, 'k/')).toEqual(files)
      const trees = hub.requests.slice(from).filter((r) => r.path.includes('/tree/'))
      expect(trees.map((r) => r.query.includes('cursor='))).toEqual([false, true, true])
    } finally {
      hub.pageSize = 1000
    }
  })

  test('keys come out in UTF-8 byte order though the Hub lists folders first and sorts by locale', async () => {
    const { provider, name } = fresh()
    const all = ['a.txt', 'a/x', 'a/y/z', 'B', 'b', 'b-c/d', 'é', '\uFF61', '\u{1F600}', 'z.bin']
    hub.commit(name, Object.fromEntries(all.map((k) => [k, k])))
    const expected = [...all].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))
    expect(await keys(provider)).toEqual(expected)
    expect(await keys(provider, 'a')).toEqual(['a.txt', 'a/x', 'a/y/z'])
    expect(await keys(provider, 'a/')).toEqual(['a/x', 'a/y/z'])
    expect(await keys(provider, 'b')).toEqual(['b', 'b-c/d'])
    // What the engine asks to tell a file from a folder: nothing is under a file.
    expect(await keys(provider, 'z.bin/')).toEqual([])
    expect(await keys(provider, 'missing/dir/')).toEqual([])
  })

  test('an LFS file has its SHA-256 as ETag, a plain file its git blob id, in list, stat and read alike', async () => {
    const { provider, name } = fresh()
    const weights = Buffer.from('pretend these are weights')
    const config = Buffer.from('{"hidden_size": 8}')
    hub.commit(name, { 'model.safetensors': weights, 'config.json': config })
    const listed = new Map<string, string | undefined>()
    for await (const o of provider.list('', signal)) listed.set(o.key, o.etag)
    expect(Object.fromEntries(listed)).toEqual({ 'config.json': gitBlobId(config), 'model.safetensors': sha256(weights) })
    for (const [key, data] of [['model.safetensors', weights], ['config.json', config]] as const) {
      const st = await provider.stat(key, signal)
      expect(st).toMatchObject({ key, size: data.length, etag: listed.get(key), encrypted: false })
      const r = await provider.read(key, { signal })
      expect(r.details.etag).toBe(st.etag)
      expect(await text(r.body)).toBe(data.toString())
    }
    expect(digestFromEtag(listed.get('model.safetensors'), false, provider.capabilities.etagDigest)).toEqual({ kind: 'whole', algorithm: 'sha256', hex: sha256(weights) })
    expect(digestFromEtag(listed.get('config.json'), false, provider.capabilities.etagDigest)).toEqual({ kind: 'whole', algorithm: 'git-sha1', hex: gitBlobId(config) })
  })

  test('a ranged read of an LFS file follows the 302 to the CDN: the token stays on the Hub, the range goes to both', async () => {
    hub.tokens.add(TOKEN)
    const { provider, name } = fresh({ token: TOKEN })
    const data = Buffer.from(Array.from({ length: 3000 }, (_, i) => String.fromCharCode(65 + (i % 26))).join(''))
    hub.commit(name, { 'big.bin': data })
    await provider.check(signal)
    const from = hub.requests.length
    const r = await provider.read('big.bin', { range: { start: 1000, end: 2499 }, ifMatch: sha256(data), signal })
    expect(await text(r.body)).toBe(data.subarray(1000, 2500).toString())
    expect(r.details).toMatchObject({ etag: sha256(data), size: 1500 })
    const [resolve, cdn, ...rest] = hub.requests.slice(from)
    expect(rest).toEqual([])
    expect(resolve).toMatchObject({ origin: 'hub', status: 302, authorization: `Bearer ${TOKEN}`, range: 'bytes=1000-2499' })
    expect(cdn).toMatchObject({ origin: 'cdn', status: 206, authorization: undefined, range: 'bytes=1000-2499' })
    expect(await read(provider, 'big.bin', { start: 2999, end: 2999 })).toBe(data.subarray(2999).toString())
  })

  test('the parts of one LFS file ask the Hub once: later parts, and parts started together, reuse its CDN URL', async () => {
    const { provider, name, repo } = fresh()
    const data = Buffer.from('0123456789'.repeat(100))
    hub.commit(name, { 'w.bin': data })
    await provider.check(signal)
    const resolves = (from: number): number => hub.requests.slice(from).filter((r) => r.path.includes('/resolve/')).length
    let from = hub.requests.length
    for (let start = 0; start < 1000; start += 250) expect(await read(provider, 'w.bin', { start, end: start + 249 })).toBe(data.subarray(start, start + 250).toString())
    expect(resolves(from)).toBe(1)
    expect(hub.requests.slice(from).filter((r) => r.origin === 'cdn')).toHaveLength(4)
    const together = open(repo)
    await together.check(signal)
    from = hub.requests.length
    const parts = await Promise.all([0, 1, 2, 3].map((i) => read(together, 'w.bin', { start: i * 250, end: i * 250 + 249 })))
    expect(parts.join('')).toBe(data.toString())
    expect(resolves(from)).toBe(1)
  })

  test('a CDN URL that expired is resolved again at the Hub', async () => {
    const { provider, name } = fresh()
    hub.commit(name, { 'w.bin': 'abcdefghij' })
    expect(await read(provider, 'w.bin', { start: 0, end: 4 })).toBe('abcde')
    hub.expireCdnUrls()
    const from = hub.requests.length
    expect(await read(provider, 'w.bin', { start: 5, end: 9 })).toBe('fghij')
    expect(hub.requests.slice(from).map((r) => [r.origin, r.status])).toEqual([['cdn', 403], ['hub', 302], ['cdn', 206]])
  })

  test('a plain file is read through the Hub\'s resolve-cache redirect, with its range', async () => {
    const { provider, name } = fresh()
    hub.commit(name, { 'notes.md': '0123456789' })
    await provider.check(signal)
    const from = hub.requests.length
    expect(await read(provider, 'notes.md', { start: 3, end: 6 })).toBe('3456')
    expect(hub.requests.slice(from).map((r) => [r.status, r.path.split('/').slice(1, 3).join('/')])).toEqual([[307, `owner/${name.split('/')[1]}`], [206, 'api/resolve-cache']])
  })

  test('read with an ETag other than the file\'s rejects with SourceChangedError naming the file', async () => {
    const { provider, name } = fresh()
    hub.commit(name, { 'w.bin': 'lfs bytes', 'p.txt': 'plain bytes' })
    for (const key of ['w.bin', 'p.txt']) {
      const err = await failure(provider.read(key, { ifMatch: 'f'.repeat(64), range: { start: 0, end: 1 }, signal }))
      expect(err).toBeInstanceOf(SourceChangedError)
      expect(err.message).toBe(`hf://${name}/${key} changed while it was being copied (its ETag no longer matches)`)
    }
  })

  test('stat and read of a missing file, or of a folder, reject with NotFoundError', async () => {
    const { provider, name } = fresh()
    hub.commit(name, { 'dir/f.txt': 'x' })
    for (const key of ['absent.txt', 'dir']) {
      const err = await failure(provider.stat(key, signal))
      expect(err).toBeInstanceOf(NotFoundError)
      expect(err.message).toBe(`No file at hf://${name}/${key} (revision main)`)
      await expect(provider.read(key, { signal })).rejects.toBeInstanceOf(NotFoundError)
    }
  })

  test('an empty file lists, stats and reads as no bytes', async () => {
    const { provider, name } = fresh()
    hub.commit(name, { empty: '' })
    expect((await provider.stat('empty', signal)).size).toBe(0)
    expect(await read(provider, 'empty')).toBe('')
  })

  test('a dataset repository is read under /datasets/, apart from a model of the same name', async () => {
    const { provider, name, repo } = fresh({ type: 'dataset' })
    hub.createRepo(repo.id)
    hub.commit(repo.id, { 'data/train.parquet': 'model side' })
    hub.commit(name, { 'data/train-00000.parquet': 'rows', 'README.md': '# card' })
    expect(await keys(provider)).toEqual(['README.md', 'data/train-00000.parquet'])
    expect(await read(provider, 'data/train-00000.parquet')).toBe('rows')
    expect(provider.uri).toBe(`hf://datasets/${repo.id}`)
  })

  test('the token is sent as a Bearer header to the Hub and appears in no message', async () => {
    hub.tokens.add(TOKEN)
    const { name, repo } = fresh()
    hub.commit(name, { 'f.txt': 'x' })
    const provider = open(repo, { token: TOKEN })
    const from = hub.requests.length
    await provider.check(signal)
    await keys(provider)
    await provider.stat('f.txt', signal)
    const hubRequests = hub.requests.slice(from).filter((r) => r.origin === 'hub')
    expect(hubRequests.length).toBeGreaterThan(2)
    for (const r of hubRequests) expect(r.authorization).toBe(`Bearer ${TOKEN}`)
    // A token the Hub does not know, from HF_TOKEN, refused: the message says so without it.
    const refused = open(repo, { env: { HF_ENDPOINT: hub.url, HF_TOKEN: 'hf_unknownSECRET' } })
    const errors = [await failure(refused.check(signal)), await failure(refused.read('f.txt', { signal }))]
    for (const err of errors) {
      expect(err).toBeInstanceOf(AccessDeniedError)
      expect(err.message).toMatch(/refused HF_TOKEN .*check the token/)
      expect(`${err.message} ${(err.cause as Error | undefined)?.message} ${err.stack}`).not.toContain('SECRET')
    }
  })

  test('HF_ENDPOINT is honoured, a trailing slash and all; without it the endpoint is huggingface.co', async () => {
    const { name, repo } = fresh()
    hub.commit(name, { 'f.txt': 'here' })
    const provider = HfProvider.create({ repo, env: { HF_ENDPOINT: `${hub.url}/` } })
    expect(provider.endpoint).toBe(hub.url)
    expect(await read(provider, 'f.txt')).toBe('here')
    expect(HfProvider.create({ repo, env: {} }).endpoint).toBe('https://huggingface.co')
    expect(() => HfProvider.create({ repo, env: { HF_ENDPOINT: 'huggingface.co' } })).toThrow(UsageError)
  })

  test('a missing repository or revision gives NoSuchBucketError naming it, the revision and the endpoint', async () => {
    const missing = await failure(open({ type: 'model', id: 'owner/nothing-here' }).check(signal))
    expect(missing).toBeInstanceOf(NoSuchBucketError)
    expect(missing.message).toBe(`Repository hf://owner/nothing-here does not exist at ${hub.url}, or it is private: set HF_TOKEN to a token that can read it`)
    hub.tokens.add(TOKEN)
    const withToken = await failure(open({ type: 'dataset', id: 'owner/nothing-here' }, { token: TOKEN }).check(signal))
    expect(withToken.message).toBe(`Repository hf://datasets/owner/nothing-here does not exist at ${hub.url}, or HF_TOKEN cannot read it`)
    const { repo } = fresh({ revision: 'no-such-branch' })
    const rev = await failure(open(repo).check(signal))
    expect(rev).toBeInstanceOf(NoSuchBucketError)
    expect(rev.message).toBe(`Revision \`no-such-branch\` does not exist in hf://${repo.id}@no-such-branch at ${hub.url} (a branch, tag or commit)`)
    // list, stat and read of a missing repository fail alike, not as a missing file.
    const gone = open({ type: 'model', id: 'owner/nothing-here' })
    for (const p of [keys(gone), gone.stat('k', signal), gone.read('k', { signal })]) expect(await failure(p)).toBeInstanceOf(NoSuchBucketError)
  })

  test('a private repository reads with a token granted to it, and looks missing without one', async () => {
    hub.tokens.add(TOKEN)
    hub.createRepo('owner/private-one', { private: true, readers: [TOKEN] })
    hub.commit('owner/private-one', { 's.txt': 'secret stuff' })
    const repo: HfRepo = { type: 'model', id: 'owner/private-one' }
    expect(await read(open(repo, { token: TOKEN }), 's.txt')).toBe('secret stuff')
    expect(await failure(open(repo).check(signal))).toBeInstanceOf(NoSuchBucketError)
  })

  test('a gated repository: check fails without a token; with one not granted, reads are AccessDeniedError', async () => {
    hub.tokens.add(TOKEN)
    hub.tokens.add('hf_other')
    hub.createRepo('owner/gated-one', { gated: true, readers: [TOKEN] })
    hub.commit('owner/gated-one', { 'w.bin': 'gated weights' })
    const repo: HfRepo = { type: 'model', id: 'owner/gated-one' }
    const anonymous = await failure(open(repo).check(signal))
    expect(anonymous).toBeInstanceOf(AccessDeniedError)
    expect(anonymous.message).toBe(`hf://owner/gated-one is gated: accept its conditions on ${hub.url} and set HF_TOKEN to a token of that account`)
    const other = open(repo, { token: 'hf_other' })
    await other.check(signal)
    expect(await keys(other)).toEqual(['.gitattributes', 'w.bin'])
    const denied = await failure(other.read('w.bin', { signal }))
    expect(denied).toBeInstanceOf(AccessDeniedError)
    expect(denied.message).toMatch(/is gated: accept its conditions .* check that HF_TOKEN belongs to that account/)
    expect(await read(open(repo, { token: TOKEN }), 'w.bin')).toBe('gated weights')
  })

  test('a 503 on a tree page is retried by the retry policy the engine passes, that page only', async () => {
    let attempts = 0
    const retry: RetryCalls = async (fn) => {
      for (let i = 0; ; i++) {
        attempts++
        try { return await fn(undefined) } catch (err) { if (i >= 2) throw err }
      }
    }
    const { provider, name } = fresh({ retry })
    hub.commit(name, { 'a/1': '1', 'a/2': '2' })
    await provider.check(signal)
    hub.setRule(({ path, nth }) => (path.includes('/tree/') && path.endsWith('/a') && nth === 1 ? { status: 503, message: 'busy' } : undefined))
    try {
      attempts = 0
      expect(await keys(provider)).toEqual(['a/1', 'a/2'])
      expect(attempts).toBe(3) // the root, /a failing, /a again
    } finally {
      hub.setRule(undefined)
    }
  })

  test('check of a port where nothing listens, or of a server that is no Hub, rejects with EndpointUnreachableError', async () => {
    const port = await closedPort()
    const repo: HfRepo = { type: 'model', id: 'owner/x' }
    const refused = await failure(HfProvider.create({ repo, env: { HF_ENDPOINT: `http://127.0.0.1:${port}` } }).check(signal))
    expect(refused).toBeInstanceOf(EndpointUnreachableError)
    expect(refused.message).toBe(`Cannot reach http://127.0.0.1:${port} (ECONNREFUSED): check HF_ENDPOINT and the network`)
    const server = await listen(createServer((_, res) => { res.statusCode = 404; res.end('not here') }))
    try {
      const other = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const err = await failure(HfProvider.create({ repo, env: { HF_ENDPOINT: other } }).check(signal))
      expect(err).toBeInstanceOf(EndpointUnreachableError)
      expect(err.message).toMatch(/answered HTTP 404 without the Hub's X-Error-Code header: is HF_ENDPOINT a Hugging Face Hub\?/)
    } finally {
      await new Promise((r) => server.close(r))
    }
  })

  test('write rejects with UsageError: the Hub is a source only', async () => {
    const { provider } = fresh()
    const err = await failure(provider.write('k', Buffer.from('x'), signal))
    expect(err).toBeInstanceOf(UsageError)
    expect(err.message).toMatch(/^Uploads to the Hugging Face Hub are not supported/)
  })

  test('a body cut mid-way rejects its reader with a TransientError, a low-level fault', async () => {
    const { provider, name } = fresh()
    hub.commit(name, { a: Buffer.alloc(4096, 1) })
    await provider.check(signal)
    hub.setRule(({ path }) => (path.startsWith('/api/resolve-cache/') ? 'cut' : undefined))
    try {
      const err = await failure(read(provider, 'a'))
      expect(err).toBeInstanceOf(TransientError)
      expect(err).toMatchObject({ code: 'UND_ERR_SOCKET', lowLevel: true })
    } finally {
      hub.setRule(undefined)
    }
  })

  test('an aborted read rejects without waiting', async () => {
    const { provider, name } = fresh()
    hub.commit(name, { a: 'abc' })
    await provider.check(signal)
    await expect(provider.read('a', { signal: AbortSignal.abort() })).rejects.toThrow()
  })
})

async function listen(server: Server): Promise<Server> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return server
}

/** A loopback port that was free a moment ago and has nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = await listen(createServer())
  const { port } = server.address() as AddressInfo
  await new Promise((r) => server.close(r))
  return port
}
