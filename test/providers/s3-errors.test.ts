import { describe, expect, test } from 'vitest'
import { NotFoundError, UnsupportedError } from '../../src/errors.js'
import { classify } from '../../src/engine/retry.js'
import { mapS3Error } from '../../src/providers/s3/errors.js'

const awsError = (name: string, status: number): Error =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status, requestId: 'r' } })

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
})
