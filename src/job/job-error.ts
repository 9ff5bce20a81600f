import { UsageError } from '../errors.js'
import type { FieldPath } from './yaml-source.js'

/** One problem of a job file: where (line and field) and what, as `expected …, got …`. */
export interface JobIssue {
  /** 1-based; 0 for the file as a whole (it cannot be read). */
  line: number
  /** The field, `download_items[1].buckets[0].items[2]`; empty for the file as a whole. */
  field: string
  message: string
}

/** At most this many problems are listed; a user fixing a file wants them all, within reason. */
export const maxIssues = 20

/**
 * A job file that cannot run, with every problem found in it, one per line:
 * ``job.yaml:12: download_items[1].buckets[0].items[2]: expected exactly one of `folder` or `file`, got both``.
 * No message holds a secret's value.
 */
export class JobFileError extends UsageError {
  // UsageError's code is typed as its own literal; the runtime value is what users and scripts see.
  override readonly code = 'SOAKER_JOB_FILE'
  readonly file: string
  readonly issues: readonly JobIssue[]

  constructor(file: string, issues: readonly JobIssue[]) {
    const sorted = [...issues].sort((a, b) => a.line - b.line)
    const lines = sorted.slice(0, maxIssues).map((i) => `${file}${i.line > 0 ? `:${i.line}` : ''}: ${i.field ? `${i.field}: ` : ''}${i.message}`)
    if (sorted.length > maxIssues) lines.push(`${file}: … and ${sorted.length - maxIssues} more problems`)
    super(lines.join('\n'))
    this.file = file
    this.issues = sorted
  }
}

/** `download_items[1].buckets[0].items[2]`, the way a reader would point into the YAML. */
export function formatField(path: FieldPath): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('')
}
