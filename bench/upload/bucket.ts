import {
  AbortMultipartUploadCommand, DeleteBucketCommand, DeleteObjectsCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client,
} from '@aws-sdk/client-s3'

// DeleteObjects requests in flight: the listing of the next page overlaps the deletes of the last.
const deletesInFlight = 4

/**
 * Deletes every object of `bucket` (1,000 per DeleteObjects request: a 100,000-object upload
 * goes in a hundred requests, not a hundred thousand), aborts the multipart uploads a failed run
 * left, then removes the bucket. Ceph's OSD keeps the bench's data in RAM, so every run's upload
 * goes before the next run starts. Rejects when the store refuses any of it.
 */
export async function purgeBucket(client: S3Client, bucket: string): Promise<void> {
  const inFlight = new Set<Promise<void>>()
  let failure: Error | undefined
  let token: string | undefined
  do {
    // The continuation token names the last key listed, so deleting listed keys never skips one.
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }))
    const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ Key: o.Key }]))
    if (keys.length > 0) {
      const deletion: Promise<void> = deleteKeys(client, bucket, keys)
        .catch((err: Error) => { failure ??= err })
        .finally(() => inFlight.delete(deletion))
      inFlight.add(deletion)
      if (inFlight.size >= deletesInFlight) await Promise.race(inFlight)
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (token !== undefined && failure === undefined)
  await Promise.all(inFlight)
  if (failure !== undefined) throw failure
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))
  for (const u of uploads.Uploads ?? []) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }))
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket }))
}

async function deleteKeys(client: S3Client, bucket: string, keys: { Key: string }[]): Promise<void> {
  const result = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }))
  const failed = result.Errors ?? []
  if (failed.length > 0) throw new Error(`could not delete ${failed.length} objects of ${bucket}, e.g. ${failed[0]?.Key}: ${failed[0]?.Code}`)
}
