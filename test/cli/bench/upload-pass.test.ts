import { GetObjectCommand } from '@aws-sdk/client-s3'
import { describe, expect, test } from 'vitest'
import { benchSettings } from '../../../src/cli/bench/bench-settings.js'
import { rangeMd5, uploadPass } from '../../../src/cli/bench/upload-pass.js'
import { transferOptions } from '../../../src/options.js'
import { callOnce } from '../../../src/providers/provider.js'
import { openProvider } from '../../../src/providers/registry.js'
import { s3Kind } from '../../../src/providers/s3/kind.js'
import { syntheticKind } from '../../../src/providers/synthetic/kind.js'
import { SyntheticProvider } from '../../../src/providers/synthetic/synthetic-provider.js'
import { client, freshBucket, keysOf, md5, s3 } from '../../e2e/helpers.js'

const MiB = 1024 * 1024

describe('uploadPass', () => {
  test('sends each synthetic object once (PUT, or multipart above the part size) with the bytes of the synthetic source', async () => {
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true' })
    const bucket = await freshBucket()
    const store = await openProvider(s3Kind.parse(`s3://${bucket}/`), { options: transferOptions({ endpointUrl: s3.endpoint, region: s3.region }), env: process.env, retry: callOnce })
    try {
      for (const [size, label] of [['12MiB', 'multipart'], ['100KiB', 'single']] as const) {
        const settings = benchSettings({ count: '2', size, partSize: '5MiB' }, true)
        const synthetic = new SyntheticProvider(syntheticKind.parse(`synthetic://2x${settings.size}`))
        const target = { store, synthetic, keyOf: (n: number) => `${label}/${synthetic.keyOf(n)}`, settings, written: new Set<string>(), openUploads: new Map(), sent: new Map() }
        expect(await uploadPass(target, 3, new AbortController().signal)).toBe(2 * settings.size)
        expect([...target.written].sort()).toEqual([`${label}/obj-000000`, `${label}/obj-000001`])
        expect(target.openUploads.size).toBe(0)
        for (const n of [0, 1]) {
          const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: target.keyOf(n) }))
          const bytes = Buffer.from(await r.Body!.transformToByteArray())
          expect(md5(bytes)).toBe((await synthetic.stat(synthetic.keyOf(n), new AbortController().signal)).etag)
          expect(target.sent.get(`${n}:0`)).toBe(rangeMd5(n, 0, Math.min(5 * MiB, settings.size) - 1).hex)
        }
      }
      expect(await keysOf(bucket)).toHaveLength(4)
    } finally {
      store.close()
    }
  })
})
