import type { TestProject } from 'vitest/node'
import './provided.js'
import { startTestS3, type TestS3Server } from '../../scripts/support/s3-server.js'

let server: TestS3Server | undefined

/** Starts the test S3 server once for the whole run: Ceph's radosgw where installed, else s3rver. */
export async function setup(project: TestProject): Promise<void> {
  server = await startTestS3()
  if (server.kind !== 'ceph') {
    console.warn(`\n[soaker tests] Ceph's radosgw is not installed: running against s3rver at ${server.endpoint}, which is lax (see shared/DESIGN.md).\n`)
  }
  project.provide('s3', {
    kind: server.kind, endpoint: server.endpoint, accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey, region: server.region,
  })
}

export async function teardown(): Promise<void> {
  // A Ceph cluster that was already up before the run is left running; one this run started stops.
  if (server?.kind === 's3rver' || process.env.CI) await server?.stop()
}
