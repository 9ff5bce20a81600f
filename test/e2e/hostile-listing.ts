import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A tiny S3 endpoint whose one bucket lists exactly the keys it is given, in the order given,
 * including keys no real store would keep (`..`, `a//b`, control characters). It answers what a
 * download needs: HeadBucket, ListObjectsV2 (one page) and GetObject (whole, with If-Match).
 * Each object's body is `body of <key>`; its ETag is that body's MD5, so downloads verify.
 * Every answer carries x-amz-request-id, as S3's do. Every key asked for (GET or HEAD) is
 * recorded in `fetched`, listed or not: a refused key must never be fetched.
 */
export interface HostileStore {
  url: string
  bucket: string
  fetched: string[]
  stop(): Promise<void>
}

export const bodyOf = (key: string): Buffer => Buffer.from(`body of ${key}`)
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex')
const lastModified = new Date('2024-03-01T10:00:00Z')

/** XML text: markup escaped; characters XML 1.0 cannot carry raw go as character references. */
function xmlText(s: string): string {
  return s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!)
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `&#x${c.charCodeAt(0).toString(16)};`)
}

function listing(bucket: string, keys: readonly string[], prefix: string): string {
  const contents = keys.filter((k) => k.startsWith(prefix)).map((k) =>
    `<Contents><Key>${xmlText(k)}</Key><LastModified>${lastModified.toISOString()}</LastModified>` +
    `<ETag>&quot;${md5(bodyOf(k))}&quot;</ETag><Size>${bodyOf(k).length}</Size><StorageClass>STANDARD</StorageClass></Contents>`)
  return '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    `<Name>${bucket}</Name><Prefix>${xmlText(prefix)}</Prefix><KeyCount>${contents.length}</KeyCount><MaxKeys>1000</MaxKeys>` +
    `<IsTruncated>false</IsTruncated>${contents.join('')}</ListBucketResult>`
}

function answer(res: ServerResponse, status: number, headers: Record<string, string | number> = {}, body?: string | Buffer): void {
  res.writeHead(status, { 'x-amz-request-id': 'hostile', ...headers })
  res.end(body)
}

export async function startHostileStore(keys: readonly string[], bucket = 'hostile'): Promise<HostileStore> {
  const known = new Set(keys)
  const fetched: string[] = []
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://x')
    const [, first, ...rest] = url.pathname.split('/')
    if (first !== bucket) return answer(res, 404, { 'content-type': 'application/xml' }, '<Error><Code>NoSuchBucket</Code></Error>')
    if (rest.length === 0 || (rest.length === 1 && rest[0] === '')) {
      if (req.method === 'HEAD') return answer(res, 200)
      const xml = listing(bucket, keys, url.searchParams.get('prefix') ?? '')
      return answer(res, 200, { 'content-type': 'application/xml' }, xml)
    }
    const key = decodeURIComponent(rest.join('/'))
    fetched.push(key)
    if (!known.has(key)) {
      return answer(res, 404, { 'content-type': 'application/xml' }, '<Error><Code>NoSuchKey</Code></Error>')
    }
    const body = bodyOf(key)
    const etag = `"${md5(body)}"`
    const ifMatch = req.headers['if-match']
    if (ifMatch !== undefined && ifMatch !== etag) return answer(res, 412, {}, '<Error><Code>PreconditionFailed</Code></Error>')
    const headers = { etag, 'content-length': body.length, 'last-modified': lastModified.toUTCString(), 'content-type': 'application/octet-stream' }
    answer(res, 200, headers, req.method === 'HEAD' ? undefined : body)
  }
  const server = createServer(handle)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bucket,
    fetched,
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}
