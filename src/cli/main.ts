import { Command, CommanderError, Option } from 'commander'
import { assertCopyable, copy, type CopyEnvironment, type CopyResult } from '../index.js'
// Not import()ed with the job file: in the CLI bundle a module loaded by import() is wrapped to
// run on demand, and so is all it imports, down to the SDK's index, which then runs every module
// it re-exports (all ~100 S3 commands, 120 KB) instead of those soaker sends.
import { runJob } from '../engine/run-job.js'
import { runAbort } from './abort.js'
import { benchCommand } from './bench.js'
import { checkCommand } from './check.js'
import { lowerPriority } from './nice.js'
import { readBucketsFile } from './buckets-file.js'
import { shardName } from '../engine/shard.js'
import { Stats } from '../engine/stats.js'
import { errorMessage, SoakerError, UsageError } from '../errors.js'
import { parseLocation } from '../location.js'
import { dashboardReporter } from '../ui/dashboard-reporter.js'
import { jsonReporter, plainReporter, type RunHeader } from '../ui/reporter.js'
import { copyOptionTable, optionFlags, optionHelp, resolveCopyOptions, resolveShard, type CopyOptions } from './options.js'
import { runStatus } from './status.js'
import { givenStrings, parseInteger } from './values.js'

const exitCodes = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const

const cpExamples = `
Examples:
  soaker cp s3://my-bucket/photos ./photos        everything under photos/, keys relative to it
  soaker cp s3://my-bucket/a/file.bin ./dir       one object, into ./dir/file.bin
  soaker cp s3://data ./data --endpoint-url http://127.0.0.1:7480 --max-speed 50MB/s
  soaker cp s3://logs s3://models/v2 ./dest       ./dest/logs/… and ./dest/models/v2/…
  soaker cp --buckets-file buckets.txt ./dest     one bucket or bucket/prefix per line, # comments
  soaker cp ./photos s3://my-bucket/photos        upload a tree: keys are paths relative to ./photos
  soaker cp ./big.iso s3://my-bucket/isos/        upload one file, as isos/big.iso
  soaker cp s3://a/data s3://b/copy               bucket to bucket: the store copies (same endpoint)
  soaker cp s3://a/data s3://b/copy --source-endpoint-url https://s3.other.example
                                                  streamed between two stores, ranges into parts
  soaker cp hf://owner/repo s3://mirror/repo      any source into S3 (az://, gs://, hf://, s3://)
  soaker cp ./photos az://container/photos        upload into Azure Blob (blocks, resumable)
  soaker cp az://container/models ./models        Azure Blob (AZURE_STORAGE_CONNECTION_STRING)
  soaker cp gs://bucket/eval ./eval               Google Cloud Storage (GOOGLE_APPLICATION_CREDENTIALS)
  soaker cp hf://owner/repo@v1.0 ./model          a Hugging Face repository at a tag (HF_TOKEN, HF_ENDPOINT)
  soaker cp s3://data ./data --shard 2/8          static shard 2 of 8 (0-7): the keys whose hash picks 2
  soaker cp s3://data ./data --shard auto --shards 8
                                                  in a Kubernetes Indexed Job: shard JOB_COMPLETION_INDEX of 8

Running the same command again resumes: finished objects and finished parts are not sent
again, and files already at the destination with the same size and mtime are skipped.
Uploads store each file's mtime (X-Amz-Meta-Mtime, float seconds, as rclone does) and mode
(X-Amz-Meta-Mode, octal); downloads restore both when the object has them. An empty directory
is uploaded as a zero-byte \`dir/\` marker and downloaded as an empty directory again.
A copy into S3 from another store carries the object's metadata and content type (and an mtime,
its Last-Modified, where it has none), splits a multipart object as the source was, so that the
copy has the source's ETag, and resumes part by part. Between buckets of one store (same endpoint
and credentials), the store copies each object (CopyObject, UploadPartCopy) unless
--server-side-copy false.
An interrupted upload keeps its multipart uploads on the store to resume them; \`soaker abort\`
with the same arguments deletes them instead.
Static shards: the N commands --shard 0/N to --shard N-1/N each list the source and copy only
their own keys (the first 8 bytes of SHA-256 of the key, mod N), so that together they copy every
object once; each keeps a state database of its own, and refuses another shard's.
One run at a time writes a state database: a second cp or plan on the same state refuses at once
with SOAKER_LOCKED, naming the process that holds \`<state>.lock\` (soaker status still reads it).
Exit status: 0 all arrived, 1 something failed (or the state is locked), 2 bad usage, 130 interrupted (SIGINT, SIGTERM).`

