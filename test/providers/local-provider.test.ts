import { join } from 'node:path'
import { LocalProvider } from '../../src/providers/local/local-provider.js'
import { tempDir } from '../e2e/helpers.js'
import { providerConformance } from './conformance.js'

providerConformance('local', async () => {
  const root = tempDir('local-provider')
  return { provider: new LocalProvider(root), missing: new LocalProvider(join(root, 'does-not-exist')) }
})
