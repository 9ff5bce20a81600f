// `npm run demo`: soaker end to end on one machine, with no Docker, no root and no system packages.
// It starts s3rver on loopback, fills a bucket with a few hundred files and two 200 MiB multipart
// objects, downloads them with the real CLI, checks every byte, then runs the same command again
// to show that a finished job resumes to nothing. Options: --out DIR (default ./demo-output).

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startS3rver, type TestS3Server } from './support/s3-server.js'
import { createBucket, putObject, seedClient } from './support/seed.js'
import { clearOutDir, displayPath, resolveOutDir } from './demo/output-dir.js'
import { parseSummary, runSoaker } from './demo/run-soaker.js'
import { multipartPartSize, planSample, seedSample } from './demo/sample-data.js'
import { changedKeys, fingerprintTree, verifyDownload } from './demo/verify.js'
import { DemoFailure, formatBytes, since } from './demo/util.js'

// The SDK's notice that releases from 2027 need Node 22 is for soaker's developers, not for
// someone watching the demo; soaker's bin silences it the same way. The SDK reads it when a
// client is created, so setting it after the imports is early enough.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

const bucket = 'soaker-demo'
const prefix = 'datasets'
/** Small files in the sample, besides the two large multipart objects. */
const smallFiles = 300
const totalSteps = 5

const bold = (s: string): string => (process.stdout.isTTY && !process.env.NO_COLOR ? `\x1b[1m${s}\x1b[0m` : s)
const heading = (step: number, text: string): void => console.log(`\n${bold(`[${step}/${totalSteps}] ${text}`)}`)
const note = (text: string): void => console.log(`      ${text}`)

/**
 * The child's whole environment: this one without AWS_* and SOAKER_* settings (a profile, a
 * session token or a speed cap of the user's would change what the demo shows), plus the s3rver
 * credentials. Config files point nowhere, so ~/.aws cannot pick a profile, region or CA bundle.
 */
function soakerEnv(server: TestS3Server, workDir: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AWS|SOAKER)_/.test(k)))
  return {
    ...env,
    AWS_ACCESS_KEY_ID: server.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
    AWS_REGION: server.region,
    AWS_CONFIG_FILE: join(workDir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(workDir, 'no-aws-credentials'),
    // Nothing here runs on EC2; without this the SDK may probe 169.254.169.254 and wait.
    AWS_EC2_METADATA_DISABLED: 'true',
  }
}

