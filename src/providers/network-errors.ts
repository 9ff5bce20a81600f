import type { Readable } from 'node:stream'
import { errorCode, errorMessage, SoakerError, TransientError } from '../errors.js'

// A connection that could not be made or broke: another attempt may get through.
const retryCodes = [
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN',
  'ENOTFOUND', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET',
]
// Faults of the exchange rather than answers about the request: a connection cut or gone quiet
// mid-way. They strike at random, so they draw on the low-level budget. Connections that cannot
// be made at all (ECONNREFUSED, ENOTFOUND) are not among them: an endpoint that cannot be
// reached should fail within --retries.
const lowLevelCodes = ['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']
// A request that timed out, or was aborted under it: the names Node, fetch and the SDKs give.
const lowLevelNames = ['TimeoutError', 'AbortError']
// Sockets that die mid-body surface as plain errors with these messages.
const cutShort = /socket hang up|aborted|premature close|ECONNRESET/i

/**
 * A failure of the connection rather than an answer (an errno code, a time-out, a body cut
 * short) as a TransientError with the failure's code; undefined for any other error.
 */
export function networkFault(err: unknown): TransientError | undefined {
  const e = err as { name?: unknown; code?: unknown; message?: unknown } | null | undefined
  const code = typeof e?.code === 'string' ? e.code : ''
  const name = typeof e?.name === 'string' ? e.name : ''
  const cut = typeof e?.message === 'string' && cutShort.test(e.message)
  const lowLevel = cut || lowLevelCodes.includes(code) || lowLevelNames.includes(name)
  if (!lowLevel && !retryCodes.includes(code)) return undefined
  return new TransientError(errorMessage(err), { code: errorCode(err), lowLevel, cause: err })
}

/**
 * `body`, whose failures mid-way (a reset, a cut, an abort) reach its reader as `map` makes
 * them: the provider's classes, whatever its client surfaced. Readers iterate a body, so its
 * iterator is wrapped: the body stays the one stream, and destroying it (a stall, a reader that
 * stops early) frees its connection. (A PassThrough in between cost a stream hop per chunk: 6
 * CPU-s more over the 4 GiB of the bench's S1, where throttled connections deliver small chunks.)
 */
export function mappedBody(body: Readable, map: (err: unknown) => SoakerError): Readable {
  const iterate = body[Symbol.asyncIterator].bind(body)
  body[Symbol.asyncIterator] = async function* () {
    try {
      yield* iterate()
    } catch (err) {
      throw err instanceof SoakerError ? err : map(err)
    }
  }
  return body
}
