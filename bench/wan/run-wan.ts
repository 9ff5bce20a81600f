import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { S3Client } from '@aws-sdk/client-s3'
import type { TestS3Server } from '../../scripts/support/s3-server.js'
import { collectGarbage } from '../ceph-gc.js'
import { removeBucket, type Dataset } from '../dataset.js'
import { explainFailure, measure } from '../measure.js'
import { baseEnv, formatCommand, type Invocation, type Source } from '../peers.js'
import { verifyDestination } from '../verify.js'
import { checksFor, medianRun, summariseVariants, type WanRunRecord, type WanScenarioReport } from './report.js'
import { concurrencyChanges, readSamples } from './samples.js'
import type { Variant, WanScenario } from './scenarios.js'
import { startWanProxy, type WanProxy, type WanStats } from './wan-proxy.js'

const execFileAsync = promisify(execFile)
// The slowest run of the full bench is rclone's 4 GiB at 4 × 8 MB/s: about 2.5 minutes.
const runTimeoutMs = 20 * 60_000

/** What a WAN scenario needs from the bench: the server, a seeding client, its directories. */
export interface WanContext {
  server: TestS3Server
  client: S3Client
  /** `dest` is emptied before every run; `home` is the tools' empty HOME; scratch dirs go under `root`. */
  work: { root: string; home: string; dest: string }
  interrupt: AbortSignal
  log: (line: string) => void
}

/**
 * Seeds `scenario` into a fresh `bucket` once, starts the WAN emulator in front of the server,
 * runs every variant `runs` times interleaved through it, then removes the bucket.
 */
export async function runWanScenario(scenario: WanScenario, bucket: string, runs: number, ctx: WanContext): Promise<WanScenarioReport> {
  ctx.log(`seeding ${scenario.name} (${scenario.data}) into s3://${bucket}`)
  try {
    const seedStart = performance.now()
    const dataset = await scenario.seed(ctx.client, bucket)
    ctx.log(`seeded in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`)
    const proxy = await startWanProxy({ target: ctx.server.endpoint, ...scenario.network })
    const records: WanRunRecord[] = []
    try {
      const { accessKeyId, secretAccessKey, region } = ctx.server
      const source: Source = { endpoint: proxy.url, accessKeyId, secretAccessKey, region, bucket, prefix: dataset.prefix }
      for (let i = 1; i <= runs; i++) {
        for (const variant of scenario.variants) {
          ctx.interrupt.throwIfAborted()
          const record = await runOnce(scenario, variant, dataset, source, proxy, i, ctx)
          records.push(record)
          ctx.log(progressLine(record, runs, scenario))
        }
      }
    } finally {
      await proxy.stop()
    }
    const variants = summariseVariants(records, scenario.variants, (wall) => scenario.throughput(dataset, wall))
    const middle = medianRun(records)
    const timeline = middle && {
      run: middle.run, wallSeconds: middle.measurement.wallSeconds, samples: middle.samples, changes: middle.concurrencyChanges,
    }
    return {
      name: scenario.name, title: scenario.title, data: scenario.data, network: scenario.network, unit: scenario.unit,
      bucket, prefix: dataset.prefix, files: dataset.files.length, totalBytes: dataset.totalBytes,
      variants, checks: checksFor(scenario, variants, timeline),
      ...(timeline ? { timeline } : {}),
      runs: records,
    }
  } finally {
    // Ceph's memstore keeps objects in RAM, so each scenario's data goes before the next is seeded.
    await removeBucket(ctx.client, bucket).catch((err: Error) => ctx.log(`could not remove bucket ${bucket}: ${err.message}`))
    await collectGarbage(ctx.log)
  }
}

/** One run of `variant` into an empty destination through `proxy`, measured, then checked. */
async function runOnce(scenario: WanScenario, variant: Variant, dataset: Dataset, source: Source, proxy: WanProxy, run: number, ctx: WanContext): Promise<WanRunRecord> {
  const { work } = ctx
  await rm(work.dest, { recursive: true, force: true })
  await mkdir(work.dest)
  const scratch = await mkdtemp(join(work.root, `${variant.tool.name}-`))
  try {
    // Writeback of the previous run's data would otherwise land in this run's time.
    await execFileAsync('sync')
    const base = variant.tool.invocation(source, work.dest, scratch)
    const tuning = (await variant.tuning?.(scratch)) ?? { args: [] }
    const invocation: Invocation = { argv: [...base.argv, ...tuning.args], env: { ...base.env, ...tuning.env } }
    const env = baseEnv(work.home)
    const logFile = join(scratch, 'output.log')
    const before = proxy.stats()
    proxy.resetPeak()
    const startedAtMs = Date.now()
    const measurement = await measure(invocation.argv, {
      env: { ...env, ...invocation.env }, timeFile: join(scratch, 'time.txt'), timeoutMs: runTimeoutMs, signal: ctx.interrupt, logFile,
    })
    const after = proxy.stats()
    ctx.interrupt.throwIfAborted()
    const soaker = variant.tool.name === 'soaker'
    const samples = soaker ? readSamples(join(scratch, 'state.db'), startedAtMs) : []
    const changes = soaker ? await concurrencyChanges(logFile) : []
    const failure = explainFailure(measurement, runTimeoutMs) ?? (await verifyDestination(work.dest, dataset.files))
    return {
      scenario: scenario.name, variant: variant.label, tool: variant.tool.name, role: variant.role,
      ...(variant.fixed === undefined ? {} : { fixed: variant.fixed }),
      run, startedAt: new Date(startedAtMs).toISOString(), command: formatCommand(env, invocation), measurement,
      ok: failure === undefined, ...(failure === undefined ? {} : { failure }),
      throughput: failure === undefined ? scenario.throughput(dataset, measurement.wallSeconds) : null,
      proxy: difference(before, after), samples, concurrencyChanges: changes,
    }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

/** The proxy's counts between two snapshots; the peak is the one since `resetPeak()`. */
function difference(before: WanStats, after: WanStats): WanStats {
  return {
    requests: after.requests - before.requests,
    slowDowns: after.slowDowns - before.slowDowns,
    bytesSent: after.bytesSent - before.bytesSent,
    bytesReceived: after.bytesReceived - before.bytesReceived,
    connections: after.connections - before.connections,
    peakInFlight: after.peakInFlight,
  }
}

function progressLine(r: WanRunRecord, runs: number, scenario: WanScenario): string {
  const m = r.measurement
  const num = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : '?')
  const speed = r.throughput === null ? 'FAILED' : `${num(r.throughput, 1)} ${scenario.unit}`
  const targets = r.samples.map((s) => s.target)
  const tuning = targets.length > 0 ? `  targets ${targets.join(' ')}` : ''
  return `[${r.scenario} ${r.run}/${runs}] ${r.variant.padEnd(22)} ${num(m.wallSeconds, 2)} s  ${speed}  CPU ${num(m.cpuSeconds, 2)} s  ` +
    `RSS ${num(m.maxRssKiB / 1024, 0)} MiB  ${r.proxy.requests} requests, ${r.proxy.slowDowns} SlowDowns, ${r.proxy.connections} connections, ` +
    `peak ${r.proxy.peakInFlight} in flight${tuning}${r.failure ? `  (${r.failure})` : ''}`
}
