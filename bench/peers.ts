import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** `baseline`: an earlier build of soaker (`--baseline REF`), raced beside the current one. */
export const toolNames = ['soaker', 'baseline', 'rclone', 'aws'] as const
export type ToolName = (typeof toolNames)[number]

/** Where one run reads from, or uploads to: a prefix (no trailing slash) in a bucket of an S3 endpoint. */
export interface Source {
  endpoint: string
  accessKeyId: string
  secretAccessKey: string
  region: string
  bucket: string
  prefix: string
}

/** One command line: the program and its arguments, and the variables it adds to the base env. */
export interface Invocation {
  argv: string[]
  env: Record<string, string>
}

export interface Tool {
  name: ToolName
  /** The command that copies everything under `source` into `dest`; `scratch` is empty and private to the run. */
  invocation(source: Source, dest: string, scratch: string): Invocation
  /** The command that uploads everything under the directory `src` to `target`'s bucket and prefix. */
  upload(src: string, target: Source, scratch: string): Invocation
  /** A one-line version string, for the results. */
  version(env: NodeJS.ProcessEnv): Promise<string>
}

const soakerBin = fileURLToPath(new URL('../bin/soaker.js', import.meta.url))
const rcloneBin = '/usr/bin/rclone'
// Another `aws` (v1) comes first on PATH on this machine; the bench races aws cli v2.
const awsBin = '/usr/bin/aws'
export const requiredBinaries = [rcloneBin, awsBin]

/**
 * Every tool runs with this environment and nothing else from the caller's: stray variables
 * (SOAKER_*, MAX_PROCESSES, RCLONE_*, AWS_CONFIG_FILE, a proxy) would tune one tool and not the
 * others, and rclone 1.60 refuses to start while AWS_CA_BUNDLE is set. HOME is a fresh empty
 * directory, so no user config file (~/.aws/config, rclone.conf) changes a default either.
 */
export function baseEnv(home: string): Record<string, string> {
  return { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' }
}

function awsCredentials(source: Source): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: source.accessKeyId,
    AWS_SECRET_ACCESS_KEY: source.secretAccessKey,
    AWS_REGION: source.region,
    AWS_DEFAULT_REGION: source.region,
  }
}

/** `soaker cp from to` against `remote`'s endpoint, with the build at `bin`. */
function soakerCp(bin: string, from: string, to: string, remote: Source, scratch: string): Invocation {
  return {
    argv: [
      process.execPath, bin, 'cp', from, to,
      '--endpoint-url', remote.endpoint,
      // A fresh state database per run: a leftover one would turn the run into a resume.
      '--state', join(scratch, 'state.db'),
    ],
    env: awsCredentials(remote),
  }
}

/** soaker built at `bin`; `commit` names its commit, or the git checkout to ask. */
function soakerTool(name: 'soaker' | 'baseline', bin: string, commit: { checkout: string } | { sha: string }): Tool {
  return {
    name,
    invocation: (source, dest, scratch) => soakerCp(bin, `s3://${source.bucket}/${source.prefix}`, dest, source, scratch),
    upload: (src, target, scratch) => soakerCp(bin, src, `s3://${target.bucket}/${target.prefix}`, target, scratch),
    version: async (env) => {
      const { stdout } = await run(process.execPath, [bin, '--version'], { env })
      const at = 'sha' in commit ? commit.sha
        : await run('git', ['describe', '--always', '--dirty'], { cwd: commit.checkout }).then((r) => r.stdout.trim(), () => 'unknown commit')
      return `${name === 'baseline' ? 'baseline: ' : ''}soaker ${stdout.trim()} (${at}, node ${process.version})`
    },
  }
}

const soaker = soakerTool('soaker', soakerBin, { checkout: fileURLToPath(new URL('..', import.meta.url)) })

// The remote `bench:` is defined by environment variables, so no config file is involved.
function rcloneRemote(remote: Source): Record<string, string> {
  return {
    RCLONE_CONFIG_BENCH_TYPE: 's3',
    RCLONE_CONFIG_BENCH_PROVIDER: 'Ceph',
    RCLONE_CONFIG_BENCH_ENDPOINT: remote.endpoint,
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: remote.accessKeyId,
    RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: remote.secretAccessKey,
  }
}

const rclone: Tool = {
  name: 'rclone',
  invocation: (source, dest) => ({ argv: [rcloneBin, 'copy', `bench:${source.bucket}/${source.prefix}`, dest], env: rcloneRemote(source) }),
  upload: (src, target) => ({ argv: [rcloneBin, 'copy', src, `bench:${target.bucket}/${target.prefix}`], env: rcloneRemote(target) }),
  version: async (env) => (await run(rcloneBin, ['version'], { env })).stdout.split('\n')[0]!.trim(),
}

const aws: Tool = {
  name: 'aws',
  invocation: (source, dest) => ({
    // The trailing slash keeps `s3://b/small` from also matching keys under `small-other/`.
    argv: [awsBin, 's3', 'cp', '--recursive', `s3://${source.bucket}/${source.prefix}/`, dest, '--endpoint-url', source.endpoint, '--quiet'],
    env: awsCredentials(source),
  }),
  upload: (src, target) => ({
    argv: [awsBin, 's3', 'cp', '--recursive', src, `s3://${target.bucket}/${target.prefix}/`, '--endpoint-url', target.endpoint, '--quiet'],
    env: awsCredentials(target),
  }),
  version: async (env) => (await run(awsBin, ['--version'], { env })).stdout.trim(),
}

/** The tools in the order their runs interleave: soaker, rclone, aws, soaker, rclone, aws, ... */
export const tools: Tool[] = [soaker, rclone, aws]

/**
 * Races an earlier build of soaker too, as `baseline`, right after soaker in every round of the
 * download, upload, ceiling and WAN scenarios: `bin` is its bin/soaker.js, built from commit `sha`.
 */
export function addBaseline(bin: string, sha: string): void {
  if (!tools.some((t) => t.name === 'baseline')) tools.splice(1, 0, soakerTool('baseline', bin, { sha }))
}

/** `invocation` as a shell command line (`env -i VAR=... argv`), with secret values masked. */
export function formatCommand(base: Record<string, string>, invocation: Invocation): string {
  const vars = Object.entries({ ...base, ...invocation.env })
    .map(([name, value]) => `${name}=${shellQuote(/SECRET/.test(name) ? '***' : value)}`)
  return ['env', '-i', ...vars, ...invocation.argv.map(shellQuote)].join(' ')
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`
}
