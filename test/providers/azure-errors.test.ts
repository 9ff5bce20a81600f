import { text } from 'node:stream/consumers'
import { describe, expect, test } from 'vitest'
import {
  AccessDeniedError, EndpointUnreachableError, FatalError, NoSuchBucketError, NotFoundError, SourceChangedError, ThrottledError,
  TransientError,
} from '../../src/errors.js'
import { classify } from '../../src/engine/retry.js'
import { AzureProvider } from '../../src/providers/azure/azure-provider.js'
import { mapAzureCheckError, mapAzureError } from '../../src/providers/azure/errors.js'
import { azuriteAccount, azuriteKey } from '../../scripts/support/azurite.js'
import { startCutServer } from '../support/cut-server.js'

/** A RestError as @azure/storage-blob builds it: `code` from the body, `details.errorCode` from x-ms-error-code. */
function restError(statusCode: number | undefined, errorCode?: string,
  options: { code?: string; requestId?: boolean; headers?: Record<string, string> } = {}): Error {
  const requestId = options.requestId === false ? {} : { 'x-ms-request-id': 'r-1' }
  const headers = new Map(Object.entries({ ...requestId, ...options.headers }))
  return Object.assign(new Error(errorCode ?? options.code ?? 'error'), {
    name: 'RestError', statusCode, code: options.code, details: errorCode ? { errorCode } : undefined,
    response: statusCode === undefined ? undefined : { headers: { get: (n: string) => headers.get(n) } },
  })
}

const where = { container: 'box', endpoint: 'http://127.0.0.1:1/acct' }

