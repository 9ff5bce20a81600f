import { request as httpRequest, type Agent as HttpAgent, type IncomingMessage } from 'node:http'
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https'
import type { Readable } from 'node:stream'

/**
 * The sockets and time-outs of one S3 client (client.ts makes both), for the requests FastS3
 * sends itself: straight through node:http with the client's own agents. The SDK's request
 * handler costs about 0.5 CPU-s more per GiB read than this (measured here: 1 GiB in 8 MiB
 * ranges, 16 at once, 1.78 against 1.27 CPU-s) and more per small request.
 */
export interface S3Transport {
  httpAgent: HttpAgent
  httpsAgent: HttpsAgent
  /** A connection not made within this many ms fails (ETIMEDOUT). */
  connectTimeoutMs: number
  /** A socket silent this long mid-request fails it (ETIMEDOUT). */
  socketTimeoutMs: number
}

function timedOut(message: string): Error {
  return Object.assign(new Error(message), { name: 'TimeoutError', code: 'ETIMEDOUT' })
}

/** A signed request as it goes on the wire: `path` with its query string. */
export interface LeanRequest {
  secure: boolean
  hostname: string
  port?: number
  method: string
  path: string
  headers: Record<string, string>
}

/**
 * Sends the signed request `r` and resolves with the response once its headers are in; the body
 * streams. Fails with Node's own errors (ECONNRESET, AbortError, ...) or ETIMEDOUT, which
 * network-errors.ts sorts as it does the SDK's.
 */
export function sendLean(t: S3Transport, r: LeanRequest, body: Buffer | Readable | undefined, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = (r.secure ? httpsRequest : httpRequest)({
      hostname: r.hostname, port: r.port, method: r.method, path: r.path,
      headers: r.headers, agent: r.secure ? t.httpsAgent : t.httpAgent, signal,
    })
    let connecting: NodeJS.Timeout | undefined
    req.once('socket', (socket) => {
      if (!socket.connecting) return
      connecting = setTimeout(() => req.destroy(timedOut(`no connection to ${r.hostname} within ${t.connectTimeoutMs} ms`)), t.connectTimeoutMs)
      socket.once('connect', () => clearTimeout(connecting))
    })
    req.setTimeout(t.socketTimeoutMs, () => req.destroy(timedOut(`no byte from ${r.hostname} for ${t.socketTimeoutMs} ms`)))
    req.once('response', (res) => {
      clearTimeout(connecting)
      resolve(res)
    })
    req.once('error', (err) => {
      clearTimeout(connecting)
      reject(err)
    })
    if (body === undefined || Buffer.isBuffer(body)) return void req.end(body)
    body.once('error', (err) => req.destroy(err))
    body.pipe(req)
  })
}
