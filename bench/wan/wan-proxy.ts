import { once, setMaxListeners } from 'node:events'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { sleep } from '../../src/engine/retry.js'
import { TokenBucket } from './token-bucket.js'

export interface WanOptions {
  /** The S3 server behind the proxy, e.g. http://127.0.0.1:7480. */
  target: string
  /** Cap on each client connection's response bytes per second (per keep-alive socket). @default no cap */
  perConnectionBytesPerSec?: number
  /** Cap on the response bytes per second of all connections together. @default no cap */
  linkBytesPerSec?: number
  /** One-way delay added before a request reaches the server and before its response starts. @default 0 */
  latencyMs?: number
  /** Answer 503 SlowDown to a request that arrives while this many are already in flight. @default never */
  slowDownAbove?: number
  /** Pace request bodies through the same buckets as responses, for uploads. @default false */
  paceRequests?: boolean
}

/** Counters since the proxy started; take two and subtract to measure one run. */
export interface WanStats {
  /** Requests received, SlowDowns included. */
  requests: number
  /** Requests answered with 503 SlowDown. */
  slowDowns: number
  /** Response body bytes sent to clients. */
  bytesSent: number
  /** Request body bytes received from clients and passed on to the server. */
  bytesReceived: number
  /** Client TCP connections accepted. */
  connections: number
  /** The most requests in flight at the server at once, since the start or the last `resetPeak()`. */
  peakInFlight: number
}

export interface WanProxy {
  url: string
  stats(): WanStats
  /** Starts a new peak of requests in flight from those in flight now. */
  resetPeak(): void
  stop(): Promise<void>
}

// A wait shorter than this is not worth a timer (timers fire at best every millisecond); the
// buckets still book the bytes, so the long-run rate stays exact.
const minWaitMs = 1
const slowDownBody = '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>wan-proxy</RequestId></Error>'

interface Connection {
  bucket?: TokenBucket
  /** A fresh connection's first request also pays the TCP handshake's round trip. */
  handshakeDue: boolean
}

/**
 * A WAN between loopback clients and an S3 server, for benchmarks: a reverse proxy on 127.0.0.1
 * that caps each client connection's bandwidth, caps the whole link, adds one-way latency and
 * answers 503 SlowDown beyond K requests in flight.
 *
 * Latency: a request waits `latencyMs` before it reaches the server, and the response waits
 * `latencyMs` before its first byte leaves, so every request costs one round trip (2 × latency);
 * the first request of a new connection costs one more, the handshake loopback does not have.
 * Bandwidth: response bodies are piped chunk by chunk, each chunk waiting for its connection's
 * token bucket, then the link's. Request bodies pass unpaced (the benches download).
 * A request counts as in flight from when it reaches the server until its response is sent.
 * The Host header is forwarded as the client signed it, so SigV4 signatures stay valid.
 */
