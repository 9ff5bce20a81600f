import type { TransferOptions } from '../options.js'
import type { Provider, RetryCalls } from './provider.js'

/** A location in an object store, as one provider kind parses it. */
export interface StoreLocation {
  kind: string
  /** The bucket, container or repository. */
  bucket: string
  key: string
  uri: string
}

/** What a job file's item says about reaching its store; secrets already read from their files. */
export type GivenSettings =
  | { type: 's3'; endpointUrl?: string; region?: string; accessKeyId?: string; secretAccessKey?: string }
  | { type: 'azure-blob'; connectionString: string }
  | { type: 'gcs'; credentialsFile?: string; project?: string }
  | { type: 'hf'; token?: string }

export interface OpenOptions {
  options: TransferOptions
  env: NodeJS.ProcessEnv
  /** Wraps each listing page request (the engine's retry policy). */
  retry: RetryCalls
  /** Endpoint and credentials given explicitly (a job file's item); they win over the environment. */
  given?: GivenSettings
}

/**
 * One kind of store: its URI scheme, how its URIs parse and how it opens. Each provider's folder
 * has one (`kind.ts`), and providers/registry.ts lists them; that line is all a new provider
 * adds outside its folder.
 */
export interface ProviderKind<L extends StoreLocation = StoreLocation> {
  scheme: L['kind']
  /** A location of this kind, for messages: `s3://bucket/prefix`. */
  example: string
  /** Its providers take writes (put and multipart): a copy can land in it. */
  writable?: boolean
  /** Made up rather than a place a user's objects live (synthetic://): left out of messages that list the kinds. */
  unlisted?: boolean
  /** `raw` starts with `<scheme>:`; throws UsageError naming what was expected. */
  parse(raw: string): L
  /** The provider, its credentials resolved, or one clear error (MissingCredentialsError). */
  open(location: L, open: OpenOptions): Promise<Provider>
}
