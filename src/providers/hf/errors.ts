import {
  AccessDeniedError, EndpointUnreachableError, NoSuchBucketError, NotFoundError, SoakerError,
} from '../../errors.js'

/**
 * A Hub answer that is not a success, shaped like the AWS SDK's errors (`$metadata`,
 * `$response.headers`) so that the retry policy classifies 429 and 5xx alike for every store.
 * `errorCode` is the Hub's X-Error-Code header (RepoNotFound, RevisionNotFound, EntryNotFound,
 * GatedRepo), the only reliable way to tell a missing repository from a missing file: both are 404.
 */
export class HfHttpError extends Error {
  override readonly name = 'HfHttpError'
  readonly $metadata: { httpStatusCode: number }
  readonly $response: { headers: Record<string, string | undefined> }

  constructor(
    readonly status: number,
    readonly errorCode: string | undefined,
    /** The Hub's own words: X-Error-Message, or the body's `error`. */
    readonly serverMessage: string | undefined,
    /** The request URL without its query (a CDN URL's query is a signature). */
    readonly url: string,
    retryAfter?: string,
  ) {
    super(`HTTP ${status}${errorCode ? ` ${errorCode}` : ''}${serverMessage ? `: ${serverMessage}` : ''} (${url})`)
    this.$metadata = { httpStatusCode: status }
    this.$response = { headers: { 'retry-after': retryAfter } }
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

// undici's names for its time-outs are not errno codes; the retry policy knows ETIMEDOUT.
const undiciTimeouts = ['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']

/**
 * fetch rejects with `TypeError: fetch failed` (or a body read with `TypeError: terminated`) and
 * hides the reason in `cause`. The error returned carries that reason as its `code`, where the
 * retry policy looks for ECONNRESET, ECONNREFUSED, UND_ERR_SOCKET and the like. Aborts pass.
 */
export function networkError(err: unknown, where: string): unknown {
  const e = err as { name?: string; cause?: { code?: string; errors?: Array<{ code?: string }> } } | undefined
  if (!(err instanceof TypeError) || e?.cause === undefined) return err
  const raw = e.cause.code ?? e.cause.errors?.[0]?.code ?? 'UND_ERR_SOCKET'
  const code = undiciTimeouts.includes(raw) ? 'ETIMEDOUT' : raw
  return Object.assign(new Error(`${where}: ${err.message} (${code})`, { cause: err }), { code })
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
 * Turns the Hub's answers that mean something to the user into SoakerErrors; everything else
 * (429, 5xx, resets, aborts) passes through untouched for the retry policy to classify.
 * A token never reaches a message: none is part of a URL or of the Hub's answers.
 */
export function mapHfError(err: unknown, where: HfWhere): unknown {
  if (err instanceof SoakerError || !(err instanceof HfHttpError)) return err
  const { status, errorCode } = err
  const at = ` at ${where.endpoint}`
  const file = where.key !== undefined ? `${where.repo}/${where.key}` : where.repo
  if (errorCode === 'RepoNotFound') {
    // The Hub answers 401 (anonymous) or 404 (with a token) alike for a missing and a private repository.
    const hint = where.anonymous ? `, or it is private: ${setToken}` : ', or HF_TOKEN cannot read it'
    return new NoSuchBucketError(`Repository ${where.repo} does not exist${at}${hint}`, { cause: err })
  }
  if (errorCode === 'RevisionNotFound') {
    return new NoSuchBucketError(`Revision \`${where.revision}\` does not exist in ${where.repo}${at} (a branch, tag or commit)`, { cause: err })
  }
  if (errorCode === 'GatedRepo') {
    return new AccessDeniedError(`${where.repo} is gated: accept its conditions on ${where.endpoint} and ${where.anonymous ? 'set HF_TOKEN to a token of that account' : 'check that HF_TOKEN belongs to that account'}`, { cause: err })
  }
  if (errorCode === 'EntryNotFound' || (status === 404 && where.key !== undefined)) {
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
  return err
}

/** For the first call to the Hub: connection failures and non-Hub answers become one clear error. */
export function mapHfCheckError(err: unknown, where: HfWhere): unknown {
  if (err instanceof HfHttpError && err.status === 404 && err.errorCode === undefined) {
    // Every "not found" of the Hub carries X-Error-Code; without it something else answered.
    return new EndpointUnreachableError(`${where.endpoint} answered HTTP 404 without the Hub's X-Error-Code header: is HF_ENDPOINT a Hugging Face Hub?`, { cause: err })
  }
  const code = (err as { code?: string } | undefined)?.code
  if (!(err instanceof SoakerError) && !(err instanceof HfHttpError) && code !== undefined && /^(E[A-Z]+|UND_ERR_\w+)$/.test(code)) {
    return new EndpointUnreachableError(`Cannot reach ${where.endpoint} (${code}): check HF_ENDPOINT and the network`, { cause: err })
  }
  return mapHfError(err, where)
}
