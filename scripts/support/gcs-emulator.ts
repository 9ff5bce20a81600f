import type { AddressInfo } from 'node:net'
import { createGcsServer, type GcsServerOptions, type SeenGcsRequest } from './gcs-server.js'

export interface TestGcs {
  /** For STORAGE_EMULATOR_HOST: `http://127.0.0.1:PORT`. */
  host: string
  /** Creates an empty bucket (GCS buckets never appear implicitly here). */
  createBucket(name: string): void
  /** Every request the server has answered, in order. */
  requests: SeenGcsRequest[]
  /** The objects of every bucket, as stored. */
  buckets: ReturnType<typeof createGcsServer>['buckets']
  /** Connections open to the server now. */
  connections(): Promise<number>
  stop(): Promise<void>
}

/**
 * Starts soaker's GCS JSON API test server (scripts/support/gcs-server.ts) on a free loopback
 * port, in this process, with objects in memory: nothing to install, nothing left behind.
 * firebase-tools' storage emulator was the alternative; it was not taken because it adds 625
 * packages and 242 MB to node_modules and one of them (re2) downloads a binary from GitHub or
 * compiles one at install time.
 */
export async function startGcsEmulator(options: GcsServerOptions = {}): Promise<TestGcs> {
  const { server, buckets, requests } = createGcsServer(options)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    host: `http://127.0.0.1:${port}`,
    createBucket(name) {
      if (!buckets.has(name)) buckets.set(name, new Map())
    },
    requests,
    buckets,
    connections: () => new Promise((resolve, reject) => server.getConnections((err, n) => err ? reject(err) : resolve(n))),
    async stop() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
