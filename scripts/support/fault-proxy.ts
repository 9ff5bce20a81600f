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
  /** Take the request and never answer it, the connection left open. */
  | 'stall-headers'
  /** Forward the headers and half the body's first chunk, then send nothing more, the connection left open. */
  | 'stall-body'
  | undefined

/** `nth` counts requests with the same method and path, from 1. */
export type FaultRule = (req: { method: string; path: string; query: string; nth: number; headers: http.IncomingHttpHeaders }) => Fault

/**
 * Headers to add to (or replace in) the server's answer to a request, computed by the test: the
 * checksum headers a store that keeps them would send (`x-amz-checksum-crc64nvme`, ...), which
 * Ceph 16 does not. Undefined adds none.
 */
export type HeaderRule = (req: { method: string; path: string; query: string; headers: http.IncomingHttpHeaders }) =>
  Record<string, string> | undefined

export interface FaultProxy {
  url: string
  requests: SeenRequest[]
  setRule(rule: FaultRule | undefined): void
  /** Adds the headers `rule` gives to the answers it names; undefined: answers go as the server sent them. */
  setHeaders(rule: HeaderRule | undefined): void
  /** Refuse (reset at once) connections beyond `n` open at a time; undefined: no limit. */
  setMaxConnections(n: number | undefined): void
  /** Connections refused by setMaxConnections. */
  readonly refused: number
  stop(): Promise<void>
}

/** Shares of requests that meet each fault, drawn independently of the load. */
export interface ChaosRates {
  reset?: number
  /** 503 SlowDown. */
  slowDown?: number
  /** 500 InternalError. */
  internalError?: number
  /** Mid-body stalls ('stall-body'). */
  stall?: number
  /** Answers that never come ('stall-headers'). */
  stallHeaders?: number
}

/**
 * A rule that meets each request with a fault at fixed rates, whatever the concurrency: a flaky
 * proxy or link, not a store pushing back. Deterministic for a seed (a linear congruential
 * generator), so that runs of different tools meet the same sequence of faults.
 */
export function chaosRule(rates: ChaosRates, seed = 1): FaultRule {
  let state = seed >>> 0 || 1
  const random = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
  const table: Array<[number, Fault]> = [
    [rates.reset ?? 0, 'reset'],
    [rates.slowDown ?? 0, { status: 503, code: 'SlowDown' }],
    [rates.internalError ?? 0, { status: 500, code: 'InternalError' }],
    [rates.stall ?? 0, 'stall-body'],
    [rates.stallHeaders ?? 0, 'stall-headers'],
  ]
  return () => {
    let r = random()
    for (const [share, fault] of table) {
      if (r < share) return fault
      r -= share
    }
    return undefined
  }
}

/**
 * A reverse proxy on loopback in front of an S3 server, for the failures no server produces on
 * demand (503 SlowDown, 500s, reset connections, responses that stall before their headers or
 * mid-body, connections refused beyond N) and for counting what the server really sent.
 * SigV4 signatures stay valid because the Host header is forwarded as the client signed it.
 */
export async function startFaultProxy(target: string, initialRule?: FaultRule): Promise<FaultProxy> {
  const upstream = new URL(target)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
  const requests: SeenRequest[] = []
  const counts = new Map<string, number>()
  let rule = initialRule
  let headerRule: HeaderRule | undefined

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const path = decodeURIComponent(url.pathname)
    const query = url.search.replace(/^\?/, '')
    const id = `${req.method} ${path}`
    const nth = (counts.get(id) ?? 0) + 1
    counts.set(id, nth)
    const seen: SeenRequest = { method: req.method ?? 'GET', path, query, range: req.headers.range, status: 0, bytes: 0, sent: 0, headers: req.headers }
    requests.push(seen)
    const fault = rule?.({ method: seen.method, path, query, nth, headers: req.headers })
    if (fault === 'reset') {
      req.socket.destroy()
      return
    }
    if (fault === 'stall-headers') {
      req.resume() // reads the body, answers nothing
      return
    }
    if (typeof fault === 'object') {
      seen.status = fault.status
      const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code}</Code><Message>injected by the test proxy</Message></Error>`
      res.writeHead(fault.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), ...fault.headers })
      res.end(body)
      req.resume()
      return
    }
    const corrupt = fault === 'corrupt'
    const stall = fault === 'stall-body'
    const out = http.request({
      host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent,
    }, (up) => {
      seen.status = up.statusCode ?? 0
      const added = headerRule?.({ method: seen.method, path, query, headers: req.headers })
      res.writeHead(up.statusCode ?? 502, { ...up.headers, ...added })
      let flipped = false
      let chunks = 0
      up.on('data', (chunk: Buffer) => {
        // A stall sends half of the first chunk, so that even a small body stops short.
        if (stall && chunks++ > 0) return
        if (stall) chunk = chunk.subarray(0, chunk.length >> 1)
        seen.bytes += chunk.length
        if (corrupt && !flipped && chunk.length > 0) {
          chunk[chunk.length >> 1]! ^= 0xff
          flipped = true
        }
        res.write(chunk)
      })
      up.on('end', () => { if (!stall || chunks === 0) res.end() })
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
  let maxConnections: number | undefined
  let open = 0
  let refused = 0
  server.on('connection', (socket) => {
    if (maxConnections !== undefined && open >= maxConnections) {
      refused++
      socket.destroy()
      return
    }
    open++
    socket.once('close', () => { open-- })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setRule: (r) => { rule = r },
    setHeaders: (r) => { headerRule = r },
    setMaxConnections: (n) => { maxConnections = n },
    get refused() { return refused },
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
      agent.destroy()
    }),
  }
}
