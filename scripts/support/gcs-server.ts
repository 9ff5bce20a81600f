import { createHash } from 'node:crypto'
import http from 'node:http'

/**
 * A Google Cloud Storage JSON API server for tests: exactly the endpoints @google-cloud/storage
 * 7.x calls for soaker and for seeding a bucket, with objects in memory.
 *
 * What it does as real GCS does: buckets exist only once created (POST /b); listing in UTF-8
 * byte order with prefix, delimiter, maxResults (at most 1,000) and an opaque pageToken; object
 * metadata with `size`, `generation` and `updated`; base64 `md5Hash` and big-endian `crc32c`;
 * media downloads with one byte range (206 and Content-Range, 416 past the end), carrying
 * `x-goog-generation`, `x-goog-meta-*` and an `x-goog-hash` of the whole object even on ranged
 * responses; simple (`media`) and `multipart` uploads with the object's metadata and content
 * type, refused (400) when a given md5Hash or crc32c does not match the bytes; `ifGenerationMatch`
 * and `ifGenerationNotMatch` on reads, uploads, deletes, composes and rewrites (412, `0` meaning
 * "must not exist"); compose of 1 to 32 sources of the bucket (400 above 32, 404 for a missing
 * source, 412 for a source's `objectPreconditions.ifGenerationMatch`), with the destination's
 * metadata and content type, yielding an object without md5Hash whose componentCount adds up
 * its sources', as real composite objects are; rewrite (`rewriteTo`) with the source's data,
 * hashes, metadata and content type (a request body's contentType and metadata override them),
 * `ifSourceGenerationMatch`/`ifSourceGenerationNotMatch` (412) and `sourceGeneration`, over
 * several calls chained by a rewriteToken where `maxBytesRewrittenPerCall` (a multiple of 1 MiB,
 * else 400) or the server's `rewriteBytesPerCall` asks for that; errors in the JSON API's shape
 * (`{ error: { code, message, errors: [{ domain, reason, message }] } }`), with the messages
 * GCS gives for a missing bucket and a missing object.
 *
 * What it does not: authentication (every request is allowed), resumable uploads (501: soaker's
 * provider sends multipart uploads, and seeds use `resumable: false`), ACLs, versions, soft
 * delete, gzip transcoding, `fields` (whole resources are sent), XML API. Anything it does not
 * implement answers 501 naming the route, so a client call it does not know fails loudly
 * instead of passing.
 */

export interface GcsObject {
  data: Buffer
  generation: string
  metageneration: string
  contentType: string
  contentEncoding?: string
  metadata?: Record<string, string>
  /** Absent for composite objects. */
  md5Hash?: string
  crc32c: string
  componentCount?: number
  created: Date
}

export interface SeenGcsRequest {
  method: string
  /** Path without the `/storage/v1` prefix, percent-decoded: `/b/bucket/o/dir/key`. */
  path: string
  query: URLSearchParams
  range?: string
  /** Bytes of the request body, once read whole (a request cut short has none). */
  received?: number
  /** The object an upload named (a multipart upload names it in its JSON part). */
  name?: string
}

export interface GcsServerOptions {
  /**
   * Bytes one rewrite call copies before it answers with a rewriteToken, as GCS does for large
   * copies between locations or storage classes. @default Infinity (one call)
   */
  rewriteBytesPerCall?: number
}

export interface GcsServer {
  server: http.Server
  buckets: Map<string, Map<string, GcsObject>>
  /** Every request, in arrival order. */
  requests: SeenGcsRequest[]
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

/** CRC32C (Castagnoli), base64 of its 4 bytes in big-endian order, as GCS reports it. */
export function crc32c(data: Buffer): string {
  let crc = 0xffffffff
  for (const byte of data) crc = crcTable[(crc ^ byte) & 0xff]! ^ (crc >>> 8)
  const out = Buffer.alloc(4)
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0)
  return out.toString('base64')
}