async function demo(outDir: string, workDir: string, setServer: (s: TestS3Server) => void): Promise<void> {
  const started = performance.now()
  console.log(bold('soaker demo: parallel, verified, resumable downloads from S3'))
  // First, so that a refused --out stops the demo before anything starts.
  await clearOutDir(outDir)

  heading(1, 'Starting a local S3 server (s3rver from npm, on loopback)')
  let t = performance.now()
  const server = await startS3rver(join(workDir, 's3rver'))
  setServer(server)
  note(`${server.endpoint}, data in ${workDir} (${since(t)})`)

  heading(2, `Filling s3://${bucket}/${prefix}/ with sample data`)
  t = performance.now()
  const plan = planSample(smallFiles)
  const client = seedClient(server)
  await createBucket(client, bucket)
  // An object beside the prefix: the download must leave it alone.
  await putObject(client, bucket, 'elsewhere/not-under-the-prefix.txt', 'soaker must not download this\n')
  const expected = await seedSample(client, bucket, prefix, plan)
  client.destroy()
  const big = plan.filter((o) => o.multipart)
  const small = plan.filter((o) => !o.multipart)
  const seededBytes = [...expected.values()].reduce((sum, e) => sum + e.size, 0)
  const largestSmall = formatBytes(Math.max(...small.map((o) => o.size)))
  note(`${expected.size} objects, ${formatBytes(seededBytes)} in ${since(t)}:`)
  note(`  ${small.length} files from 0 B to ${largestSmall} in nested folders, some named like café/ünïcode-名前.txt`)
  const bigSizes = big.map((o) => formatBytes(o.size)).join(', ')
  note(`  ${big.length} large objects (${bigSizes}), uploaded as multipart in ${formatBytes(multipartPartSize)} parts`)

  heading(3, 'Downloading everything with soaker')
  const source = `s3://${bucket}/${prefix}`
  const options = ['--endpoint-url', server.endpoint, '--state', join(workDir, 'state.db'), '--progress-interval', '1']
  const env = soakerEnv(server, workDir)
  note(`$ soaker cp ${source} ${displayPath(outDir)} ${options.join(' ')}`)
  console.log()
  t = performance.now()
  const first = await runSoaker(['cp', source, outDir, ...options], env)
  const firstTime = since(t)
  if (first.status !== 0) console.log(`\n      ✗ soaker exited with status ${first.status}; checking what arrived anyway`)

  heading(4, 'Checking every file against the MD5 of the bytes that were uploaded')
  t = performance.now()
  const verdict = await verifyDownload(outDir, expected)
  if (verdict.problems.length > 0) {
    for (const p of verdict.problems.slice(0, 20)) note(`✗ ${p}`)
    if (verdict.problems.length > 20) note(`✗ … and ${verdict.problems.length - 20} more`)
    throw new DemoFailure(`the download does not match the bucket (${verdict.problems.length} problems)`)
  }
  if (first.status !== 0) throw new DemoFailure(`soaker exited with status ${first.status}`)
  note(`✓ ${verdict.files} files, ${formatBytes(verdict.bytes)}, all verified: no missing, extra or partial files (${since(t)})`)
  note(`  soaker took ${firstTime}; the files are in ${displayPath(outDir)}`)

  heading(5, 'Running the same command again: a finished job resumes to nothing')
  console.log()
  const before = await fingerprintTree(outDir)
  const second = await runSoaker(['cp', source, outDir, ...options], env, true)
  const summary = parseSummary(second.stdout)
  if (second.status !== 0) throw new DemoFailure(`the second run exited with status ${second.status}`)
  if (!summary) throw new DemoFailure('the second run printed no summary line ("Done in …: N copied …")')
  if (summary.copied !== 0 || summary.skipped !== expected.size || summary.failed !== 0) {
    throw new DemoFailure(`the second run should copy 0 and skip ${expected.size}; it copied ${summary.copied}, skipped ${summary.skipped}, failed ${summary.failed}`)
  }
  const touched = changedKeys(before, await fingerprintTree(outDir))
  if (touched.length > 0) throw new DemoFailure(`the second run rewrote ${touched.length} files, e.g. ${touched[0]}`)
  console.log()
  note(`✓ 0 copied, ${summary.skipped} skipped, no file rewritten`)

  console.log(`\n${bold(`All good in ${since(started)}.`)} ${verdict.files} files (${formatBytes(verdict.bytes)}) are in ${displayPath(outDir)}.`)
}

/** How long the server gets to stop before its data is removed anyway. */
const stopGraceMs = 3000

/**
 * Stops `server`, waiting at most `ms`. A server that Ctrl-C has already killed never reports its
 * exit again, and `stop()` would wait for that report forever.
 */
async function stopWithin(server: TestS3Server, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([server.stop(), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))])
  clearTimeout(timer)
}

async function main(): Promise<number> {
  const usage = 'Usage: npm run demo [-- --out DIR]   (DIR defaults to ./demo-output and is emptied first)'
  let parsed
  try {
    parsed = parseArgs({ options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } })
  } catch (err) {
    console.error(`${(err as Error).message}\n${usage}`)
    return 2
  }
  const { values } = parsed
  if (values.help) {
    console.log(usage)
    return 0
  }
  const outDir = resolveOutDir(values.out)
  // The server's data and soaker's state database live here, and go when the demo ends.
  const workDir = await mkdtemp(join(tmpdir(), 'soaker-demo-'))
  let server: TestS3Server | undefined
  let interrupted = false
  let cleaning: Promise<void> | undefined
  // Runs once, whether the demo ends, fails or is interrupted (or all three at once).
  const cleanUp = (): Promise<void> =>
    (cleaning ??= (async () => {
      if (server) await stopWithin(server, stopGraceMs)
      await rm(workDir, { recursive: true, force: true })
    })())
  // Ctrl-C reaches soaker and s3rver too; the server's temp data must still go.
  const onSignal = (): void => {
    interrupted = true
    console.error('\nInterrupted; stopping the server and removing its data.')
    void cleanUp().finally(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    await demo(outDir, workDir, (s) => (server = s))
    return 0
  } catch (err) {
    // After Ctrl-C, errors from the stopped server are expected and say nothing new.
    if (!interrupted) console.error(`\n✗ Demo failed: ${err instanceof DemoFailure ? err.message : (err as Error).stack ?? err}`)
    return 1
  } finally {
    await cleanUp()
  }
}

process.exitCode = await main()
