import {
  AccessDeniedError, EndpointUnreachableError, NoSuchBucketError, NotFoundError, SoakerError, SourceChangedError,
} from '../../errors.js'

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
 * Turns the Azure errors that mean something to the user into SoakerErrors; everything else
 * (5xx, throttling, resets, aborts) passes through untouched for the retry policy to classify.
 */
export function mapAzureError(err: unknown, what: AzureWhere): unknown {
  if (err instanceof SoakerError) return err
  const status = (err as AzureErrorShape | undefined)?.statusCode
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
  return err
}

/** For the first call to a store: connection failures become one clear error naming the endpoint. */
export function mapAzureCheckError(err: unknown, container: string, endpoint: string): unknown {
  if (err instanceof SoakerError) return err
  const e = err as AzureErrorShape | undefined
  if (e?.statusCode !== undefined && e.statusCode >= 400 && e.response?.headers?.get('x-ms-request-id') === undefined) {
    // Every Azure Storage answer carries x-ms-request-id; without it, something else answered
    // (a web server, a captive proxy), and "no such container" would send the user the wrong way.
    return new EndpointUnreachableError(`${endpoint} answered HTTP ${e.statusCode} without Azure Storage's x-ms-request-id header: is it a blob endpoint? Check the connection string`, { cause: err })
  }
  if (networkCodes.includes(e?.code ?? '') || networkCodes.includes(e?.name ?? '')) {
    return new EndpointUnreachableError(`Cannot reach ${endpoint} (${e?.code ?? e?.name}): check the account name or BlobEndpoint and the network`, { cause: err })
  }
  return mapAzureError(err, { container, endpoint })
}