const md5Base64 = (data: Buffer): string => createHash('md5').update(data).digest('base64')

class HttpFailure extends Error {
  constructor(readonly status: number, readonly reason: string, message: string) {
    super(message)
  }
}

const noBucket = (): HttpFailure => new HttpFailure(404, 'notFound', 'The specified bucket does not exist.')

let lastGeneration = 0
/** Microseconds since the epoch, strictly increasing, as GCS generations are. */
function nextGeneration(): string {
  lastGeneration = Math.max(Date.now() * 1000, lastGeneration + 1)
  return String(lastGeneration)
}

/** A new server (not listening yet) over an empty store. */
export function createGcsServer(options: GcsServerOptions = {}): GcsServer {
  const buckets = new Map<string, Map<string, GcsObject>>()
  const requests: SeenGcsRequest[] = []
  const server = http.createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      const f = err instanceof HttpFailure ? err : new HttpFailure(500, 'backendError', String(err))
      sendError(res, f)
    })
  })
  // Node closes a keep-alive socket idle for 5 s; a client reusing it at that moment reads
  // ECONNRESET (seen when a test seeds again after waiting on a run). Clients here never idle
  // that long on purpose, so idle sockets stay open for a minute.
  server.keepAliveTimeout = 60_000

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const origin = `http://${req.headers.host ?? 'localhost'}`
    const method = req.method ?? 'GET'
    // The client puts `/storage/v1` in front unless STORAGE_EMULATOR_HOST is set in its process.
    const raw = url.pathname.replace(/^\/storage\/v1(?=\/)/, '')
    const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname)
    const segments = raw.split('/').slice(1).map((s) => decodeURIComponent(s))
    const seen: SeenGcsRequest = { method, path: '/' + segments.join('/'), query: url.searchParams, range: req.headers.range }
    requests.push(seen)
    const readBody = async (r: http.IncomingMessage): Promise<Buffer> => {
      const body = await readWhole(r)
      seen.received = body.length
      return body
    }
    const q = url.searchParams
    const bucketOf = (name: string): Map<string, GcsObject> => buckets.get(name) ?? (() => { throw noBucket() })()

    if (upload && method === 'POST') {
      const bucket = decodeURIComponent(upload[1]!)
      const objects = bucketOf(bucket)
      const { meta, data } = await readUpload(req, q, readBody)
      const name = q.get('name') ?? (meta.name as string | undefined)
      if (!name) throw new HttpFailure(400, 'required', 'Required parameter: name')
      seen.name = name
      checkGeneration(objects.get(name), q)
      const md5Hash = md5Base64(data)
      const crc = crc32c(data)
      if (typeof meta.md5Hash === 'string' && meta.md5Hash !== md5Hash) {
        throw new HttpFailure(400, 'invalid', `Provided MD5 hash "${meta.md5Hash}" doesn't match calculated MD5 hash "${md5Hash}".`)
      }
      if (typeof meta.crc32c === 'string' && meta.crc32c !== crc) {
        throw new HttpFailure(400, 'invalid', `Provided CRC32C "${meta.crc32c}" doesn't match calculated CRC32C "${crc}".`)
      }
      const object: GcsObject = {
        data, generation: nextGeneration(), metageneration: '1', md5Hash, crc32c: crc, created: new Date(),
        contentType: (meta.contentType as string | undefined) ?? req.headers['x-upload-content-type']?.toString() ?? 'application/octet-stream',
        contentEncoding: meta.contentEncoding as string | undefined,
        metadata: meta.metadata as Record<string, string> | undefined,
      }
      objects.set(name, object)
      return sendJson(res, 200, resource(origin, bucket, name, object))
    }

    const [b, bucket, o, name, action] = segments
    if (b !== 'b' || raw.startsWith('/upload/')) throw notImplemented(method, url.pathname)
    if (bucket === undefined && method === 'POST') {
      const body = JSON.parse((await readBody(req)).toString() || '{}') as { name?: string }
      if (!body.name) throw new HttpFailure(400, 'required', 'Required parameter: name')
      if (buckets.has(body.name)) throw new HttpFailure(409, 'conflict', 'Your previous request to create the named bucket succeeded and you already own it.')
      buckets.set(body.name, new Map())
      return sendJson(res, 200, bucketResource(origin, body.name))
    }
    if (bucket === undefined) throw notImplemented(method, url.pathname)
    if (o === undefined) {
      if (method === 'GET') {
        bucketOf(bucket)
        return sendJson(res, 200, bucketResource(origin, bucket))
      }
      if (method === 'DELETE') {
        if (bucketOf(bucket).size > 0) throw new HttpFailure(409, 'conflict', 'The bucket you tried to delete is not empty.')
        buckets.delete(bucket)
        return sendEmpty(res, 204)
      }
      throw notImplemented(method, url.pathname)
    }
    if (o !== 'o') throw notImplemented(method, url.pathname)
    const objects = bucketOf(bucket)

    if (name === undefined || name === '') {
      if (method !== 'GET') throw notImplemented(method, url.pathname)
      return sendJson(res, 200, list(origin, bucket, objects, q))
    }
    if (action === 'compose' && method === 'POST') {
      const body = JSON.parse((await readBody(req)).toString() || '{}') as ComposeRequest
      const object = compose(bucket, objects, body)
      checkGeneration(objects.get(name), q)
      objects.set(name, object)
      return sendJson(res, 200, resource(origin, bucket, name, object))
    }
    if (action === 'rewriteTo' && method === 'POST') {
      const [, toB, toBucket, toO, toName, more] = segments.slice(4)
      if (toB !== 'b' || toO !== 'o' || !toBucket || !toName || more !== undefined) throw notImplemented(method, url.pathname)
      const override = JSON.parse((await readBody(req)).toString() || '{}') as RewriteOverride
      const target = bucketOf(toBucket)
      const step = rewrite(bucket, name, objects, q, override, options.rewriteBytesPerCall ?? Infinity)
      const { written, ...progress } = step
      if (written === undefined) return sendJson(res, 200, { kind: 'storage#rewriteResponse', ...progress })
      checkGeneration(target.get(toName), q)
      target.set(toName, written)
      return sendJson(res, 200, { kind: 'storage#rewriteResponse', ...progress, resource: resource(origin, toBucket, toName, written) })
    }
    if (action !== undefined) throw notImplemented(method, url.pathname)

    const object = objects.get(name)
    if (object === undefined || (q.has('generation') && q.get('generation') !== object.generation)) {
      throw new HttpFailure(404, 'notFound', `No such object: ${bucket}/${name}`)
    }
    checkGeneration(object, q)
    if (method === 'DELETE') {
      objects.delete(name)
      return sendEmpty(res, 204)
    }
    if (method !== 'GET') throw notImplemented(method, url.pathname)
    if (q.get('alt') !== 'media') return sendJson(res, 200, resource(origin, bucket, name, object))
    return sendMedia(req, res, object)
  }

  return { server, buckets, requests }
}

