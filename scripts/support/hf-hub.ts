import { createHash, createHmac, randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A small Hugging Face Hub for tests: the endpoints @huggingface/hub and soaker call, answered as
 * huggingface.co answers them, in memory, on two loopback ports (the Hub, and a CDN on another
 * origin that LFS downloads are redirected to, as cdn-lfs.hf.co / cas-bridge.xethub.hf.co are).
 *
 * - `GET /api/{models|datasets|spaces}/{id}/tree/{rev}[/{path}]?recursive=&expand=&cursor=`: entries
 *   `{type, oid, size, path, lfs?: {oid, size, pointerSize}}` (+ `lastCommit` with expand), folders
 *   first (not byte order), 1,000 per page (50 with expand) and the next page in a `Link: <url>;
 *   rel="next"` header. A path that is no folder: 404 EntryNotFound.
 * - `POST /api/…/paths-info/{rev}` (JSON or form body `paths`, `expand`): the paths that exist.
 * - `GET /api/…/revision/{rev}` (and `/api/…/{id}` for HEAD): repository info at that revision with
 *   `sha`; with `expand=` parameters only `_id`, `id` and the fields asked for.
 * - `GET|HEAD /[datasets/|spaces/]{id}/resolve/{rev}/{path}`: a plain file answers 307 to
 *   `/api/resolve-cache/…/{commit}/{path}`, which serves it (Range honoured) with `ETag: "<git
 *   blob id>"`; an LFS file answers 302 to a signed CDN URL with `X-Linked-Etag: "<sha256>"`,
 *   `X-Linked-Size` and `X-Repo-Commit`. The CDN honours Range, refuses a request that also
 *   carries an Authorization header (400, as S3 does for a presigned URL) and sends an ETag of
 *   its own, another 64-hex value, as the Xet bridge does.
 *
 * Errors carry the Hub's `X-Error-Code` (RepoNotFound, RevisionNotFound, EntryNotFound,
 * GatedRepo) and `X-Error-Message`, with a JSON body `{"error": …}`. A missing or private repo is
 * 401 without a token and 404 with one; a gated repo's files are 401 without a token and 403 with
 * one that was not granted; a token the Hub does not know is 401 everywhere.
 */
/** Repositories are named `owner/name` (a model), `datasets/owner/name` or `spaces/owner/name`, as @huggingface/hub writes them. */
export interface TestHfHub {
  /** The Hub's origin, for HF_ENDPOINT. */
  url: string
  /** The CDN's origin. */
  cdnUrl: string
  /** Every request, in arrival order. */
  requests: HubRequest[]
  /** Tokens the Hub accepts. */
  tokens: Set<string>
  /** Tree entries per page without expand. @default 1000 */
  pageSize: number
  /** A repository with an initial commit (`.gitattributes`, as the Hub creates, unless told not to) on `main`. */
  createRepo(designation: string, options?: HubRepoOptions): string
  /** Commits `files` (null deletes) on a branch and returns the commit id. */
  commit(designation: string, files: Record<string, HubFileContent | null>, options?: { branch?: string; title?: string }): string
  /** Points a branch or tag at a commit. */
  setRef(designation: string, name: string, sha: string, kind?: 'branch' | 'tag'): void
  /** Makes every CDN URL handed out so far invalid (403), as an expired signature is. */
  expireCdnUrls(): void
  /** Faults to answer with instead of the real answer; undefined answers normally. */
  setRule(rule: HubFaultRule | undefined): void
  stop(): Promise<void>
}

/** A file's bytes; LFS by default where the Hub's default .gitattributes says so, or above 10 MiB. */
export type HubFileContent = string | Buffer | { data: string | Buffer; lfs?: boolean }

export interface HubRepoOptions {
  private?: boolean
  gated?: boolean
  /** Tokens that may read a private or gated repository. */
  readers?: string[]
  /** @default true */
  gitattributes?: boolean
}

export interface HubRequest {
  method: string
  origin: 'hub' | 'cdn'
  /** Path, decoded. */
  path: string
  query: string
  authorization?: string
  range?: string
  status: number
}

/**
 * An error answer, a connection reset, the real answer with one body byte flipped (corruption
 * TCP missed), or the real answer's headers and half its body before the connection is cut.
 */
