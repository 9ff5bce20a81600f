import { createServer, type OutgoingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface CutServer {
  url: string
  stop(): Promise<void>
}

/**
 * A server that answers every request 200 with the headers of a 1,000-byte body (and `headers`),
 * sends 500 bytes of it and cuts the connection: a body broken mid-way, as no store breaks one
 * on demand.
 */
export async function startCutServer(headers: OutgoingHttpHeaders = {}): Promise<CutServer> {
  const server = createServer((req, res) => {
    req.resume()
    res.writeHead(200, { 'content-length': 1000, 'content-type': 'application/octet-stream', ...headers })
    res.write(Buffer.alloc(500, 1), () => setTimeout(() => res.socket?.destroy(), 20))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}
