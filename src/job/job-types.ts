import type { HfRepo } from '../providers/hf/uri.js'
import type { Secret } from './secrets.js'

/**
 * A job file read, validated and resolved: every secret read from its file, every target made
 * absolute. Plain data; nothing has been contacted yet.
 */
export interface Job {
  /** The job file's path as given. */
  file: string
  /** Absolute: the file's `download_root` resolved against the working directory, or the working directory. */
  downloadRoot: string
  items: JobItem[]
}

/** How to reach one item's store. Secrets are Secret objects: they print as `[secret]`. */
export type JobProvider =
  | { type: 's3'; endpointUrl?: string; accessKeyId?: Secret; secretAccessKey?: Secret; region?: string }
  | {
    type: 'gcs'
    /** Absolute path of a service account's JSON key; absent: the environment's default credentials. */
    credentialsFile?: string
    project?: string
  }
  | { type: 'azure-blob'; connectionString: Secret }
  | { type: 'hf'; repo: HfRepo; token?: Secret }

/** One thing to download: a folder (every object under a prefix that matches a glob) or one object. */
export interface JobItem {
  /** For messages, `job.yaml:14 weights my-bucket/data`; never holds a secret. */
  label: string
  /** The line of the job file that describes this item. */
  line: number
  /** The download item's `name`, or `download_items[N]` when it has none. */
  name: string
  provider: JobProvider
  /** The bucket, Azure container, or Hugging Face repository id. */
  bucket: string
  /** A file entry's object key, or a folder entry's prefix without a trailing slash ('' for all of it). No leading slash. */
  key: string
  mode: 'file' | 'folder'
  /** Folder entries: a glob relative to the folder (`**\/*` by default, see globMatcher). File entries: undefined. */
  glob?: string
  /** Absolute local path: the directory a folder's objects land in, or the file a file entry becomes. */
  target: string
}
