import { join } from 'node:path'
import { everything } from './glob.js'
import { formatField } from './job-error.js'
import type { BucketConfig, DownloadItemConfig } from './job-schema.js'
import type { JobItem, JobProvider } from './job-types.js'
import { resolveTarget, type PlacedTarget, type TargetRoot } from './targets.js'
import type { FieldPath } from './yaml-source.js'
import type { PathProblem } from './zod-issues.js'

export interface ExpandContext {
  /** The item's path, `['download_items', 2]`. */
  path: FieldPath
  /** The job file as given, for labels. */
  file: string
  root: TargetRoot
  lineOf: (path: FieldPath) => number
}

/** A job item and where in the file it comes from. */
export interface PlacedItem extends PlacedTarget {
  item: JobItem
}

/**
 * The items one download item stands for: one per bucket entry, one per Hugging Face file, or one
 * folder item for a whole repository. Problems are targets escaping the download root.
 */
export function expandItem(config: DownloadItemConfig, provider: JobProvider, ctx: ExpandContext): { placed: PlacedItem[]; problems: PathProblem[] } {
  const name = config.name ?? formatField(ctx.path)
  const placed: PlacedItem[] = []
  const problems: PathProblem[] = []
  /** `path` describes the item; `targetField` is the field that decides its target. */
  const add = (path: FieldPath, targetField: FieldPath, bucket: string, key: string, mode: JobItem['mode'], target: string, glob?: string) => {
    const line = ctx.lineOf(path)
    const label = `${ctx.file}:${line} ${name} ${bucket}${key ? `/${key}` : ''}`
    const item: JobItem = { label, line, name, provider, bucket, key, mode, ...(glob !== undefined ? { glob } : {}), target }
    placed.push({ item, target, mode, field: formatField(targetField), line: ctx.lineOf(targetField), itemField: formatField(path), itemLine: line })
  }
  const resolved = (path: FieldPath, raw: string, mode: JobItem['mode']) => {
    const r = resolveTarget(ctx.root, raw, mode)
    if ('problem' in r) problems.push({ path, at: 'value', message: r.problem })
    return 'target' in r ? r.target : undefined
  }

  if (config.type === 'hf') {
    // Kaiwo puts Hugging Face files in the Hub's cache; soaker puts them under the download root,
    // in `target_path` or else in a directory named after the repository (owner/name), so that two
    // repositories' config.json files never meet.
    const baseField = [...ctx.path, config.target_path !== undefined ? 'target_path' : 'repo_id']
    const base = resolved(baseField, config.target_path ?? config.repo_id, 'folder')
    if (base === undefined) return { placed, problems }
    const files = config.files ?? []
    if (files.length === 0) add(ctx.path, baseField, config.repo_id, '', 'folder', base, everything)
    files.forEach((key, j) => add([...ctx.path, 'files', j], [...ctx.path, 'files', j], config.repo_id, key, 'file', join(base, key)))
    return { placed, problems }
  }

  const listField = config.type === 'azure-blob' ? 'containers' : 'buckets'
  const buckets: BucketConfig[] = config.type === 'azure-blob' ? config.containers : config.buckets
  buckets.forEach((bucket, j) => {
    bucket.items.forEach((entry, k) => {
      const path = [...ctx.path, listField, j, 'items', k]
      const mode = entry.folder !== undefined ? 'folder' : 'file'
      const target = resolved([...path, 'target_path'], entry.target_path, mode)
      if (target === undefined) return
      const targetField = [...path, 'target_path']
      if (mode === 'folder') add(path, targetField, bucket.name, entry.folder!, 'folder', target, entry.glob ?? everything)
      else add(path, targetField, bucket.name, entry.file!, 'file', target)
    })
  })
  return { placed, problems }
}
