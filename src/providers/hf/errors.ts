import {
  AccessDeniedError, EndpointUnreachableError, errorCode, errorMessage, FatalError, NoSuchBucketError, NotFoundError,
  SoakerError,
} from '../../errors.js'
import { retryableAnswer } from '../http-errors.js'
import { networkFault } from '../network-errors.js'

/**
 * A Hub answer that is not a success, as the provider reads it; mapHfError makes it a soaker
 * error. `errorCode` is the Hub's X-Error-Code header (RepoNotFound, RevisionNotFound,
 * EntryNotFound, GatedRepo), the only reliable way to tell a missing repository from a missing
 * file: both are 404.
 */
export class HfHttpError extends Error {
  override readonly name = 'HfHttpError'

  constructor(
    readonly status: number,
    readonly errorCode: string | undefined,
    /** The Hub's own words: X-Error-Message, or the body's `error`. */
    readonly serverMessage: string | undefined,
    /** The request URL without its query (a CDN URL's query is a signature). */
    readonly url: string,
    /** Its Retry-After header (seconds or an HTTP date), or the reset of its RateLimit header in seconds. */
    readonly retryAfter?: string,
  ) {
    super(`HTTP ${status}${errorCode ? ` ${errorCode}` : ''}${serverMessage ? `: ${serverMessage}` : ''} (${url})`)
  }

  /** Reads the error out of a response, consuming its body (at most a few KiB of it matter). */
  static async from(res: Response): Promise<HfHttpError> {
    let serverMessage = res.headers.get('x-error-message') ?? undefined
    const text = await res.text().catch(() => '')
    if (serverMessage === undefined && text) {
      try {
        const json = JSON.parse(text) as { error?: unknown }
        if (typeof json.error === 'string') serverMessage = json.error
      } catch {
        if (!/html/i.test(res.headers.get('content-type') ?? '')) serverMessage = text.slice(0, 200).trim() || undefined
      }
    }
    const retryAfter = res.headers.get('retry-after') ?? rateLimitReset(res.headers.get('ratelimit'))
    return new HfHttpError(res.status, res.headers.get('x-error-code') ?? undefined, serverMessage, withoutQuery(res.url), retryAfter)
  }
}

/**
 * Seconds until the Hub's rate limit window resets, from its `RateLimit: "api";r=0;t=55` header
 * (the IETF draft's form, as huggingface_hub reads it), for a 429 without Retry-After.
 */
function rateLimitReset(header: string | null): string | undefined {
  return /"\w+"\s*;\s*r\s*=\s*\d+\s*;\s*t\s*=\s*(\d+)/.exec(header ?? '')?.[1]
}

