import { z } from 'zod'
import { globProblem } from './glob.js'
import { toKey } from './keys.js'
import type { FieldPath } from './yaml-source.js'

// The Kaiwo downloader's job format (github.com/silogen/kaiwo, python/kaiwo/downloader/: config.py,
// handlers/base.py, s3.py, gcs.py, azure.py, huggingface.py; python/docs/downloader.md), as its
// pydantic models define it:
// - top level: `download_items` (a list, required), `download_root` (optional; absent means the
//   working directory, and an absolute target_path is used as it is).
// - every item: `type` and an optional `name` (used in its log lines).
// - s3: `endpoint_url`, `access_key_id`, `secret_key`, each optional and each also as `<field>_file`
//   (the value read from a file and stripped of surrounding whitespace); no keys at all means
//   unsigned requests (public buckets); `buckets` (required).
// - gcs: `application_credentials_file` (a path to a service account JSON, optional), `project`
//   (optional), `buckets`.
// - azure-blob: `connection_string` or `connection_string_file`, `containers`.
// - buckets and containers: `name`, `items`; an item is a folder entry (`folder`, `target_path`,
//   `glob` defaulting to `**/*`, objects landing at target_path/<key relative to the folder>; `.`
//   is the whole bucket) or a file entry (`file`, `target_path`, the file itself).
// - hf: `repo_id`, `files` (default empty: the whole repository); Kaiwo downloads into the Hugging
//   Face cache and ignores download_root, and has no revision, repository type or token fields.
// Where soaker differs, on purpose: unknown fields (which pydantic ignores) are errors, so a typo
// such as `targte_path` cannot silently change a download; so is a key given twice (PyYAML keeps
// the last); `type` is required; a bucket item with both `folder` and `file`, or a `glob` on a
// file entry, is an error rather than one being ignored; `x` and `x_file` together are an error
// (Kaiwo takes `x`); hf items land under the download root (see job-items.ts) and take soaker's
// `target_path`, `revision`, `repo_type` and `token`/`token_file`; s3 items take a `region`.

/** Fields whose values are secrets: never shown in a message, whatever is wrong with them. */
export const secretFields: ReadonlySet<string> = new Set(['access_key_id', 'secret_key', 'connection_string', 'token'])

/** The download item types, in the order messages list them. */
export const itemTypes = ['s3', 'gcs', 'azure-blob', 'hf'] as const

const text = z.string()
const value = z.string().min(1)

function key(mode: 'file' | 'folder') {
  return z.string().transform((raw, ctx) => {
    const r = toKey(raw, mode)
    if ('problem' in r) {
      ctx.addIssue({ code: 'custom', message: r.problem })
      return z.NEVER
    }
    return r.key
  })
}

const glob = z.string().superRefine((g, ctx) => {
  const problem = globProblem(g)
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem })
})

// Checks between fields run even when a field has a problem of its own, so that one pass reports
// both; they only test whether fields are present, which holds for any input.
const always = { when: () => true }

/** A bucket or container item: exactly one of `folder` or `file`. */
const entrySchema = z.strictObject({
  folder: key('folder').optional(),
  file: key('file').optional(),
  target_path: text,
  glob: glob.optional(),
}).superRefine((v, ctx) => {
  if (typeof v !== 'object' || v === null) return
  const has = (k: string) => (v as Record<string, unknown>)[k] !== undefined
  if (has('folder') && has('file')) ctx.addIssue({ code: 'custom', message: 'expected exactly one of `folder` or `file`, got both' })
  else if (!has('folder') && !has('file')) ctx.addIssue({ code: 'custom', message: 'expected exactly one of `folder` or `file`, got neither' })
  else if (has('file') && has('glob')) ctx.addIssue({ code: 'custom', path: ['glob'], message: 'expected `glob` only on a folder entry, got it on a file entry' })
}, always)

const bucketName = z.string().superRefine((name, ctx) => {
  if (name === '') ctx.addIssue({ code: 'custom', message: 'expected a bucket or container name, got an empty one' })
  else if (!/^[^/\s]+$/.test(name)) ctx.addIssue({ code: 'custom', message: `expected a bucket or container name without \`/\` or spaces, got \`${name}\`` })
})

const bucketSchema = z.strictObject({ name: bucketName, items: z.array(entrySchema) })

/** `x` and `x_file` give the same value two ways; one at most. */
function pairs(...fields: string[]) {
  return (v: unknown, ctx: z.RefinementCtx) => {
    if (typeof v !== 'object' || v === null) return
    const o = v as Record<string, unknown>
    for (const f of fields) {
      if (o[f] !== undefined && o[`${f}_file`] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [`${f}_file`], message: `expected one of \`${f}\` or \`${f}_file\`, got both` })
      }
    }
  }
}

