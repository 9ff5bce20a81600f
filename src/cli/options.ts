import { UsageError } from '../errors.js'
import type { LogLevel } from '../engine/logger.js'
import { transferDefaults, uploadChecksumChoices, uploadOrders, type Shard, type TransferOptions } from '../options.js'
import { parseShard, shardCount, type RawValue } from './shard-option.js'
import { parseBytes, parseChoice, parseInteger, parseRate, parseSeconds } from './values.js'

/**
 * The one table of `cp` options. Flags, environment variables (`SOAKER_<NAME>`), the legacy
 * Super Obj Soaker variables and help all come from here, so none can be forgotten. It is typed
 * against the library's TransferOptions, whose defaults it shows and applies; the options of the
 * command line alone (CliOptions) carry their defaults here.
 */
interface OptionSpec<T> {
  /** Help text; the default and the environment variables are appended to it. */
  help: string
  /** Placeholder in `--help`; absent for boolean switches. */
  value?: string
  /** Default of a CLI-only option, as the user would type it; absent means "not set". */
  default?: string
  /** Variables of Super Obj Soaker accepted as aliases; `SOAKER_<NAME>` wins over them. */
  legacyEnv?: string[]
  /** `flag`: where `raw` was given (the flag or a variable), for messages. */
  parse: (flag: string, raw: string, context: ParseContext) => T
}

/** What a value may depend on beyond itself (`--shard auto`: the number of shards, the pod's index). */
interface ParseContext {
  /** Another option's value as given (flag, else variables), without its default. */
  given: (key: string) => RawValue | undefined
  env: NodeJS.ProcessEnv
}

const text = (_flag: string, raw: string): string => raw
const bool = (flag: string, raw: string): boolean => {
  if (/^(1|true|yes|on)$/i.test(raw)) return true
  if (/^(0|false|no|off)$/i.test(raw)) return false
  throw new UsageError(`Expected \`${flag}\` to be true or false, got \`${raw}\``)
}
/** `--verify`: true, or false (alias `size`: sizes are always checked). */
const verifyLevel = (flag: string, raw: string): boolean => {
  if (/^size$/i.test(raw)) return false
  try {
    return bool(flag, raw)
  } catch {
    throw new UsageError(`Expected \`${flag}\` to be true, false or size, got \`${raw}\``)
  }
}
const logLevels = ['debug', 'info', 'warn', 'error'] as const satisfies readonly LogLevel[]

/** What only the command line has: how it reports, and where more sources come from. */
export type CliOptions = {
  /** @default 'info' */
  logLevel: LogLevel
  /** Seconds between progress lines. @default 5 */
  progressInterval: number
  /** One JSON object per line on stdout. @default false */
  json: boolean
  /** More sources, one bucket or bucket/prefix per line. */
  bucketsFile?: string
  /** Run at the lowest CPU priority. @default false */
  nice: boolean
  /** Live dashboard when stdout is a terminal. @default true */
  dashboard: boolean
  /** The number of shards of `--shard auto` (a Kubernetes Indexed Job's completions). */
  shards?: number
}

/** Every option of `soaker cp`: the library's and the command line's. */
export type CopyOptions = TransferOptions & CliOptions

type Specs = { [K in keyof CopyOptions]-?: OptionSpec<NonNullable<CopyOptions[K]>> }

function option<T>(spec: OptionSpec<T>): OptionSpec<T> {
  return spec
}