export type HubFault =
  | { status: number; errorCode?: string; message?: string; headers?: Record<string, string> }
  | 'reset' | 'corrupt' | 'cut'
/** `nth` counts requests with the same method and path, from 1. */
export type HubFaultRule = (req: { method: string; origin: 'hub' | 'cdn'; path: string; nth: number }) => HubFault | undefined

type RepoType = 'model' | 'dataset' | 'space'
interface Blob { data: Buffer; oid: string; lfs?: { oid: string; size: number; pointerSize: number } }
interface CommitRef { id: string; title: string; date: Date }
interface FileEntry { path: string; blob: Blob; last: CommitRef }
interface Commit extends CommitRef { files: Map<string, FileEntry> }
interface Repo {
  type: RepoType; id: string; private: boolean; gated: boolean; readers: Set<string>; createdAt: Date
  commits: Map<string, Commit>; branches: Map<string, string>; tags: Map<string, string>
}
type Problem = { status: number; errorCode?: string; message: string }

const sha1 = (b: Buffer | string): string => createHash('sha1').update(b).digest('hex')
const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex')
/** git's blob id: SHA-1 of `blob <size>\0` and the bytes. */
const gitBlobId = (data: Buffer): string => createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex')
const lfsPatterns = /\.(7z|arrow|bin|bz2|ckpt|gz|h5|joblib|model|msgpack|npy|npz|onnx|parquet|pb|pickle|pkl|pt|pth|safetensors|tar|tflite|tgz|wasm|xz|zip|zst)$/
// The Hub refuses plain (non-LFS) files above 10 MiB.
const lfsAbove = 10 * 1024 * 1024
const gitattributes = lfsPatterns.source.replace(/^.*\((.*)\).*$/, '$1').split('|').map((e) => `*.${e} filter=lfs diff=lfs merge=lfs -text`).join('\n') + '\n'
const typeOf: Record<string, RepoType> = { models: 'model', datasets: 'dataset', spaces: 'space' }

