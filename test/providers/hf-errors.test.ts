import { describe, expect, test } from 'vitest'
import {
  AccessDeniedError, EndpointUnreachableError, NoSuchBucketError, NotFoundError, SourceChangedError,
} from '../../src/errors.js'
import { classify, retryAfterSeconds } from '../../src/engine/retry.js'
import { HfHttpError, mapHfCheckError, mapHfError, networkError, type HfWhere } from '../../src/providers/hf/errors.js'

const anonymous: HfWhere = { repo: 'hf://owner/repo', revision: 'main', endpoint: 'https://hub.example', anonymous: true }
const withToken: HfWhere = { ...anonymous, anonymous: false }
const hubError = (status: number, errorCode?: string, message?: string, retryAfter?: string): HfHttpError =>
  new HfHttpError(status, errorCode, message, 'https://hub.example/api/models/owner/repo/revision/main', retryAfter)
/** What fetch throws when the connection fails: the reason hides in `cause`. */
const fetchFailed = (code: string, message = 'fetch failed'): TypeError => new TypeError(message, { cause: Object.assign(new Error(code), { code }) })

describe('mapHfError', () => {
  test.each<[string, HfHttpError, HfWhere, abstract new (...a: never[]) => Error, string]>([
    ['a missing (or private) repository, anonymous: 401 RepoNotFound', hubError(401, 'RepoNotFound'), anonymous, NoSuchBucketError,
      'Repository hf://owner/repo does not exist at https://hub.example, or it is private: set HF_TOKEN to a token that can read it'],
    ['a missing repository with a token: 404 RepoNotFound', hubError(404, 'RepoNotFound'), withToken, NoSuchBucketError,
      'Repository hf://owner/repo does not exist at https://hub.example, or HF_TOKEN cannot read it'],
    ['a missing revision', hubError(404, 'RevisionNotFound', 'Invalid rev id: v9'), { ...anonymous, repo: 'hf://owner/repo@v9', revision: 'v9' }, NoSuchBucketError,
      'Revision `v9` does not exist in hf://owner/repo@v9 at https://hub.example (a branch, tag or commit)'],
    ['a missing file', hubError(404, 'EntryNotFound'), { ...anonymous, key: 'a/b.txt' }, NotFoundError, 'No file at hf://owner/repo/a/b.txt (revision main)'],
    ['a gated repository, anonymous', hubError(401, 'GatedRepo'), { ...anonymous, key: 'w.bin' }, AccessDeniedError,
      'hf://owner/repo is gated: accept its conditions on https://hub.example and set HF_TOKEN to a token of that account'],
    ['a gated repository, a token not granted', hubError(403, 'GatedRepo'), { ...withToken, key: 'w.bin' }, AccessDeniedError,
      'hf://owner/repo is gated: accept its conditions on https://hub.example and check that HF_TOKEN belongs to that account'],
    ['a token the Hub does not know', hubError(401, undefined, 'Invalid credentials in Authorization header'), withToken, AccessDeniedError,
      'https://hub.example refused HF_TOKEN for hf://owner/repo (Invalid credentials in Authorization header): check the token'],
    ['a 401 without a token', hubError(401), { ...anonymous, key: 'k' }, AccessDeniedError,
      'https://hub.example refused anonymous access to hf://owner/repo/k: set HF_TOKEN to a token that can read it'],
    ['a 403 of another kind', hubError(403, undefined, 'disabled'), withToken, AccessDeniedError,
      'Access denied to hf://owner/repo at https://hub.example (disabled): check the permissions of HF_TOKEN'],
  ])('%s', (_, err, where, type, message) => {
    const mapped = mapHfError(err, where) as Error
    expect(mapped).toBeInstanceOf(type)
    expect(mapped.message).toBe(message)
    expect(mapped.cause).toBe(err)
  })

  test.each([
    ['a 503', hubError(503)],
    ['a 429', hubError(429)],
    ['a connection reset', networkError(fetchFailed('ECONNRESET'), 'https://hub.example')],
  ])('%s passes through for the retry policy', (_, err) => {
    expect(mapHfError(err, { ...anonymous, key: 'k' })).toBe(err)
  })

  test('SoakerErrors pass through', () => {
    const err = new SourceChangedError('x')
    expect(mapHfError(err, anonymous)).toBe(err)
  })
})

