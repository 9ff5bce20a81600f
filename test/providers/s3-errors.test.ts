import { text } from 'node:stream/consumers'
import { describe, expect, test } from 'vitest'
import {
  AccessDeniedError, EndpointUnreachableError, FatalError, NoSuchBucketError, NotFoundError, ThrottledError, TransientError,
  UnsupportedError,
} from '../../src/errors.js'
import { classify } from '../../src/engine/retry.js'
import { createS3Connection } from '../../src/providers/s3/client.js'
import { mapCheckError, mapS3Error } from '../../src/providers/s3/errors.js'
import { S3Provider } from '../../src/providers/s3/s3-provider.js'
import { startCutServer } from '../support/cut-server.js'

const awsError = (name: string, status: number, headers: Record<string, string> = {}): Error =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status, requestId: 'r' }, $response: { headers } })
const errno = (code: string): Error => Object.assign(new Error(`read ${code}`), { code })
type Class = abstract new (...a: never[]) => Error

describe('mapS3Error', () => {
  test('NoSuchUpload is a NotFoundError naming the upload and the object, not "no object"', () => {
    const err = mapS3Error(awsError('NoSuchUpload', 404), { bucket: 'b', key: 'k/f.bin', uploadId: 'up-1' })
    expect(err).toBeInstanceOf(NotFoundError)
    expect((err as Error).message).toBe('The multipart upload up-1 of s3://b/k/f.bin no longer exists')
  })

  test('NoSuchKey is a NotFoundError naming the object', () => {
    const err = mapS3Error(awsError('NoSuchKey', 404), { bucket: 'b', key: 'k' })
    expect(err).toBeInstanceOf(NotFoundError)
    expect((err as Error).message).toBe('No object at s3://b/k')
  })

  test.each([['MethodNotAllowed', 405], ['NotImplemented', 501]])('%s (HTTP %i) is an UnsupportedError, which is not retried', (name, status) => {
    const err = mapS3Error(awsError(name, status), { bucket: 'b', key: 'k', endpoint: 'http://s3rver', uploadId: 'up-1' })
    expect(err).toBeInstanceOf(UnsupportedError)
    expect((err as Error).message).toBe(`The store at http://s3rver does not support this request on s3://b/k (${name})`)
    expect(classify(err)).toBe('fatal')
  })

  test.each<[string, Error, Class, string, boolean, number | undefined]>([
    ['503 SlowDown with Retry-After', awsError('SlowDown', 503, { 'retry-after': '2' }), ThrottledError, 'SlowDown', true, 2],
    ['503 SlowDown, Retry-After under its capitalised name',
      awsError('SlowDown', 503, { 'Retry-After': '7' }), ThrottledError, 'SlowDown', true, 7],
    ['429 TooManyRequests', awsError('TooManyRequests', 429), ThrottledError, 'TooManyRequests', true, undefined],
    ['429 with an unknown name', awsError('Whatever', 429), ThrottledError, 'Whatever', true, undefined],
    ['a Throttling error without a status',
      Object.assign(new Error('x'), { name: 'Throttling' }), ThrottledError, 'Throttling', true, undefined],
    ['500 InternalError', awsError('InternalError', 500), TransientError, 'InternalError', false, undefined],
    ['502 BadGateway', awsError('BadGateway', 502), TransientError, 'BadGateway', false, undefined],
    ['503 ServiceUnavailable, with Retry-After',
      awsError('ServiceUnavailable', 503, { 'retry-after': '3' }), TransientError, 'ServiceUnavailable', true, 3],
    ['504 GatewayTimeout', awsError('GatewayTimeout', 504), TransientError, 'GatewayTimeout', false, undefined],
    ['400 RequestTimeout', awsError('RequestTimeout', 400), TransientError, 'RequestTimeout', true, undefined],
    ['400 BadDigest', awsError('BadDigest', 400), TransientError, 'BadDigest', false, undefined],
    ['ECONNRESET', errno('ECONNRESET'), TransientError, 'ECONNRESET', true, undefined],
    ['ECONNREFUSED', errno('ECONNREFUSED'), TransientError, 'ECONNREFUSED', false, undefined],
    ['the SDK\'s connection time-out',
      Object.assign(new Error('Socket timed out'), { name: 'TimeoutError' }), TransientError, 'TimeoutError', true, undefined],
    ['416 InvalidRange', awsError('InvalidRange', 416), FatalError, 'InvalidRange', false, undefined],
    ['400 with a code no retry changes', awsError('InvalidArgument', 400), FatalError, 'InvalidArgument', false, undefined],
    ['a full disk', errno('ENOSPC'), FatalError, 'ENOSPC', false, undefined],
    ['an error of the provider\'s own', new Error('no upload id'), FatalError, 'Error', false, undefined],
  ])('%s: its class, code, budget and Retry-After', (_, raw, type, code, lowLevel, retryAfter) => {
    const err = mapS3Error(raw, { bucket: 'b', key: 'k' })
    expect(err).toBeInstanceOf(type)
    expect(err).toMatchObject({ code, message: raw.message, cause: raw })
    if (err instanceof TransientError) expect(err).toMatchObject({ lowLevel, retryAfterSeconds: retryAfter })
  })
})

describe('mapCheckError', () => {
  const check = (raw: Error): Error => mapCheckError(mapS3Error(raw, { bucket: 'b' }), 'b', 'http://127.0.0.1:1')

  test('a connection refused, after its retries, names the endpoint', () => {
    const err = check(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))
    expect(err).toBeInstanceOf(EndpointUnreachableError)
    expect(err.message).toBe('Cannot reach http://127.0.0.1:1 (ECONNREFUSED): check --endpoint-url and the network')
  })

  const foreign = [[404, 'NotFound'], [502, 'BadGateway']] as const
  test.each(foreign)('an answer (%i %s) without x-amz-request-id came from something that is not S3', (status, name) => {
    const err = check(Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } }))
    expect(err).toBeInstanceOf(EndpointUnreachableError)
    expect(err.message).toBe(`http://127.0.0.1:1 answered HTTP ${status} without S3's x-amz-request-id header: ` +
      'is it an S3 endpoint? Check --endpoint-url')
  })

  test.each<[string, Error, Class]>([
    ['a missing bucket', awsError('NoSuchBucket', 404), NoSuchBucketError],
    ['a refusal', awsError('AccessDenied', 403), AccessDeniedError],
    ['a 503 that outlived its retries', awsError('SlowDown', 503), ThrottledError],
  ])('%s from S3 stays what mapS3Error made of it', (_, raw, type) => {
    expect(check(raw)).toBeInstanceOf(type)
  })
})

describe('S3Provider', () => {
  test('a body cut mid-way rejects its reader with a TransientError, a low-level fault', async () => {
    const server = await startCutServer({ etag: '"0123456789abcdef0123456789abcdef"' })
    const credentials = { accessKeyId: 'a', secretAccessKey: 'b' }
    const connection = await createS3Connection({ endpointUrl: server.url, region: 'us-east-1', credentials, connectTimeout: 5, maxSockets: 4 })
    const provider = new S3Provider({ connection, bucket: 'bkt', endpointUrl: server.url })
    try {
      const { body } = await provider.read('k', { signal: new AbortController().signal })
      const err = await text(body).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(TransientError)
      expect(err).toMatchObject({ code: 'ECONNRESET', lowLevel: true })
    } finally {
      provider.close()
      await server.stop()
    }
  })
})