const s3Schema = z.strictObject({
  type: z.literal('s3'),
  name: text.optional(),
  endpoint_url: value.optional(),
  endpoint_url_file: value.optional(),
  access_key_id: value.optional(),
  access_key_id_file: value.optional(),
  secret_key: value.optional(),
  secret_key_file: value.optional(),
  region: value.optional(),
  buckets: z.array(bucketSchema),
}).superRefine((v, ctx) => {
  pairs('endpoint_url', 'access_key_id', 'secret_key')(v, ctx)
  if (typeof v !== 'object' || v === null) return
  const o = v as Record<string, unknown>
  const id = o.access_key_id !== undefined || o.access_key_id_file !== undefined
  const secret = o.secret_key !== undefined || o.secret_key_file !== undefined
  if (id !== secret) {
    const [given, missing] = id ? ['access_key_id', 'secret_key'] : ['secret_key', 'access_key_id']
    ctx.addIssue({ code: 'custom', message: `expected \`${missing}\` or \`${missing}_file\` along with \`${given}\` (both keys, or neither for a public bucket), got only \`${given}\`` })
  }
}, always)

const gcsSchema = z.strictObject({
  type: z.literal('gcs'),
  name: text.optional(),
  application_credentials_file: value.optional(),
  project: value.optional(),
  buckets: z.array(bucketSchema),
})

const azureSchema = z.strictObject({
  type: z.literal('azure-blob'),
  name: text.optional(),
  connection_string: value.optional(),
  connection_string_file: value.optional(),
  containers: z.array(bucketSchema),
}).superRefine(pairs('connection_string'), always)

// The Hub's rule (huggingface_hub's validate_repo_id): `name` or `owner/name`, each part letters,
// digits, `-`, `_` and `.`, not starting or ending with `-` or `.`, no `--` or `..`, 96 at most.
const repoPart = /^(?!.*(?:--|\.\.))[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/
const repoId = z.string().superRefine((id, ctx) => {
  const parts = id.split('/')
  if (id.length > 96 || parts.length > 2 || !parts.every((p) => repoPart.test(p))) {
    ctx.addIssue({ code: 'custom', message: `expected a Hugging Face repository id like owner/name, got \`${id}\`` })
  }
})

const hfSchema = z.strictObject({
  type: z.literal('hf'),
  name: text.optional(),
  repo_id: repoId,
  files: z.array(key('file')).optional(),
  repo_type: z.enum(['model', 'dataset', 'space']).optional(),
  revision: value.optional(),
  token: value.optional(),
  token_file: value.optional(),
  target_path: text.optional(),
}).superRefine(pairs('token'), always)

/** One entry of `download_items`, chosen by its `type`. */
export const downloadItemSchema = z.discriminatedUnion('type', [s3Schema, gcsSchema, azureSchema, hfSchema])
export type DownloadItemConfig = z.output<typeof downloadItemSchema>
export type BucketConfig = z.output<typeof bucketSchema>

/** A whole job file. */
export const jobFileSchema = z.strictObject({
  download_root: text.optional(),
  download_items: z.array(downloadItemSchema).min(1),
})

/**
 * The top level of a job file alone. The loader checks items one by one with downloadItemSchema,
 * so that the valid ones are checked further (secrets, targets) while the others are reported.
 */
export const topLevelSchema = jobFileSchema.extend({ download_items: z.array(z.unknown()).min(1) })

/**
 * The fields the object at `path` of `data` accepts under `schema` (for "did you mean" hints);
 * empty when the path leads to no object schema.
 */
export function fieldsAt(schema: z.ZodType, data: unknown, path: FieldPath): string[] {
  let s: z.ZodType | undefined = schema
  let d = data
  for (const segment of [...path, undefined]) {
    while (s instanceof z.ZodOptional || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType
    if (s instanceof z.ZodDiscriminatedUnion) {
      const type = (d as Record<string, unknown> | null | undefined)?.type
      s = (s.options as z.ZodObject[]).find((o) => (o.shape.type as z.ZodLiteral).values.has(type as never))
    }
    if (segment === undefined) break
    if (s instanceof z.ZodObject) s = s.shape[segment] as z.ZodType | undefined
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType
    else return []
    d = (d as Record<string | number, unknown> | null | undefined)?.[segment]
  }
  return s instanceof z.ZodObject ? Object.keys(s.shape) : []
}
