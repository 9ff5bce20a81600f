import type { ProviderKind } from '../kind.js'
import type { Provider } from '../provider.js'
import { parseHfUri, type HfRepo } from './uri.js'

/** `bucket` is the repository id (`owner/name`); its type and revision are in `repo`. */
export interface HfLocation { kind: 'hf'; bucket: string; repo: HfRepo; key: string; uri: string }

/**
 * The Hugging Face Hub, read-only. Anonymous without a token: public repositories need none.
 * HF_ENDPOINT names a mirror. The client library (about 60 ms to load) is imported only when one
 * opens.
 */
export const hfKind = {
  scheme: 'hf',
  example: 'hf://owner/repo',
  parse(raw: string): HfLocation {
    const { repo, key } = parseHfUri(raw)
    return { kind: 'hf', bucket: repo.id, repo, key, uri: raw }
  },
  async open(location: HfLocation, { env, retry, given }): Promise<Provider> {
    const { HfProvider } = await import('./hf-provider.js')
    return HfProvider.create({ repo: location.repo, env, token: given?.type === 'hf' ? given.token : undefined, retry })
  },
} satisfies ProviderKind<HfLocation>
