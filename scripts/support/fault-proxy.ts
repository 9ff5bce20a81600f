import http from 'node:http'
import type { AddressInfo } from 'node:net'

/** One request as the proxy saw it. */
export interface SeenRequest {
  method: string
  /** URL path, decoded: `/bucket/key`. */
  path: string
  /** The query string without `?` (`partNumber=2&uploadId=…`), '' when none. */
  query: string
  range?: string
  /** Request body bytes the client sent. */
  sent: number
  headers: http.IncomingHttpHeaders
  status: number
  /** Response body bytes passed to the client. */
  bytes: number
}

/** What to do with a request instead of forwarding it; undefined forwards it. */
export type Fault =
  | { status: number; code: string; headers?: Record<string, string> }
  | 'reset'
  /** Forward, but flip one byte of the response body (a corruption TCP did not catch). */
  | 'corrupt'
  /** Forward, but flip one byte of the request body (an upload corrupted on the way). */
  | 'corrupt-request'
  | undefined

/** `nth` counts requests with the same method and path, from 1. */
export type FaultRule = (req: { method: string; path: string; query: string; nth: number }) => Fault

export interface FaultProxy {
  url: string
  requests: SeenRequest[]
  setRule(rule: FaultRule | undefined): void
  stop(): Promise<void>
}

/**
 * A reverse proxy on loopback in front of an S3 server, for the failures no server produces on
 * demand (503 SlowDown, 500s, reset connections) and for counting what the server really sent.
 * SigV4 signatures stay valid because the Host header is forwarded as the client signed it.
 */
export async function startFaultProxy(target: string, initialRule?: FaultRule): Promise<FaultProxy> {
  const upstream = new URL(target)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
  const requests: SeenRequest[] = []
  const counts = new Map<string, number>()
  let rule = initialRule

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const path = decodeURIComponent(url.pathname)
    const query = url.search.replace(/^\?/, '')
    const id = `${req.method} ${path}`
    const nth = (counts.get(id) ?? 0) + 1
    counts.set(id, nth)
    const seen: SeenRequest = { method: req.method ?? 'GET', path, query, range: req.headers.range, status: 0, bytes: 0, sent: 0, headers: req.headers }
    requests.push(seen)
    const fault = rule?.({ method: seen.method, path, query, nth })
    if (fault === 'reset') {
      req.socket.destroy()
      return
    }
    if (fault && fault !== 'corrupt' && fault !== 'corrupt-request') {
      seen.status = fault.status
      const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code}</Code><Message>injected by the test proxy</Message></Error>`
      res.writeHead(fault.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), ...fault.headers })
      res.end(body)
      req.resume()
      return
    }
    const corrupt = fault === 'corrupt'
    const out = http.request({
      host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent,
    }, (up) => {
      seen.status = up.statusCode ?? 0
      res.writeHead(up.statusCode ?? 502, up.headers)
      let flipped = false
      up.on('data', (chunk: Buffer) => {
        seen.bytes += chunk.length
        if (corrupt && !flipped && chunk.length > 0) {
          chunk[chunk.length >> 1]! ^= 0xff
          flipped = true
        }
        res.write(chunk)
      })
      up.on('end', () => res.end())
    })
    out.on('error', () => res.destroy())
    res.on('close', () => out.destroy())
    let flippedRequest = fault !== 'corrupt-request'
    req.on('data', (chunk: Buffer) => {
      seen.sent += chunk.length
      if (!flippedRequest && chunk.length > 0) {
        chunk[chunk.length >> 1]! ^= 0xff
        flippedRequest = true
      }
      out.write(chunk)
    })
    req.on('end', () => out.end())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setRule: (r) => { rule = r },
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
      agent.destroy()
    }),
  }
}
