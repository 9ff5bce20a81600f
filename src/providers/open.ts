import { MissingCredentialsError } from '../errors.js'
import type { RemoteLocation } from '../location.js'
import type { TransferOptions } from '../options.js'
import type { Provider, RetryCalls } from './provider.js'
import { checkCredentials, createS3Client } from './s3/client.js'
import { S3Provider } from './s3/s3-provider.js'

export interface OpenOptions {
  options: TransferOptions
  env: NodeJS.ProcessEnv
  /** Wraps each listing page request (the engine's retry policy). */
  retry: RetryCalls
  /** Endpoint and credentials given explicitly (a job file's item); they win over the environment. */
  given?: GivenSettings
}

/** What a job file's item says about reaching its store; secrets already read from their files. */
export type GivenSettings =
  | { type: 's3'; endpointUrl?: string; region?: string; accessKeyId?: string; secretAccessKey?: string }
  | { type: 'azure-blob'; connectionString: string }
  | { type: 'gcs'; credentialsFile?: string; project?: string }
  | { type: 'hf'; token?: string }

/**
 * The provider of a remote location with its credentials resolved, before anything else runs, so
 * that missing credentials are one clear error rather than a failure per object.
 * S3 credentials come from the AWS SDK's default chain; Azure's from a connection string in
 * AZURE_STORAGE_CONNECTION_STRING (the variable the Azure CLI and SDKs read).
 *
 * The Azure, GCS and Hub providers are imported when a location of theirs is opened: their client
 * libraries take about 280, 260 and 60 ms to load, which every run paid, an S3 one included.
 */
export async function openProvider(location: Extract<RemoteLocation, { kind: 's3' }>, open: OpenOptions): Promise<S3Provider>
export async function openProvider(location: RemoteLocation, open: OpenOptions): Promise<Provider>
export async function openProvider(location: RemoteLocation, { options, env, retry, given }: OpenOptions): Promise<Provider> {
  if (location.kind === 'az') {
    const connectionString = given?.type === 'azure-blob' ? given.connectionString : env.AZURE_STORAGE_CONNECTION_STRING
    if (!connectionString) {
      throw new MissingCredentialsError(`No Azure credentials for ${location.uri}: set AZURE_STORAGE_CONNECTION_STRING to the storage account's connection string`)
    }
    const { AzureProvider } = await import('./azure/azure-provider.js')
    return AzureProvider.fromConnectionString(connectionString, location.bucket, { retry })
  }
  if (location.kind === 'hf') {
    // Anonymous without a token: public repositories need none. HF_ENDPOINT names a mirror.
    const { HfProvider } = await import('./hf/hf-provider.js')
    return HfProvider.create({ repo: location.repo, env, token: given?.type === 'hf' ? given.token : undefined, retry })
  }
  if (location.kind === 'gs') {
    // Credentials from the item's key file, GOOGLE_APPLICATION_CREDENTIALS or Application Default
    // Credentials; with none the client asks anonymously (public buckets), and check() turns GCS's
    // 401 into MissingCredentialsError. STORAGE_EMULATOR_HOST names an emulator.
    const gcs = given?.type === 'gcs' ? given : undefined
    const { GcsProvider } = await import('./gcs/gcs-provider.js')
    return GcsProvider.create({ bucket: location.bucket, env, credentialsFile: gcs?.credentialsFile, projectId: gcs?.project, retry })
  }
  const s3 = given?.type === 's3' ? given : undefined
  const endpointUrl = s3?.endpointUrl ?? options.endpointUrl
  const keys = s3?.accessKeyId !== undefined && s3.secretAccessKey !== undefined
    ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
    : undefined
  const client = await createS3Client({
    endpointUrl, region: s3?.region ?? options.region, profile: options.profile, credentials: keys,
    // A little longer than the engine's own watch of the requests that carry bytes, so that
    // those report SOAKER_STALLED; the socket's timeout covers every other call.
    connectTimeout: options.connectTimeout, idleTimeout: options.timeout + 5, maxSockets: options.maxConcurrency + 8,
  })
  const provider = new S3Provider({ client, bucket: location.bucket, endpoint: endpointUrl ?? 'AWS S3', endpointUrl, retry })
  try {
    await checkCredentials(client, options.profile)
  } catch (err) {
    provider.close()
    throw err
  }
  return provider
}
