import { createHash } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

/** A broken answer to a ListObjectsV2 request, under status 200: no body at all, or a web page. */
export type BrokenListing = 'empty' | 'html' | undefined

export interface ListingServerOptions {
  /** Objects in the bucket: `data/00000000` … in key order. */
  keys: number
  /** @default 'listing' */
  bucket?: string
  /** @default 0 (any free port) */
  port?: number
  /**
   * Answers a ListObjectsV2 request with a broken 200 instead of the page. `first` is the index
   * of the page's first object (0 for the first page), `nth` how many times that page was asked.
   */
  breakListing?: (page: { first: number; nth: number }) => BrokenListing
  /** Each listing page is answered this long after it is asked (a slow listing). @default 0 */
  pageDelayMs?: number
}

export interface ListingServer {
  url: string
  bucket: string
  keys: number
  /** Requests answered, by kind. */
  counts: { list: number; head: number; get: number; other: number }
  /** GETs answered per object, by index. */
  gets: Map<number, number>
  stop(): Promise<void>
}

const keyPrefix = 'data/'
const keyWidth = 8
const lastModified = new Date('2024-01-01T00:00:00.000Z')
const pageMax = 1000

/** The key of object `i`: fixed width, so that key order is index order. */
export function listingKey(i: number): string {
  return keyPrefix + String(i).padStart(keyWidth, '0')
}

/** The bytes of object `i`: tiny and deterministic, so a copy can be checked without a manifest. */
export function listingBody(i: number): Buffer {
  return Buffer.from(`soaker listing object ${i}\n`)
}

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex')

/** The index of `key` if it is one of the server's objects. */
function indexOf(key: string, keys: number): number | undefined {
  if (!key.startsWith(keyPrefix) || key.length !== keyPrefix.length + keyWidth || !/^\d+$/.test(key.slice(keyPrefix.length))) return undefined
  const i = Number(key.slice(keyPrefix.length))
  return i < keys ? i : undefined
}

/** The first index whose key sorts at or after `bound` (binary search: keys are in index order). */
function firstAtOrAfter(bound: string, keys: number): number {
  let lo = 0
  let hi = keys
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (listingKey(mid) < bound) lo = mid + 1
    else hi = mid
  }
  return lo
}

function listPage(bucket: string, keys: number, q: URLSearchParams): { xml: string; first: number } {
  const prefix = q.get('prefix') ?? ''
  const token = q.get('continuation-token')
  const startAfter = q.get('start-after')
  const maxKeys = Math.min(pageMax, Number(q.get('max-keys') ?? pageMax))
  let first = token !== null ? Number(token.slice(1)) : firstAtOrAfter(prefix, keys)
  if (startAfter !== null && token === null) first = Math.max(first, firstAtOrAfter(startAfter + '\0', keys))
  const contents: string[] = []
  let i = first
  for (; i < keys && contents.length < maxKeys && listingKey(i).startsWith(prefix); i++) {
    const b = listingBody(i)
    contents.push(`<Contents><Key>${listingKey(i)}</Key><LastModified>${lastModified.toISOString()}</LastModified>` +
      `<ETag>&quot;${md5(b)}&quot;</ETag><Size>${b.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`)
  }
  const truncated = i < keys && listingKey(i).startsWith(prefix)
  const xml = '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    `<Name>${bucket}</Name><Prefix>${prefix}</Prefix><KeyCount>${contents.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>` +
    `<IsTruncated>${truncated}</IsTruncated>${token !== null ? `<ContinuationToken>${token}</ContinuationToken>` : ''}` +
    `${truncated ? `<NextContinuationToken>i${i}</NextContinuationToken>` : ''}${contents.join('')}</ListBucketResult>`
  return { xml, first }
}

function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header ?? '')
  if (!m) return undefined
  if (m[1] === '') return { start: Math.max(0, size - Number(m[2])), end: size - 1 }
  return { start: Number(m[1]), end: m[2] === '' ? size - 1 : Math.min(size - 1, Number(m[2])) }
}

/**
 * A synthetic S3 bucket of `keys` generated objects, for tests and benchmarks of listing at scale
 * (a million keys without storing any): ListObjectsV2 in pages of 1,000 with continuation
 * tokens, HeadBucket, and HEAD and GET (ranges too) of tiny deterministic bodies whose ETags are
 * their MD5s. Path-style addressing; any signature is accepted; everything else is 501.
 */
export async function startListingServer(options: ListingServerOptions): Promise<ListingServer> {
  const bucket = options.bucket ?? 'listing'
  const { keys } = options
  const counts = { list: 0, head: 0, get: 0, other: 0 }
  const asked = new Map<number, number>()
  const gets = new Map<number, number>()
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const [, name, ...rest] = decodeURIComponent(url.pathname).split('/')
    const key = rest.join('/')
    const send = (status: number, headers: Record<string, string | number>, body?: string | Buffer): void => {
      res.writeHead(status, { 'x-amz-request-id': 'listing-server', ...headers })
      res.end(req.method === 'HEAD' ? undefined : body)
    }
    const error = (status: number, code: string): void => {
      const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`
      send(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) }, xml)
    }
    req.resume()
    if (name !== bucket) return error(404, 'NoSuchBucket')
    if (key === '' && req.method === 'HEAD') {
      counts.head++
      return send(200, {})
    }
    if (key === '' && req.method === 'GET' && url.searchParams.get('list-type') === '2') {
      counts.list++
      const { xml, first } = listPage(bucket, keys, url.searchParams)
      const nth = (asked.get(first) ?? 0) + 1
      asked.set(first, nth)
      const broken = options.breakListing?.({ first, nth })
      if (broken === 'empty') return send(200, { 'content-length': 0 })
      if (broken === 'html') return send(200, { 'content-type': 'text/html' }, '<html><body>Welcome to nginx!</body></html>')
      const answer = (): void => send(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) }, xml)
      if (options.pageDelayMs) return void setTimeout(answer, options.pageDelayMs)
      return answer()
    }
    const i = indexOf(key, keys)
    if ((req.method === 'GET' || req.method === 'HEAD') && key !== '' && !url.searchParams.has('partNumber')) {
      if (i === undefined) return error(404, 'NoSuchKey')
      const b = listingBody(i)
      const headers = { etag: `"${md5(b)}"`, 'last-modified': lastModified.toUTCString(), 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' }
      if (req.method === 'HEAD') {
        counts.head++
        return send(200, { ...headers, 'content-length': b.length })
      }
      counts.get++
      gets.set(i, (gets.get(i) ?? 0) + 1)
      const range = parseRange(req.headers.range, b.length)
      if (!range) return send(200, { ...headers, 'content-length': b.length }, b)
      const part = b.subarray(range.start, range.end + 1)
      return send(206, { ...headers, 'content-length': part.length, 'content-range': `bytes ${range.start}-${range.end}/${b.length}` }, part)
    }
    counts.other++
    error(501, 'NotImplemented')
  })
  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`, bucket, keys, counts, gets,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}

// `tsx scripts/support/listing-server.ts --keys 1000000 [--port N] [--bucket NAME]`: serves until killed,
// after printing one JSON line with its url, bucket and key count.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { keys: { type: 'string', default: '1000000' }, port: { type: 'string' }, bucket: { type: 'string' } } })
  const s = await startListingServer({ keys: Number(values.keys), port: values.port ? Number(values.port) : undefined, bucket: values.bucket })
  process.stdout.write(JSON.stringify({ url: s.url, bucket: s.bucket, keys: s.keys }) + '\n')
  process.on('SIGTERM', () => { void s.stop().then(() => process.exit(0)) })
}
