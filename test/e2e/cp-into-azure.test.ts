// `soaker cp ./dir az://container/prefix` and `soaker cp s3://… az://…` end to end: the real CLI
// writes into Azurite through the upload pipeline (Put Blob, staged blocks and Put Block List);
// what arrived is read back through the real @azure/storage-blob client.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { ContainerClient } from '@azure/storage-blob'
import { describe, expect, test } from 'vitest'
import { azuriteForFile } from './azurite.js'
import { putMultipart } from '../../scripts/support/seed.js'
import { body, client, freshBucket, md5, objectBytes, readState, s3, soaker, startSoaker, tempDir, waitFor } from './helpers.js'

const MiB = 1024 * 1024

const az = azuriteForFile('e2e-up')
const { freshContainer, azEnv, proxiedEnv } = az

async function blobBytes(container: ContainerClient, name: string): Promise<Buffer> {
  return await container.getBlobClient(name).downloadToBuffer()
}

async function blobNames(container: ContainerClient): Promise<string[]> {
  const names: string[] = []
  for await (const b of container.listBlobsFlat()) names.push(b.name)
  return names.sort()
}

describe('soaker cp into az://container/prefix', () => {
  test('a local tree: every file a blob byte for byte, the big one in blocks, mtime and mode in its metadata; a rerun sends nothing', async () => {
    const container = await freshContainer()
    const src = tempDir('src')
    const files: Record<string, Buffer> = { 'a.txt': body(1000), 'empty': Buffer.alloc(0), 'big.bin': body(20 * MiB + 7) }
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(src, name), bytes, { mode: 0o640 })
    const state = join(tempDir(), 's.db')
    const args = ['cp', src, `az://${container.containerName}/up`, '--state', state, '--part-size', '8MiB']
    const r = await soaker(args, azEnv())
    expect(r.stderr).not.toMatch(/WARN|ERROR/)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/3 copied/)
    expect(await blobNames(container)).toEqual(['up/a.txt', 'up/big.bin', 'up/empty'])
    for (const [name, bytes] of Object.entries(files)) {
      expect(md5(await blobBytes(container, `up/${name}`))).toBe(md5(bytes))
      const props = await container.getBlobClient(`up/${name}`).getProperties()
      expect(props.metadata?.mode).toBe('0640')
      expect(Number(props.metadata?.mtime)).toBeGreaterThan(1.7e9)
    }
    const blocks = await container.getBlockBlobClient('up/big.bin').getBlockList('committed')
    expect(blocks.committedBlocks?.map((b) => b.size)).toEqual([8 * MiB, 8 * MiB, 4 * MiB + 7])

    const again = await soaker(args, azEnv())
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/0 copied .* 3 skipped/)
  })

  test('an S3 prefix: small objects with their metadata and content type, a multipart one checked against its ETag by the blocks\' MD5s', async () => {
    const bucket = await freshBucket()
    const small = body(5000)
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'data/a.txt', Body: small, ContentType: 'text/x-soaker', Metadata: { owner: 'ann' } }))
    const big = body(24 * MiB)
    await putMultipart(client, bucket, 'data/big.bin', big, 8 * MiB)
    const container = await freshContainer()
    const r = await soaker(['cp', `s3://${bucket}/data`, `az://${container.containerName}/copy`, '--endpoint-url', s3.endpoint,
      '--state', join(tempDir(), 's.db')], azEnv())
    expect(r.code).toBe(0)
    expect(r.stderr).not.toMatch(/again|WARN|ERROR/)
    expect(await blobNames(container)).toEqual(['copy/a.txt', 'copy/big.bin'])
    expect(md5(await blobBytes(container, 'copy/a.txt'))).toBe(md5(small))
    expect(md5(await blobBytes(container, 'copy/big.bin'))).toBe(md5(big))
    const props = await container.getBlobClient('copy/a.txt').getProperties()
    expect(props.contentType).toBe('text/x-soaker')
    expect(props.metadata?.owner).toBe('ann')
    // Split as the source was: three blocks of 8 MiB, whose MD5s make the source's ETag.
    const blocks = await container.getBlockBlobClient('copy/big.bin').getBlockList('committed')
    expect(blocks.committedBlocks?.map((b) => b.size)).toEqual([8 * MiB, 8 * MiB, 8 * MiB])
  })

  test('kill -9 in the middle of a blob uploaded in blocks: the same command stages only the blocks Azure does not hold', async () => {
    const container = await freshContainer()
    const src = tempDir('src')
    const data = body(40 * MiB)
    writeFileSync(join(src, 'big.bin'), data)
    const state = join(tempDir(), 's.db')
    const args = (...more: string[]): string[] => ['cp', src, `az://${container.containerName}/up`, '--state', state, '--part-size', '5MiB',
      '--concurrency', '4', ...more]
    const staged = (from: number): number => az.proxy.requests.slice(from).filter((q) => q.query.includes('comp=block&')).reduce((n, q) => n + q.sent, 0)
    const mark = az.proxy.requests.length
    const first = startSoaker(args('--max-speed', '10MB/s'), proxiedEnv())
    const recorded = async (): Promise<number> => (await readState(state)).partCount
    await waitFor(async () => await recorded() >= 2, 60_000, 'two staged blocks')
    first.child.kill('SIGKILL')
    expect((await first.done).signal).toBe('SIGKILL')
    const held = await recorded()
    expect(held).toBeLessThan(8)
    expect(staged(mark)).toBeGreaterThan(0)

    const mark2 = az.proxy.requests.length
    const second = await soaker(args(), proxiedEnv())
    expect(second.code).toBe(0)
    expect(second.stderr).toMatch(/resuming the upload of up\/big.bin: the store holds \d of 8 parts/)
    expect(staged(mark2)).toBeLessThanOrEqual(data.length - held * 5 * MiB)
    expect(md5(await blobBytes(container, 'up/big.bin'))).toBe(md5(data))
  })

  test('metadata names Azure refuses (`content-id`, `x.y`) are kept under identifiers and come back out by name', async () => {
    const bucket = await freshBucket()
    const data = body(3000)
    const metadata = { 'content-id': 'abc-123', 'x.y': 'dots', owner: 'ann' }
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'm/a.bin', Body: data, Metadata: metadata }))
    const container = await freshContainer()
    const into = await soaker(['cp', `s3://${bucket}/m`, `az://${container.containerName}/m`, '--endpoint-url', s3.endpoint,
      '--state', join(tempDir(), 'in.db')], azEnv())
    expect(into.code, into.stderr).toBe(0)
    expect(md5(await blobBytes(container, 'm/a.bin'))).toBe(md5(data))
    const stored = (await container.getBlobClient('m/a.bin').getProperties()).metadata ?? {}
    for (const name of Object.keys(stored)) expect(name).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/)
    expect(stored.owner).toBe('ann')
    // And back into S3: the names are the source's again.
    const back = await freshBucket()
    const out = await soaker(['cp', `az://${container.containerName}/m`, `s3://${back}/m`, '--endpoint-url', s3.endpoint,
      '--state', join(tempDir(), 'out.db')], azEnv())
    expect(out.code, out.stderr).toBe(0)
    const head = await client.send(new HeadObjectCommand({ Bucket: back, Key: 'm/a.bin' }))
    expect(head.Metadata).toMatchObject(metadata)
    expect(md5(await objectBytes(back, 'm/a.bin'))).toBe(md5(data))
  })

  test('az:// to az:// in one account is copied by Azure (Copy Blob): bytes, metadata and content type, none of them through here', async () => {
    const src = await freshContainer()
    const small = body(4000)
    const big = body(12 * MiB)
    await src.getBlockBlobClient('data/a.txt').uploadData(small, { metadata: { owner: 'ann' }, blobHTTPHeaders: { blobContentType: 'text/x-soaker' } })
    await src.getBlockBlobClient('data/big.bin').uploadData(big, { blockSize: 4 * MiB })
    const dst = await freshContainer()
    const mark = az.proxy.requests.length
    const args = ['cp', `az://${src.containerName}/data`, `az://${dst.containerName}/copy`, '--state', join(tempDir(), 's.db')]
    const r = await soaker(args, proxiedEnv())
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/copying \(server-side\)/)
    expect(await blobNames(dst)).toEqual(['copy/a.txt', 'copy/big.bin'])
    expect(md5(await blobBytes(dst, 'copy/a.txt'))).toBe(md5(small))
    expect(md5(await blobBytes(dst, 'copy/big.bin'))).toBe(md5(big))
    const props = await dst.getBlobClient('copy/a.txt').getProperties()
    expect(props.contentType).toBe('text/x-soaker')
    expect(props.metadata?.owner).toBe('ann')
    // Through the proxy: listings, HEADs and the copy requests; no object's bytes either way.
    const seen = az.proxy.requests.slice(mark)
    expect(seen.filter((q) => q.headers['x-ms-copy-source'] !== undefined).map((q) => q.path).sort())
      .toEqual([`/devstoreaccount1/${dst.containerName}/copy/a.txt`, `/devstoreaccount1/${dst.containerName}/copy/big.bin`])
    const moved = seen.reduce((n, q) => n + q.sent + (q.method === 'GET' && !q.query.includes('comp=list') ? q.bytes : 0), 0)
    expect(moved).toBeLessThan((small.length + big.length) / 100)
    // A rerun copies nothing.
    const mark2 = az.proxy.requests.length
    const again = await soaker(args, proxiedEnv())
    expect(again.code).toBe(0)
    expect(az.proxy.requests.slice(mark2).filter((q) => q.headers['x-ms-copy-source'] !== undefined)).toEqual([])
  })
})
