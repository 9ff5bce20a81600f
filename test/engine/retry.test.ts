import { RestError } from '@azure/storage-blob'
import { describe, expect, test, vi } from 'vitest'
import { backoffSeconds, classify, isLowLevel, retryAfterSeconds, withRetry, type ErrorClass, type RetryPolicy } from '../../src/engine/retry.js'
import {
  AccessDeniedError, ChecksumMismatchError, NotFoundError, SizeMismatchError, SourceChangedError, StalledError, UnsafeKeyError, UsageError,
} from '../../src/errors.js'
import { mapAzureError } from '../../src/providers/azure/errors.js'
import { mapS3Error } from '../../src/providers/s3/errors.js'

// The retry policy reads soaker's classes only: the errors below are what the providers make of
// their clients' errors, an S3 one's through mapS3Error and an Azure one's through mapAzureError.

/** What an S3 request rejects with, from something shaped like the errors @aws-sdk/client-s3 throws. */
const s3 = (err: unknown): Error => mapS3Error(err, { bucket: 'b', key: 'k' })

function awsError(name: string, status: number, headers: Record<string, string> = {}): Error {
  const raw = Object.assign(new Error(`${name} (${status})`), { name, $metadata: { httpStatusCode: status }, $response: { headers } })
  return s3(raw)
}

function errnoError(code: string): Error {
  return s3(Object.assign(new Error(`connect ${code}`), { code }))
}

/** What an Azure request rejects with, from the error @azure/storage-blob rejects with for an HTTP error answer. */
function azureError(statusCode: number, headers: Record<string, string> = {}, code?: string): Error {
  // Only what mapAzureError reads of the response: its headers, by name.
  const response = { status: statusCode, headers: { get: (name: string) => headers[name.toLowerCase()] } }
  const raw = new RestError(`HTTP ${statusCode}`, { statusCode, code, response: response as never })
  return mapAzureError(raw, { container: 'box', key: 'k' })
}

describe('classify', () => {
  test.each<[string, unknown, ErrorClass]>([
    ['503 SlowDown', awsError('SlowDown', 503, { 'retry-after': '2' }), 'throttle'],
    ['429 TooManyRequests', awsError('TooManyRequests', 429), 'throttle'],
    ['429 with an unknown name', awsError('Whatever', 429), 'throttle'],
    ['a Throttling error without a status', s3(Object.assign(new Error('x'), { name: 'Throttling' })), 'throttle'],
    ['500 InternalError', awsError('InternalError', 500), 'retry'],
    ['502 BadGateway', awsError('BadGateway', 502), 'retry'],
    ['503 ServiceUnavailable', awsError('ServiceUnavailable', 503), 'retry'],
    ['504 GatewayTimeout', awsError('GatewayTimeout', 504), 'retry'],
    ['400 RequestTimeout', awsError('RequestTimeout', 400), 'retry'],
    ['ECONNRESET', errnoError('ECONNRESET'), 'retry'],
    ['ETIMEDOUT', errnoError('ETIMEDOUT'), 'retry'],
    ['socket hang up', s3(new Error('socket hang up')), 'retry'],
    ['a checksum mismatch', new ChecksumMismatchError('md5 differs'), 'retry'],
    ['a size mismatch', new SizeMismatchError('short read'), 'retry'],
    ['403 AccessDenied', awsError('AccessDenied', 403), 'fatal'],
    ['404 NoSuchKey', awsError('NoSuchKey', 404), 'fatal'],
    ['416 InvalidRange', awsError('InvalidRange', 416), 'fatal'],
    ['412 PreconditionFailed', awsError('PreconditionFailed', 412), 'fatal'],
    ['ENOSPC', errnoError('ENOSPC'), 'fatal'],
    ['a plain Error', new Error('something else'), 'fatal'],
    ['NotFoundError', new NotFoundError('gone'), 'fatal'],
    ['SourceChangedError', new SourceChangedError('etag changed'), 'fatal'],
    ['UnsafeKeyError', new UnsafeKeyError('bad key'), 'fatal'],
    ['AccessDeniedError', new AccessDeniedError('no'), 'fatal'],
    ['a SoakerError whose message looks retryable', new UsageError('socket hang up'), 'fatal'],
    ['undefined', undefined, 'fatal'],
    ['a string', 'ECONNRESET', 'fatal'],
    ['Azure 503 ServerBusy (a RestError)', azureError(503, {}, 'ServerBusy'), 'throttle'],
    ['Azure 503 without a code (a RestError)', azureError(503), 'retry'],
    ['Azure 500 InternalError (a RestError)', azureError(500), 'retry'],
    ['Azure 403 (a RestError)', azureError(403), 'fatal'],
  ])('%s is %s', (_label, err, expected) => {
    expect(classify(err)).toBe(expected)
  })
})

