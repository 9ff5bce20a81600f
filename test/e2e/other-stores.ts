// Azurite, soaker's GCS test server and its Hugging Face Hub test server for one test file:
// started before its tests, stopped after, with the environment that points soaker at each.
import { afterAll, beforeAll } from 'vitest'
import { startAzurite, type TestAzurite } from '../../scripts/support/azurite.js'
import { startGcsEmulator, type TestGcs } from '../../scripts/support/gcs-emulator.js'
import { startHfHub, type TestHfHub } from '../../scripts/support/hf-hub.js'
import { soakerEnv } from './helpers.js'

export interface OtherStores {
  readonly azurite: TestAzurite
  readonly gcs: TestGcs
  readonly hub: TestHfHub
  azEnv(): NodeJS.ProcessEnv
  gsEnv(): NodeJS.ProcessEnv
  hfEnv(): NodeJS.ProcessEnv
  /** Every store's settings at once: a run finds its source's and its destination's. */
  allEnv(): NodeJS.ProcessEnv
}

export function otherStoresForFile(): OtherStores {
  let azurite: TestAzurite | undefined
  let gcs: TestGcs | undefined
  let hub: TestHfHub | undefined
  beforeAll(async () => { [azurite, gcs, hub] = await Promise.all([startAzurite(), startGcsEmulator(), startHfHub()]) })
  afterAll(async () => { await Promise.all([azurite?.stop(), gcs?.stop(), hub?.stop()]) })
  const az = (): Record<string, string> => ({ AZURE_STORAGE_CONNECTION_STRING: azurite!.connectionString })
  const gs = (): Record<string, string | undefined> => ({ STORAGE_EMULATOR_HOST: gcs!.host, GOOGLE_APPLICATION_CREDENTIALS: undefined })
  const hf = (): Record<string, string | undefined> => ({ HF_ENDPOINT: hub!.url, HF_TOKEN: undefined })
  return {
    get azurite() { return azurite! },
    get gcs() { return gcs! },
    get hub() { return hub! },
    azEnv: () => soakerEnv(az()),
    gsEnv: () => soakerEnv(gs()),
    hfEnv: () => soakerEnv(hf()),
    allEnv: () => soakerEnv({ ...az(), ...gs(), ...hf() }),
  }
}
