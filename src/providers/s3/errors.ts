import {
  AccessDeniedError, EndpointUnreachableError, errorCode, errorMessage, FatalError, NoSuchBucketError, NotFoundError,
  SoakerError, SourceChangedError, UnsupportedError,
} from '../../errors.js'
import { retryableAnswer } from '../http-errors.js'
import { networkFault } from '../network-errors.js'

/** What @aws-sdk/client-s3 rejects with, and fast-request.ts too; read by shape so tests can build one by hand. */
interface AwsErrorShape {
  name?: string
  code?: string
  Code?: string
  message?: string
  $metadata?: { httpStatusCode?: number; requestId?: string }
  $response?: { headers?: Record<string, string | undefined> }
}

// A store without a call answers so (s3rver: ListParts is MethodNotAllowed); asking again cannot help.
const unsupportedNames = ['MethodNotAllowed', 'NotImplemented']
const unsupportedStatus = [405, 501]
// S3's codes for a store over its request rate, whatever the status (SlowDown is a 503).
const throttleNames = [
  'SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequests', 'TooManyRequestsException', 'RequestLimitExceeded',
]
// S3's codes worth another attempt, whatever the status (RequestTimeout is a 400).
const retryNames = [
  'BadDigest', 'IncompleteBody', 'RequestTimeout', 'RequestTimeTooSkewed', 'InternalError', 'ServiceUnavailable',
]
// Those of them that are faults of the exchange (see TransientOptions.lowLevel).
const lowLevelNames = ['RequestTimeout', 'IncompleteBody', 'ServiceUnavailable']

/** HTTP status of an SDK error, if it got that far. */
function httpStatus(err: unknown): number | undefined {
  return (err as AwsErrorShape | undefined)?.$metadata?.httpStatusCode
}

const networkCodes = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'TimeoutError']

function isNetworkError(err: unknown): boolean {
  const e = err as AwsErrorShape
  return networkCodes.includes(e?.code ?? '') || networkCodes.includes(e?.name ?? '')
}

interface S3Where {
  bucket: string
  key?: string
  /** For messages. */
  endpoint?: string
  uploadId?: string
}

/**
 * Turns anything an S3 request rejects with into a SoakerError: the errors that mean something
 * to the user into their own classes, throttling (SlowDown, 429) into ThrottledError, 5xx and
 * network faults into TransientError, and the rest into FatalError. The code recorded is the
 * S3 error code (or errno code) the SDK gave.
 */
export function mapS3Error(err: unknown, what: S3Where): SoakerError {
  if (err instanceof SoakerError) return err
  const e = err as AwsErrorShape | undefined
  const name = e?.name ?? e?.Code ?? ''
  const status = httpStatus(err)
  const where = what.key !== undefined ? `s3://${what.bucket}/${what.key}` : `s3://${what.bucket}`
  if (name === 'NoSuchBucket' || (status === 404 && what.key === undefined)) {
    return new NoSuchBucketError(`Bucket \`${what.bucket}\` does not exist${what.endpoint ? ` at ${what.endpoint}` : ''}`, { cause: err })
  }
  if (unsupportedNames.includes(name) || (status !== undefined && unsupportedStatus.includes(status))) {
    return new UnsupportedError(`The store at ${what.endpoint ?? 'the endpoint'} does not support this request on ${where} (${name || `HTTP ${status}`})`, { cause: err })
  }
  if (name === 'NoSuchUpload') {
    return new NotFoundError(`The multipart upload ${what.uploadId ?? ''} of ${where} no longer exists`, { cause: err })
  }
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) {
    return new NotFoundError(`No object at ${where}`, { cause: err })
  }
  if (name === 'PreconditionFailed' || status === 412) {
    return new SourceChangedError(`${where} changed while it was being copied (its ETag no longer matches)`, { cause: err })
  }
  if (['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'Forbidden'].includes(name) || status === 403) {
    const why = name && name !== 'Forbidden' && name !== 'AccessDenied' ? ` (${name})` : ''
    return new AccessDeniedError(`Access denied to ${where}${why}: check the credentials and the bucket policy`, { cause: err })
  }
  const code = e?.Code ?? errorCode(err)
  const headers = e?.$response?.headers
  const answer = {
    status, code, message: errorMessage(err), retryAfter: headers?.['retry-after'] ?? headers?.['Retry-After'], cause: err,
    throttled: throttleNames.includes(name), retried: retryNames.includes(name), lowLevel: lowLevelNames.includes(name),
  }
  return retryableAnswer(answer) ?? networkFault(err) ?? new FatalError(answer.message, { code, cause: err })
}

/**
 * For the first call to a store, after its retries: connection failures, and answers from
 * something that is not S3, become one clear error naming the endpoint. `err` is what
 * mapS3Error made of the SDK's error (which it keeps as its cause), or that error itself.
 */
export function mapCheckError(err: unknown, bucket: string, endpoint: string): SoakerError {
  const raw = err instanceof SoakerError ? err.cause : err
  const meta = (raw as AwsErrorShape | undefined)?.$metadata
  if (meta?.httpStatusCode !== undefined && meta.requestId === undefined && meta.httpStatusCode >= 400) {
    // Every S3 answer carries x-amz-request-id; without it, something else answered (a web
    // server, a captive proxy), and "no such bucket" would send the user the wrong way.
    return new EndpointUnreachableError(`${endpoint} answered HTTP ${meta.httpStatusCode} without S3's x-amz-request-id header: is it an S3 endpoint? Check --endpoint-url`, { cause: raw })
  }
  if (isNetworkError(raw)) {
    const why = (raw as AwsErrorShape).code ?? (raw as AwsErrorShape).name
    return new EndpointUnreachableError(`Cannot reach ${endpoint} (${why}): check --endpoint-url and the network`, { cause: raw })
  }
  return mapS3Error(err, { bucket, endpoint })
}
