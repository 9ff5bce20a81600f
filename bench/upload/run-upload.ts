import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { S3Client } from '@aws-sdk/client-s3'
import type { TestS3Server } from '../../scripts/support/s3-server.js'
import { createBucket } from '../../scripts/support/seed.js'
import { collectGarbage } from '../ceph-gc.js'
import { explainFailure, measure } from '../measure.js'
import { baseEnv, formatCommand, tools, type Source, type Tool } from '../peers.js'
import { summarise, type RunRecord, type ScenarioReport } from '../report.js'
import { purgeBucket } from './bucket.js'
import type { LocalDataset, UploadScenario } from './scenarios.js'
import { verifyBucket } from './verify-bucket.js'

const execFileAsync = promisify(execFile)
// Generous: aws cli, the slowest, uploads 100,000 small files in well under ten minutes.
const runTimeoutMs = 20 * 60_000
// Every run uploads under this prefix of its own fresh bucket.
const prefix = 'up'

/** What an upload scenario needs from the bench: the server, a client, its directories. */
export interface UploadContext {
  server: TestS3Server
  client: S3Client
  /** `home` is the tools' empty HOME; the source tree and scratch dirs go under `root`. */
  work: { root: string; home: string }
  interrupt: AbortSignal
  log: (line: string) => void
}

/**
 * Writes `scenario`'s files once, then runs every tool `runs` times interleaved, each into a fresh
 * bucket `<bucketBase>-<tool>-<run>` that is verified and deleted right after the run. The source
 * tree is deleted at the end.
 */
export async function runUploadScenario(
  scenario: UploadScenario, bucketBase: string, runs: number, ctx: UploadContext,
): Promise<{ report: ScenarioReport; records: RunRecord[] }> {
  const dir = join(ctx.work.root, `source-${scenario.name}`)
  await mkdir(dir)
  try {
    ctx.log(`writing ${scenario.name} (${scenario.description}) into ${dir}`)
    const started = performance.now()
    const dataset = await scenario.prepare(dir)
    ctx.log(`written in ${((performance.now() - started) / 1000).toFixed(1)} s: ${dataset.files.length} files, ${dataset.totalBytes} bytes`)
    const records: RunRecord[] = []
    for (let i = 1; i <= runs; i++) {
      for (const tool of tools) {
        ctx.interrupt.throwIfAborted()
        const record = await runOnce(tool, scenario, dataset, `${bucketBase}-${tool.name}-${i}`, i, ctx)
        records.push(record)
        ctx.log(progressLine(record, runs, scenario.unit))
      }
    }
    const summaries = summarise(records, tools.map((t) => t.name), (wall) => scenario.throughput(dataset, wall))
    return {
      report: {
        name: scenario.name, description: scenario.description, unit: scenario.unit, bucket: `${bucketBase}-<tool>-<run>`, prefix,
        files: dataset.files.length, totalBytes: dataset.totalBytes, targetVsRclone: scenario.targetVsRclone,
        rssTargetMiB: scenario.rssTargetMiB, summaries,
      },
      records,
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** One upload by `tool` into the fresh `bucket`, measured, checked, then deleted. */
async function runOnce(tool: Tool, scenario: UploadScenario, dataset: LocalDataset, bucket: string, run: number, ctx: UploadContext): Promise<RunRecord> {
  const { endpoint, accessKeyId, secretAccessKey, region } = ctx.server
  const target: Source = { endpoint, accessKeyId, secretAccessKey, region, bucket, prefix }
  const scratch = await mkdtemp(join(ctx.work.root, `${tool.name}-`))
  await createBucket(ctx.client, bucket)
  try {
    // Writeback of the source files, or of the previous run's state, would otherwise land in this run's time.
    await execFileAsync('sync')
    const invocation = tool.upload(dataset.dir, target, scratch)
    const env = baseEnv(ctx.work.home)
    const startedAt = new Date().toISOString()
    const measurement = await measure(invocation.argv, {
      env: { ...env, ...invocation.env }, timeFile: join(scratch, 'time.txt'), timeoutMs: runTimeoutMs, signal: ctx.interrupt,
    })
    ctx.interrupt.throwIfAborted()
    const failure = explainFailure(measurement, runTimeoutMs) ?? (await verifyBucket(ctx.client, bucket, prefix, dataset))
    return {
      scenario: scenario.name, tool: tool.name, run, startedAt, command: formatCommand(env, invocation), measurement,
      ok: failure === undefined, ...(failure === undefined ? {} : { failure }),
      throughput: failure === undefined ? scenario.throughput(dataset, measurement.wallSeconds) : null,
    }
  } finally {
    await rm(scratch, { recursive: true, force: true })
    // Ceph's OSD keeps objects in RAM, and frees the tails of large ones only when collected.
    await purgeBucket(ctx.client, bucket).catch((err: Error) => ctx.log(`could not remove bucket ${bucket}: ${err.message}`))
    await collectGarbage(ctx.log)
  }
}

function progressLine(r: RunRecord, runs: number, unit: string): string {
  const m = r.measurement
  // A killed command leaves GNU time no chance to report, so its numbers are NaN.
  const num = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : '?')
  const speed = r.throughput === null ? 'FAILED' : `${num(r.throughput, 1)} ${unit}`
  return `[${r.scenario} ${r.run}/${runs}] ${r.tool.padEnd(6)} ${num(m.wallSeconds, 2)} s  ${speed}  ` +
    `CPU ${num(m.cpuSeconds, 2)} s  RSS ${num(m.maxRssKiB / 1024, 0)} MiB${r.failure ? `  (${r.failure})` : ''}`
}
