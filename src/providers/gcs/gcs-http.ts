import { randomBytes } from 'node:crypto'
import http, { type IncomingMessage } from 'node:http'
import https from 'node:https'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { text } from 'node:stream/consumers'
import type { Storage } from '@google-cloud/storage'
import { errorMessage } from '../../errors.js'

/** The fields of a JSON API object resource that soaker reads. */
export interface GcsObjectResource {
  name: string
  size?: string
  generation?: string
  md5Hash?: string
  crc32c?: string
  contentType?: string
  metadata?: Record<string, string | null>
  componentCount?: number
  updated?: string
}

/** What a JSON API call may carry besides its method and path. */
export interface GcsCall {
  query?: Record<string, string | undefined>
  /** Sent as the JSON request body. */
  json?: object
  signal: AbortSignal
}

/**
 * The requests soaker sends to the JSON API itself, on node:http with the client library's
 * credentials: media downloads, uploads with a streamed body, and the small JSON calls of
 * uploads in parts and of copies (compose, rewrite, delete, list). Every request has a signal of
 * its own, and a destroyed body closes its own socket and nothing else (the client's read
 * streams destroy its shared keep-alive agent). A failure answer rejects with an Error shaped as
 * the client's ApiError (`code` the status, `errors` the JSON API's, `response`), so that
 * mapGcsError reads both alike.
 */
export class GcsHttp {
  /** Requests go through this agent, whose sockets `close` ends. */
  private readonly agent: http.Agent

  /**
   * `endpoint`: the API origin (GCS's or an emulator's). `auth`: signs requests; undefined for an
   * emulator, which takes none.
   */
  constructor(readonly endpoint: string, private readonly auth: Storage['authClient'] | undefined) {
    this.agent = endpoint.startsWith('https:') ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true })
  }

  /** `/storage/v1/b/<bucket>/o/<name>`, each segment percent-encoded. */
  objectPath(bucket: string, name?: string): string {
    const objects = `/storage/v1/b/${encodeURIComponent(bucket)}/o`
    return name === undefined ? objects : `${objects}/${encodeURIComponent(name)}`
  }

  /** A media download of `name`, ranged where asked: the response, its body unread. */
  async media(bucket: string, name: string, range: { start: number; end: number } | undefined, signal: AbortSignal): Promise<IncomingMessage> {
    // Accept-Encoding: gzip, so that GCS never transcodes a gzip-encoded object: its bytes as stored.
    const headers: Record<string, string> = { 'accept-encoding': 'gzip' }
    if (range) headers.range = `bytes=${range.start}-${range.end}`
    return await this.send('GET', `${this.objectPath(bucket, name)}?alt=media`, headers, undefined, signal)
  }

  /** A JSON API call; resolves with the answer's JSON, or undefined for an empty answer (a DELETE's 204). */
  async call<T extends object>(method: string, path: string, call: GcsCall): Promise<T | undefined> {
    const body = call.json === undefined ? undefined : Buffer.from(JSON.stringify(call.json))
    const headers: Record<string, string> = { 'content-length': String(body?.length ?? 0) }
    if (body) headers['content-type'] = 'application/json; charset=UTF-8'
    const res = await this.send(method, path + queryString(call.query), headers, body, call.signal)
    const answer = await text(res)
    return answer === '' ? undefined : JSON.parse(answer) as T
  }

  /**
   * A multipart upload (`uploadType=multipart`): the object's resource as JSON, then its bytes,
   * streamed as they come, in one request of known length. GCS checks an `md5Hash` or `crc32c`
   * in the resource against the bytes before it keeps them. Resolves with the new object's resource.
   */
  async upload(bucket: string, resource: Partial<GcsObjectResource> & { name: string }, body: Buffer | Readable, size: number,
    call: Omit<GcsCall, 'json'>): Promise<GcsObjectResource> {
    const boundary = `soaker-${randomBytes(12).toString('hex')}`
    const head = Buffer.from(`--${boundary}\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n${JSON.stringify(resource)}\r\n` +
      `--${boundary}\r\ncontent-type: ${resource.contentType ?? 'application/octet-stream'}\r\n\r\n`)
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
    const headers = {
      'content-type': `multipart/related; boundary=${boundary}`,
      'content-length': String(head.length + size + tail.length),
    }
    const path = `/upload${this.objectPath(bucket)}${queryString({ uploadType: 'multipart', ...call.query })}`
    const parts = Buffer.isBuffer(body) ? [head, body, tail] : framed(head, body, tail)
    const res = await this.send('POST', path, headers, parts, call.signal)
    return JSON.parse(await text(res)) as GcsObjectResource
  }

  /**
   * One request; resolves with a 2xx response, its body unread. The request body, where there is
   * one, is piped in; a body that fails to read fails the request with its own error.
   */
  private async send(method: string, path: string, headers: Record<string, string>, body: Buffer | Iterable<Buffer> | AsyncIterable<Buffer> | undefined,
    signal: AbortSignal): Promise<IncomingMessage> {
    const url = this.endpoint + path
    const all = { 'user-agent': 'soaker', ...headers, ...(await this.authHeaders(url)) }
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const transport = url.startsWith('https:') ? https : http
      const req = transport.request(url, { method, headers: all, agent: this.agent, signal }, resolve)
      req.once('error', reject)
      if (body === undefined) req.end()
      else if (Buffer.isBuffer(body)) req.end(body)
      else pipeline(Readable.from(body, { objectMode: false }), req).catch(reject)
    })
    const status = res.statusCode ?? 0
    if (status >= 200 && status < 300) return res
    throw await answerError(res)
  }

  /**
   * The Authorization header of a request. None for an emulator; none either where there are no
   * credentials at all, as the client does for its own calls: public buckets allow that, and
   * GCS's 401 for anyone else becomes MissingCredentialsError.
   */
  private async authHeaders(url: string): Promise<Record<string, string>> {
    if (this.auth === undefined) return {}
    try {
      return await this.auth.getRequestHeaders(url)
    } catch (err) {
      if (/Could not load the default credentials/i.test(errorMessage(err))) return {}
      throw err
    }
  }

  /** Ends the sockets kept alive. */
  close(): void {
    this.agent.destroy()
  }
}

/** The chunks of a multipart upload's body: its framing around the bytes of `body`. */
async function* framed(head: Buffer, body: AsyncIterable<Buffer>, tail: Buffer): AsyncIterable<Buffer> {
  yield head
  yield* body
  yield tail
}

function queryString(query: Record<string, string | undefined> | undefined): string {
  const given = Object.entries(query ?? {}).filter((e): e is [string, string] => e[1] !== undefined)
  return given.length ? `?${new URLSearchParams(given).toString()}` : ''
}

/** A failure answer as the client's ApiError: the JSON API's message and errors where it sent them. */
async function answerError(res: IncomingMessage): Promise<Error> {
  const status = res.statusCode ?? 0
  const body = await text(res).catch(() => '')
  let errors: unknown[] | undefined
  let message = body || res.statusMessage || `HTTP ${status}`
  try {
    const parsed = (JSON.parse(body) as { error?: { message?: string; errors?: unknown[] } }).error
    errors = parsed?.errors
    message = parsed?.message ?? message
  } catch {
    // Not the JSON API's error body: mapGcsCheckError tells the user something else answered.
  }
  return Object.assign(new Error(message), { code: status, errors, response: { statusCode: status, headers: res.headers } })
}
