import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import type { LocalDataset } from './scenarios.js'

const MiB = 1024 * 1024
// A failed run lists this many problems; the rest are counted, not named.
const problemsShown = 5
// Part sizes tried to recompute a multipart ETag before falling back to reading the object back.
const maxCandidates = 3

/**
 * Checks that `<bucket>/<prefix>/` holds exactly the files of `dataset` (no more, no fewer) with
 * their sizes and contents: a single-part ETag must be the file's MD5; a multipart one
 * (`<md5 of part MD5s>-<n>`) must match the file cut into n parts of a whole number of MiB, or
 * else the object's bytes, read back, must have the file's MD5. A zero-byte `dir/` marker for an
 * empty directory is allowed, never required. Resolves to undefined when everything arrived, else
 * to one line saying what is wrong.
 */
export async function verifyBucket(client: S3Client, bucket: string, prefix: string, dataset: LocalDataset): Promise<string | undefined> {
  const found = new Map<string, { size: number; etag: string }>()
  for await (const object of listAll(client, bucket, `${prefix}/`)) found.set(object.key.slice(prefix.length + 1), object)
  for (const dir of dataset.emptyDirectories) if (found.get(`${dir}/`)?.size === 0) found.delete(`${dir}/`)

  const problems: string[] = []
  const present: { path: string; size: number; md5: string; etag: string }[] = []
  for (const file of dataset.files) {
    const object = found.get(file.path)
    if (object === undefined) problems.push(`missing ${file.path}`)
    else if (object.size !== file.size) problems.push(`${file.path} has ${object.size} bytes, expected ${file.size}`)
    else present.push({ ...file, etag: object.etag })
    found.delete(file.path)
  }
  for (const key of found.keys()) problems.push(`unexpected ${key}`)
  // Contents are checked only when names and sizes all match, so a broken run fails fast.
  if (problems.length === 0) {
    for (const file of present) {
      const same = file.etag.includes('-')
        ? await multipartMatches(client, bucket, `${prefix}/${file.path}`, dataset.dir === '' ? undefined : join(dataset.dir, file.path), file)
        : file.etag === file.md5
      if (!same) problems.push(`${file.path} differs from the source (ETag ${file.etag}, MD5 ${file.md5})`)
    }
  }
  if (problems.length === 0) return undefined
  const more = problems.length > problemsShown ? `, and ${problems.length - problemsShown} more` : ''
  return `${problems.length} problem(s): ${problems.slice(0, problemsShown).join('; ')}${more}`
}

/** Every object under `prefix`, page by page. */
async function* listAll(client: S3Client, bucket: string, prefix: string): AsyncGenerator<{ key: string; size: number; etag: string }> {
  let token: string | undefined
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }))
    for (const o of page.Contents ?? []) yield { key: o.Key ?? '', size: o.Size ?? -1, etag: (o.ETag ?? '').replaceAll('"', '') }
    token = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (token !== undefined)
}

/** `path`: the local file the object came from, if any (a copy between buckets has none: its bytes are read back). */
async function multipartMatches(client: S3Client, bucket: string, key: string, path: string | undefined, file: { size: number; md5: string; etag: string }): Promise<boolean> {
  if (path === undefined) return (await objectMd5(client, bucket, key)) === file.md5
  const parts = Number(file.etag.split('-')[1])
  const candidates: number[] = []
  for (let mib = 1; mib * MiB * (parts - 1) < file.size && candidates.length < maxCandidates; mib++) {
    if (Math.ceil(file.size / (mib * MiB)) === parts) candidates.push(mib * MiB)
  }
  for (const partSize of candidates) if ((await multipartEtag(path, partSize)) === file.etag) return true
  return (await objectMd5(client, bucket, key)) === file.md5
}

/** The ETag S3 gives the file at `path` uploaded in parts of `partSize`: MD5 of the parts' MD5s, `-<parts>`. */
async function multipartEtag(path: string, partSize: number): Promise<string> {
  const handle = await open(path)
  try {
    const digests: Buffer[] = []
    const buffer = Buffer.alloc(partSize)
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, partSize)
      if (bytesRead === 0) break
      digests.push(createHash('md5').update(buffer.subarray(0, bytesRead)).digest())
    }
    return `${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${digests.length}`
  } finally {
    await handle.close()
  }
}

async function objectMd5(client: S3Client, bucket: string, key: string): Promise<string> {
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  const hash = createHash('md5')
  for await (const chunk of response.Body as Readable) hash.update(chunk as Buffer)
  return hash.digest('hex')
}
