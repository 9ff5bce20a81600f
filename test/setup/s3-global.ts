import type { TestProject } from 'vitest/node'
import './provided.js'
import { startTestS3, type TestS3Server } from '../../scripts/support/s3-server.js'

let server: TestS3Server | undefined
/** Every bucket a test run creates starts with this, so the run can remove them at its end. */
const bucketPrefix = `t${Date.now().toString(36)}`

/** Starts the test S3 server once for the whole run: Ceph's radosgw where installed, else s3rver. */
export async function setup(project: TestProject): Promise<void> {
  server = await startTestS3()
  if (server.kind !== 'ceph') {
    console.warn(`\n[soaker tests] Ceph's radosgw is not installed: running against s3rver at ${server.endpoint}, which is lax (see shared/DESIGN.md).\n`)
  }
  project.provide('s3', {
    kind: server.kind, endpoint: server.endpoint, accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey, region: server.region, bucketPrefix,
  })
}

export async function teardown(): Promise<void> {
  // In CI, and for s3rver, the server stops. Locally a Ceph cluster keeps running for the next
  // run (the start script reuses it); its OSD keeps data in RAM, so this run's buckets go.
  if (server?.kind === 's3rver' || process.env.CI) await server?.stop()
  else await server?.removeBuckets(bucketPrefix)
}