export async function startWanProxy(options: WanOptions): Promise<WanProxy> {
  const upstream = new URL(options.target)
  const latency = (options.latencyMs ?? 0) / 1000
  const link = options.linkBytesPerSec ? new TokenBucket(options.linkBytesPerSec) : undefined
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 })
  const stopping = new AbortController()
  setMaxListeners(0, stopping.signal) // one listener per request in flight
  const connections = new WeakMap<Socket, Connection>()
  const counters: WanStats = { requests: 0, slowDowns: 0, bytesSent: 0, bytesReceived: 0, connections: 0, peakInFlight: 0 }
  let inFlight = 0

  const wait = async (seconds: number, signal: AbortSignal): Promise<void> => {
    if (seconds > 0) await sleep(seconds, signal)
  }

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    counters.requests++
    // Aborted when the client goes away or the proxy stops: no timer outlives its request.
    const gone = new AbortController()
    const abort = (): void => gone.abort()
    res.once('close', abort)
    stopping.signal.addEventListener('abort', abort, { once: true })
    let counted = false
    try {
      const conn = connections.get(req.socket)!
      const handshake = conn.handshakeDue ? 2 * latency : 0
      conn.handshakeDue = false
      await wait(handshake + latency, gone.signal)

      if (options.slowDownAbove !== undefined && inFlight >= options.slowDownAbove) {
        counters.slowDowns++
        req.resume()
        await wait(latency, gone.signal)
        res.writeHead(503, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(slowDownBody), 'x-amz-request-id': 'wan-proxy' })
        res.end(slowDownBody)
        counters.bytesSent += Buffer.byteLength(slowDownBody)
        return
      }
      inFlight++
      counted = true
      if (inFlight > counters.peakInFlight) counters.peakInFlight = inFlight

      const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent })
      gone.signal.addEventListener('abort', () => out.destroy(), { once: true })
      // A client killed mid-request makes the server side fail after `once` below stopped listening.
      out.on('error', () => res.destroy())
      const received = (n: number): void => { counters.bytesReceived += n }
      if (options.paceRequests) pace(req, out, conn.bucket, link, received).catch(() => out.destroy())
      else req.on('data', (chunk: Buffer) => received(chunk.length)).pipe(out)
      const [up] = (await once(out, 'response', { signal: gone.signal })) as [http.IncomingMessage]
      await wait(latency, gone.signal)
      res.writeHead(up.statusCode ?? 502, up.headers)
      await pace(up, res, conn.bucket, link, (n) => { counters.bytesSent += n })
    } catch {
      // The client left, the server failed or the proxy stops: the client sees a closed socket.
      res.destroy()
    } finally {
      if (counted) inFlight--
      res.off('close', abort)
      stopping.signal.removeEventListener('abort', abort)
    }
  }

  const server = http.createServer((req, res) => void handle(req, res))
  server.on('connection', (socket: Socket) => {
    counters.connections++
    socket.setNoDelay(true)
    const bucket = options.perConnectionBytesPerSec ? new TokenBucket(options.perConnectionBytesPerSec) : undefined
    connections.set(socket, { bucket, handshakeDue: latency > 0 })
  })
  // Tools keep idle connections for a while; the server must not close them first.
  server.keepAliveTimeout = 120_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    stats: () => ({ ...counters }),
    resetPeak: () => { counters.peakInFlight = inFlight },
    stop: () => new Promise<void>((resolve) => {
      stopping.abort()
      server.closeAllConnections()
      server.close(() => resolve())
      agent.destroy()
    }),
  }
}

/**
 * Pipes `up` into `res`, each chunk (a socket read, up to 64 KiB) leaving when the connection's
 * bucket and then the link's allow. While a chunk waits, or `res` is full, `up` is paused, so
 * back-pressure reaches the server. Event callbacks and at most one timer per chunk: this runs
 * for every chunk of every response on a machine whose cores the server and the client share.
 * Rejects when either side fails or the client leaves; `res` is ended on success.
 */
function pace(up: http.IncomingMessage, res: http.ServerResponse | http.ClientRequest, conn: TokenBucket | undefined, link: TokenBucket | undefined, sent: (bytes: number) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined
    let full = false
    let ended = false
    const resumeIfFree = (): void => { if (timer === undefined && !full) up.resume() }
    const send = (chunk: Buffer): void => {
      sent(chunk.length)
      if (!res.write(chunk)) {
        full = true
        up.pause()
      }
    }
    const finish = (err?: Error): void => {
      clearTimeout(timer)
      up.off('data', onData).off('end', onEnd).off('error', finish)
      res.off('drain', onDrain).off('close', onClose)
      if (err) reject(err)
      else resolve()
    }
    const onData = (chunk: Buffer): void => {
      const now = performance.now()
      let at = now
      if (conn) at = conn.reserve(chunk.length, at)
      if (link) at = link.reserve(chunk.length, at)
      if (at - now < minWaitMs) return send(chunk)
      up.pause()
      timer = setTimeout(() => {
        timer = undefined
        send(chunk)
        if (ended) onEnd()
        else resumeIfFree()
      }, at - now)
    }
    // 'end' can come while the last chunk waits for its turn; the response ends after it.
    const onEnd = (): void => {
      ended = true
      if (timer !== undefined) return
      res.end()
      finish()
    }
    const onDrain = (): void => { full = false; resumeIfFree() }
    const onClose = (): void => finish(new Error('the client closed the connection'))
    up.on('data', onData).on('end', onEnd).on('error', finish)
    res.on('drain', onDrain).on('close', onClose)
  })
}