describe('retryAfterSeconds', () => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')

  test.each<[string, Record<string, string>, number | undefined]>([
    ['seconds', { 'retry-after': '2' }, 2],
    ['fractional seconds', { 'retry-after': '0.5' }, 0.5],
    ['seconds under the capitalised header name', { 'Retry-After': '7' }, 7],
    ['an HTTP date 5 s ahead', { 'retry-after': 'Wed, 21 Oct 2015 07:28:05 GMT' }, 5],
    ['an HTTP date in the past', { 'retry-after': 'Wed, 21 Oct 2015 07:27:00 GMT' }, 0],
    ['negative seconds', { 'retry-after': '-3' }, 0],
    ['garbage', { 'retry-after': 'soon' }, undefined],
    ['no header', {}, undefined],
  ])('reads %s', (_label, headers, expected) => {
    // The provider reads the header when it maps the error: an HTTP date counts from then.
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      vi.setSystemTime(now)
      expect(retryAfterSeconds(awsError('SlowDown', 503, headers))).toBe(expected)
    } finally {
      vi.useRealTimers()
    }
  })

  test('reads an Azure RestError\'s Retry-After', () => {
    expect(retryAfterSeconds(azureError(503, { 'retry-after': '4' }))).toBe(4)
  })

  test('is undefined for errors without a response', () => {
    expect(retryAfterSeconds(new Error('x'))).toBeUndefined()
    expect(retryAfterSeconds(undefined)).toBeUndefined()
  })
})

describe('backoffSeconds', () => {
  const policy: RetryPolicy = { retries: 10, baseDelay: 1, maxDelay: 30 }
  const plain = awsError('InternalError', 500)

  // Equal jitter: attempt n waits between half of and all of min(maxDelay, base * 2^n).
  test.each([
    [0, 0, 0.5],
    [0, 0.5, 0.75],
    [0, 0.999, 0.9995],
    [1, 0, 1],
    [3, 0, 4],
    [3, 0.999, 7.996],
    [4, 1, 16],
    [5, 0, 15],
    [10, 0, 15],
    [10, 1, 30],
  ])('attempt %i with random() = %d waits %d s', (attempt, r, expected) => {
    expect(backoffSeconds(policy, attempt, plain, () => r)).toBeCloseTo(expected, 9)
  })

  test('stays within [exp/2, exp] for random draws', () => {
    for (let attempt = 0; attempt < 8; attempt++) {
      const exp = Math.min(policy.maxDelay, policy.baseDelay * 2 ** attempt)
      for (let i = 0; i < 50; i++) {
        const d = backoffSeconds(policy, attempt, plain)
        expect(d).toBeGreaterThanOrEqual(exp / 2)
        expect(d).toBeLessThanOrEqual(exp)
      }
    }
  })

  test('a Retry-After longer than the backoff is a floor, even above maxDelay', () => {
    expect(backoffSeconds(policy, 0, awsError('SlowDown', 503, { 'retry-after': '2' }), () => 0)).toBe(2)
    expect(backoffSeconds(policy, 10, awsError('SlowDown', 503, { 'retry-after': '60' }), () => 1)).toBe(60)
  })

  test('a Retry-After shorter than the backoff does not shorten it', () => {
    expect(backoffSeconds(policy, 3, awsError('SlowDown', 503, { 'retry-after': '1' }), () => 0)).toBe(4)
  })
})

