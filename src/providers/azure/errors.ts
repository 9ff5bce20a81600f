import {
  AccessDeniedError, EndpointUnreachableError, errorCode, errorMessage, FatalError, NoSuchBucketError, NotFoundError,
  SoakerError, SourceChangedError,
} from '../../errors.js'
import { retryableAnswer } from '../http-errors.js'
import { networkFault } from '../network-errors.js'

/** What @azure/storage-blob's RestError carries; read by shape so tests can build one by hand. */
interface AzureErrorShape {
  name?: string
  /** The storage error code, or a Node errno code (ECONNREFUSED) for network failures. */
  code?: string
  statusCode?: number
  /** HEAD requests have no body: the error code comes from the x-ms-error-code header, here. */
  details?: { errorCode?: string }
  response?: { headers?: { get(name: string): string | undefined } }
}

/** The storage error code (`BlobNotFound`, `ConditionNotMet`, ...) or errno code, if any. */
export function azureErrorCode(err: unknown): string | undefined {
  const e = err as AzureErrorShape | undefined
  return e?.details?.errorCode ?? e?.code
}

// Azure's error codes for a store over its limits, whatever the status (ServerBusy is a 503).
const throttleCodes = ['ServerBusy', 'OperationTimedOut']
const networkCodes = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'TimeoutError']
const accessCodes = [
  'AuthenticationFailed', 'AuthorizationFailure', 'AuthorizationPermissionMismatch', 'AuthorizationResourceTypeMismatch',
  'AuthorizationSourceIPMismatch', 'AuthorizationProtocolMismatch', 'AuthorizationServiceMismatch', 'InsufficientAccountPermissions',
  'AccountIsDisabled', 'NoAuthenticationInformation',
]

export interface AzureWhere {
  container: string
  key?: string
  /** For messages: the blob service URL. */
  endpoint?: string
}

/**
 * Turns anything an Azure request rejects with into a SoakerError: the errors that mean
 * something to the user into their own classes, throttling (ServerBusy, 429) into
 * ThrottledError, 5xx and network faults (resets, aborts) into TransientError, and the rest into
 * FatalError. The code recorded is the RestError's code (or errno code), as the SDK gave it.
 */
export function mapAzureError(err: unknown, what: AzureWhere): SoakerError {
  if (err instanceof SoakerError) return err
  const e = err as AzureErrorShape | undefined
  const status = e?.statusCode
  const code = azureErrorCode(err)
  const where = what.key !== undefined ? `az://${what.container}/${what.key}` : `az://${what.container}`
  if (code === 'ContainerNotFound' || (status === 404 && what.key === undefined)) {
    return new NoSuchBucketError(`Container \`${what.container}\` does not exist${what.endpoint ? ` at ${what.endpoint}` : ''}`, { cause: err })
  }
  if (code === 'BlobNotFound' || status === 404) {
    return new NotFoundError(`No blob at ${where}`, { cause: err })
  }
  if (code === 'ConditionNotMet' || status === 412) {
    return new SourceChangedError(`${where} changed while it was being copied (its ETag no longer matches)`, { cause: err })
  }
  if ((code !== undefined && accessCodes.includes(code)) || status === 403) {
    return new AccessDeniedError(`Access denied to ${where}${code ? ` (${code})` : ''}: check the account key or SAS token and its permissions`, { cause: err })
  }
  const answer = {
    status, code: errorCode(err), message: errorMessage(err), retryAfter: e?.response?.headers?.get('retry-after'),
    throttled: code !== undefined && throttleCodes.includes(code), cause: err,
  }
  return retryableAnswer(answer) ?? networkFault(err) ?? new FatalError(answer.message, { code: answer.code, cause: err })
}

/**
 * For the first call to a store, after its retries: connection failures, and answers from
 * something that is not Azure Storage, become one clear error naming the endpoint. `err` is what
 * mapAzureError made of the SDK's error (which it keeps as its cause), or that error itself.
 */
export function mapAzureCheckError(err: unknown, container: string, endpoint: string): SoakerError {
  const raw = err instanceof SoakerError ? err.cause : err
  const e = raw as AzureErrorShape | undefined
  if (e?.statusCode !== undefined && e.statusCode >= 400 && e.response?.headers?.get('x-ms-request-id') === undefined) {
    // Every Azure Storage answer carries x-ms-request-id; without it, something else answered
    // (a web server, a captive proxy), and "no such container" would send the user the wrong way.
    return new EndpointUnreachableError(`${endpoint} answered HTTP ${e.statusCode} without Azure Storage's x-ms-request-id header: is it a blob endpoint? Check the connection string`, { cause: raw })
  }
  if (networkCodes.includes(e?.code ?? '') || networkCodes.includes(e?.name ?? '')) {
    return new EndpointUnreachableError(`Cannot reach ${endpoint} (${e?.code ?? e?.name}): check the account name or BlobEndpoint and the network`, { cause: raw })
  }
  return mapAzureError(err, { container, endpoint })
}
