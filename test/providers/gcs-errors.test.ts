import { text } from 'node:stream/consumers'
import { describe, expect, test } from 'vitest'
import {
  AccessDeniedError, EndpointUnreachableError, FatalError, MissingCredentialsError, NoSuchBucketError, NotFoundError,
  SourceChangedError, ThrottledError, TransientError,
} from '../../src/errors.js'
import { classify, retryAfterSeconds } from '../../src/engine/retry.js'
import { mapGcsCheckError, mapGcsError } from '../../src/providers/gcs/errors.js'
import { GcsProvider } from '../../src/providers/gcs/gcs-provider.js'
import { startCutServer } from '../support/cut-server.js'

/** An ApiError as @google-cloud/storage builds it from a JSON API error body. */
function apiError(code: number, reason: string | undefined, message: string, headers: Record<string, string> = {}): Error {
  return Object.assign(new Error(message), {
    name: 'ApiError', code, errors: reason ? [{ message, domain: 'global', reason }] : [],
    response: { statusCode: code, headers },
  })
}

/** A download's error: the client leaves the raw JSON body as the message and `errors` empty. */
function streamError(code: number, reason: string, message: string): Error {
  const body = JSON.stringify({ error: { code, message, errors: [{ message, domain: 'global', reason }] } })
  return Object.assign(new Error(body), { name: 'ApiError', code, errors: [], response: { statusCode: code, headers: {} } })
}

const errno = (code: string): Error => Object.assign(new Error(`request failed, reason: ${code}`), { name: 'FetchError', code, errno: code })

const where = { bucket: 'bkt', endpoint: 'http://127.0.0.1:1' }

describe('mapGcsError', () => {
  test.each<[string, Error, string | undefined, abstract new (...a: never[]) => Error, RegExp]>([
    ['a missing object', apiError(404, 'notFound', 'No such object: bkt/k'), 'k', NotFoundError, /^No object at gs:\/\/bkt\/k$/],
    ['a missing object, from a download', streamError(404, 'notFound', 'No such object: bkt/k'), 'k', NotFoundError, /^No object at gs:\/\/bkt\/k$/],
    ['an object in a missing bucket', apiError(404, 'notFound', 'The specified bucket does not exist.'), 'k', NoSuchBucketError, /^Bucket `bkt` does not exist at http:\/\/127\.0\.0\.1:1$/],
    ['a missing bucket, from a download', streamError(404, 'notFound', 'The specified bucket does not exist.'), 'k', NoSuchBucketError, /Bucket `bkt`/],
    ['a 404 on the bucket itself', apiError(404, 'notFound', 'Not Found'), undefined, NoSuchBucketError, /Bucket `bkt`/],
    ['a generation precondition failing', apiError(412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.'), 'k', SourceChangedError, /gs:\/\/bkt\/k changed/],
    ['an anonymous caller', apiError(401, 'required', 'Anonymous caller does not have storage.objects.list access to the Google Cloud Storage bucket.'), undefined, MissingCredentialsError, /^No Google Cloud credentials for gs:\/\/bkt \(GCS says: Anonymous caller/],
    ['invalid credentials', apiError(401, 'authError', 'Invalid Credentials'), 'k', AccessDeniedError, /^Access denied to gs:\/\/bkt\/k \(HTTP 401 authError\): Invalid Credentials$/],
    ['a missing permission', apiError(403, 'forbidden', 'sa@p.iam.gserviceaccount.com does not have storage.objects.get access.'), 'k', AccessDeniedError, /HTTP 403 forbidden\): sa@p/],
  ])('%s', (_, err, key, type, message) => {
    const mapped = mapGcsError(err, { ...where, key }) as Error
    expect(mapped).toBeInstanceOf(type)
    expect(mapped.message).toMatch(message)
    expect(mapped.cause).toBe(err)
  })

  test('no credentials found by google-auth-library, or a key file that cannot be read', () => {
    const none = mapGcsError(new Error('Could not load the default credentials. Browse to https://cloud.google.com/docs/authentication/getting-started for more information.'), where) as Error
    expect(none).toBeInstanceOf(MissingCredentialsError)
    expect(none.message).toBe('No Google Cloud credentials for gs://bkt: set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or run `gcloud auth application-default login`')
    const enoent = Object.assign(new Error("ENOENT: no such file or directory, open '/k.json'"), { code: 'ENOENT', path: '/k.json' })
    expect(mapGcsError(enoent, { ...where, credentialsFile: '/k.json' })).toBeInstanceOf(MissingCredentialsError)
    // Not the key file: not a credentials error.
    expect(mapGcsError(enoent, where)).toMatchObject({ name: 'FatalError', code: 'ENOENT', cause: enoent })
  })

  test.each<[string, Error, 'retry' | 'throttle' | 'fatal', string, abstract new (...a: never[]) => Error, boolean]>([
    ['a 503', apiError(503, 'backendError', 'Backend Error'), 'retry', 'backendError', TransientError, true],
    ['a 500 without a reason', apiError(500, undefined, 'Internal Error'), 'retry', 'HTTP_500', TransientError, false],
    ['a 502 from a download', streamError(502, 'badGateway', 'Bad Gateway'), 'retry', 'badGateway', TransientError, false],
    ['a 408', apiError(408, 'requestTimeout', 'Request Timeout'), 'retry', 'requestTimeout', TransientError, false],
    ['a 429', apiError(429, 'rateLimitExceeded', 'The rate of change requests to the object is too high'),
      'throttle', 'rateLimitExceeded', ThrottledError, true],
    ['a 403 for a rate limit', apiError(403, 'userRateLimitExceeded', 'User Rate Limit Exceeded'),
      'throttle', 'userRateLimitExceeded', ThrottledError, true],
    ['a 400', apiError(400, 'invalid', 'Invalid argument'), 'fatal', 'invalid', FatalError, false],
  ])('%s becomes an error the retry policy classifies as %s, with the reason as its code', (_, err, cls, code, type, lowLevel) => {
    const mapped = mapGcsError(err, { ...where, key: 'k' })
    expect(mapped).toBeInstanceOf(type)
    expect(classify(mapped)).toBe(cls)
    expect((mapped as TransientError).code).toBe(code)
    expect((mapped as Error).cause).toBe(err)
    if (mapped instanceof TransientError) expect(mapped.lowLevel).toBe(lowLevel)
  })

  test('a Retry-After from GCS reaches the retry policy', () => {
    const mapped = mapGcsError(apiError(429, 'rateLimitExceeded', 'slow down', { 'Retry-After': '7' }), where)
    expect(retryAfterSeconds(mapped)).toBe(7)
  })

  const faults = [['ECONNRESET', true], ['ETIMEDOUT', true], ['ECONNREFUSED', false]] as const
  test.each(faults)('a network error (%s) is a TransientError with its errno code', (code, lowLevel) => {
    const err = errno(code)
    const mapped = mapGcsError(err, { ...where, key: 'k' })
    expect(mapped).toBeInstanceOf(TransientError)
    expect(mapped).toMatchObject({ code, lowLevel, cause: err })
    expect(classify(mapped)).toBe('retry')
  })

  test('any other error without an answer is a FatalError with its own code', () => {
    const err = Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })
    expect(mapGcsError(err, where)).toMatchObject({ name: 'FatalError', code: 'DEPTH_ZERO_SELF_SIGNED_CERT', cause: err })
  })
})