describe('the retry policy classifies Hub failures as it does S3 ones', () => {
  test.each<[string, unknown, string]>([
    ['503', hubError(503), 'retry'],
    ['502', hubError(502), 'retry'],
    ['429', hubError(429, undefined, undefined, '7'), 'throttle'],
    ['404 EntryNotFound', hubError(404, 'EntryNotFound'), 'fatal'],
    ['a refused connection', networkError(fetchFailed('ECONNREFUSED'), 'x'), 'retry'],
    ['a socket closed mid-body', networkError(new TypeError('terminated', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) }), 'x'), 'retry'],
    ['a headers time-out', networkError(fetchFailed('UND_ERR_HEADERS_TIMEOUT'), 'x'), 'retry'],
  ])('%s → %s', (_, err, cls) => {
    expect(classify(err)).toBe(cls)
  })

  test('Retry-After of a 429 is a floor for the wait', () => {
    expect(retryAfterSeconds(hubError(429, undefined, undefined, '7'))).toBe(7)
  })
})

describe('networkError', () => {
  test('gives the cause\'s code, time-outs as ETIMEDOUT, and names where', () => {
    const e = networkError(fetchFailed('ECONNREFUSED'), 'https://hub.example') as Error & { code: string }
    expect(e.code).toBe('ECONNREFUSED')
    expect(e.message).toBe('https://hub.example: fetch failed (ECONNREFUSED)')
    expect((networkError(fetchFailed('UND_ERR_CONNECT_TIMEOUT'), 'x') as { code: string }).code).toBe('ETIMEDOUT')
  })

  test('leaves aborts and other errors alone', () => {
    const abort = new DOMException('aborted', 'AbortError')
    expect(networkError(abort, 'x')).toBe(abort)
    const plain = new Error('x')
    expect(networkError(plain, 'x')).toBe(plain)
  })
})

describe('HfHttpError.from', () => {
  test('reads X-Error-Code, X-Error-Message, Retry-After (or the reset of the Hub\'s RateLimit header), and a JSON error when the header is absent', async () => {
    const headed = await HfHttpError.from(new Response('{"error":"Repository not found"}', {
      status: 401, headers: { 'x-error-code': 'RepoNotFound', 'x-error-message': 'Repository not found', 'content-type': 'application/json' },
    }))
    expect(headed).toMatchObject({ status: 401, errorCode: 'RepoNotFound', serverMessage: 'Repository not found', $metadata: { httpStatusCode: 401 } })
    const bodyOnly = await HfHttpError.from(new Response('{"error":"Invalid rev id: x"}', { status: 404, headers: { 'retry-after': '3' } }))
    expect(bodyOnly.serverMessage).toBe('Invalid rev id: x')
    expect(bodyOnly.$response.headers['retry-after']).toBe('3')
    const limited = await HfHttpError.from(new Response('', { status: 429, headers: { ratelimit: '"resolvers";r=0;t=42', 'ratelimit-policy': '"fixed window";"resolvers";q=5000;w=300' } }))
    expect(retryAfterSeconds(limited)).toBe(42)
    const html = await HfHttpError.from(new Response('<html>nope</html>', { status: 502, headers: { 'content-type': 'text/html' } }))
    expect(html.serverMessage).toBeUndefined()
  })
})

describe('mapHfCheckError', () => {
  test('a refused connection names the endpoint', () => {
    const mapped = mapHfCheckError(networkError(fetchFailed('ECONNREFUSED'), 'x'), anonymous) as Error
    expect(mapped).toBeInstanceOf(EndpointUnreachableError)
    expect(mapped.message).toBe('Cannot reach https://hub.example (ECONNREFUSED): check HF_ENDPOINT and the network')
  })

  test('a 404 without X-Error-Code came from something that is not a Hub', () => {
    expect(mapHfCheckError(hubError(404), anonymous)).toBeInstanceOf(EndpointUnreachableError)
    expect(mapHfCheckError(hubError(404, 'RepoNotFound'), anonymous)).toBeInstanceOf(NoSuchBucketError)
  })
})
