import {
  AccessDeniedError, EndpointUnreachableError, NoSuchBucketError, NotFoundError, SoakerError, SourceChangedError, UnsupportedError,
} from '../../errors.js'

interface AwsErrorShape {
  name?: string
  code?: string
  Code?: string
  message?: string
  $metadata?: { httpStatusCode?: number }
}

// A store without a call answers so (s3rver: ListParts is MethodNotAllowed); asking again cannot help.
const unsupportedNames = ['MethodNotAllowed', 'NotImplemented']
const unsupportedStatus = [405, 501]

/** HTTP status of an SDK error, if it got that far. */
export function httpStatus(err: unknown): number | undefined {
  return (err as AwsErrorShape | undefined)?.$metadata?.httpStatusCode
}

const networkCodes = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'TimeoutError']

export function isNetworkError(err: unknown): boolean {
  const e = err as AwsErrorShape
  return networkCodes.includes(e?.code ?? '') || networkCodes.includes(e?.name ?? '')
}

/**
 * Turns the S3 errors that mean something to the user into SoakerErrors; everything else
 * (5xx, throttling, resets) passes through untouched for the retry policy to classify.
 */
export function mapS3Error(err: unknown, what: { bucket: string; key?: string; endpoint?: string; uploadId?: string }): unknown {
  if (err instanceof SoakerError) return err
  const e = err as AwsErrorShape
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
  return err
}

/** For the first call to a store: connection failures become one clear error naming the endpoint. */
export function mapCheckError(err: unknown, bucket: string, endpoint: string): unknown {
  const meta = (err as AwsErrorShape & { $metadata?: { requestId?: string } } | undefined)?.$metadata
  if (meta?.httpStatusCode !== undefined && meta.requestId === undefined && meta.httpStatusCode >= 400) {
    // Every S3 answer carries x-amz-request-id; without it, something else answered (a web
    // server, a captive proxy), and "no such bucket" would send the user the wrong way.
    return new EndpointUnreachableError(`${endpoint} answered HTTP ${meta.httpStatusCode} without S3's x-amz-request-id header: is it an S3 endpoint? Check --endpoint-url`, { cause: err })
  }
  if (isNetworkError(err)) {
    const why = (err as AwsErrorShape).code ?? (err as AwsErrorShape).name
    return new EndpointUnreachableError(`Cannot reach ${endpoint} (${why}): check --endpoint-url and the network`, { cause: err })
  }
  return mapS3Error(err, { bucket, endpoint })
}
