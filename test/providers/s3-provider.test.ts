import { afterAll, expect, test } from 'vitest'
import { NotFoundError } from '../../src/errors.js'
import { createS3Connection } from '../../src/providers/s3/client.js'
import { S3Provider } from '../../src/providers/s3/s3-provider.js'
import { freshBucket, s3 } from '../e2e/helpers.js'
import { providerConformance } from './conformance.js'

// The real client code against the test server (Ceph's radosgw, or s3rver without Ceph).
process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId
process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey
const opened: S3Provider[] = []
afterAll(() => { for (const p of opened) p.close() })

providerConformance('s3', async () => {
  const connection = await createS3Connection({ endpointUrl: s3.endpoint, region: s3.region, connectTimeout: 5, maxSockets: 64 })
  const provider = new S3Provider({ connection, bucket: await freshBucket(), endpoint: s3.endpoint, endpointUrl: s3.endpoint })
  const missing = new S3Provider({ connection, bucket: 'no-such-bucket-conformance', endpoint: s3.endpoint, endpointUrl: s3.endpoint })
  opened.push(provider)
  return { provider, missing }
})

test('delete removes an object; deleting one that is absent is no error', async () => {
  const connection = await createS3Connection({ endpointUrl: s3.endpoint, region: s3.region, connectTimeout: 5, maxSockets: 8 })
  const provider = new S3Provider({ connection, bucket: await freshBucket(), endpoint: s3.endpoint, endpointUrl: s3.endpoint })
  opened.push(provider)
  const signal = AbortSignal.timeout(30_000)
  await provider.write('gone.txt', Buffer.from('x'), signal)
  await provider.delete('gone.txt', signal)
  await expect(provider.stat('gone.txt', signal)).rejects.toBeInstanceOf(NotFoundError)
  await provider.delete('never-there.txt', signal)
})