interface ComposeRequest {
  sourceObjects?: Array<{ name: string; generation?: string; objectPreconditions?: { ifGenerationMatch?: string } }>
  destination?: { contentType?: string; contentEncoding?: string; metadata?: Record<string, string> }
}

/** The largest number of sources one compose takes. */
const composeMax = 32

/** The object a compose makes of its sources, as GCS composes: no md5Hash, componentCount the sum of its sources'. */
function compose(bucket: string, objects: Map<string, GcsObject>, body: ComposeRequest): GcsObject {
  const sources = body.sourceObjects ?? []
  if (sources.length === 0) throw new HttpFailure(400, 'required', 'Required: sourceObjects')
  if (sources.length > composeMax) {
    throw new HttpFailure(400, 'invalid', `The number of source components provided (${sources.length}) exceeds the maximum (${composeMax})`)
  }
  const parts = sources.map((s) => {
    const o = objects.get(s.name)
    if (o === undefined || (s.generation !== undefined && s.generation !== o.generation)) {
      throw new HttpFailure(404, 'notFound', `No such object: ${bucket}/${s.name}`)
    }
    const want = s.objectPreconditions?.ifGenerationMatch
    if (want !== undefined && want !== o.generation) {
      throw new HttpFailure(412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.')
    }
    return o
  })
  const data = Buffer.concat(parts.map((p) => p.data))
  const d = body.destination ?? {}
  return {
    data, generation: nextGeneration(), metageneration: '1', crc32c: crc32c(data), created: new Date(),
    contentType: d.contentType ?? 'application/octet-stream', contentEncoding: d.contentEncoding, metadata: d.metadata,
    componentCount: parts.reduce((n, p) => n + (p.componentCount ?? 1), 0),
  }
}

type RewriteOverride = { contentType?: string; metadata?: Record<string, string> }

const MiB = 1024 * 1024

/**
 * One call of a rewrite of `bucket`/`name`: the bytes it copies (all that are left, or up to
 * the bytes per call, a multiple of 1 MiB), and the new object once they are all copied. The
 * rewriteToken names the source's generation and the bytes done, so a continued rewrite copies
 * the version it began with (404 once that is gone).
 */
function rewrite(bucket: string, name: string, objects: Map<string, GcsObject>, q: URLSearchParams, override: RewriteOverride, serverMax: number):
  { totalBytesRewritten: string; objectSize: string; done: boolean; rewriteToken?: string; written?: GcsObject } {
  const token = q.get('rewriteToken')
  const resumed = token ? JSON.parse(Buffer.from(token, 'base64url').toString()) as { generation: string; done: number } : undefined
  const generation = resumed?.generation ?? q.get('sourceGeneration') ?? undefined
  const source = objects.get(name)
  if (source === undefined || (generation !== undefined && source.generation !== generation)) {
    throw new HttpFailure(404, 'notFound', `No such object: ${bucket}/${name}`)
  }
  const match = q.get('ifSourceGenerationMatch')
  const notMatch = q.get('ifSourceGenerationNotMatch')
  if ((match !== null && match !== source.generation) || (notMatch !== null && notMatch === source.generation)) {
    throw new HttpFailure(412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.')
  }
  const asked = q.get('maxBytesRewrittenPerCall')
  if (asked !== null && (!/^\d+$/.test(asked) || Number(asked) % MiB !== 0 || Number(asked) === 0)) {
    throw new HttpFailure(400, 'invalid', `Invalid argument: maxBytesRewrittenPerCall must be a positive multiple of ${MiB}, got ${asked}`)
  }
  const perCall = Math.min(asked === null ? Infinity : Number(asked), serverMax)
  const size = source.data.length
  const done = Math.min(size, (resumed?.done ?? 0) + perCall)
  const progress = { totalBytesRewritten: String(done), objectSize: String(size) }
  if (done < size) {
    const next = Buffer.from(JSON.stringify({ generation: source.generation, done })).toString('base64url')
    return { ...progress, done: false, rewriteToken: next }
  }
  const written: GcsObject = {
    ...source, generation: nextGeneration(), metageneration: '1', created: new Date(),
    contentType: override.contentType ?? source.contentType, metadata: override.metadata ?? source.metadata,
  }
  return { ...progress, done: true, written }
}

function notImplemented(method: string, path: string): HttpFailure {
  return new HttpFailure(501, 'notImplemented', `${method} ${path} is not implemented by soaker's test GCS server`)
}

/** `ifGenerationMatch` (0: the object must not exist) and `ifGenerationNotMatch`, as GCS checks them. */
function checkGeneration(current: GcsObject | undefined, q: URLSearchParams): void {
  const match = q.get('ifGenerationMatch')
  const notMatch = q.get('ifGenerationNotMatch')
  const generation = current?.generation ?? '0'
  if ((match !== null && match !== generation) || (notMatch !== null && notMatch === generation)) {
    throw new HttpFailure(412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.')
  }
}

function list(origin: string, bucket: string, objects: Map<string, GcsObject>, q: URLSearchParams): object {
  const prefix = q.get('prefix') ?? ''
  const delimiter = q.get('delimiter') ?? ''
  const max = Math.min(Number(q.get('maxResults') ?? 1000) || 1000, 1000)
  const after = q.get('pageToken') ? Buffer.from(q.get('pageToken')!, 'base64url').toString() : undefined
  const names = [...objects.keys()]
    .filter((n) => n.startsWith(prefix))
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
  const items: object[] = []
  const prefixes: string[] = []
  let last: string | undefined
  for (const n of names) {
    if (after !== undefined && Buffer.compare(Buffer.from(n), Buffer.from(after)) <= 0) continue
    const cut = delimiter ? n.indexOf(delimiter, prefix.length) : -1
    const common = cut >= 0 ? n.slice(0, cut + delimiter.length) : undefined
    if (common !== undefined && common === prefixes.at(-1)) { last = n; continue }
    if (items.length + prefixes.length === max) {
      return { kind: 'storage#objects', nextPageToken: Buffer.from(last!).toString('base64url'), ...(items.length ? { items } : {}), ...(prefixes.length ? { prefixes } : {}) }
    }
    if (common !== undefined) prefixes.push(common)
    else items.push(resource(origin, bucket, n, objects.get(n)!))
    last = n
  }
  return { kind: 'storage#objects', ...(items.length ? { items } : {}), ...(prefixes.length ? { prefixes } : {}) }
}

function resource(origin: string, bucket: string, name: string, o: GcsObject): object {
  const path = `b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(name)}`
  return {
    kind: 'storage#object',
    id: `${bucket}/${name}/${o.generation}`,
    selfLink: `${origin}/storage/v1/${path}`,
    mediaLink: `${origin}/download/storage/v1/${path}?generation=${o.generation}&alt=media`,
    name, bucket,
    generation: o.generation, metageneration: o.metageneration,
    contentType: o.contentType,
    ...(o.contentEncoding ? { contentEncoding: o.contentEncoding } : {}),
    storageClass: 'STANDARD',
    size: String(o.data.length),
    ...(o.md5Hash ? { md5Hash: o.md5Hash } : {}),
    crc32c: o.crc32c,
    ...(o.componentCount ? { componentCount: o.componentCount } : {}),
    etag: Buffer.from(`${o.generation}/${o.metageneration}`).toString('base64'),
    timeCreated: o.created.toISOString(), updated: o.created.toISOString(),
    ...(o.metadata ? { metadata: o.metadata } : {}),
  }
}

function bucketResource(origin: string, name: string): object {
  return {
    kind: 'storage#bucket', id: name, name, selfLink: `${origin}/storage/v1/b/${encodeURIComponent(name)}`,
    projectNumber: '0', metageneration: '1', location: 'US', storageClass: 'STANDARD', etag: 'CAE=',
  }
}

/** One range (`bytes=a-b`, `bytes=a-`, `bytes=-n`); a header GCS would ignore gives the whole object. */
function sendMedia(req: http.IncomingMessage, res: http.ServerResponse, o: GcsObject): void {
  const size = o.data.length
  const headers: Record<string, string> = {
    'content-type': o.contentType,
    'accept-ranges': 'bytes',
    'x-goog-generation': o.generation,
    'x-goog-metageneration': o.metageneration,
    // The hashes of the whole object, on ranged responses too.
    'x-goog-hash': o.md5Hash ? `crc32c=${o.crc32c},md5=${o.md5Hash}` : `crc32c=${o.crc32c}`,
    'x-goog-stored-content-length': String(size),
    'x-goog-stored-content-encoding': o.contentEncoding ?? 'identity',
    'last-modified': o.created.toUTCString(),
  }
  if (o.contentEncoding) headers['content-encoding'] = o.contentEncoding
  for (const [k, v] of Object.entries(o.metadata ?? {})) headers[`x-goog-meta-${k.toLowerCase()}`] = String(v)
  const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '')
  if (m && (m[1] !== '' || m[2] !== '')) {
    let start: number
    let end: number
    if (m[1] === '') {
      start = Math.max(0, size - Number(m[2]))
      end = size - 1
    } else {
      start = Number(m[1])
      end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
    }
    if (start >= size || end < start) {
      sendError(res, new HttpFailure(416, 'requestedRangeNotSatisfiable', 'Request range not satisfiable'), { 'content-range': `bytes */${size}` })
      return
    }
    res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': String(end - start + 1) })
    res.end(o.data.subarray(start, end + 1))
    return
  }
  res.writeHead(200, { ...headers, 'content-length': String(size) })
  res.end(o.data)
}

/** The object's metadata and bytes of a `media` or `multipart` (multipart/related) upload. */
async function readUpload(req: http.IncomingMessage, q: URLSearchParams, readBody: (r: http.IncomingMessage) => Promise<Buffer>):
  Promise<{ meta: Record<string, unknown>; data: Buffer }> {
  const type = q.get('uploadType')
  const body = await readBody(req)
  if (type === 'media') return { meta: { contentType: req.headers['content-type'] }, data: body }
  if (type !== 'multipart') {
    throw new HttpFailure(501, 'notImplemented', `uploadType=${type} is not implemented by soaker's test GCS server (upload with resumable: false)`)
  }
  const boundary = /boundary="?([^";]+)"?/.exec(req.headers['content-type'] ?? '')?.[1]
  if (!boundary) throw new HttpFailure(400, 'invalid', 'Missing multipart boundary')
  const parts = splitMultipart(body, boundary)
  if (parts.length !== 2) throw new HttpFailure(400, 'invalid', `Expected 2 parts in a multipart upload, got ${parts.length}`)
  const meta = JSON.parse(parts[0]!.body.toString() || '{}') as Record<string, unknown>
  meta.contentType ??= parts[1]!.headers['content-type']
  return { meta, data: parts[1]!.body }
}

