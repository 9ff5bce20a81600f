import {
  AccessDeniedError, ChecksumMismatchError, EndpointUnreachableError, errorCode, errorMessage, FatalError, MissingCredentialsError,
  NoSuchBucketError, NotFoundError, SoakerError, SourceChangedError,
} from '../../errors.js'
import { retryableAnswer } from '../http-errors.js'
import { networkFault } from '../network-errors.js'

/**
 * What @google-cloud/storage rejects with, read by shape so tests can build one by hand: an
 * ApiError (`code` is the HTTP status, `errors` the JSON API's reasons), a node-fetch FetchError
 * (`code` is the errno code), or an Error from google-auth-library.
 */
interface GcsErrorShape {
  name?: string
  code?: number | string
  message?: string
  errors?: Array<{ reason?: string; message?: string }>
  /** The file google-auth-library failed to read (ENOENT, EACCES). */
  path?: string
  response?: { statusCode?: number; headers?: Record<string, string | string[] | undefined> }
}

/** The HTTP status of an error GCS answered with, if it is one. */
export function gcsStatus(err: unknown): number | undefined {
  const e = err as GcsErrorShape | undefined
  return typeof e?.code === 'number' ? e.code : e?.response?.statusCode
}

/**
 * The JSON API's error body: from `errors`, or from the message, where the client leaves the raw
 * body when it reads an error of a download itself. Undefined when the answer was not one.
 */
function apiBody(err: unknown): { message: string; reason?: string } | undefined {
  const e = err as GcsErrorShape | undefined
  if (e?.errors?.length) return { message: e.errors.find((x) => x.message)?.message ?? e.message ?? '', reason: e.errors.find((x) => x.reason)?.reason }
  try {
    const body = (JSON.parse(e?.message ?? '') as { error?: { message?: string; errors?: Array<{ reason?: string }> } }).error
    if (body?.errors?.length) return { message: body.message ?? '', reason: body.errors.find((x) => x.reason)?.reason }
  } catch {
    // Not JSON: not an answer of the JSON API.
  }
  return undefined
}

/** The JSON API's reason (`notFound`, `forbidden`, `rateLimitExceeded`, ...), if the error has one. */
export function gcsReason(err: unknown): string | undefined {
  return apiBody(err)?.reason
}

// What GCS answers (400, reason `invalid`) when an upload's bytes do not have the md5Hash or crc32c sent with them.
const checksumRefused = /doesn't match calculated (MD5 hash|CRC32C)/i
const networkCodes = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']
// GCS has answered 403 with these reasons for rate limits; they are throttling, not a refusal.
const rateLimitReasons = ['rateLimitExceeded', 'userRateLimitExceeded']

export interface GcsWhere {
  bucket: string
  key?: string
  /** For messages: the API endpoint (`https://storage.googleapis.com` or the emulator). */
  endpoint?: string
  /** The service-account key file given, if any: an error reading it is a credentials error. */
  credentialsFile?: string
}

const flatHeaders = (h: Record<string, string | string[] | undefined> | undefined): Record<string, string | undefined> =>
  Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(', ') : v]))

/**
 * Turns anything a GCS request rejects with into a SoakerError: the errors that mean something
 * to the user into their own classes, 429 and rate limits into ThrottledError, 5xx, 408 and
 * network faults into TransientError, and the rest into FatalError. An answer's code is the JSON
 * API's reason (`backendError`, or `HTTP_<status>` without one), so the state records that
 * rather than a number; a network fault's is its errno code.
 */
export function mapGcsError(err: unknown, what: GcsWhere): SoakerError {
  if (err instanceof SoakerError) return err
  const e = err as GcsErrorShape | undefined
  const status = gcsStatus(err)
  const body = apiBody(err)
  const reason = body?.reason
  const message = body?.message ?? e?.message ?? ''
  const where = what.key !== undefined ? `gs://${what.bucket}/${what.key}` : `gs://${what.bucket}`
  const fix = 'set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or run `gcloud auth application-default login`'
  if (status === undefined) {
    if (/Could not load the default credentials/i.test(e?.message ?? '')) {
      return new MissingCredentialsError(`No Google Cloud credentials for ${where}: ${fix}`, { cause: err })
    }
    if (e?.path !== undefined && e.path === what.credentialsFile) {
      return new MissingCredentialsError(`Cannot read the Google Cloud credentials file ${e.path} (${String(e.code)})`, { cause: err })
    }
    return networkFault(err) ?? new FatalError(errorMessage(err), { code: errorCode(err), cause: err })
  }
  if (status === 404) {
    if (what.key === undefined || /bucket does not exist/i.test(message)) {
      return new NoSuchBucketError(`Bucket \`${what.bucket}\` does not exist${what.endpoint ? ` at ${what.endpoint}` : ''}`, { cause: err })
    }
    return new NotFoundError(`No object at ${where}`, { cause: err })
  }
  if (status === 400 && checksumRefused.test(message)) {
    // The bytes that arrived are not those hashed: another attempt sends them again.
    return new ChecksumMismatchError(`GCS refused the bytes sent for ${where}: ${message}`, { cause: err })
  }
  if (status === 412) {
    return new SourceChangedError(`${where} changed while it was being copied (its generation no longer matches)`, { cause: err })
  }
  if (status === 401 && (reason === 'required' || /anonymous caller/i.test(message))) {
    // Without credentials the client sends its requests unauthenticated, which public buckets allow.
    return new MissingCredentialsError(`No Google Cloud credentials for ${where} (GCS says: ${message}): ${fix}`, { cause: err })
  }
  if (status === 401 || (status === 403 && !(reason !== undefined && rateLimitReasons.includes(reason)))) {
    return new AccessDeniedError(`Access denied to ${where} (HTTP ${status}${reason ? ` ${reason}` : ''}): ${message}`, { cause: err })
  }
  const answer = {
    status,
    code: reason ?? `HTTP_${status}`,
    message: `GCS answered HTTP ${status}${reason ? ` (${reason})` : ''} for ${where}: ${message}`,
    retryAfter: flatHeaders(e?.response?.headers)['retry-after'],
    throttled: reason !== undefined && rateLimitReasons.includes(reason),
    cause: err,
  }
  return retryableAnswer(answer) ?? new FatalError(answer.message, { code: answer.code, cause: err })
}

/**
 * For the first call to a store: answers from something that is not GCS, and (after the
 * retries) connection failures, become one clear error naming the endpoint. `err` is the
 * client's error, or what mapGcsError made of it (which keeps it as its cause).
 */
export function mapGcsCheckError(err: unknown, what: GcsWhere & { endpoint: string }): SoakerError {
  const raw = err instanceof SoakerError ? err.cause : err
  const e = raw as GcsErrorShape | undefined
  const status = gcsStatus(raw)
  if (status !== undefined && status >= 400 && apiBody(raw) === undefined) {
    // Every JSON API error carries `errors: [{ reason, ... }]`; without it something else answered
    // (a web server, a captive proxy), and "no such bucket" would send the user the wrong way.
    return new EndpointUnreachableError(`${what.endpoint} answered HTTP ${status} without a Google Cloud Storage JSON API error: is it a GCS endpoint? Check STORAGE_EMULATOR_HOST`, { cause: raw })
  }
  if (typeof e?.code === 'string' && networkCodes.includes(e.code)) {
    return new EndpointUnreachableError(`Cannot reach ${what.endpoint} (${e.code}): check STORAGE_EMULATOR_HOST if set, and the network`, { cause: raw })
  }
  return mapGcsError(err, what)
}