export const copyOptionTable = {
  endpointUrl: option({ value: 'url', help: 'S3 endpoint, for S3-compatible stores (e.g. http://127.0.0.1:7480)', parse: text }),
  region: option({ value: 'name', help: 'AWS region (default: from the AWS config, else us-east-1)', parse: text }),
  profile: option({ value: 'name', help: 'named profile from the AWS config and credentials files (SSO included)', parse: text }),
  sourceEndpointUrl: option({ value: 'url', help: 'the source\'s S3 endpoint, where it differs from the destination\'s. With any --source-* option the source takes only those; without, both sides take --endpoint-url, --region and --profile', parse: text }),
  sourceRegion: option({ value: 'name', help: 'the source\'s AWS region (see --source-endpoint-url)', parse: text }),
  sourceProfile: option({ value: 'name', help: 'the source\'s named profile from the AWS config (see --source-endpoint-url)', parse: text }),
  serverSideCopy: option({ value: 'bool', help: 'between buckets of one store (same endpoint and credentials), have the store copy each object (S3 CopyObject and UploadPartCopy, GCS rewrite, Azure Copy Blob): no bytes cross this machine. false: stream them through it', parse: bool }),
  logLevel: option({ value: 'level', default: 'info', help: 'debug, info, warn or error', parse: (f, r) => parseChoice(f, r, logLevels) }),
  minConcurrency: option({ value: 'n', legacyEnv: ['MIN_PROCESSES'], help: 'fewest requests in flight', parse: (f, r) => parseInteger(f, r, 1) }),
  maxConcurrency: option({ value: 'n', legacyEnv: ['MAX_PROCESSES'], help: 'most requests in flight', parse: (f, r) => parseInteger(f, r, 1) }),
  concurrency: option({ value: 'n', help: 'requests in flight to start with (default: 16, within the bounds above)', parse: (f, r) => parseInteger(f, r, 1) }),
  maxSpeed: option({ value: 'rate', legacyEnv: ['MAX_SPEED'], help: 'cap on total throughput in MB/s, e.g. 50 or 50MB/s (default: no cap)', parse: parseRate }),
  tuneInterval: option({ value: 'seconds', legacyEnv: ['OPTIMIZATION_INTERVAL'], help: 'how often concurrency is re-evaluated', parse: parseSeconds }),
  retries: option({ value: 'n', legacyEnv: ['MAX_RETRIES'], help: 'retries of a request that failed with an error answer (a 500, a checksum mismatch) before its object is recorded as failed', parse: (f, r) => parseInteger(f, r, 0) }),
  lowLevelRetries: option({ value: 'n', help: 'retries of a request cut short by the connection or the load (a reset, a stall, a timeout, 503 SlowDown, 429), counted apart from --retries', parse: (f, r) => parseInteger(f, r, 0) }),
  timeout: option({ value: 'seconds', help: 'cancel and retry a request when no byte of it moves for this long (an answer that never comes, a body that stops); downloads learn a shorter limit from the run\'s own requests, at least 2 s', parse: parseSeconds }),
  retryDelay: option({ value: 'seconds', legacyEnv: ['RETRY_DELAY'], help: 'base of the exponential backoff between retries (with jitter)', parse: parseSeconds }),
  partSize: option({ value: 'size', help: 'byte-range part size for large objects, e.g. 16MiB (default: auto, matching the object\'s upload parts where known, else 8 MiB)', parse: parseBytes }),
  connectTimeout: option({ value: 'seconds', help: 'give up connecting to the endpoint after this long', parse: parseSeconds }),
  state: option({ value: 'path|url', help: 'state database (default: one per source and destination, and shard, under $XDG_STATE_HOME/soaker), or postgres://user@host:port/db for a job that several workers share (the password from the URL, PGPASSWORD or PGPASSFILE)', parse: text }),
  lease: option({ value: 'seconds', help: 'a shared job (--state postgres://…): how long a worker\'s claims hold without its heartbeat; the objects of a worker that stops are taken over after this', parse: parseSeconds }),
  shard: option({
    value: 'K/N|auto',
    help: 'copy only static shard K of N (K from 0): the objects whose key\'s SHA-256 picks K (README, "Static shards"); each shard lists the source and keeps a state of its own. auto: K from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job\'s pod index), N from --shards',
    parse: (f, r, c) => parseShard(f, r, { shards: c.given('shards'), env: c.env }),
  }),
  shards: option({ value: 'n', help: 'the number of shards of --shard auto: the Indexed Job\'s completions', parse: (f, r) => parseInteger(f, r, 1) }),
  progressInterval: option({ value: 'seconds', default: '5', help: 'seconds between progress lines', parse: parseSeconds }),
  json: option({ default: 'false', help: 'one JSON object per line on stdout for every event, progress and the summary', parse: bool }),
  bucketsFile: option({ value: 'file', help: 'more sources, one bucket or bucket/prefix per line (# comments); each lands in DEST/<bucket>', parse: text }),
  retryFailed: option({ help: 'retry only the objects the last runs recorded as failed, without listing the source again', parse: bool }),
  dryRun: option({ help: 'list what would be copied and skipped, and transfer nothing', parse: bool }),
  verify: option({
    value: 'bool',
    help: 'check each object\'s digest (its MD5 ETag, or the store\'s own) where the store gives one. false or size: check sizes only (as rclone does for multipart objects), and take no digest of the bytes at all',
    parse: verifyLevel,
  }),
  storeChecksums: option({
    value: 'bool',
    help: 'downloads: ask the store for the checksums it keeps (S3: x-amz-checksum-mode) and verify each object by a full-object CRC where one is kept (S3\'s CRC64NVME, CRC32C or CRC32; the crc32c of a GCS composite object), computed as its ranges stream, instead of its MD5. false: by ETags only, for a store that refuses or mangles flexible checksums',
    parse: bool,
  }),
  dataThreads: option({ value: 'n', help: 'threads that carry the bytes, each with its own connections, hashing and writes (default: one less than the available cores, at most 8, and 0 on two cores or fewer; 0: all on the main thread)', parse: (f, r) => parseInteger(f, r, 0) }),
  order: option({
    value: 'order',
    help: 'uploads: which files go first, size-asc, size-desc or path. size-asc (the default) finishes the most files soonest, so an interrupted run leaves the fewest behind and the store sees its biggest files last, when the tuned concurrency carries them best',
    parse: (f, r) => parseChoice(f, r, uploadOrders),
  }),
  followSymlinks: option({ help: 'uploads: follow symbolic links to files and directories (loops are detected); otherwise links are skipped with a warning', parse: bool }),
  uploadChecksum: option({
    value: 'kind',
    help: 'uploads: checksum each PUT and part carries for the store to verify: md5 (Content-MD5, every S3 store), crc32 (x-amz-checksum-crc32, where the store supports it), crc64nvme (x-amz-checksum-crc64nvme; a multipart upload gets a FULL_OBJECT CRC64NVME, so later downloads verify by it; Ceph 16 takes and ignores it) or none',
    parse: (f, r) => parseChoice(f, r, uploadChecksumChoices),
  }),
  nice: option({ default: 'false', help: 'run at the lowest CPU priority (nice 19), so soaker never slows other work on the machine', parse: bool }),
  dashboard: option({ value: 'bool', default: 'true', help: 'live dashboard when stdout is a terminal (false: plain lines)', parse: bool }),
} satisfies Specs

