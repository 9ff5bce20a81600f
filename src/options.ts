/**
 * What a transfer can be told: the library's options, each default given once, here. The CLI's
 * flags and environment variables (src/cli/options.ts) are typed against this interface and take
 * their defaults from `transferDefaults`.
 */
export type TransferOptions = {
  /** S3 endpoint of an S3-compatible store (requests go to it path-style). Default: AWS. */
  endpointUrl?: string
  /** AWS region. Default: the AWS config's, else us-east-1. */
  region?: string
  /** Named profile of the AWS config and credentials files (SSO included). */
  profile?: string
  /**
   * The source's S3 endpoint, where it is not the destination's. When any `source*` option is
   * given, the source takes only these three (their defaults where absent); when none is, the
   * source takes `endpointUrl`, `region` and `profile` as the destination does.
   */
  sourceEndpointUrl?: string
  /** The source's AWS region (see sourceEndpointUrl). */
  sourceRegion?: string
  /** The source's named profile (see sourceEndpointUrl). */
  sourceProfile?: string
  /** Where source and destination are one store (same endpoint and credentials), the store copies each object itself. @default true */
  serverSideCopy: boolean
  /** Fewest requests in flight. @default 1 */
  minConcurrency: number
  /** Most requests in flight. @default 64 */
  maxConcurrency: number
  /** Requests in flight to start with, within the bounds above. Default: 16. */
  concurrency?: number
  /** Cap on total throughput, in bytes per second. Default: no cap. */
  maxSpeed?: number
  /** Seconds between the tuner's decisions on concurrency. @default 3 */
  tuneInterval: number
  /** Retries of a request that failed with an error answer (a 500, a checksum mismatch). @default 3 */
  retries: number
  /** Retries of a request cut short by the connection or the load (a reset, a stall, 503 SlowDown, 429). @default 10 */
  lowLevelRetries: number
  /** Seconds without a byte moving before a request is cancelled and retried; downloads learn a shorter limit. @default 30 */
  timeout: number
  /** Base of the exponential backoff between retries, in seconds (with jitter). @default 1 */
  retryDelay: number
  /** Part size of ranged reads and multipart uploads, in bytes. Default: the object's upload parts where known, else fitted to the link, at most 8 MiB. */
  partSize?: number
  /** Seconds to wait for a connection to the endpoint. @default 10 */
  connectTimeout: number
  /**
   * Path of the state database, or the URL of a PostgreSQL database (postgres://user@host:port/db)
   * holding a job that several workers share. Default: one SQLite file per source and destination
   * (and shard) under $XDG_STATE_HOME/soaker.
   */
  state?: string
  /** A shared job: seconds a worker's claims hold without its heartbeat (it beats every third of that). @default 30 */
  lease: number
  /**
   * Of the source's objects, only those of this static shard: the keys that engine/shard.ts's
   * shardOf assigns to `index` of `count`. Each shard keeps a state database of its own, and a
   * state of another shard (or of none) is refused. Default: every object.
   */
  shard?: Shard
  /** Retry only the objects the last runs recorded as failed, without listing the source again. @default false */
  retryFailed: boolean
  /** List what would be copied and skipped, and transfer nothing. @default false */
  dryRun: boolean
  /** Check each object's digest (the MD5 of its ETag, or the store's own) where the store gives one. @default true */
  verify: boolean
  /**
   * Ask stores for the checksums they keep of objects (S3's `x-amz-checksum-mode`) and verify a
   * download by a full-object CRC where one is kept (S3's CRC64NVME, CRC32C or CRC32; the crc32c of
   * a GCS composite object), in preference to the ETag's MD5. false: by ETags only, for a store
   * that refuses or mangles flexible checksums. @default true
   */
  storeChecksums: boolean
  /**
   * Threads that carry the bytes (the data plane): each runs its share of the requests in flight
   * with its own connections, hashing and file writes. 0 runs them on the main thread.
   * Default: one less than the available cores, at most 8; none on two cores or fewer (run-tasks.ts, defaultDataThreads).
   */
  dataThreads?: number
  /** Uploads: which files go first. @default 'size-asc' */
  order: UploadOrder
  /** Uploads: follow symbolic links to files and directories (loops are detected). @default false */
  followSymlinks: boolean
  /** Uploads: the checksum each PUT and part carries for the store to verify. @default 'md5' */
  uploadChecksum: UploadChecksumChoice
}

/** Static shard `index` of `count` (`--shard K/N`), counted from 0 as a Kubernetes Indexed Job numbers its pods. */
export interface Shard {
  index: number
  count: number
}

export const uploadOrders = ['size-asc', 'size-desc', 'path'] as const
export type UploadOrder = (typeof uploadOrders)[number]
export const uploadChecksumChoices = ['md5', 'crc32', 'crc64nvme', 'none'] as const
export type UploadChecksumChoice = (typeof uploadChecksumChoices)[number]

/** The options that have a default. */
export type DefaultedOption = { [K in keyof TransferOptions]-?: undefined extends TransferOptions[K] ? never : K }[keyof TransferOptions]

export const transferDefaults: Readonly<Pick<TransferOptions, DefaultedOption>> = {
  minConcurrency: 1,
  maxConcurrency: 64,
  tuneInterval: 3,
  retries: 3,
  lowLevelRetries: 10,
  timeout: 30,
  retryDelay: 1,
  connectTimeout: 10,
  lease: 30,
  retryFailed: false,
  dryRun: false,
  serverSideCopy: true,
  verify: true,
  storeChecksums: true,
  order: 'size-asc',
  followSymlinks: false,
  uploadChecksum: 'md5',
}

/** Whether the source has endpoint or credential options of its own. */
export function sourceHasOwnSettings(options: TransferOptions): boolean {
  return options.sourceEndpointUrl !== undefined || options.sourceRegion !== undefined || options.sourceProfile !== undefined
}

/** The options a source's store opens with: its own endpoint, region and profile where it has any, else the destination's. */
export function sourceOptions(options: TransferOptions): TransferOptions {
  if (!sourceHasOwnSettings(options)) return options
  return { ...options, endpointUrl: options.sourceEndpointUrl, region: options.sourceRegion, profile: options.sourceProfile }
}

/** `given` completed with the defaults (an option given as undefined takes its default). */
export function transferOptions(given: Partial<TransferOptions> = {}): TransferOptions {
  const set = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined))
  return { ...transferDefaults, ...set }
}