export type CopyHandler = (sources: string[], dst: string, raw: Record<string, string | undefined>, planOnly: boolean) => Promise<number>

/** `cp` and `plan` take the same arguments and the same option table. */
function copyCommand(program: Command, name: string, description: string, onCopy: CopyHandler, planOnly: boolean): Command {
  const cmd = program.command(name)
    .description(description)
    .argument('<sources...>', 'one or more of s3://bucket[/prefix], az://container[/prefix], gs://bucket[/prefix], hf://[datasets/]owner/repo[@revision][/path] (or one object\'s key), then the local destination directory; or a local file or directory, then s3://bucket[/prefix]')
    .exitOverride()
  for (const key of Object.keys(copyOptionTable) as Array<keyof typeof copyOptionTable>) {
    cmd.addOption(new Option(optionFlags(key), optionHelp(key)))
  }
  cmd.action(async (paths: string[], raw: Record<string, string | boolean | undefined>) => {
    const given = givenStrings(raw)
    if (paths.length < 2 && given.bucketsFile === undefined) throw new UsageError(`Expected a source and a destination: soaker ${name} s3://bucket/prefix ./dir`)
    process.exitCode = await onCopy(paths.slice(0, -1), paths.at(-1)!, given, planOnly)
  })
  return cmd
}

export type RunHandler = (file: string, raw: Record<string, string | undefined>) => Promise<number>

/** The options that find a sharded cp's state database (status, abort). */
const shardKeys = ['shard', 'shards']

/** cp options that mean nothing to a job of downloads. */
const notForJobs = new Set(['bucketsFile', 'followSymlinks', 'uploadChecksum', 'order'])

const runHelp = `
The job file (the Kaiwo downloader's format, unchanged):
  download_root: /data                      # relative target paths resolve against it
  download_items:
    - type: s3                              # s3 | gcs | azure-blob | hf
      name: weights
      endpoint_url: http://minio:9000       # or endpoint_url_file
      access_key_id_file: /secrets/s3/key   # or access_key_id
      secret_key_file: /secrets/s3/secret   # or secret_key
      buckets:
        - name: my-bucket
          items:
            - folder: data                  # everything under data/ ...
              target_path: local/data
              glob: "**/*.csv"              # ... matching this (default **/*)
            - file: readme.txt              # one object
              target_path: local/readme.txt
    - type: gcs                             # application_credentials_file, project, buckets
    - type: azure-blob                      # connection_string[_file], containers
    - type: hf                              # repo_id, files (none: the whole repository)

The whole file is checked, and every secret file read, before anything is transferred; errors
name the file, the line and the field. Items run at once through one pool of requests (up to 8
items at a time), each resumable like cp; an item that fails does not stop the others. Secrets never appear in output or the state file.
--shard K/N (or auto, in a Kubernetes Indexed Job) copies one static shard of every item's objects,
as for cp: N runs of the same job, each with its own shard, copy each object once.
Exit status: 0 every item arrived, 1 something failed, 2 bad usage or job file, 130 interrupted.`

/**
 * The command line: every command, its arguments and options, handing cp, plan and run to the
 * handlers given (main's run them; a test may only take the arguments they are given).
 */