describe('mapGcsCheckError', () => {
  test('a refused connection names the endpoint', () => {
    const mapped = mapGcsCheckError(errno('ECONNREFUSED'), where) as Error
    expect(mapped).toBeInstanceOf(EndpointUnreachableError)
    expect(mapped.message).toBe('Cannot reach http://127.0.0.1:1 (ECONNREFUSED): check STORAGE_EMULATOR_HOST if set, and the network')
  })

  test('an answer without the JSON API error body came from something that is not GCS', () => {
    const html = Object.assign(new Error('<html>404</html>'), { code: 404, errors: [], response: { statusCode: 404 } })
    const mapped = mapGcsCheckError(html, where) as Error
    expect(mapped).toBeInstanceOf(EndpointUnreachableError)
    expect(mapped.message).toMatch(/^http:\/\/127\.0\.0\.1:1 answered HTTP 404 without a Google Cloud Storage JSON API error/)
  })

  test('a 404 from GCS is a missing bucket', () => {
    expect(mapGcsCheckError(apiError(404, 'notFound', 'The specified bucket does not exist.'), where)).toBeInstanceOf(NoSuchBucketError)
  })

  test('a refused connection, mapped inside the retry, names the endpoint once the retries are spent', () => {
    expect(mapGcsCheckError(mapGcsError(errno('ECONNREFUSED'), where), where)).toBeInstanceOf(EndpointUnreachableError)
    const busy = mapGcsError(apiError(503, 'backendError', 'Backend Error'), where)
    expect(mapGcsCheckError(busy, where)).toBe(busy)
  })
})

describe('GcsProvider', () => {
  test('a body cut mid-way rejects its reader with a TransientError, a low-level fault', async () => {
    const server = await startCutServer()
    try {
      const provider = GcsProvider.create({ bucket: 'bkt', env: { STORAGE_EMULATOR_HOST: server.url } })
      const { body } = await provider.read('k', { signal: new AbortController().signal })
      const err = await text(body).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(TransientError)
      expect(err).toMatchObject({ code: 'ECONNRESET', lowLevel: true })
      provider.close()
    } finally {
      await server.stop()
    }
  })
})
