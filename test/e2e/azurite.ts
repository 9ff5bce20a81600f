import { ContainerClient } from '@azure/storage-blob'
import { afterAll, beforeAll } from 'vitest'
import { azuriteAccount, azuriteKey, startAzurite, type TestAzurite } from '../../scripts/support/azurite.js'
import { startFaultProxy, type FaultProxy } from '../../scripts/support/fault-proxy.js'
import { soakerEnv } from './helpers.js'

/** Azurite for one test file, with a counting fault proxy in front of it: started before the file's tests, stopped after. */
export interface AzuriteForFile {
  readonly azurite: TestAzurite
  readonly proxy: FaultProxy
  /** A new empty container, named `<label>-<pid>-<n>`. */
  freshContainer(): Promise<ContainerClient>
  /** A soaker run's environment, with the account's connection string. */
  azEnv(): NodeJS.ProcessEnv
  /** The same account through the proxy (Shared Key signs the path, not the host). */
  proxiedEnv(): NodeJS.ProcessEnv
}

export function azuriteForFile(label = 'e2e'): AzuriteForFile {
  let azurite: TestAzurite | undefined
  let proxy: FaultProxy | undefined
  let count = 0
  beforeAll(async () => {
    azurite = await startAzurite()
    proxy = await startFaultProxy(new URL(azurite.blobEndpoint).origin)
  })
  afterAll(async () => {
    await proxy?.stop()
    await azurite?.stop()
  })
  return {
    get azurite() { return azurite! },
    get proxy() { return proxy! },
    async freshContainer() {
      const container = new ContainerClient(azurite!.connectionString, `${label}-${process.pid}-${count++}`)
      await container.create()
      return container
    },
    azEnv: () => soakerEnv({ AZURE_STORAGE_CONNECTION_STRING: azurite!.connectionString }),
    proxiedEnv: () => soakerEnv({
      AZURE_STORAGE_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=${azuriteAccount};AccountKey=${azuriteKey};BlobEndpoint=${proxy!.url}/${azuriteAccount};`,
    }),
  }
}
