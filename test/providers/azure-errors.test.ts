import { describe, expect, test } from 'vitest'
import {
  AccessDeniedError, EndpointUnreachableError, NoSuchBucketError, NotFoundError, SourceChangedError,
} from '../../src/errors.js'
import { mapAzureCheckError, mapAzureError } from '../../src/providers/azure/errors.js'

/** A RestError as @azure/storage-blob builds it: `code` from the body, `details.errorCode` from x-ms-error-code. */
function restError(statusCode: number | undefined, errorCode?: string, options: { code?: string; requestId?: boolean } = {}): Error {
  const headers = new Map<string, string>(options.requestId === false ? [] : [['x-ms-request-id', 'r-1']])
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

  test.each([
    ['a server error', restError(503, 'ServerBusy')],
    ['a connection reset', restError(undefined, undefined, { code: 'ECONNRESET' })],
  ])('%s passes through for the retry policy', (_, err) => {
    expect(mapAzureError(err, { ...where, key: 'k' })).toBe(err)
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
})
