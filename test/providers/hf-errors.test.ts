import { describe, expect, test } from 'vitest'
import {
  AccessDeniedError, EndpointUnreachableError, FatalError, NoSuchBucketError, NotFoundError, SourceChangedError, ThrottledError,
  TransientError,
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

  test.each<[string, unknown, abstract new (...a: never[]) => Error, string, boolean, number | undefined]>([
    ['a 503', hubError(503), TransientError, 'HfHttpError', true, undefined],
    ['a 500', hubError(500), TransientError, 'HfHttpError', false, undefined],
    ['a 429 with Retry-After', hubError(429, undefined, undefined, '7'), ThrottledError, 'HfHttpError', true, 7],
    ['a 400', hubError(400, undefined, 'bad request'), FatalError, 'HfHttpError', false, undefined],
    ['a redirect loop, an error of the provider\'s own',
      new Error('more than 5 redirects'), FatalError, 'Error', false, undefined],
    ['an abort under a request',
      new DOMException('This operation was aborted', 'AbortError'), TransientError, 'AbortError', true, undefined],
  ])('%s: its class, code, budget and Retry-After', (_, raw, type, code, lowLevel, retryAfter) => {
    const err = mapHfError(raw, { ...anonymous, key: 'k' })
    expect(err).toBeInstanceOf(type)
    expect(err).toMatchObject({ message: (raw as Error).message, cause: raw })
    if (!(raw instanceof DOMException)) expect(err.code).toBe(code) // a DOMException's code is its legacy number
    if (err instanceof TransientError) expect(err).toMatchObject({ lowLevel, retryAfterSeconds: retryAfter })
  })

  test('a connection reset is a TransientError already, and passes', () => {
    const err = networkError(fetchFailed('ECONNRESET'), 'https://hub.example')
    expect(err).toBeInstanceOf(TransientError)
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
    expect(classify(mapHfError(err, { ...anonymous, key: 'k' }))).toBe(cls)
  })

  test('Retry-After of a 429 is a floor for the wait', () => {
    expect(retryAfterSeconds(mapHfError(hubError(429, undefined, undefined, '7'), anonymous))).toBe(7)
  })
})

describe('networkError', () => {
  test('gives the cause\'s code, time-outs as ETIMEDOUT, and names where', () => {
    const e = networkError(fetchFailed('ECONNREFUSED'), 'https://hub.example') as Error & { code: string }
    expect(e.code).toBe('ECONNREFUSED')
    expect(e.message).toBe('https://hub.example: fetch failed (ECONNREFUSED)')
    expect((networkError(fetchFailed('UND_ERR_CONNECT_TIMEOUT'), 'x') as { code: string }).code).toBe('ETIMEDOUT')
  })

  test.each<[string, abstract new (...a: never[]) => Error, boolean]>([
    ['ECONNRESET', TransientError, true],
    ['UND_ERR_SOCKET', TransientError, true],
    ['UND_ERR_HEADERS_TIMEOUT', TransientError, true],
    ['ECONNREFUSED', TransientError, false],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', FatalError, false],
  ])('a fetch that failed with %s is a TransientError or a FatalError, by its code', (code, type, lowLevel) => {
    const err = networkError(fetchFailed(code), 'x')
    expect(err).toBeInstanceOf(type)
    if (err instanceof TransientError) expect(err.lowLevel).toBe(lowLevel)
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
    expect(headed).toMatchObject({ status: 401, errorCode: 'RepoNotFound', serverMessage: 'Repository not found' })
    const bodyOnly = await HfHttpError.from(new Response('{"error":"Invalid rev id: x"}', { status: 404, headers: { 'retry-after': '3' } }))
    expect(bodyOnly.serverMessage).toBe('Invalid rev id: x')
    expect(bodyOnly.retryAfter).toBe('3')
    const limited = await HfHttpError.from(new Response('', { status: 429, headers: { ratelimit: '"resolvers";r=0;t=42', 'ratelimit-policy': '"fixed window";"resolvers";q=5000;w=300' } }))
    expect(retryAfterSeconds(mapHfError(limited, anonymous))).toBe(42)
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

  test('reads through what mapHfError made of the answer inside the retry', () => {
    expect(mapHfCheckError(mapHfError(hubError(404), anonymous), anonymous)).toBeInstanceOf(EndpointUnreachableError)
    const busy = mapHfError(hubError(503), anonymous)
    expect(mapHfCheckError(busy, anonymous)).toBe(busy)
  })
})
