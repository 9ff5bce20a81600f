import type { ProviderKind } from '../kind.js'
import type { Provider } from '../provider.js'
import { parseGcsUri } from './uri.js'

export interface GcsLocation { kind: 'gs'; bucket: string; key: string; uri: string }

/**
 * Google Cloud Storage. Credentials come from the item's key file, GOOGLE_APPLICATION_CREDENTIALS
 * or Application Default Credentials; with none the client asks anonymously (public buckets),
 * and check() turns GCS's 401 into MissingCredentialsError. STORAGE_EMULATOR_HOST names an
 * emulator. The client library (about 260 ms to load) is imported only when one opens.
 */
export const gcsKind = {
  scheme: 'gs',
  example: 'gs://bucket/prefix',
  writable: true,
  parse(raw: string): GcsLocation {
    const { bucket, key } = parseGcsUri(raw)
    return { kind: 'gs', bucket, key, uri: raw }
  },
  async open(location: GcsLocation, { options, env, retry, given }): Promise<Provider> {
    const gcs = given?.type === 'gcs' ? given : undefined
    const { GcsProvider } = await import('./gcs-provider.js')
    return GcsProvider.create({
      bucket: location.bucket, env, credentialsFile: gcs?.credentialsFile, projectId: gcs?.project, retry, crcs: options.storeChecksums,
    })
  },
} satisfies ProviderKind<GcsLocation>
