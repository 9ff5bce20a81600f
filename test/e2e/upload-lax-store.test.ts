import { join } from 'node:path'
import { GetObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3'
import { describe, expect, test } from 'vitest'
import type { FaultRule } from '../../scripts/support/fault-proxy.js'
import { body, client, faultProxyForFile, freshBucket, md5, readState, soaker, sourceTree, startSoaker, tempDir, waitFor } from './helpers.js'

const MiB = 1024 * 1024
const fault = faultProxyForFile()

/** ListParts (a GET with an uploadId) answered with `status`/`code` instead. */
const refuseListParts = (status: number, code: string): FaultRule =>
  ({ method, query }) => (method === 'GET' && query.includes('uploadId=') ? { status, code } : undefined)

async function objectMd5(bucket: string, key: string): Promise<string> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  return md5(Buffer.from(await out.Body!.transformToByteArray()))
}

describe('cp dir s3://b/p on a store with fewer features', () => {
  test.each([
    [405, 'MethodNotAllowed', /cannot list the parts of the recorded multipart upload .*MethodNotAllowed.*aborting it and starting over/],
    [404, 'NoSuchUpload', /the recorded multipart upload is gone from the store; starting it over/],
  ])('an interrupted upload whose ListParts is answered %i %s is aborted and started afresh with a warning, and the next run completes', async (status, code, warning) => {
    const data = body(20 * MiB)
    const root = sourceTree({ 'big.bin': data })
    const bucket = await freshBucket()
    const state = join(tempDir(), 's.db')
    const args = (...more: string[]): string[] => fault.cp(root, `s3://${bucket}/u`, state, '--part-size', '5MiB', ...more)
    const first = startSoaker(args('--max-speed', '4', '--concurrency', '1', '--max-concurrency', '1'))
    await waitFor(async () => (await readState(state)).partCount >= 1, 60_000, 'a recorded part')
    first.child.kill('SIGKILL')
    await first.done
    const oldUpload = String((await readState(state)).objects[0]?.uploadId)
    expect(oldUpload).not.toBe('null')

    fault.proxy.setRule(refuseListParts(status, code))
    try {
      fault.proxy.requests.length = 0
      const second = await soaker(args())
      expect(second.code).toBe(0)
      expect(second.stderr).toMatch(warning)
      const aborts = fault.proxy.requests.filter((q) => q.method === 'DELETE' && q.query.includes(`uploadId=${encodeURIComponent(oldUpload)}`))
      expect(aborts.length).toBeGreaterThanOrEqual(1)
    } finally {
      fault.proxy.setRule(undefined)
    }
    expect(await objectMd5(bucket, 'u/big.bin')).toBe(md5(data))
    const { objects } = await readState(state)
    expect(objects.map(({ status, uploadId }) => ({ status, uploadId }))).toEqual([{ status: 'done', uploadId: null }])
    expect((await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toEqual([])
  })
})