function splitMultipart(body: Buffer, boundary: string): Array<{ headers: Record<string, string>; body: Buffer }> {
  const delimiter = Buffer.from(`--${boundary}`)
  const parts: Array<{ headers: Record<string, string>; body: Buffer }> = []
  let at = body.indexOf(delimiter)
  while (at >= 0) {
    const start = at + delimiter.length
    if (body.subarray(start, start + 2).toString() === '--') break
    const next = body.indexOf(delimiter, start)
    if (next < 0) break
    const chunk = body.subarray(start + 2, next - 2) // the CRLF after the delimiter line and before the next
    const split = chunk.indexOf('\r\n\r\n')
    const headers = Object.fromEntries(chunk.subarray(0, split).toString().split('\r\n').filter(Boolean).map((line) => {
      const i = line.indexOf(':')
      return [line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim()]
    }))
    parts.push({ headers, body: chunk.subarray(split + 4) })
    at = next
  }
  return parts
}

async function readWhole(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

function sendJson(res: http.ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': String(Buffer.byteLength(text)) })
  res.end(text)
}

function sendEmpty(res: http.ServerResponse, status: number): void {
  res.writeHead(status, { 'content-length': '0' })
  res.end()
}

function sendError(res: http.ServerResponse, f: HttpFailure, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v)
  sendJson(res, f.status, { error: { code: f.status, message: f.message, errors: [{ message: f.message, domain: 'global', reason: f.reason }] } })
}
