import { randomBytes } from 'node:crypto'
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import type { TestS3Server } from './s3-server.js'

/** A plain SDK client for putting test data in place (never the code under test). */
export function seedClient(server: Pick<TestS3Server, 'endpoint' | 'accessKeyId' | 'secretAccessKey' | 'region'>): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    // s3rver would store the aws-chunked framing of a trailing checksum as data.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  })
}

export async function createBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }))
  } catch (err) {
    if (!['BucketAlreadyOwnedByYou', 'BucketAlreadyExists'].includes((err as Error).name)) throw err
  }
}

export async function putObject(client: S3Client, bucket: string, key: string, body: Buffer | string): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))
}

export async function deleteObject(client: S3Client, bucket: string, key: string): Promise<void> {
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))
}

/** Uploads `body` as a multipart object with parts of `partSize` bytes (ETag `<md5>-<n>`). */
export async function putMultipart(client: S3Client, bucket: string, key: string, body: Buffer, partSize = 8 * 1024 * 1024): Promise<void> {
  await new Upload({ client, params: { Bucket: bucket, Key: key, Body: body }, partSize, queueSize: 4 }).done()
}

/** Deterministic-looking but incompressible bytes. */
export function randomBody(size: number): Buffer {
  return randomBytes(size)
}