describe('withRetry', () => {
  const fast: RetryPolicy = { retries: 3, baseDelay: 0.001, maxDelay: 0.002 }

  /** A function that fails with each of `errors` in turn, then resolves with `value`. */
  function failing<T>(errors: unknown[], value: T): { fn: () => Promise<T>; calls: () => number } {
    let n = 0
    return {
      fn: async () => {
        const err = errors[n++]
        if (n <= errors.length) throw err
        return value
      },
      calls: () => n,
    }
  }

  test('retries retryable errors, then resolves with the value', async () => {
    const f = failing([awsError('InternalError', 500), errnoError('ECONNRESET')], 'ok')
    await expect(withRetry(fast, new AbortController().signal, f.fn)).resolves.toBe('ok')
    expect(f.calls()).toBe(3)
  })

  test('stops at a fatal error and rejects with it', async () => {
    const fatal = awsError('NoSuchKey', 404)
    const f = failing([awsError('InternalError', 500), fatal, awsError('InternalError', 500)], 'ok')
    await expect(withRetry(fast, new AbortController().signal, f.fn)).rejects.toBe(fatal)
    expect(f.calls()).toBe(2)
  })

  test('gives up after `retries` retries and rejects with the last error', async () => {
    const errors = [1, 2, 3, 4, 5].map((i) => awsError(`InternalError${i}`, 500))
    const f = failing(errors, 'ok')
    await expect(withRetry({ ...fast, retries: 2 }, new AbortController().signal, f.fn)).rejects.toBe(errors[2])
    expect(f.calls()).toBe(3)
  })

  test('with retries 0 it makes one attempt', async () => {
    const err = awsError('InternalError', 500)
    const f = failing([err], 'ok')
    await expect(withRetry({ ...fast, retries: 0 }, new AbortController().signal, f.fn)).rejects.toBe(err)
    expect(f.calls()).toBe(1)
  })

  test('calls onRetry before each wait with the error, its class, the attempt and the delay', async () => {
    const slow = awsError('SlowDown', 503)
    const broken = awsError('InternalError', 500)
    const f = failing([slow, broken], 42)
    const onRetry = vi.fn()
    await expect(withRetry(fast, new AbortController().signal, f.fn, { onRetry })).resolves.toBe(42)
    expect(onRetry.mock.calls.map((c) => [c[0], c[1], c[2]])).toEqual([[slow, 'throttle', 0], [broken, 'retry', 1]])
    for (const call of onRetry.mock.calls) {
      expect(call[3]).toBeGreaterThan(0)
      expect(call[3]).toBeLessThanOrEqual(fast.maxDelay)
    }
  })

  test('does not call onRetry for a fatal error or the last failure', async () => {
    const onRetry = vi.fn()
    await expect(withRetry({ ...fast, retries: 1 }, new AbortController().signal,
      failing([awsError('InternalError', 500), awsError('InternalError', 500)], 0).fn, { onRetry })).rejects.toThrow()
    expect(onRetry).toHaveBeenCalledTimes(1)
  })

  test('rejects with the abort reason as soon as the signal aborts during a wait', async () => {
    const controller = new AbortController()
    const reason = new Error('interrupted')
    const f = failing([awsError('InternalError', 500), awsError('InternalError', 500)], 'ok')
    const started = performance.now()
    const done = withRetry({ retries: 5, baseDelay: 60, maxDelay: 60 }, controller.signal, f.fn, {
      onRetry: () => setTimeout(() => controller.abort(reason), 5),
    })
    await expect(done).rejects.toBe(reason)
    expect(performance.now() - started).toBeLessThan(1000)
    expect(f.calls()).toBe(1)
  })

  test('rejects with the abort reason, not the error, when the signal aborted during the attempt', async () => {
    const controller = new AbortController()
    const reason = new Error('interrupted')
    const onRetry = vi.fn()
    const fn = async (): Promise<never> => {
      controller.abort(reason)
      throw awsError('InternalError', 500)
    }
    await expect(withRetry(fast, controller.signal, fn, { onRetry })).rejects.toBe(reason)
    expect(onRetry).not.toHaveBeenCalled()
  })

  test('a Retry-After from the server sets the wait (fake timers)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      const f = failing([awsError('SlowDown', 503, { 'retry-after': '30' })], 'ok')
      let settled = false
      const done = withRetry(fast, new AbortController().signal, f.fn).then((v) => { settled = true; return v })
      await vi.advanceTimersByTimeAsync(29_000)
      expect(settled).toBe(false)
      expect(f.calls()).toBe(1)
      await vi.advanceTimersByTimeAsync(1_000)
      await expect(done).resolves.toBe('ok')
      expect(f.calls()).toBe(2)
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('isLowLevel: faults of the exchange draw on --low-level-retries, answers on --retries', () => {
  test.each<[string, unknown, boolean]>([
    ['a reset connection', errnoError('ECONNRESET'), true],
    ['a body cut short', s3(Object.assign(new Error('premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' })), true],
    ['a stalled request', new StalledError('k: no bytes moved for 30s'), true],
    ['503 SlowDown', awsError('SlowDown', 503), true],
    ['a plain 503', awsError('ServiceUnavailable', 503), true],
    ['429', awsError('TooManyRequests', 429), true],
    ['a 500', awsError('InternalError', 500), false],
    ['a checksum mismatch', new ChecksumMismatchError('k: MD5 differs'), false],
    ['a refused connection: the endpoint cannot be reached', errnoError('ECONNREFUSED'), false],
    ['a fatal error', awsError('AccessDenied', 403), false],
  ])('%s → %s', (_label, err, expected) => {
    expect(isLowLevel(err)).toBe(expected)
  })

  const budgets: RetryPolicy = { retries: 1, lowLevelRetries: 5, baseDelay: 0.001, maxDelay: 0.002 }
  const failingWith = (errors: unknown[]): { fn: () => Promise<string>; calls: () => number } => {
    let n = 0
    return { fn: async () => { if (n++ < errors.length) throw errors[n - 1]; return 'ok' }, calls: () => n }
  }

  test('five resets in a row succeed within lowLevelRetries 5 although retries is 1', async () => {
    const f = failingWith(Array.from({ length: 5 }, () => errnoError('ECONNRESET')))
    await expect(withRetry(budgets, new AbortController().signal, f.fn)).resolves.toBe('ok')
    expect(f.calls()).toBe(6)
  })

  test('the two budgets are counted apart: resets do not use up the retries of 500s', async () => {
    const f = failingWith([errnoError('ECONNRESET'), awsError('InternalError', 500), errnoError('ECONNRESET'), errnoError('ECONNRESET')])
    await expect(withRetry(budgets, new AbortController().signal, f.fn)).resolves.toBe('ok')
    const g = failingWith([awsError('InternalError', 500), errnoError('ECONNRESET'), awsError('InternalError', 500)])
    await expect(withRetry(budgets, new AbortController().signal, g.fn)).rejects.toMatchObject({ code: 'InternalError' })
    expect(g.calls()).toBe(3)
  })

  test('a sixth reset fails the request', async () => {
    const f = failingWith(Array.from({ length: 6 }, () => errnoError('ECONNRESET')))
    await expect(withRetry(budgets, new AbortController().signal, f.fn)).rejects.toMatchObject({ code: 'ECONNRESET' })
    expect(f.calls()).toBe(6)
  })

  test('the first wait after a low-level fault is a tenth of the base delay, and doubles from there', async () => {
    const delays: number[] = []
    const f = failingWith([errnoError('ECONNRESET'), errnoError('ECONNRESET'), awsError('InternalError', 500)])
    const policy: RetryPolicy = { retries: 3, lowLevelRetries: 3, baseDelay: 0.2, maxDelay: 1 }
    await withRetry(policy, new AbortController().signal, f.fn, { onRetry: (_e, _c, _a, d) => delays.push(d) })
    expect(delays[0]).toBeGreaterThanOrEqual(0.01)
    expect(delays[0]).toBeLessThanOrEqual(0.02)
    expect(delays[1]).toBeGreaterThanOrEqual(0.02)
    expect(delays[1]).toBeLessThanOrEqual(0.04)
    expect(delays[2]).toBeGreaterThanOrEqual(0.2) // a 500 keeps the whole backoff (its third attempt overall)
  })
})
