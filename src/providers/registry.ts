import { azureKind } from './azure/kind.js'
import { gcsKind } from './gcs/kind.js'
import { hfKind } from './hf/kind.js'
import type { OpenOptions, ProviderKind } from './kind.js'
import type { Provider } from './provider.js'
import { s3Kind } from './s3/kind.js'
import { syntheticKind } from './synthetic/kind.js'
import type { S3Provider } from './s3/s3-provider.js'

/** Every kind of store soaker reaches, in the order messages list them. */
export const providerKinds = [s3Kind, azureKind, gcsKind, hfKind, syntheticKind] as const

/** A location in any of them. */
export type RemoteLocation = ReturnType<(typeof providerKinds)[number]['parse']>

/** The schemes of the kinds a copy can land in, for messages: `s3://, az:// or gs://`. */
export function writableSchemes(): string {
  const schemes = (providerKinds as readonly ProviderKind[]).filter((k) => k.writable).map((k) => `${k.scheme}://`)
  return schemes.length > 1 ? `${schemes.slice(0, -1).join(', ')} or ${schemes.at(-1)!}` : schemes.join('')
}

/** The kind whose URIs start with `<scheme>:`. */
export function kindOf(scheme: string): ProviderKind | undefined {
  return (providerKinds as readonly ProviderKind[]).find((k) => k.scheme === scheme)
}

/**
 * The provider of a remote location with its credentials resolved, before anything else runs, so
 * that missing credentials are one clear error rather than a failure per object.
 * Each kind says where its credentials come from (its kind.ts). The Azure, GCS and Hub providers
 * are imported when a location of theirs is opened: their client libraries take about 280, 260
 * and 60 ms to load, which every run paid, an S3 one included.
 */
export async function openProvider(location: Extract<RemoteLocation, { kind: 's3' }>, open: OpenOptions): Promise<S3Provider>
export async function openProvider(location: RemoteLocation, open: OpenOptions): Promise<Provider>
export async function openProvider(location: RemoteLocation, open: OpenOptions): Promise<Provider> {
  return await kindOf(location.kind)!.open(location, open)
}