function blobOf(content: HubFileContent, path: string): Blob {
  const given = typeof content === 'object' && !Buffer.isBuffer(content) ? content : { data: content }
  const data = Buffer.isBuffer(given.data) ? given.data : Buffer.from(given.data)
  const lfs = given.lfs ?? (lfsPatterns.test(path) || data.length > lfsAbove)
  if (!lfs) return { data, oid: gitBlobId(data) }
  const oid = sha256(data)
  // The git blob of an LFS file is its pointer; the tree's `oid` is the pointer's id.
  const pointer = Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${data.length}\n`)
  return { data, oid: gitBlobId(pointer), lfs: { oid, size: data.length, pointerSize: pointer.length } }
}

/** Parses `owner/name`, `datasets/owner/name`, `spaces/owner/name`. */
function designated(designation: string): { type: RepoType; id: string } {
  const parts = designation.split('/')
  if (parts.length === 3 && parts[0]! in typeOf) return { type: typeOf[parts[0]!]!, id: parts.slice(1).join('/') }
  if (parts.length === 2) return { type: 'model', id: designation }
  throw new Error(`hf-hub: expected owner/name or datasets/owner/name, got ${designation}`)
}

function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '')
  if (!m || (m[1] === '' && m[2] === '')) return undefined
  if (m[1] === '') {
    const n = Number(m[2])
    return n === 0 || size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - n), end: size - 1 }
  }
  const start = Number(m[1])
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  return start >= size || end < start ? 'unsatisfiable' : { start, end }
}

export async function startHfHub(): Promise<TestHfHub> {
  const repos = new Map<string, Repo>()
  const lfsBlobs = new Map<string, Buffer>()
  const requests: HubRequest[] = []
  const counts = new Map<string, number>()
  const tokens = new Set<string>()
  let secret = randomBytes(16)
  let rule: HubFaultRule | undefined
  let hubUrl = ''
  let cdnUrl = ''

  const keyOf = (type: RepoType, id: string): string => `${type}s/${id}`
  const repoOf = (designation: string): Repo => {
    const { type, id } = designated(designation)
    const repo = repos.get(keyOf(type, id))
    if (!repo) throw new Error(`hf-hub: no repository ${designation}`)
    return repo
  }

  function commitFiles(repo: Repo, files: Record<string, HubFileContent | null>, branch: string, title: string): string {
    const parentId = repo.branches.get(branch)
    const parent = parentId !== undefined ? repo.commits.get(parentId) : undefined
    const ref: CommitRef = { id: sha1(randomBytes(20)), title, date: new Date() }
    const next = new Map(parent?.files)
    for (const [path, content] of Object.entries(files)) {
      if (content === null) next.delete(path)
      else {
        const blob = blobOf(content, path)
        if (blob.lfs) lfsBlobs.set(blob.lfs.oid, blob.data)
        next.set(path, { path, blob, last: ref })
      }
    }
    repo.commits.set(ref.id, { ...ref, files: next })
    repo.branches.set(branch, ref.id)
    return ref.id
  }

  /** A branch, a tag, a full commit id or a unique prefix of one (7+ characters). */
  function resolveRev(repo: Repo, rev: string): Commit | undefined {
    const id = repo.branches.get(rev === 'HEAD' ? 'main' : rev) ?? repo.tags.get(rev)
    if (id !== undefined) return repo.commits.get(id)
    if (/^[0-9a-f]{7,40}$/.test(rev)) {
      const found = [...repo.commits.keys()].filter((c) => c.startsWith(rev))
      if (found.length === 1) return repo.commits.get(found[0]!)
    }
    return undefined
  }

  function token(req: http.IncomingMessage): string | undefined | null {
    const m = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')
    if (!m) return undefined
    return tokens.has(m[1]!) ? m[1]! : null // null: a token the Hub does not know
  }

  function access(repo: Repo | undefined, tok: string | undefined, content: boolean): Problem | undefined {
    const reader = tok !== undefined && repo?.readers.has(tok)
    if (!repo || (repo.private && !reader)) return { status: tok ? 404 : 401, errorCode: 'RepoNotFound', message: 'Repository not found' }
    if (content && repo.gated && !reader) {
      return {
        status: tok ? 403 : 401, errorCode: 'GatedRepo',
        message: `Access to ${repo.type} ${repo.id} is restricted${tok ? ' and you are not in the authorized list' : '. You must have access to it and be authenticated to access it'}.`,
      }
    }
    return undefined
  }

  function fail(res: http.ServerResponse, p: Problem): void {
    const body = JSON.stringify({ error: p.message })
    res.writeHead(p.status, {
      'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body),
      ...(p.errorCode ? { 'x-error-code': p.errorCode } : {}), 'x-error-message': p.message,
    })
    res.end(body)
  }

  function json(res: http.ServerResponse, value: unknown, headers: Record<string, string> = {}): void {
    const body = JSON.stringify(value)
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers })
    res.end(body)
  }

  function fileJson(f: FileEntry, expand: boolean): Record<string, unknown> {
    return {
      type: 'file', oid: f.blob.oid, size: f.blob.data.length, path: f.path,
      ...(f.blob.lfs ? { lfs: f.blob.lfs } : {}),
      ...(expand ? { lastCommit: { id: f.last.id, title: f.last.title, date: f.last.date.toISOString() }, securityFileStatus: { status: 'safe' } } : {}),
    }
  }

  function dirJson(commit: Commit, path: string, expand: boolean): Record<string, unknown> {
    const under = [...commit.files.values()].filter((f) => f.path.startsWith(path + '/'))
    const last = under.reduce<CommitRef | undefined>((a, f) => (a === undefined || f.last.date > a.date ? f.last : a), undefined)
    return {
      type: 'directory', oid: sha1(under.map((f) => `${f.path} ${f.blob.oid}`).join('\n')), size: 0, path,
      ...(expand && last ? { lastCommit: { id: last.id, title: last.title, date: last.date.toISOString() } } : {}),
    }
  }

  /** The entries of folder `dir` ('' for the root) in the Hub's order: folders first, then files, each by name. */
  function treeEntries(commit: Commit, dir: string, recursive: boolean, expand: boolean): Array<Record<string, unknown>> | undefined {
    const base = dir ? dir + '/' : ''
    const dirs = new Set<string>()
    const files: FileEntry[] = []
    for (const f of commit.files.values()) {
      if (!f.path.startsWith(base)) continue
      const rest = f.path.slice(base.length).split('/')
      if (rest.length === 1) files.push(f)
      else if (recursive) {
        files.push(f)
        for (let i = 1; i < rest.length; i++) dirs.add(base + rest.slice(0, i).join('/'))
      } else dirs.add(base + rest[0]!)
    }
    if (dir && files.length === 0 && dirs.size === 0) return undefined
    const byName = (a: string, b: string): number => a.localeCompare(b)
    return [
      ...[...dirs].sort(byName).map((d) => dirJson(commit, d, expand)),
      ...files.sort((a, b) => byName(a.path, b.path)).map((f) => fileJson(f, expand)),
    ]
  }

  function repoInfo(repo: Repo, commit: Commit, expand: string[]): Record<string, unknown> {
    const full: Record<string, unknown> = {
      author: repo.id.split('/')[0], sha: commit.id, lastModified: commit.date.toISOString(), createdAt: repo.createdAt.toISOString(),
      private: repo.private, gated: repo.gated ? 'auto' : false, disabled: false, downloads: 0, likes: 0, tags: [],
      siblings: [...commit.files.keys()].sort().map((rfilename) => ({ rfilename })),
      ...(repo.type === 'model' ? { pipeline_tag: null, library_name: null } : {}),
    }
    const picked = expand.length ? Object.fromEntries(expand.filter((k) => k in full).map((k) => [k, full[k]])) : full
    return { _id: sha1(repo.id).slice(0, 24), id: repo.id, ...picked }
  }

  function sendBytes(req: http.IncomingMessage, res: http.ServerResponse, data: Buffer, headers: Record<string, string>): void {
    const range = parseRange(req.headers.range, data.length)
    if (range === 'unsatisfiable') {
      res.writeHead(416, { 'content-range': `bytes */${data.length}`, ...headers })
      res.end()
      return
    }
    const slice = range ? data.subarray(range.start, range.end + 1) : data
    res.writeHead(range ? 206 : 200, {
      'content-type': 'application/octet-stream', 'content-length': slice.length, 'accept-ranges': 'bytes',
      ...(range ? { 'content-range': `bytes ${range.start}-${range.end}/${data.length}` } : {}), ...headers,
    })
    res.end(req.method === 'HEAD' ? undefined : slice)
  }

  async function readBody(req: http.IncomingMessage): Promise<string> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    return Buffer.concat(chunks).toString()
  }

  async function hub(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const tok = token(req)
    if (tok === null) return fail(res, { status: 401, message: 'Invalid credentials in Authorization header' })
    const segments = url.pathname.split('/').slice(1).map(decodeURIComponent)
    const api = segments[0] === 'api'
    if (api && segments[1] === 'resolve-cache') {
      // /api/resolve-cache/{types}/{owner}/{name}/{commit}/{path…}
      const [, , types, owner, name, sha, ...path] = segments
      const repo = repos.get(`${types}/${owner}/${name}`)
      const denied = access(repo, tok, true)
      if (denied) return fail(res, denied)
      const file = repo!.commits.get(sha ?? '')?.files.get(path.join('/'))
      if (!file) return fail(res, { status: 404, errorCode: 'EntryNotFound', message: 'Entry not found' })
      return sendBytes(req, res, file.blob.data, { etag: `"${file.blob.oid}"`, 'x-repo-commit': sha! })
    }
    if (api && segments[1]! in typeOf) {
      // /api/{types}/{owner}/{name}[/{op}/{rev}[/{path…}]]
      const [, types, owner, name, op, rev, ...path] = segments
      const repo = repos.get(`${types}/${owner}/${name}`)
      const denied = access(repo, tok, false)
      if (denied) return fail(res, denied)
      const commit = resolveRev(repo!, rev ?? 'HEAD')
      if (!commit) return fail(res, { status: 404, errorCode: 'RevisionNotFound', message: `Invalid rev id: ${rev}` })
      if (op === undefined || op === 'revision') return json(res, repoInfo(repo!, commit, url.searchParams.getAll('expand')))
      if (op === 'tree' && req.method === 'GET') {
        const expand = url.searchParams.get('expand') === 'true'
        const entries = treeEntries(commit, path.join('/'), url.searchParams.get('recursive') === 'true', expand)
        if (!entries) return fail(res, { status: 404, errorCode: 'EntryNotFound', message: `${path.join('/')} does not exist on "${rev}"` })
        const size = expand ? 50 : state.pageSize
        const offset = Number(Buffer.from(url.searchParams.get('cursor') ?? '', 'base64url').toString() || 0)
        const page = entries.slice(offset, offset + size)
        const headers: Record<string, string> = {}
        if (offset + size < entries.length) {
          const next = new URL(url.pathname + url.search, hubUrl)
          next.searchParams.set('cursor', Buffer.from(String(offset + size)).toString('base64url'))
          headers.link = `<${next.href}>; rel="next"`
        }
        return json(res, page, headers)
      }
      if (op === 'paths-info' && req.method === 'POST') {
        const raw = await readBody(req)
        const form = (req.headers['content-type'] ?? '').includes('json') ? undefined : new URLSearchParams(raw)
        const body = form ? { paths: form.getAll('paths'), expand: form.get('expand') === 'true' } : (JSON.parse(raw) as { paths: string[]; expand?: boolean })
        const out = body.paths.flatMap((p) => {
          const f = commit.files.get(p)
          if (f) return [fileJson(f, Boolean(body.expand))]
          return [...commit.files.keys()].some((k) => k.startsWith(p + '/')) ? [dirJson(commit, p, Boolean(body.expand))] : []
        })
        return json(res, out)
      }
      return fail(res, { status: 404, message: 'Not Found' })
    }
    // /[datasets/|spaces/]{owner}/{name}/resolve/{rev}/{path…}
    const typed = segments[0]! in typeOf && segments[0] !== 'models'
    const [owner, name, op, rev, ...path] = typed ? segments.slice(1) : segments
    if (op !== 'resolve' || (req.method !== 'GET' && req.method !== 'HEAD')) return fail(res, { status: 404, message: 'Not Found' })
    const types = typed ? segments[0]! : 'models'
    const repo = repos.get(`${types}/${owner}/${name}`)
    const denied = access(repo, tok, true)
    if (denied) return fail(res, denied)
    const commit = resolveRev(repo!, rev ?? '')
    if (!commit) return fail(res, { status: 404, errorCode: 'RevisionNotFound', message: `Invalid rev id: ${rev}` })
    const file = commit.files.get(path.join('/'))
    if (!file) return fail(res, { status: 404, errorCode: 'EntryNotFound', message: 'Entry not found' })
    const common = { 'x-repo-commit': commit.id, 'access-control-expose-headers': 'X-Repo-Commit,X-Linked-Etag,X-Linked-Size,ETag,Link,Content-Range' }
    if (!file.blob.lfs) {
      const location = `/api/resolve-cache/${types}/${owner}/${name}/${commit.id}/${path.map(encodeURIComponent).join('/')}?etag=${encodeURIComponent(`"${file.blob.oid}"`)}`
      res.writeHead(307, { location, ...common, 'content-length': 0 })
      return void res.end()
    }
    const { oid, size } = file.blob.lfs
    const expires = String(Math.floor(Date.now() / 1000) + 3600)
    const signature = createHmac('sha256', secret).update(`${oid}\n${expires}`).digest('hex')
    const location = `${cdnUrl}/repos/${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}?X-Amz-Expires=${expires}&X-Amz-Signature=${signature}`
    const body = `Found. Redirecting to ${location}`
    res.writeHead(302, {
      location, ...common, 'x-linked-etag': `"${oid}"`, 'x-linked-size': String(size),
      etag: `W/"${body.length.toString(16)}-${sha1(body).slice(0, 27)}"`, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body),
    })
    res.end(req.method === 'HEAD' ? undefined : body)
  }

  function cdn(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    const s3Error = (status: number, code: string, message: string): void => {
      const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`
      res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    }
    if (req.headers.authorization !== undefined) return s3Error(400, 'InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified')
    const oid = /^\/repos\/[0-9a-f]{2}\/[0-9a-f]{2}\/([0-9a-f]{64})$/.exec(url.pathname)?.[1]
    const expires = url.searchParams.get('X-Amz-Expires') ?? ''
    const expected = oid && createHmac('sha256', secret).update(`${oid}\n${expires}`).digest('hex')
    if (!oid || url.searchParams.get('X-Amz-Signature') !== expected || Number(expires) * 1000 < Date.now()) return s3Error(403, 'AccessDenied', 'Request has expired or the signature does not match')
    const data = lfsBlobs.get(oid)
    if (!data) return s3Error(404, 'NoSuchKey', 'The specified key does not exist.')
    sendBytes(req, res, data, { etag: `"${sha256(`cdn:${oid}`)}"` })
  }

  const handler = (origin: 'hub' | 'cdn') => (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = new URL(req.url ?? '/', origin === 'hub' ? hubUrl : cdnUrl)
    const path = decodeURIComponent(url.pathname)
    const seen: HubRequest = {
      method: req.method ?? 'GET', origin, path, query: url.search.replace(/^\?/, ''),
      authorization: req.headers.authorization, range: req.headers.range, status: 0,
    }
    requests.push(seen)
    res.on('finish', () => { seen.status = res.statusCode })
    if (origin === 'hub') res.setHeader('x-request-id', `Root=1-${randomBytes(12).toString('hex')}`)
    const id = `${origin} ${seen.method} ${path}`
    const nth = (counts.get(id) ?? 0) + 1
    counts.set(id, nth)
    const fault = rule?.({ method: seen.method, origin, path, nth })
    if (fault === 'reset') return void req.socket.destroy()
    if (fault === 'corrupt') corrupt(res)
    else if (fault === 'cut') cut(res)
    else if (fault) {
      res.writeHead(fault.status, { 'content-type': 'application/json', ...(fault.errorCode ? { 'x-error-code': fault.errorCode } : {}), ...fault.headers })
      return void res.end(JSON.stringify({ error: fault.message ?? 'injected by the test hub' }))
    }
    if (origin === 'cdn') return cdn(req, res, url)
    hub(req, res, url).catch((err: unknown) => {
      if (!res.headersSent) fail(res, { status: 500, message: String(err) })
      else res.destroy()
    })
  }

  /** Flips the first byte of the body `res` ends with (every body here is written by one `end`). */
  function corrupt(res: http.ServerResponse): void {
    const end = res.end.bind(res) as (chunk?: unknown) => http.ServerResponse
    res.end = ((chunk?: unknown) => {
      if (!Buffer.isBuffer(chunk) || chunk.length === 0) return end(chunk)
      const bad = Buffer.from(chunk)
      bad[0] = bad[0]! ^ 0xff
      return end(bad)
    }) as typeof res.end
  }

  /** Sends half of the body `res` ends with, then cuts the connection. */
  function cut(res: http.ServerResponse): void {
    res.end = ((chunk?: unknown) => {
      const body = Buffer.isBuffer(chunk) ? chunk : Buffer.alloc(0)
      res.write(body.subarray(0, body.length >> 1), () => res.destroy())
      return res
    }) as typeof res.end
  }

  const listen = async (server: http.Server): Promise<string> => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }
  const hubServer = http.createServer(handler('hub'))
  const cdnServer = http.createServer(handler('cdn'))
  hubUrl = await listen(hubServer)
  cdnUrl = await listen(cdnServer)

  const state: TestHfHub = {
    url: hubUrl,
    cdnUrl,
    requests,
    tokens,
    pageSize: 1000,
    createRepo(designation, options = {}) {
      const { type, id } = designated(designation)
      if (repos.has(keyOf(type, id))) throw new Error(`hf-hub: ${designation} exists`)
      const repo: Repo = {
        type, id, private: options.private ?? false, gated: options.gated ?? false, readers: new Set(options.readers),
        createdAt: new Date(), commits: new Map(), branches: new Map(), tags: new Map(),
      }
      repos.set(keyOf(type, id), repo)
      return commitFiles(repo, options.gitattributes === false ? {} : { '.gitattributes': gitattributes }, 'main', 'initial commit')
    },
    commit(designation, files, options = {}) {
      return commitFiles(repoOf(designation), files, options.branch ?? 'main', options.title ?? `Upload ${Object.keys(files).length} files`)
    },
    setRef(designation, name, sha, kind = 'branch') {
      const repo = repoOf(designation)
      if (!repo.commits.has(sha)) throw new Error(`hf-hub: no commit ${sha} in ${designation}`)
      ;(kind === 'branch' ? repo.branches : repo.tags).set(name, sha)
    },
    expireCdnUrls() { secret = randomBytes(16) },
    setRule(next) { rule = next },
    async stop() {
      for (const server of [hubServer, cdnServer]) {
        server.closeAllConnections()
        await new Promise((r) => server.close(r))
      }
    },
  }
  return state
}