export function buildProgram(onCopy: CopyHandler, onRun: RunHandler): Command {
  const program = new Command('soaker')
    .description('Move very large sets of objects between object storage and local disks, fast, verified and resumable.')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showHelpAfterError('(run soaker --help for usage)')
    .exitOverride()
  copyCommand(program, 'cp', 'Copy the objects under a prefix (or one object) of S3, Azure Blob, Google Cloud Storage or the Hugging Face Hub into a local directory, or upload a local tree (or file), or copy the objects of any store, under an S3 or Azure Blob prefix. With several sources, each lands in DEST/<bucket>[/<prefix>].', onCopy, false)
    .addHelpText('after', cpExamples)
  copyCommand(program, 'plan', 'List the source and decide what cp would copy and skip, keep that plan in the state database, and transfer nothing: the next cp with the same arguments starts transferring at once.', onCopy, true)
  const run = program.command('run')
    .description('Run a YAML job file: download many items from S3, Google Cloud Storage, Azure Blob and the Hugging Face Hub at once, each to its target path.')
    .argument('<job-file>', 'the YAML job file')
    .addOption(new Option('--max-workers <n>', 'most transfers in flight (the same bound as --max-concurrency) [env: SOAKER_MAX_WORKERS]'))
    .exitOverride()
  for (const key of Object.keys(copyOptionTable) as Array<keyof typeof copyOptionTable>) {
    if (!notForJobs.has(key)) run.addOption(new Option(optionFlags(key), optionHelp(key)))
  }
  run.addHelpText('after', runHelp)
    .action(async (file: string, raw: Record<string, string | boolean | undefined>) => {
      const given = givenStrings(raw)
      given.maxWorkers ??= process.env.SOAKER_MAX_WORKERS || undefined
      process.exitCode = await onRun(file, given)
    })
  program.command('status')
    .description('Show a copy job\'s state: objects by status, its runs and the throughput they reached, and every failure with its reason.')
    .argument('[source]', 'the cp command\'s source, to find its default state database')
    .argument('[destination]', 'the cp command\'s destination')
    .option('--state <path>', 'state database [env: SOAKER_STATE]')
    .addOption(new Option(optionFlags('shard'), 'the cp command\'s static shard, to find its state database (each shard has its own) [env: SOAKER_SHARD]'))
    .addOption(new Option(optionFlags('shards'), optionHelp('shards')))
    .addHelpText('after', '\nExit status: 0 when every object is done or skipped, 1 when any is pending or failed, 2 bad usage.')
    .exitOverride()
    .action(async (src: string | undefined, dst: string | undefined, opts: Record<string, string | undefined>) => {
      process.exitCode = await runStatus(src, dst, opts.state, resolveShard(givenStrings(opts, shardKeys), process.env))
    })
  checkCommand(program)
  program.command('abort')
    .description('Give up an upload: delete the unfinished multipart uploads a cp to S3 left on the store (they are kept for resuming otherwise), so no orphaned parts are stored or billed.')
    .argument('[source]', 'the cp command\'s local source, to find its default state database')
    .argument('[destination]', 'the cp command\'s s3:// destination')
    .option('--state <path>', 'state database [env: SOAKER_STATE]')
    .option('--endpoint-url <url>', 'S3 endpoint [env: SOAKER_ENDPOINT_URL]')
    .option('--region <name>', 'AWS region [env: SOAKER_REGION]')
    .option('--profile <name>', 'AWS profile [env: SOAKER_PROFILE]')
    .addOption(new Option(optionFlags('shard'), 'the cp command\'s static shard, to find its state database (each shard has its own) [env: SOAKER_SHARD]'))
    .addOption(new Option(optionFlags('shards'), optionHelp('shards')))
    .addHelpText('after', '\nExit status: 0 when every open upload was aborted (or there was none), 1 when any could not be, 2 bad usage.')
    .exitOverride()
    .action(async (src: string | undefined, dst: string | undefined, opts: Record<string, string | undefined>) => {
      process.exitCode = await runAbort(src, dst, opts)
    })
  benchCommand(program)
  return program
}

async function runCopy(srcs: string[], dst: string, raw: Record<string, string | undefined>, planOnly: boolean, argv: string[]): Promise<number> {
  const options = resolveCopyOptions(raw, process.env)
  const sources = [...srcs.map(parseLocation), ...(options.bucketsFile ? readBucketsFile(options.bucketsFile) : [])]
  const destination = parseLocation(dst)
  // A buckets file of one line is still a run of several sources: each lands in DEST/<bucket>.
  const eachInOwnFolder = sources.length > 1 || options.bucketsFile !== undefined
  assertCopyable(sources, destination, { planOnly, eachInOwnFolder })
  const work = (env: CopyEnvironment): Promise<CopyResult> => copy(sources, destination, options, env, { planOnly, eachInOwnFolder })
  return await reported(options, { source: sources.map((s) => s.uri).join(' '), destination: destination.uri }, argv, work)
}

