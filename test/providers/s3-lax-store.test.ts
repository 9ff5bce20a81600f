import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { SourceChangedError, UnsupportedError } from '../../src/errors.js'
import { createS3Connection } from '../../src/providers/s3/client.js'
import { S3Provider } from '../../src/providers/s3/s3-provider.js'
import { startS3rver, type TestS3Server } from '../../scripts/support/s3-server.js'
import { createBucket, putObject, seedClient } from '../../scripts/support/seed.js'

// s3rver is lax where real stores are strict (shared/DESIGN.md): it ignores If-Match and has no
// ListParts. The provider keeps its contracts on such a store too.
let server: TestS3Server
let provider: S3Provider
const signal = new AbortController().signal

beforeAll(async () => {
  server = await startS3rver()
  process.env.AWS_ACCESS_KEY_ID = server.accessKeyId
  process.env.AWS_SECRET_ACCESS_KEY = server.secretAccessKey
  const seed = seedClient(server)
  await createBucket(seed, 'lax')
  await putObject(seed, 'lax', 'k/v2.txt', 'the second version')
  seed.destroy()
  const connection = await createS3Connection({ endpointUrl: server.endpoint, region: server.region, connectTimeout: 5, maxSockets: 8 })
  provider = new S3Provider({ connection, bucket: 'lax', endpoint: server.endpoint, endpointUrl: server.endpoint })
}, 30_000)
afterAll(async () => {
  provider?.close()
  await server?.stop()
})

describe('S3Provider on a store with fewer features (s3rver)', () => {
  test('read with an If-Match the store ignores still rejects with SourceChangedError when the ETag served differs', async () => {
    const listed = (await provider.stat('k/v2.txt', signal)).etag!
    await expect(provider.read('k/v2.txt', { ifMatch: '0123456789abcdef0123456789abcdef', signal })).rejects.toBeInstanceOf(SourceChangedError)
    const same = await provider.read('k/v2.txt', { ifMatch: listed, signal })
    same.body.resume()
    expect(same.details.etag).toBe(listed)
  })

  test('ListParts answered MethodNotAllowed rejects with UnsupportedError (SOAKER_UNSUPPORTED), not an error to retry', async () => {
    const uploadId = await provider.multipart!.create('k/big.bin', { signal })
    const err = await provider.multipart!.listParts('k/big.bin', uploadId, signal).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnsupportedError)
    expect((err as UnsupportedError).code).toBe('SOAKER_UNSUPPORTED')
    // s3rver cannot abort either: the engine warns and starts a new upload all the same.
    await expect(provider.multipart!.abort('k/big.bin', uploadId, signal)).rejects.toBeInstanceOf(UnsupportedError)
  })
})
