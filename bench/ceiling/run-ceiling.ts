/**
 * `npm run bench -- ceiling` (issue 14): how close soaker comes to what this machine and server
 * allow. curl with 16 requests in flight, into files and into /dev/null, is the ceiling; rclone
 * (defaults and tuned), aws cli and soaker (default, `--verify false`, `--verify size` where the
 * build offers it, and the `--baseline` build) download the same data in the same run, runs
 * interleaved. Beside each tool's time: its CPU, radosgw's CPU during the run, and its peak RSS.
 */
import { execFile } from 'node:child_process'
import { access, constants, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { S3Client } from '@aws-sdk/client-s3'
import type { TestS3Server } from '../../scripts/support/s3-server.js'
import type { BenchOptions } from '../args.js'
import { collectGarbage } from '../ceph-gc.js'
import { removeBucket, type Dataset } from '../dataset.js'
import { explainFailure, measure } from '../measure.js'
import { baseEnv, formatCommand, tools as peers, type Source } from '../peers.js'
import { scenarios, type Scenario } from '../scenarios.js'
import { findServer, serverTicks, type ServerProcesses } from './server-cpu.js'
import { summariseCeiling, type CeilingDataReport, type CeilingReport, type CeilingRun } from './summary.js'
import { ceilingTools, curlBin, type CeilingDataName, type CeilingTool, type RunPlace } from './tools.js'
import { soakerOffersVerifySize } from './verify-option.js'

const execFileAsync = promisify(execFile)
const soakerBin = fileURLToPath(new URL('../../bin/soaker.js', import.meta.url))
// Generous: the slowest tool moves 1 GiB over loopback in well under a minute.
const runTimeoutMs = 10 * 60_000
/** Requests curl splits each object of a dataset into: the big object in 16 ranges, as many as it keeps in flight. */
const rangesPerObject: Record<CeilingDataName, number> = { small: 1, big: 16 }

/** What the ceiling needs from the bench: the server, a seeding client, its directories. */
export interface CeilingContext {
  server: TestS3Server
  client: S3Client
  /** `home` is the tools' empty HOME; `dest` is emptied before every run; scratch dirs go under `root`. */
  work: { root: string; home: string; dest: string }
  interrupt: AbortSignal
  log: (line: string) => void
}

/**
 * Runs the ceiling on the small and the big dataset in turn: seeds each into `<bucketBase>-<data>`,
 * runs every tool `runs` times interleaved, then removes the bucket.
 */
export async function runCeiling(
  options: Pick<BenchOptions, 'runs' | 'smallObjects' | 'bigMiB'>, bucketBase: string, ctx: CeilingContext,
): Promise<CeilingReport> {
  await access(curlBin, constants.X_OK).catch(() => {
    throw new Error(`${curlBin} is missing; the ceiling needs the Debian package curl (7.75 or later, for --aws-sigv4)`)
  })
  const env = baseEnv(ctx.work.home)
  const curl = (await execFileAsync(curlBin, ['--version'], { env })).stdout.split('\n')[0]!.trim()
  const verifySizeOffered = await soakerOffersVerifySize(soakerBin, env)
  ctx.log(`soaker cp --help ${verifySizeOffered ? 'offers' : 'does not offer'} --verify size`)
  const server = await findServer()
  if (server === undefined) ctx.log('no radosgw process found (pgrep -x radosgw): the server\'s CPU is not reported')
  const tools = ceilingTools(peers, verifySizeOffered)
  const all = scenarios(options)

  const data: CeilingDataReport[] = []
  const runs: CeilingRun[] = []
  for (const name of ['small', 'big'] as const) {
    const bucket = `${bucketBase}-${name}`
    const mine = tools.filter((t) => t.data.includes(name))
    const { dataset, records } = await runData(all[name], bucket, mine, options.runs, server, ctx)
    runs.push(...records)
    data.push({
      name, description: all[name].description, unit: all[name].unit, bucket, files: dataset.files.length,
      totalBytes: dataset.totalBytes, rangesPerObject: rangesPerObject[name],
      rows: summariseCeiling(records, name, mine, (wall) => all[name].throughput(dataset, wall)),
    })
  }
  return { curl, verifySizeOffered, server: server ?? null, data, runs }
}

/** Seeds `scenario` into a fresh `bucket` once, runs `tools` `runs` times interleaved, removes the bucket. */
async function runData(
  scenario: Scenario, bucket: string, tools: readonly CeilingTool[], runs: number,
  server: ServerProcesses | undefined, ctx: CeilingContext,
): Promise<{ dataset: Dataset; records: CeilingRun[] }> {
  ctx.log(`seeding ceiling ${scenario.name} (${scenario.description}) into s3://${bucket}`)
  try {
    const dataset = await scenario.seed(ctx.client, bucket)
    const { endpoint, accessKeyId, secretAccessKey, region } = ctx.server
    const source: Source = { endpoint, accessKeyId, secretAccessKey, region, bucket, prefix: dataset.prefix }
    const records: CeilingRun[] = []
    for (let i = 1; i <= runs; i++) {
      for (const tool of tools) {
        ctx.interrupt.throwIfAborted()
        const record = await runOnce(tool, scenario, source, dataset, i, server, ctx)
        records.push(record)
        ctx.log(progressLine(record, runs, scenario.unit))
      }
    }
    return { dataset, records }
  } finally {
    // Ceph's memstore keeps objects in RAM, so the small data goes before the big is seeded,
    // and a seeding that failed halfway leaves nothing behind either.
    await removeBucket(ctx.client, bucket).catch((err: Error) => ctx.log(`could not remove bucket ${bucket}: ${err.message}`))
    await collectGarbage(ctx.log)
  }
}

/** One run of `tool` into an empty destination, measured with the server's CPU beside it, then checked. */
async function runOnce(
  tool: CeilingTool, scenario: Scenario, source: Source, dataset: Dataset, run: number,
  server: ServerProcesses | undefined, ctx: CeilingContext,
): Promise<CeilingRun> {
  const dest = ctx.work.dest
  await rm(dest, { recursive: true, force: true })
  await mkdir(dest)
  const scratch = await mkdtemp(join(ctx.work.root, `${tool.name}-`))
  const place: RunPlace = { source, dataset, rangesPerObject: rangesPerObject[scenario.name], dest, scratch }
  try {
    const invocation = await tool.prepare(place)
    // Writeback of the previous run's files (and of curl's config) would otherwise land in this run's time.
    await execFileAsync('sync')
    const env = baseEnv(ctx.work.home)
    const startedAt = new Date().toISOString()
    const before = server === undefined ? undefined : await serverTicks(server)
    const measurement = await measure(invocation.argv, {
      env: { ...env, ...invocation.env }, timeFile: join(scratch, 'time.txt'), timeoutMs: runTimeoutMs, signal: ctx.interrupt,
    })
    const after = server === undefined ? undefined : await serverTicks(server)
    ctx.interrupt.throwIfAborted()
    const serverCpuSeconds = server && before !== undefined && after !== undefined ? (after - before) / server.ticksPerSecond : null
    const exited = explainFailure(measurement, runTimeoutMs)
    // null: the tool wrote nothing to check; only its exit status counts.
    const found = exited === undefined ? await tool.check(place) : undefined
    const failure = exited ?? found ?? undefined
    return {
      data: scenario.name, tool: tool.name, run, startedAt, command: formatCommand(env, invocation), measurement, serverCpuSeconds,
      checked: exited === undefined && found !== null, ok: failure === undefined, ...(failure === undefined ? {} : { failure }),
      throughput: failure === undefined ? scenario.throughput(dataset, measurement.wallSeconds) : null,
    }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

function progressLine(r: CeilingRun, runs: number, unit: string): string {
  const m = r.measurement
  // A killed command leaves GNU time no chance to report, so its numbers are NaN.
  const num = (n: number | null, digits: number): string => (n !== null && Number.isFinite(n) ? n.toFixed(digits) : '?')
  const speed = r.throughput === null ? 'FAILED' : `${num(r.throughput, 1)} ${unit}`
  return `[ceiling ${r.data} ${r.run}/${runs}] ${r.tool.padEnd(19)} ${num(m.wallSeconds, 2)} s  ${speed}  ` +
    `CPU ${num(m.cpuSeconds, 2)} s  server ${num(r.serverCpuSeconds, 2)} s  RSS ${num(m.maxRssKiB / 1024, 0)} MiB` +
    `${r.failure ? `  (${r.failure})` : ''}`
}
