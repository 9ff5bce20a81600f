// `soaker cp az://…|gs://…|hf://… s3://bucket/prefix` end to end: the real CLI copies another
// store's objects into the test radosgw, each source served by its own test server (Azurite, the
// GCS test server, the Hub test server) and seeded through its real client.
import { join } from 'node:path'
import { HeadObjectCommand } from '@aws-sdk/client-s3'
import { ContainerClient } from '@azure/storage-blob'
import { Storage, type Bucket } from '@google-cloud/storage'
import { describe, expect, test } from 'vitest'
import { otherStoresForFile } from './other-stores.js'
import { body, client, freshBucket, keysOf, md5, objectBytes, s3, soaker, tempDir } from './helpers.js'

const MiB = 1024 * 1024

const stores = otherStoresForFile()
const { azEnv, gsEnv, hfEnv } = stores
let count = 0
const freshName = (): string => `e2e-${process.pid}-${count++}`

/**
 * What each source holds under `data/`: a small object with metadata of its own, one whose own
 * `mtime` must be kept as it is, an empty one, and one over the 8 MiB that are read whole, which
 * goes to S3 in parts. `datax/` is next to the prefix, not under it.
 */
function sourceFiles(): Record<string, Buffer> {
  return { 'a.txt': body(1000), 'sub/dated.bin': body(70_000), 'empty': Buffer.alloc(0), 'big.bin': body(12 * MiB + 5) }
}
const ownMetadata: Record<string, Record<string, string>> = {
  'a.txt': { owner: 'ann' }, 'sub/dated.bin': { mtime: '1600000000.25', mode: '0640' },
}

/**
 * Runs `cp SOURCE s3://<fresh>/copy` and checks the bucket: exactly `files` under `copy/`, byte
 * for byte, each with the source's metadata (`carried`: the store keeps user metadata) and an
 * `mtime`, its own or its Last-Modified, seeded at or after `seeded`. Then the same command again
 * copies nothing.
 */
