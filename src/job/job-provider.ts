import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { DownloadItemConfig } from './job-schema.js'
import type { JobProvider } from './job-types.js'
import { readSecretFile, Secret, unreadable } from './secrets.js'
import type { FieldPath } from './yaml-source.js'
import type { PathProblem } from './zod-issues.js'

export interface ProviderContext {
  /** The item's path, `['download_items', 2]`. */
  path: FieldPath
  /** Relative secret and credential files resolve against it, as Kaiwo opens them. */
  cwd: string
  env: NodeJS.ProcessEnv
}

/**
 * How to reach an item's store, with every secret read from its file. Each problem (a file that
 * cannot be read, a missing connection string) names the field; none holds a secret's value.
 */
export async function resolveProvider(config: DownloadItemConfig, ctx: ProviderContext): Promise<{ provider: JobProvider; problems: PathProblem[] }> {
  const problems: PathProblem[] = []
  const fields = config as unknown as Record<string, string | undefined>
  /** `field` given inline, or read from `field_file`; undefined when neither is given or the file fails. */
  const valueOf = async (field: string): Promise<string | undefined> => {
    if (fields[field] !== undefined) return fields[field]
    const file = fields[`${field}_file`]
    if (file === undefined) return undefined
    const r = await readSecretFile(resolve(ctx.cwd, file))
    if ('problem' in r) problems.push({ path: [...ctx.path, `${field}_file`], at: 'value', message: r.problem })
    return 'value' in r ? r.value : undefined
  }
  const secret = async (field: string) => {
    const v = await valueOf(field)
    return v === undefined ? undefined : new Secret(v)
  }
  switch (config.type) {
    case 's3': {
      const [endpointUrl, accessKeyId, secretAccessKey] = await Promise.all([valueOf('endpoint_url'), secret('access_key_id'), secret('secret_key')])
      if (endpointUrl !== undefined && !/^https?:\/\/[^/]/i.test(endpointUrl)) {
        const field = config.endpoint_url !== undefined ? 'endpoint_url' : 'endpoint_url_file'
        const got = field === 'endpoint_url' ? `\`${endpointUrl}\`` : 'something else in the file'
        problems.push({ path: [...ctx.path, field], at: 'value', message: `expected an http:// or https:// URL, got ${got}` })
      }
      return { provider: { type: 's3', endpointUrl, accessKeyId, secretAccessKey, region: config.region }, problems }
    }
    case 'gcs': {
      const file = config.application_credentials_file
      const credentialsFile = file === undefined ? undefined : resolve(ctx.cwd, file)
      if (credentialsFile !== undefined) {
        const problem = await jsonFileProblem(credentialsFile)
        if (problem !== undefined) problems.push({ path: [...ctx.path, 'application_credentials_file'], at: 'value', message: problem })
      }
      return { provider: { type: 'gcs', credentialsFile, project: config.project }, problems }
    }
    case 'azure-blob': {
      const given = await valueOf('connection_string')
      const fromEnv = config.connection_string === undefined && config.connection_string_file === undefined
      const value = given ?? (fromEnv ? ctx.env.AZURE_STORAGE_CONNECTION_STRING : undefined)
      if (value === undefined && fromEnv) {
        problems.push({ path: ctx.path, at: 'value', message: 'expected `connection_string` or `connection_string_file` (or AZURE_STORAGE_CONNECTION_STRING in the environment), got none' })
      } else if (value !== undefined && !/(?:^|;)\s*[A-Za-z]+=/.test(value)) {
        const field = fromEnv ? 'AZURE_STORAGE_CONNECTION_STRING' : config.connection_string !== undefined ? 'connection_string' : 'connection_string_file'
        problems.push({ path: fromEnv ? ctx.path : [...ctx.path, field], at: 'value', message: `expected a connection string like AccountName=…;AccountKey=…, got something else${fromEnv ? ` in ${field}` : ''}` })
      }
      return { provider: { type: 'azure-blob', connectionString: new Secret(value ?? '') }, problems }
    }
    case 'hf': {
      const token = await secret('token')
      const repo = { type: config.repo_type ?? 'model', id: config.repo_id, ...(config.revision !== undefined ? { revision: config.revision } : {}) }
      return { provider: { type: 'hf', repo, token }, problems }
    }
  }
}

/** Why a credentials file is unusable: unreadable, or not JSON (its content never shown). */
async function jsonFileProblem(path: string): Promise<string | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    return `expected a readable file, got \`${path}\` (${unreadable(err)})`
  }
  try {
    JSON.parse(text)
  } catch {
    return `expected a service account key in JSON, got \`${path}\`, which is not JSON`
  }
  return undefined
}
