import { describe, expect, test } from 'vitest'
import { ThrottledError, TransientError } from '../../src/errors.js'
import { retryableAnswer, retryAfterSeconds, type StoreAnswer } from '../../src/providers/http-errors.js'

const answer = (status: number | undefined, over: Partial<StoreAnswer> = {}): StoreAnswer =>
  ({ status, code: 'Code', message: 'm', cause: undefined, ...over })

describe('retryableAnswer', () => {
  test.each<[string, StoreAnswer, (abstract new (...a: never[]) => Error) | undefined, boolean]>([
    ['a 429', answer(429), ThrottledError, true],
    ['a 503 whose code throttles (SlowDown)', answer(503, { throttled: true }), ThrottledError, true],
    ['a 403 whose code throttles (a GCS rate limit)', answer(403, { throttled: true }), ThrottledError, true],
    ['a plain 503: a store shedding load', answer(503), TransientError, true],
    ['a 500', answer(500), TransientError, false],
    ['a 502', answer(502), TransientError, false],
    ['a 504', answer(504), TransientError, false],
    ['a 408', answer(408), TransientError, false],
    ['a 400 whose code is worth another attempt (RequestTimeout)',
      answer(400, { retried: true, lowLevel: true }), TransientError, true],
    ['a 400 whose code is worth another attempt, not low-level (BadDigest)',
      answer(400, { retried: true }), TransientError, false],
    ['a 400', answer(400), undefined, false],
    ['a 404', answer(404), undefined, false],
    ['no status, no code', answer(undefined), undefined, false],
  ])('%s', (_, given, type, lowLevel) => {
    const err = retryableAnswer(given)
    if (type === undefined) return expect(err).toBeUndefined()
    expect(err).toBeInstanceOf(type)
    expect(err?.lowLevel).toBe(lowLevel)
    expect(err?.code).toBe('Code')
  })

  test('keeps the store\'s code, its message, the cause and the Retry-After', () => {
    const cause = new Error('raw')
    const message = 'Please reduce your request rate.'
    const err = retryableAnswer({ status: 503, code: 'SlowDown', message, retryAfter: '2', throttled: true, cause })
    expect(err).toMatchObject({ name: 'ThrottledError', code: 'SlowDown', message, retryAfterSeconds: 2, cause })
  })
})

describe('retryAfterSeconds', () => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')

  test.each<[string, string | undefined, number | undefined]>([
    ['seconds', '2', 2],
    ['fractional seconds', '0.5', 0.5],
    ['an HTTP date 5 s ahead', 'Wed, 21 Oct 2015 07:28:05 GMT', 5],
    ['an HTTP date in the past', 'Wed, 21 Oct 2015 07:27:00 GMT', 0],
    ['negative seconds', '-3', 0],
    ['garbage', 'soon', undefined],
    ['no header', undefined, undefined],
  ])('reads %s', (_label, raw, expected) => {
    expect(retryAfterSeconds(raw, now)).toBe(expected)
  })
})
