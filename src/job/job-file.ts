import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { formatField, JobFileError, type JobIssue } from './job-error.js'
import { expandItem, type PlacedItem } from './job-items.js'
import { resolveProvider } from './job-provider.js'
import { downloadItemSchema, fieldsAt, jobFileSchema, topLevelSchema } from './job-schema.js'
import type { Job } from './job-types.js'
import { unreadable } from './secrets.js'
import { targetClashes, type TargetRoot } from './targets.js'
import { parseYaml, type FieldPath } from './yaml-source.js'
import { pathProblems, type PathProblem } from './zod-issues.js'

export { JobFileError, type JobIssue } from './job-error.js'
export { globMatcher } from './glob.js'
export type { Job, JobItem, JobProvider } from './job-types.js'
export { Secret } from './secrets.js'

export interface LoadJobOptions {
  /** Where AZURE_STORAGE_CONNECTION_STRING is looked up for an azure-blob item without a connection string. @default process.env */
  env?: NodeJS.ProcessEnv
  /** What a relative download_root, secret file or credentials file is relative to. @default process.cwd() */
  cwd?: string
}

/**
 * Reads a job file in the Kaiwo downloader's format (see job-schema.ts), checks all of it, reads
 * every secret file, and returns the items to download with absolute targets. Nothing is contacted.
 * Rejects with JobFileError (code SOAKER_JOB_FILE, exit status 2) listing every problem found, each
 * with its line and field; no message holds a secret.
 */
export async function loadJob(file: string, options: LoadJobOptions = {}): Promise<Job> {
  const env = options.env ?? process.env
  const cwd = options.cwd ?? process.cwd()
  let text: string
  try {
    text = await readFile(resolve(cwd, file), 'utf8')
  } catch (err) {
    throw new JobFileError(file, [{ line: 0, field: '', message: `expected a readable job file, got ${unreadable(err)}` }])
  }
  const source = parseYaml(text)
  if (source.data === undefined) throw new JobFileError(file, source.problems.map((p) => ({ ...p, field: '' })))

  const issues: JobIssue[] = []
  const report = (problems: readonly PathProblem[]) => {
    for (const p of problems) issues.push({ line: source.lineOf(p.path, p.at), field: formatField(p.path), message: p.message })
  }
  const knownAt = (path: FieldPath) => fieldsAt(jobFileSchema, source.data, path)
  if (source.data === null) throw new JobFileError(file, [{ line: 1, field: '', message: 'expected a map with `download_items`, got an empty file' }])

  const top = topLevelSchema.safeParse(source.data, { reportInput: true })
  if (!top.success) report(top.error.issues.flatMap((i) => pathProblems(i, [], knownAt)))
  const data = source.data as { download_root?: unknown; download_items?: unknown }
  if (!Array.isArray(data.download_items)) throw new JobFileError(file, issues)
  const rootValid = data.download_root === undefined || typeof data.download_root === 'string'
  const root: TargetRoot = typeof data.download_root === 'string'
    ? { dir: resolve(cwd, data.download_root), given: true }
    : { dir: cwd, given: false }

  const expanded = await Promise.all(data.download_items.map(async (raw, index) => {
    const path = ['download_items', index]
    const parsed = downloadItemSchema.safeParse(raw, { reportInput: true })
    if (!parsed.success) return { placed: [], problems: parsed.error.issues.flatMap((i) => pathProblems(i, path, knownAt)) }
    const { provider, problems } = await resolveProvider(parsed.data, { path, cwd, env })
    // Targets checked against a download_root that is itself wrong would only add noise.
    if (!rootValid) return { placed: [], problems }
    const items = expandItem(parsed.data, provider, { path, file, root, lineOf: (p) => source.lineOf(p) })
    return { placed: items.placed, problems: [...problems, ...items.problems] }
  }))
  const placed: PlacedItem[] = expanded.flatMap((e) => e.placed)
  report(expanded.flatMap((e) => e.problems))
  for (const clash of targetClashes(placed)) issues.push({ line: clash.at.line, field: clash.at.field, message: clash.problem })
  if (issues.length > 0) throw new JobFileError(file, issues)
  return { file, downloadRoot: root.dir, items: placed.map((p) => p.item) }
}