/** `soaker run job.yaml`: the whole file is read and checked, secrets included, before anything moves. */
async function runJobFile(file: string, raw: Record<string, string | undefined>, argv: string[]): Promise<number> {
  const { maxWorkers, ...rest } = raw
  if (maxWorkers !== undefined) {
    if (rest.maxConcurrency !== undefined) throw new UsageError('Expected one of `--max-workers` and `--max-concurrency`, got both (they are the same bound)')
    rest.maxConcurrency = String(parseInteger('--max-workers', maxWorkers, 1))
  }
  const options = resolveCopyOptions(rest, process.env)
  if (maxWorkers !== undefined && rest.minConcurrency === undefined) options.minConcurrency = Math.min(options.minConcurrency, options.maxConcurrency)
  // The job file's parser and schema (yaml, zod: about 170 ms to load) only for `soaker run`.
  const { loadJob } = await import('../job/job-file.js')
  const job = await loadJob(file, { env: process.env })
  return await reported(options, { source: file, destination: job.downloadRoot }, argv, (env) => runJob(job, options, env))
}

/**
 * Runs one copy job under a reporter (dashboard, plain lines or JSON), with Ctrl-C stopping it
 * cleanly the first time and at once the second; returns the exit status.
 */
async function reported(options: CopyOptions, run: { source: string; destination: string }, argv: string[], work: (env: CopyEnvironment) => Promise<CopyResult>): Promise<number> {
  const header: RunHeader = { ...run, shard: options.shard && shardName(options.shard) }
  if (options.nice) lowerPriority()
  const reporter = options.json ? jsonReporter(options) : process.stdout.isTTY && options.dashboard ? dashboardReporter(options) : plainReporter(options)
  const { log } = reporter
  const stats = new Stats()
  const abort = new AbortController()
  let interrupts = 0
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupts++
    if (interrupts === 1) {
      log.warn(`${sig}: stopping; finished parts are recorded (press Ctrl-C again to quit at once)`)
      abort.abort(new Error(sig))
    } else {
      // Files at final paths are only ever complete (renamed after verification), so leaving now is safe.
      process.stderr.write('Stopped at once. Run the same command again to resume.\n')
      process.exit(exitCodes.interrupted)
    }
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  reporter.start(stats, header)
  try {
    const result = await work({ stats, log, signal: abort.signal })
    reporter.finish(result, ['soaker', ...argv].join(' '))
    return result.status === 'ok' ? exitCodes.ok : result.status === 'interrupted' ? exitCodes.interrupted : exitCodes.failed
  } catch (err) {
    reporter.abort(err)
    if (abort.signal.aborted) {
      process.stderr.write('Interrupted before the transfer started. Run the same command again to resume.\n')
      return exitCodes.interrupted
    }
    throw err
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

/** Runs the CLI with `argv` (without node and the script) and returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram((sources, dst, raw, planOnly) => runCopy(sources, dst, raw, planOnly, argv), (file, raw) => runJobFile(file, raw, argv))
  try {
    await program.parseAsync(argv, { from: 'user' })
    return Number(process.exitCode ?? 0)
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has printed its message already; --help and --version end with code 0.
      return err.exitCode === 0 ? 0 : exitCodes.usage
    }
    const code = err instanceof SoakerError ? err.exitCode : exitCodes.failed
    const tag = err instanceof SoakerError ? ` [${err.code}]` : ''
    process.stderr.write(`soaker: ${errorMessage(err)}${tag}\n`)
    if (!(err instanceof SoakerError) && process.env.SOAKER_LOG_LEVEL === 'debug') process.stderr.write(`${(err as Error).stack}\n`)
    return err instanceof UsageError ? exitCodes.usage : code
  }
}
