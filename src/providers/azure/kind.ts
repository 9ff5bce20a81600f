import { MissingCredentialsError } from '../../errors.js'
import type { ProviderKind } from '../kind.js'
import type { Provider } from '../provider.js'
import { parseAzureUri } from './uri.js'

export interface AzureLocation { kind: 'az'; bucket: string; key: string; uri: string }

/**
 * Azure Blob Storage: `bucket` is the container. Credentials come from a connection string in
 * AZURE_STORAGE_CONNECTION_STRING (the variable the Azure CLI and SDKs read), or the job item's.
 * The client library (about 280 ms to load) is imported only when a location of this kind opens.
 */
export const azureKind = {
  scheme: 'az',
  example: 'az://container/prefix',
  writable: true,
  parse(raw: string): AzureLocation {
    const { container, key } = parseAzureUri(raw)
    return { kind: 'az', bucket: container, key, uri: raw }
  },
  async open(location: AzureLocation, { env, retry, given }): Promise<Provider> {
    const connectionString = given?.type === 'azure-blob' ? given.connectionString : env.AZURE_STORAGE_CONNECTION_STRING
    if (!connectionString) {
      throw new MissingCredentialsError(`No Azure credentials for ${location.uri}: set AZURE_STORAGE_CONNECTION_STRING to the storage account's connection string`)
    }
    const { AzureProvider } = await import('./azure-provider.js')
    return AzureProvider.fromConnectionString(connectionString, location.bucket, { retry })
  },
} satisfies ProviderKind<AzureLocation>