async function copiesIntoS3(
  source: string, env: NodeJS.ProcessEnv, files: Record<string, Buffer>, seeded: number, carried: boolean,
): Promise<void> {
  const dst = await freshBucket()
  const args = ['cp', source, `s3://${dst}/copy`, '--endpoint-url', s3.endpoint, '--state', join(tempDir(), 's.db')]
  const r = await soaker(args, env)
  expect(r.stderr).not.toMatch(/WARN|ERROR/)
  expect(r.code).toBe(0)
  const n = Object.keys(files).length
  expect(r.stdout).toMatch(new RegExp(`\\b${n} copied`))
  expect(await keysOf(dst)).toEqual(Object.keys(files).map((k) => `copy/${k}`).sort())
  // Over 8 MiB: streamed from ranged reads into parts of 8 MiB.
  expect((await client.send(new HeadObjectCommand({ Bucket: dst, Key: 'copy/big.bin' }))).ETag).toMatch(/-2"$/)
  for (const [rel, bytes] of Object.entries(files)) {
    expect(md5(await objectBytes(dst, `copy/${rel}`)), rel).toBe(md5(bytes))
    const { Metadata: metadata } = await client.send(new HeadObjectCommand({ Bucket: dst, Key: `copy/${rel}` }))
    const own = carried ? ownMetadata[rel] ?? {} : {}
    expect(metadata, rel).toEqual({ mtime: expect.any(String), ...own })
    if (own.mtime === undefined) {
      expect(Number(metadata!.mtime), rel).toBeGreaterThanOrEqual(Math.floor(seeded / 1000))
      expect(Number(metadata!.mtime), rel).toBeLessThanOrEqual(Date.now() / 1000)
    }
  }
  const again = await soaker(args, env)
  expect(again.code).toBe(0)
  expect(again.stdout).toMatch(new RegExp(`\\b0 copied .*\\b${n} skipped`))
}

/** A source that does not exist fails the run before anything reaches the bucket. */
async function missingSource(source: string, env: NodeJS.ProcessEnv, message: string): Promise<void> {
  const dst = await freshBucket()
  const r = await soaker(['cp', source, `s3://${dst}/q`, '--endpoint-url', s3.endpoint, '--state', join(tempDir(), 's.db')], env)
  expect(r.code).toBe(1)
  expect(r.stderr).toContain(message)
  expect(await keysOf(dst)).toEqual([])
}

/** The Content-Type of the one object `cp SOURCE s3://<fresh>/one` makes. */
async function copiedContentType(source: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const dst = await freshBucket()
  const r = await soaker(['cp', source, `s3://${dst}/one`, '--endpoint-url', s3.endpoint, '--state', join(tempDir(), 's.db')],
    env)
  expect(r.code).toBe(0)
  return (await client.send(new HeadObjectCommand({ Bucket: dst, Key: 'one' }))).ContentType
}

async function freshContainer(): Promise<ContainerClient> {
  const container = new ContainerClient(stores.azurite.connectionString, freshName())
  await container.create()
  return container
}

function freshGcsBucket(): Bucket {
  const name = freshName()
  stores.gcs.createBucket(name)
  return new Storage({ apiEndpoint: stores.gcs.host, projectId: 'test', retryOptions: { autoRetry: false } }).bucket(name)
}

describe('soaker cp az://container/prefix s3://bucket/prefix', () => {
  test('copies every blob under the prefix into S3 byte for byte, the big one in parts, metadata carried; a rerun copies nothing', async () => {
    const container = await freshContainer()
    const files = sourceFiles()
    const seeded = Date.now()
    for (const [rel, data] of Object.entries(files)) {
      await container.getBlockBlobClient(`data/${rel}`).uploadData(data, { metadata: ownMetadata[rel] })
    }
    await container.getBlockBlobClient('datax/not-me').uploadData(Buffer.from('no'))
    await copiesIntoS3(`az://${container.containerName}/data`, azEnv(), files, seeded, true)
  })

  test('a container that does not exist: exit 1, and the message names it', async () => {
    const message = `Container \`no-such-container\` does not exist at ${stores.azurite.blobEndpoint}`
    await missingSource('az://no-such-container/x', azEnv(), message)
  })

  // Fails: AzureProvider.stat and .read (src/providers/azure/azure-provider.ts:96-104, 121-129) never
  // fill `contentType`, so every copy gets S3's default (binary/octet-stream).
  test('the blob\'s content type is carried', async () => {
    const container = await freshContainer()
    const blob = container.getBlockBlobClient('page.html')
    await blob.uploadData(Buffer.from('<p>hi</p>'), { blobHTTPHeaders: { blobContentType: 'text/html' } })
    expect((await blob.getProperties()).contentType).toBe('text/html')
    expect(await copiedContentType(`az://${container.containerName}/page.html`, azEnv())).toBe('text/html')
  })
})

describe('soaker cp gs://bucket/prefix s3://bucket/prefix', () => {
  test('copies every object under the prefix into S3 byte for byte, the big one in parts, metadata carried; a rerun copies nothing', async () => {
    const bucket = freshGcsBucket()
    const files = sourceFiles()
    const seeded = Date.now()
    for (const [rel, data] of Object.entries(files)) {
      await bucket.file(`data/${rel}`).save(data, { resumable: false, metadata: { metadata: ownMetadata[rel] } })
    }
    await bucket.file('datax/not-me').save(Buffer.from('no'), { resumable: false })
    await copiesIntoS3(`gs://${bucket.name}/data`, gsEnv(), files, seeded, true)
  })

  test('a bucket that does not exist: exit 1, and the message names it', async () => {
    await missingSource('gs://no-such-bucket/x', gsEnv(), `Bucket \`no-such-bucket\` does not exist at ${stores.gcs.host}`)
  })

  // Fails: GcsProvider's stat (`info`, src/providers/gcs/gcs-provider.ts:65-70, 175) and read
  // (`fromHeaders`, :55-60, 200) never fill `contentType`, so every copy gets binary/octet-stream.
  test('the object\'s content type is carried', async () => {
    const bucket = freshGcsBucket()
    await bucket.file('page.html').save(Buffer.from('<p>hi</p>'), { resumable: false, metadata: { contentType: 'text/html' } })
    expect((await bucket.file('page.html').getMetadata())[0].contentType).toBe('text/html')
    expect(await copiedContentType(`gs://${bucket.name}/page.html`, gsEnv())).toBe('text/html')
  })
})

describe('soaker cp hf://owner/repo/folder s3://bucket/prefix', () => {
  test('copies every file of the folder into S3 byte for byte, plain and LFS, the big one in parts; a rerun copies nothing', async () => {
    // The Hub keeps no user metadata: each object gets the snapshot's date as its mtime.
    const files = sourceFiles()
    const id = `e2e/${freshName()}`
    const seeded = Date.now()
    stores.hub.createRepo(id)
    const underData = Object.fromEntries(Object.entries(files).map(([rel, data]) => [`data/${rel}`, data]))
    stores.hub.commit(id, { ...underData, 'datax/not-me': 'no' })
    await copiesIntoS3(`hf://${id}/data`, hfEnv(), files, seeded, false)
  })

  test('a repository that does not exist: exit 1, and the message names it', async () => {
    const message = `Repository hf://e2e/no-such-repo does not exist at ${stores.hub.url}`
    await missingSource('hf://e2e/no-such-repo/x', hfEnv(), message)
  })
})
