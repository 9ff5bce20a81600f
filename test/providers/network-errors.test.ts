import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { describe, expect, test } from 'vitest'
import { FatalError, StalledError, TransientError } from '../../src/errors.js'
import { mappedBody, networkFault } from '../../src/providers/network-errors.js'

const errno = (code: string, message = `read ${code}`): Error => Object.assign(new Error(message), { code })

describe('networkFault', () => {
  test.each<[string, unknown, string, boolean]>([
    ['a reset connection', errno('ECONNRESET'), 'ECONNRESET', true],
    ['a body cut short', errno('ERR_STREAM_PREMATURE_CLOSE', 'Premature close'), 'ERR_STREAM_PREMATURE_CLOSE', true],
    ['undici\'s socket closed mid-body', errno('UND_ERR_SOCKET', 'other side closed'), 'UND_ERR_SOCKET', true],
    ['a broken pipe', errno('EPIPE'), 'EPIPE', true],
    ['a connection time-out', errno('ETIMEDOUT'), 'ETIMEDOUT', true],
    ['a refused connection: the endpoint cannot be reached, which --retries judges',
      errno('ECONNREFUSED', 'connect ECONNREFUSED'), 'ECONNREFUSED', false],
    ['a name that does not resolve', errno('ENOTFOUND', 'getaddrinfo ENOTFOUND'), 'ENOTFOUND', false],
    ['a DNS failure for now', errno('EAI_AGAIN'), 'EAI_AGAIN', false],
    ['an SDK\'s time-out', Object.assign(new Error('timed out'), { name: 'TimeoutError' }), 'TimeoutError', true],
    ['an abort under the request',
      Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' }), 'AbortError', true],
    ['a socket that hung up, named by its message only', new Error('socket hang up'), 'Error', true],
  ])('%s is a TransientError', (_, err, code, lowLevel) => {
    const mapped = networkFault(err)
    expect(mapped).toBeInstanceOf(TransientError)
    expect(mapped).toMatchObject({ code, lowLevel, message: (err as Error).message, cause: err })
  })

  test.each<[string, unknown]>([
    ['a full disk', errno('ENOSPC')],
    ['a plain error', new Error('something else')],
    ['a string', 'ECONNRESET'],
    ['undefined', undefined],
  ])('%s is not a network fault', (_, err) => {
    expect(networkFault(err)).toBeUndefined()
  })
})

describe('mappedBody', () => {
  const map = (err: unknown): TransientError | FatalError => networkFault(err) ?? new FatalError('other', { cause: err })

  /** A body that sends `chunks`, then fails with `err` (or ends, without one). */
  function body(chunks: string[], err?: Error): Readable {
    const source = new Readable({ read() {} })
    for (const c of chunks) source.push(c)
    setImmediate(() => (err ? source.destroy(err) : source.push(null)))
    return source
  }

  test('passes the bytes of a body that ends', async () => {
    expect(await text(mappedBody(body(['ab', 'cd']), map))).toBe('abcd')
  })

  test('a body reset mid-way rejects its reader with what `map` makes of the error', async () => {
    const err = await text(mappedBody(body(['ab'], errno('ECONNRESET', 'aborted')), map)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TransientError)
    expect(err).toMatchObject({ code: 'ECONNRESET', lowLevel: true })
  })

  test('a body closed before its end rejects as cut short', async () => {
    const source = new Readable({ read() {} })
    source.push('ab')
    setImmediate(() => source.destroy())
    const err = await text(mappedBody(source, map)).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'TransientError', code: 'ERR_STREAM_PREMATURE_CLOSE', lowLevel: true })
  })

  test('destroying the result (a stall) destroys the body and rejects the reader with the stall', async () => {
    const source = new Readable({ read() {} })
    const out = mappedBody(source, map)
    const reading = text(out).catch((e: unknown) => e)
    const stalled = new StalledError('k: no bytes moved for 30s; the request was cancelled')
    out.destroy(stalled)
    expect(await reading).toBe(stalled)
    expect(source.destroyed).toBe(true)
  })
})
