import { S3Client } from '@aws-sdk/client-s3'
import { HttpRequest } from '@smithy/core/transport'
import { SignatureV4 } from '@smithy/signature-v4'
import { describe, expect, test } from 'vitest'
import { canonicalQuery, SigV4, type SigningCredentials } from '../../src/providers/s3/sigv4.js'

const keys: SigningCredentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' }
const when = new Date('2026-12-05T12:34:56.789Z')
// The hash the S3 client gives its signer, as FastS3 gave the SDK's signer before it signed itself.
const sha256 = new S3Client({ region: 'us-east-1' }).config.sha256

interface Signable { method: string; path: string; query?: Record<string, string>; headers: Record<string, string> }

/** The Authorization header the SDK's own signer gives the same request, as FastS3 used to sign. */
async function sdkAuthorization(r: Signable, creds: SigningCredentials, region = 'us-east-1', at = when): Promise<Record<string, string>> {
  const signer = new SignatureV4({ credentials: creds, region, service: 's3', sha256, uriEscapePath: false, applyChecksum: false })
  const signed = await signer.sign(new HttpRequest({ method: r.method, hostname: 'h', path: r.path, query: r.query, headers: { ...r.headers } }), { signingDate: at })
  return signed.headers
}

describe('SigV4', () => {
  test.each<[string, Signable]>([
    ['a GET with a range', { method: 'GET', path: '/bucket/dir/obj%20one', headers: { host: '127.0.0.1:7480', range: 'bytes=0-99', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }],
    ['an UploadPart with a query and metadata', {
      method: 'PUT', path: '/bucket/k%2Bey', query: { uploadId: 'a+b/c=d~e f', partNumber: '12' },
      headers: { host: 's3.us-east-1.amazonaws.com', 'content-length': '5', 'content-md5': 'XUFAKrxLKna5cZ2REBfFkg==', 'x-amz-meta-mtime': '  1700000000.5  ', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'user-agent': 'soaker' },
    }],
    ['a PUT with metadata whose name has capitals (copied from another store)', {
      method: 'PUT', path: '/bucket/k', headers: { host: 'h', 'content-length': '1', 'x-amz-meta-MyKey': 'v', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    }],
  ])('signs %s as the SDK does', async (_, r) => {
    const expected = await sdkAuthorization(r, keys)
    const headers = { ...r.headers }
    await new SigV4('us-east-1', async () => keys).sign({ ...r, headers }, when)
    expect(headers['x-amz-date']).toBe('20261205T123456Z')
    expect(headers.authorization).toBe(expected.authorization)
    expect(headers.authorization).not.toContain('user-agent') // a header proxies rewrite is not signed
  })

  test('sends a session token and signs it', async () => {
    const temporary = { ...keys, sessionToken: 'token/with+chars=' }
    const r: Signable = { method: 'GET', path: '/b/k', headers: { host: 'h', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }
    const expected = await sdkAuthorization(r, temporary, 'eu-west-1')
    const headers = { ...r.headers }
    await new SigV4('eu-west-1', async () => temporary).sign({ ...r, headers }, when)
    expect(headers['x-amz-security-token']).toBe('token/with+chars=')
    expect(headers.authorization).toBe(expected.authorization)
  })

  test('renews its signing key when the day or the secret changes', async () => {
    let creds = keys
    const signer = new SigV4('us-east-1', async () => creds)
    const sign = async (at: Date) => {
      const r: Signable = { method: 'GET', path: '/b/k', headers: { host: 'h', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }
      const want = (await sdkAuthorization(r, creds, 'us-east-1', at)).authorization
      await signer.sign(r, at)
      return { got: r.headers.authorization, want }
    }
    const first = await sign(when)
    expect(first.got).toBe(first.want)
    const nextDay = await sign(new Date('2026-12-06T00:00:01Z'))
    expect(nextDay.got).toBe(nextDay.want)
    creds = { accessKeyId: 'AKIDOTHER', secretAccessKey: 'another-secret' }
    const rotated = await sign(when)
    expect(rotated.got).toBe(rotated.want)
    expect(rotated.got).not.toBe(first.got)
  })
})

describe('canonicalQuery', () => {
  test('sorts by encoded key and encodes keys and values as RFC 3986 wants', () => {
    expect(canonicalQuery({ uploadId: 'a b+c', partNumber: '2', 'x*': "it's" })).toBe('partNumber=2&uploadId=a%20b%2Bc&x%2A=it%27s')
    expect(canonicalQuery(undefined)).toBe('')
  })
})