type Table = typeof copyOptionTable

/** The default as the user would type it: the library's, or the CLI-only option's own. */
function defaultOf(key: keyof Table): string | undefined {
  const spec: OptionSpec<unknown> = copyOptionTable[key]
  const library = (transferDefaults as Partial<Record<keyof Table, unknown>>)[key]
  return library !== undefined ? String(library) : spec.default
}

export function flagName(key: string): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())
}

export function envName(key: string): string {
  return 'SOAKER_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase()
}

/** The flag as commander declares it: `--name <value>`, or `--name` for a switch. */
export function optionFlags(key: keyof Table): string {
  const spec: OptionSpec<unknown> = copyOptionTable[key]
  return spec.value ? `${flagName(key)} <${spec.value}>` : flagName(key)
}

/** Help text of one option, with its default and variables. */
export function optionHelp(key: keyof Table): string {
  const spec: OptionSpec<unknown> = copyOptionTable[key]
  const vars = [envName(key), ...(spec.legacyEnv ?? [])].join(', ')
  const given = defaultOf(key)
  const dflt = given !== undefined ? ` (default: ${given})` : ''
  return `${spec.help}${dflt} [env: ${vars}]`
}

/** The option's value as given: the flag, then SOAKER_<NAME>, then the legacy variables; no default. */
function givenValue(key: keyof Table, given: Record<string, string | undefined>, env: NodeJS.ProcessEnv): RawValue | undefined {
  const spec: OptionSpec<unknown> = copyOptionTable[key]
  if (given[key] !== undefined) return { raw: given[key], source: flagName(key) }
  for (const name of [envName(key), ...(spec.legacyEnv ?? [])]) {
    if (env[name] !== undefined && env[name] !== '') return { raw: env[name], source: name }
  }
  return undefined
}

/** `keys` resolved: flag, then SOAKER_<NAME>, then the legacy variable, then the default. */
function resolveKeys(keys: ReadonlyArray<keyof Table>, given: Record<string, string | undefined>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const context: ParseContext = { given: (key) => givenValue(key as keyof Table, given, env), env }
  const out: Record<string, unknown> = {}
  for (const key of keys) {
    const spec: OptionSpec<unknown> = copyOptionTable[key]
    const value = givenValue(key, given, env)
    const raw = value?.raw ?? defaultOf(key)
    if (raw !== undefined) out[key] = spec.parse(value?.source ?? flagName(key), raw, context)
  }
  const shards = givenValue('shards', given, env)
  if (keys.includes('shards') && shards !== undefined && out.shard === undefined) {
    const n = shardCount(shards)
    throw new UsageError(`Expected \`--shard auto\` or \`--shard K/${n}\` with \`${shards.source}\` (${n}), got no \`--shard\` (or SOAKER_SHARD): without one, every object is copied`)
  }
  return out
}

/**
 * Resolves every option: flag, then SOAKER_<NAME>, then the legacy variable, then the default.
 * `given` holds the raw strings commander collected from the command line.
 */
export function resolveCopyOptions(given: Record<string, string | undefined>, env: NodeJS.ProcessEnv): CopyOptions {
  const o = resolveKeys(Object.keys(copyOptionTable) as Array<keyof Table>, given, env) as unknown as CopyOptions
  if (o.minConcurrency > o.maxConcurrency) {
    throw new UsageError(`Expected \`--min-concurrency\` (${o.minConcurrency}) to be at most \`--max-concurrency\` (${o.maxConcurrency})`)
  }
  if (o.partSize !== undefined && o.partSize < 1024 * 1024) {
    throw new UsageError(`Expected \`--part-size\` to be at least 1MiB, got \`${o.partSize}\` bytes`)
  }
  return o
}

/**
 * `--shard` and `--shards` alone, as cp resolves them: for the commands that find a cp's state
 * database (status, abort) without taking its other options.
 */
export function resolveShard(given: Record<string, string | undefined>, env: NodeJS.ProcessEnv): Shard | undefined {
  return resolveKeys(['shard', 'shards'], given, env).shard as Shard | undefined
}
