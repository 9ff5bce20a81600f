// Event-loop time to sign one small S3 GET with SigV4: the SDK's signer, as FastS3 used it,
// against soaker's own (src/providers/s3/sigv4.ts). Median of several passes of 20,000 requests.
//
//   npx tsx bench/sigv4.ts [-- --requests N --passes N]

import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { S3Client } from '@aws-sdk/client-s3'
import { HttpRequest } from '@smithy/core/transport'
import { SignatureV4 } from '@smithy/signature-v4'
import { SigV4 } from '../src/providers/s3/sigv4.js'

const { values } = parseArgs({ options: { requests: { type: 'string', default: '20000' }, passes: { type: 'string', default: '5' } } })
const requests = Number(values.requests)
const passes = Number(values.passes)
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' }
const client = new S3Client({ region: 'us-east-1', credentials })
const headersOf = (i: number): Record<string, string> => ({ host: '127.0.0.1:7480', range: `bytes=0-${i}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' })

const sdk = new SignatureV4({ credentials: client.config.credentials, region: 'us-east-1', service: 's3', sha256: client.config.sha256, uriEscapePath: false, applyChecksum: false })
const own = new SigV4('us-east-1', () => client.config.credentials())
const candidates: Record<string, (i: number) => Promise<unknown>> = {
  'SDK SignatureV4': (i) => sdk.sign(new HttpRequest({ method: 'GET', hostname: '127.0.0.1', port: 7480, path: `/bucket/obj-${i}`, headers: headersOf(i) })),
  'soaker SigV4': (i) => own.sign({ method: 'GET', path: `/bucket/obj-${i}`, headers: headersOf(i) }),
}

for (const [name, sign] of Object.entries(candidates)) {
  const perRequest: number[] = []
  for (let pass = 0; pass < passes; pass++) {
    const t0 = performance.now()
    for (let i = 0; i < requests; i++) await sign(i)
    perRequest.push((performance.now() - t0) * 1000 / requests)
  }
  perRequest.sort((a, b) => a - b)
  console.log(`${name.padEnd(16)} ${perRequest[Math.floor(passes / 2)]!.toFixed(1)} µs per request (median of ${passes} passes of ${requests})`)
}