describe('mapAzureError', () => {
  test.each<[string, Error, string | undefined, abstract new (...a: never[]) => Error, RegExp]>([
    ['a HEAD on a missing blob (code only in the header)', restError(404, 'BlobNotFound'), 'k', NotFoundError, /^No blob at az:\/\/box\/k$/],
    ['a blob in a missing container', restError(404, 'ContainerNotFound'), 'k', NoSuchBucketError, /^Container `box` does not exist at http:\/\/127\.0\.0\.1:1\/acct$/],
    ['a 404 on the container itself', restError(404), undefined, NoSuchBucketError, /Container `box`/],
    ['If-Match failing', restError(412, 'ConditionNotMet'), 'k', SourceChangedError, /az:\/\/box\/k changed/],
    ['a wrong account key', restError(403, 'AuthenticationFailed'), undefined, AccessDeniedError, /Access denied to az:\/\/box \(AuthenticationFailed\)/],
    ['a SAS without the permission', restError(403, 'AuthorizationPermissionMismatch'), 'k', AccessDeniedError, /AuthorizationPermissionMismatch/],
  ])('%s', (_, err, key, type, message) => {
    const mapped = mapAzureError(err, { ...where, key }) as Error
    expect(mapped).toBeInstanceOf(type)
    expect(mapped.message).toMatch(message)
    expect(mapped.cause).toBe(err)
  })

  test.each<[string, Error, abstract new (...a: never[]) => Error, string, boolean, number | undefined]>([
    ['a server error: 503 ServerBusy, with Retry-After',
      restError(503, 'ServerBusy', { code: 'ServerBusy', headers: { 'retry-after': '4' } }), ThrottledError, 'ServerBusy', true, 4],
    ['ServerBusy known by its x-ms-error-code only (a HEAD)',
      restError(503, 'ServerBusy'), ThrottledError, 'RestError', true, undefined],
    ['OperationTimedOut',
      restError(500, 'OperationTimedOut', { code: 'OperationTimedOut' }), ThrottledError, 'OperationTimedOut', true, undefined],
    ['a 429', restError(429, undefined, { code: 'TooManyRequests' }), ThrottledError, 'TooManyRequests', true, undefined],
    ['a 503 without a code', restError(503), TransientError, 'RestError', true, undefined],
    ['a 500 InternalError',
      restError(500, 'InternalError', { code: 'InternalError' }), TransientError, 'InternalError', false, undefined],
    ['a connection reset',
      restError(undefined, undefined, { code: 'ECONNRESET' }), TransientError, 'ECONNRESET', true, undefined],
    ['a refused connection',
      restError(undefined, undefined, { code: 'ECONNREFUSED' }), TransientError, 'ECONNREFUSED', false, undefined],
    ['a body aborted mid-way (the SDK\'s AbortError)',
      Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' }), TransientError, 'AbortError', true, undefined],
    ['a 400 InvalidHeaderValue',
      restError(400, 'InvalidHeaderValue', { code: 'InvalidHeaderValue' }), FatalError, 'InvalidHeaderValue', false, undefined],
  ])('%s: its class, code, budget and Retry-After', (_, raw, type, code, lowLevel, retryAfter) => {
    const err = mapAzureError(raw, { ...where, key: 'k' })
    expect(err).toBeInstanceOf(type)
    expect(err).toMatchObject({ code, message: raw.message, cause: raw })
    if (err instanceof TransientError) expect(err).toMatchObject({ lowLevel, retryAfterSeconds: retryAfter })
  })

  test('a 403 is fatal; Azure\'s throttling and 5xx are retried', () => {
    expect(classify(mapAzureError(restError(403), where))).toBe('fatal')
    expect(classify(mapAzureError(restError(503, 'ServerBusy'), where))).toBe('throttle')
    expect(classify(mapAzureError(restError(500), where))).toBe('retry')
  })
})

describe('mapAzureCheckError', () => {
  test('a refused connection names the endpoint', () => {
    const mapped = mapAzureCheckError(restError(undefined, undefined, { code: 'ECONNREFUSED' }), 'box', where.endpoint) as Error
    expect(mapped).toBeInstanceOf(EndpointUnreachableError)
    expect(mapped.message).toBe('Cannot reach http://127.0.0.1:1/acct (ECONNREFUSED): check the account name or BlobEndpoint and the network')
  })

  test('an answer without x-ms-request-id came from something that is not Azure Storage', () => {
    const mapped = mapAzureCheckError(restError(404, undefined, { requestId: false }), 'box', where.endpoint) as Error
    expect(mapped).toBeInstanceOf(EndpointUnreachableError)
    expect(mapped.message).toMatch(/answered HTTP 404 without Azure Storage's x-ms-request-id header/)
  })

  test('a 404 from Azure Storage is a missing container', () => {
    expect(mapAzureCheckError(restError(404, 'ContainerNotFound'), 'box', where.endpoint)).toBeInstanceOf(NoSuchBucketError)
  })

  test('reads through what mapAzureError made of the error inside the retry', () => {
    const refused = mapAzureError(restError(undefined, undefined, { code: 'ECONNREFUSED' }), where)
    expect(mapAzureCheckError(refused, 'box', where.endpoint)).toBeInstanceOf(EndpointUnreachableError)
    const foreign = mapAzureError(restError(502, undefined, { requestId: false }), where)
    expect(mapAzureCheckError(foreign, 'box', where.endpoint)).toBeInstanceOf(EndpointUnreachableError)
    const busy = mapAzureError(restError(503, 'ServerBusy'), where)
    expect(mapAzureCheckError(busy, 'box', where.endpoint)).toBe(busy)
  })
})

describe('AzureProvider', () => {
  test('a body cut mid-way rejects its reader with a TransientError, a low-level fault', async () => {
    const server = await startCutServer({ 'x-ms-request-id': 'r-1', etag: '"0x8DB"' })
    const endpoint = `${server.url}/${azuriteAccount}`
    const connection = `DefaultEndpointsProtocol=http;AccountName=${azuriteAccount};AccountKey=${azuriteKey};BlobEndpoint=${endpoint};`
    try {
      const provider = AzureProvider.fromConnectionString(connection, 'box')
      const { body } = await provider.read('k', { signal: new AbortController().signal })
      const err = await text(body).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(TransientError)
      expect(err).toMatchObject({ code: 'AbortError', lowLevel: true })
    } finally {
      await server.stop()
    }
  })
})
