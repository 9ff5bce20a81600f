import type { DataJob, DataResult, SourceRef } from './data-job.js'
import type { WireError } from './wire-errors.js'

/** Messages from the control thread to a data thread. */
export type ToData =
  | { t: 'source'; source: number; ref: SourceRef }
  | { t: 'job'; id: number; job: DataJob }
  /** Stop job `id`: it answers `failed` (or `done`, if it had finished) once it no longer writes. */
  | { t: 'cancel'; id: number }

/** Messages from a data thread to the control thread. */
export type ToControl =
  /** The thread has loaded its script: it takes jobs. */
  | { t: 'ready' }
  | { t: 'moved'; id: number; bytes: number }
  | { t: 'done'; id: number; result: DataResult }
  | { t: 'failed'; id: number; error: WireError }