const withoutQuery = (url: string): string => url.replace(/[?#].*$/s, '')

// undici's names for its time-outs are not errno codes; networkFault knows ETIMEDOUT.
const undiciTimeouts = ['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']

/**
 * fetch rejects with `TypeError: fetch failed` (or a body read with `TypeError: terminated`) and
 * hides the reason in `cause`. The error returned is a TransientError (ECONNRESET, ECONNREFUSED,
 * UND_ERR_SOCKET and the like) or a FatalError with that reason as its code. Other errors
 * (aborts) pass, for mapHfError.
 */
export function networkError(err: unknown, where: string): unknown {
  const e = err as { name?: string; cause?: { code?: string; errors?: Array<{ code?: string }> } } | undefined
  if (!(err instanceof TypeError) || e?.cause === undefined) return err
  const raw = e.cause.code ?? e.cause.errors?.[0]?.code ?? 'UND_ERR_SOCKET'
  const code = undiciTimeouts.includes(raw) ? 'ETIMEDOUT' : raw
  const coded = Object.assign(new Error(`${where}: ${err.message} (${code})`, { cause: err }), { code })
  return networkFault(coded) ?? new FatalError(coded.message, { code, cause: err })
}

export interface HfWhere {
  /** `hf://owner/repo[@revision]`, as messages name the repository. */
  repo: string
  revision: string
  /** For messages: HF_ENDPOINT or https://huggingface.co. */
  endpoint: string
  /** No token was given: a private repository looks missing to an anonymous caller. */
  anonymous: boolean
  key?: string
}

const setToken = 'set HF_TOKEN to a token that can read it'

/**
 * Turns anything a request to the Hub rejects with into a SoakerError: the answers that mean
 * something to the user into their own classes, 429 into ThrottledError, 5xx and network faults
 * (resets, aborts) into TransientError, and the rest into FatalError. The code recorded is the
 * one recorded before these classes: `HfHttpError` for an answer, the errno code for a fault.
 * A token never reaches a message: none is part of a URL or of the Hub's answers.
 */
export function mapHfError(err: unknown, where: HfWhere): SoakerError {
  if (err instanceof SoakerError) return err
  if (!(err instanceof HfHttpError)) {
    return networkFault(err) ?? new FatalError(errorMessage(err), { code: errorCode(err), cause: err })
  }
  const { status } = err
  const at = ` at ${where.endpoint}`
  const file = where.key !== undefined ? `${where.repo}/${where.key}` : where.repo
  if (err.errorCode === 'RepoNotFound') {
    // The Hub answers 401 (anonymous) or 404 (with a token) alike for a missing and a private repository.
    const hint = where.anonymous ? `, or it is private: ${setToken}` : ', or HF_TOKEN cannot read it'
    return new NoSuchBucketError(`Repository ${where.repo} does not exist${at}${hint}`, { cause: err })
  }
  if (err.errorCode === 'RevisionNotFound') {
    return new NoSuchBucketError(`Revision \`${where.revision}\` does not exist in ${where.repo}${at} (a branch, tag or commit)`, { cause: err })
  }
  if (err.errorCode === 'GatedRepo') {
    return new AccessDeniedError(`${where.repo} is gated: accept its conditions on ${where.endpoint} and ${where.anonymous ? 'set HF_TOKEN to a token of that account' : 'check that HF_TOKEN belongs to that account'}`, { cause: err })
  }
  if (err.errorCode === 'EntryNotFound' || (status === 404 && where.key !== undefined)) {
    return new NotFoundError(`No file at ${file} (revision ${where.revision})`, { cause: err })
  }
  if (status === 401) {
    return where.anonymous
      ? new AccessDeniedError(`${where.endpoint} refused anonymous access to ${file}: ${setToken}`, { cause: err })
      : new AccessDeniedError(`${where.endpoint} refused HF_TOKEN for ${file}${err.serverMessage ? ` (${err.serverMessage})` : ''}: check the token`, { cause: err })
  }
  if (status === 403) {
    return new AccessDeniedError(`Access denied to ${file}${at}${err.serverMessage ? ` (${err.serverMessage})` : ''}: ${where.anonymous ? setToken : 'check the permissions of HF_TOKEN'}`, { cause: err })
  }
  const code = errorCode(err)
  return retryableAnswer({ status, code, message: err.message, retryAfter: err.retryAfter, cause: err })
    ?? new FatalError(err.message, { code, cause: err })
}

/** The Hub's answer `err` is, or that mapHfError made it from. */
function hubAnswer(err: unknown): HfHttpError | undefined {
  const raw = err instanceof SoakerError ? err.cause : err
  return raw instanceof HfHttpError ? raw : undefined
}

/**
 * For the first call to the Hub, after its retries: connection failures and non-Hub answers
 * become one clear error. `err` is what mapHfError made of the failure, or the failure itself.
 */
export function mapHfCheckError(err: unknown, where: HfWhere): SoakerError {
  const answer = hubAnswer(err)
  if (answer?.status === 404 && answer.errorCode === undefined) {
    // Every "not found" of the Hub carries X-Error-Code; without it something else answered.
    return new EndpointUnreachableError(`${where.endpoint} answered HTTP 404 without the Hub's X-Error-Code header: is HF_ENDPOINT a Hugging Face Hub?`, { cause: answer })
  }
  const code = errorCode(err)
  if (answer === undefined && /^(E[A-Z]+|UND_ERR_\w+)$/.test(code)) {
    return new EndpointUnreachableError(`Cannot reach ${where.endpoint} (${code}): check HF_ENDPOINT and the network`, { cause: err })
  }
  return mapHfError(err, where)
}
