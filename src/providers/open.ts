import type { CopyOptions } from '../cli/options.js'
import { MissingCredentialsError, UsageError } from '../errors.js'
import type { RemoteLocation } from '../location.js'
import { AzureProvider } from './azure/azure-provider.js'
import type { Provider } from './provider.js'
import { checkCredentials, createS3Client } from './s3/client.js'
import { S3Provider } from './s3/s3-provider.js'

export interface OpenOptions {
  options: CopyOptions
  env: NodeJS.ProcessEnv
  /** Wraps each listing page request (the engine's retry policy). */
  retry: <T>(fn: () => Promise<T>) => Promise<T>
}

/**
 * The provider of a remote location with its credentials resolved, before anything else runs, so
 * that missing credentials are one clear error rather than a failure per object.
 * S3 credentials come from the AWS SDK's default chain; Azure's from a connection string in
 * AZURE_STORAGE_CONNECTION_STRING (the variable the Azure CLI and SDKs read).
 */
export async function openProvider(location: Extract<RemoteLocation, { kind: 's3' }>, open: OpenOptions): Promise<S3Provider>
export async function openProvider(location: RemoteLocation, open: OpenOptions): Promise<Provider>
export async function openProvider(location: RemoteLocation, { options, env, retry }: OpenOptions): Promise<Provider> {
  if (location.kind === 'az') {
    const connectionString = env.AZURE_STORAGE_CONNECTION_STRING
    if (!connectionString) {
      throw new MissingCredentialsError(`No Azure credentials for ${location.uri}: set AZURE_STORAGE_CONNECTION_STRING to the storage account's connection string`)
    }
    return AzureProvider.fromConnectionString(connectionString, location.bucket, { retry })
  }
  if (location.kind !== 's3') throw new UsageError(`${location.uri}: ${location.kind}:// sources are not wired to a provider yet`)
  const client = await createS3Client({
    endpointUrl: options.endpointUrl, region: options.region, profile: options.profile,
    connectTimeout: options.connectTimeout, maxSockets: options.maxConcurrency + 8,
  })
  const provider = new S3Provider({ client, bucket: location.bucket, endpoint: options.endpointUrl ?? 'AWS S3', endpointUrl: options.endpointUrl, retry })
  try {
    await checkCredentials(client, options.profile)
  } catch (err) {
    provider.close()
    throw err
  }
  return provider
}
