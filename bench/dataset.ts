import { createHash } from 'node:crypto'
import { DeleteBucketCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import { createBucket, deleteObject, putMultipart, putObject, randomBody } from '../scripts/support/seed.js'

/** One file a run must deliver, relative to the destination directory. */
export interface ExpectedFile {
  path: string
  size: number
  md5: string
}

/** Objects seeded under `prefix` in `bucket`, and what a complete download of them looks like. */
export interface Dataset {
  bucket: string
  prefix: string
  files: ExpectedFile[]
  totalBytes: number
}

// Puts in flight while seeding: enough to hide one request's latency, few enough for two cores.
const seedConcurrency = 32

/** `count` objects of `size` random bytes each under `<prefix>/`, put `seedConcurrency` at a time. */
export async function seedManySmall(client: S3Client, bucket: string, prefix: string, count: number, size: number): Promise<Dataset> {
  await createBucket(client, bucket)
  const width = String(count - 1).length
  const files: ExpectedFile[] = Array.from({ length: count }, (_, i) => ({ path: String(i).padStart(width, '0'), size, md5: '' }))
  await forEachLimit(files, seedConcurrency, async (file) => {
    const body = randomBody(size)
    file.md5 = md5(body)
    await putObject(client, bucket, `${prefix}/${file.path}`, body)
  })
  return { bucket, prefix, files, totalBytes: count * size }
}

/** One object of `size` random bytes at `<prefix>/<name>`, uploaded in parts of `partSize`. */
export async function seedOneBig(client: S3Client, bucket: string, prefix: string, name: string, size: number, partSize: number): Promise<Dataset> {
  await createBucket(client, bucket)
  // The body lives only in this scope, so the bench holds no gigabyte while the tools run.
  const body = randomBody(size)
  const file = { path: name, size, md5: md5(body) }
  await putMultipart(client, bucket, `${prefix}/${name}`, body, partSize)
  return { bucket, prefix, files: [file], totalBytes: size }
}

/**
 * One object per entry of `sizes` at `<prefix>/<index>`, each of random bytes; objects larger than
 * `partSize` are uploaded in parts of `partSize` (ETag `<md5>-<n>`). A few objects go up at once,
 * so that only a few bodies are in memory.
 */
export async function seedSized(client: S3Client, bucket: string, prefix: string, sizes: readonly number[], partSize: number): Promise<Dataset> {
  await createBucket(client, bucket)
  const width = String(sizes.length - 1).length
  const files: ExpectedFile[] = sizes.map((size, i) => ({ path: String(i).padStart(width, '0'), size, md5: '' }))
  // Each multipart upload keeps 4 parts in flight, so 4 objects at once is 16 requests.
  await forEachLimit(files, 4, async (file) => {
    const body = randomBody(file.size)
    file.md5 = md5(body)
    if (file.size > partSize) await putMultipart(client, bucket, `${prefix}/${file.path}`, body, partSize)
    else await putObject(client, bucket, `${prefix}/${file.path}`, body)
  })
  return { bucket, prefix, files, totalBytes: sizes.reduce((a, b) => a + b, 0) }
}

/**
 * Deletes every object in `bucket`, then the bucket. Ceph keeps the bench's OSD data in memory
 * (memstore), so a bucket left behind would shrink the room of every later run.
 */
export async function removeBucket(client: S3Client, bucket: string): Promise<void> {
  let token: string | undefined
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }))
    const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [o.Key]))
    await forEachLimit(keys, seedConcurrency, (key) => deleteObject(client, bucket, key))
    token = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (token !== undefined)
  await client.send(new DeleteBucketCommand({ Bucket: bucket }))
}

export function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('hex')
}

/** Runs `fn` on every item with at most `limit` calls in flight; rejects with the first failure. */
async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
