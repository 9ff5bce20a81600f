import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { S3Client } from '@aws-sdk/client-s3'
import { chaosRule, startFaultProxy, type ChaosRates, type FaultProxy, type FaultRule } from '../../scripts/support/fault-proxy.js'
import { collectGarbage } from '../ceph-gc.js'
import { removeBucket, seedManySmall, seedSized, type Dataset } from '../dataset.js'
import { explainFailure, measure, type Measurement } from '../measure.js'
import { baseEnv, formatCommand, tools, type Source, type Tool } from '../peers.js'
import { verifyDestination } from '../verify.js'
import type { WanContext } from '../wan/run-wan.js'
import { startWanProxy } from '../wan/wan-proxy.js'

const execFileAsync = promisify(execFile)
const KiB = 1024
const MiB = 1024 * KiB
const runTimeoutMs = 10 * 60_000
/** The link every case runs over: the 25 MB/s. */
export const chaosLinkBytesPerSec = 25e6

/** One fault class: the shares of requests that meet each fault, at random, whatever the load. */
export interface ChaosCase {
  name: string
  label: string
  rates?: ChaosRates
  /** Seconds without a byte before both tools cancel a request. @default 30 (soaker's default) */
  timeout?: number
}

export const chaosCases: ChaosCase[] = [
  { name: 'none', label: 'no faults' },
  { name: 'resets', label: '3% resets', rates: { reset: 0.03 } },
  { name: 'slowdowns', label: '5% random 503 SlowDown', rates: { slowDown: 0.05 } },
  // 10 s, not 30: at its default 4 transfers rclone spends ~74 stalls × 30 s / 4 ≈ 9 minutes a run.
  { name: 'stalls', label: '4% stalls (half mid-body, half before the headers), --timeout 10', rates: { stall: 0.02, stallHeaders: 0.02 }, timeout: 10 },
  { name: 'mix', label: '5% 503 SlowDown + 3% resets', rates: { slowDown: 0.05, reset: 0.03 } },
  { name: 'storm', label: '10% 503 SlowDown + 6% resets', rates: { slowDown: 0.1, reset: 0.06 } },
]

export interface ChaosRun {
  case: string
  tool: string
  run: number
  command: string
  measurement: Measurement
  ok: boolean
  failure?: string
  /** Requests the fault proxy saw, and how many of them it faulted. */
  requests: number
  faulted: number
  /** Response body bytes sent to the tool, as a share of the data beyond 1 (0.05: 5% re-sent). */
  resent: number
}

/** What the chaos runs need from the bench: the same as a WAN scenario's. */
export type ChaosContext = WanContext

const smallCount = (quick: boolean): number => (quick ? 200 : 1500)
const bigCount = (quick: boolean): number => (quick ? 1 : 4)

/** Bytes of the chaos data. */
export function chaosBytes(quick: boolean): number {
  return smallCount(quick) * 64 * KiB + bigCount(quick) * 40 * MiB
}

/** The data: 1,500 objects of 64 KiB and 4 of 40 MiB (multipart, 8 MiB parts). */
async function seed(client: S3Client, bucket: string, quick: boolean): Promise<Dataset> {
  const small = await seedManySmall(client, bucket, 'chaos/small', smallCount(quick), 64 * KiB)
  const big = await seedSized(client, bucket, 'chaos/big', Array<number>(bigCount(quick)).fill(40 * MiB), 8 * MiB)
  return {
    bucket, prefix: 'chaos',
    files: [...small.files.map((f) => ({ ...f, path: `small/${f.path}` })), ...big.files.map((f) => ({ ...f, path: `big/${f.path}` }))],
    totalBytes: small.totalBytes + big.totalBytes,
  }
}

/**
 * Every case, `runs` times, soaker and rclone interleaved, through a fault proxy in front of a
 * 25 MB/s link in front of the server. The same seed gives every tool the same faults in order.
 */
export async function runChaos(bucket: string, runs: number, quick: boolean, ctx: ChaosContext): Promise<ChaosRun[]> {
  const dataset = await seed(ctx.client, bucket, quick)
  ctx.log(`seeded s3://${bucket}/chaos: ${dataset.files.length} objects, ${(dataset.totalBytes / MiB).toFixed(0)} MiB`)
  const link = await startWanProxy({ target: ctx.server.endpoint, linkBytesPerSec: chaosLinkBytesPerSec })
  const faults = await startFaultProxy(link.url)
  const records: ChaosRun[] = []
  try {
    const peers = tools.filter((t) => t.name === 'soaker' || t.name === 'rclone')
    for (let run = 1; run <= runs; run++) {
      for (const c of chaosCases) {
        for (const tool of peers) {
          ctx.interrupt.throwIfAborted()
          const r = await runOnce(tool, c, run, dataset, faults, ctx)
          records.push(r)
          ctx.log(`[chaos ${run}/${runs}] ${c.name.padEnd(9)} ${tool.name.padEnd(6)} ${r.measurement.wallSeconds.toFixed(2)} s  ` +
            `${(dataset.totalBytes / 1e6 / r.measurement.wallSeconds).toFixed(1)} MB/s  CPU ${r.measurement.cpuSeconds.toFixed(2)} s  ` +
            `RSS ${(r.measurement.maxRssKiB / 1024).toFixed(0)} MiB  ${r.requests} requests, ${r.faulted} faulted, re-sent ${(100 * r.resent).toFixed(1)}%` +
            (r.failure ? `  (${r.failure})` : ''))
        }
      }
    }
  } finally {
    await faults.stop()
    await link.stop()
    await removeBucket(ctx.client, bucket).catch((err: Error) => ctx.log(`could not remove bucket ${bucket}: ${err.message}`))
    await collectGarbage(ctx.log)
  }
  return records
}

async function runOnce(tool: Tool, c: ChaosCase, run: number, dataset: Dataset, faults: FaultProxy, ctx: ChaosContext): Promise<ChaosRun> {
  const { work } = ctx
  await rm(work.dest, { recursive: true, force: true })
  await mkdir(work.dest)
  const scratch = await mkdtemp(join(work.root, `${tool.name}-`))
  try {
    await execFileAsync('sync')
    const { accessKeyId, secretAccessKey, region } = ctx.server
    const source: Source = { endpoint: faults.url, accessKeyId, secretAccessKey, region, bucket: dataset.bucket, prefix: dataset.prefix }
    const base = tool.invocation(source, work.dest, scratch)
    // Both tools cancel a request after the same time without a byte (soaker's default --timeout
    // is 30 s; rclone's own default is 5 minutes).
    const timeout = c.timeout ?? 30
    const argv = tool.name === 'rclone' ? [...base.argv, '--timeout', `${timeout}s`] : [...base.argv, '--timeout', String(timeout)]
    let faulted = 0
    const rule = c.rates ? chaosRule(c.rates, run) : undefined
    const counting: FaultRule | undefined = rule && ((req) => {
      const f = rule(req)
      if (f !== undefined) faulted++
      return f
    })
    const mark = faults.requests.length
    faults.setRule(counting)
    const env = baseEnv(work.home)
    const measurement = await measure(argv, {
      env: { ...env, ...base.env }, timeFile: join(scratch, 'time.txt'), timeoutMs: runTimeoutMs, signal: ctx.interrupt,
    }).finally(() => faults.setRule(undefined))
    const seen = faults.requests.slice(mark)
    faults.requests.length = mark // the proxy keeps every request; a long bench must not
    const bytes = seen.reduce((n, q) => n + q.bytes, 0)
    const failure = explainFailure(measurement, runTimeoutMs) ?? (await verifyDestination(work.dest, dataset.files))
    return {
      case: c.name, tool: tool.name, run, command: formatCommand(env, { argv, env: base.env }), measurement,
      ok: failure === undefined, ...(failure === undefined ? {} : { failure }),
      requests: seen.length, faulted, resent: bytes / dataset.totalBytes - 1,
    }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/**
 * The chaos table: per case and tool, the median wall time, throughput as a share of the same
 * tool's fault-free median, CPU, peak RSS, requests and re-sent bytes; and the targets.
 */
export function renderChaosMarkdown(records: ChaosRun[], totalBytes: number): string {
  const lines = [
    '## Chaos: faults at fixed rates on a 25 MB/s link (median of the runs)', '',
    '| case | tool | wall s | MB/s | vs own fault-free | CPU s | peak RSS MiB | requests | faulted | re-sent | runs ok |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ]
  const of = (c: string, t: string): ChaosRun[] => records.filter((r) => r.case === c && r.tool === t)
  for (const c of chaosCases) {
    for (const tool of ['soaker', 'rclone']) {
      const rs = of(c.name, tool)
      if (rs.length === 0) continue
      const wall = median(rs.map((r) => r.measurement.wallSeconds))
      const clean = median(of('none', tool).map((r) => r.measurement.wallSeconds))
      lines.push(`| ${c.label} | ${tool} | ${wall.toFixed(2)} | ${(totalBytes / 1e6 / wall).toFixed(1)} | ${(100 * clean / wall).toFixed(0)}% | ` +
        `${median(rs.map((r) => r.measurement.cpuSeconds)).toFixed(2)} | ${(median(rs.map((r) => r.measurement.maxRssKiB)) / 1024).toFixed(0)} | ` +
        `${median(rs.map((r) => r.requests))} | ${median(rs.map((r) => r.faulted))} | ${(100 * median(rs.map((r) => r.resent))).toFixed(1)}% | ` +
        `${rs.filter((r) => r.ok).length}/${rs.length} |`)
    }
  }
  const s = (name: string): number => median(of(name, 'soaker').map((r) => r.measurement.wallSeconds))
  const share = (name: string): number => s('none') / s(name)
  lines.push('', 'Targets (soaker against its own fault-free run):',
    `- every run byte-identical: ${records.every((r) => r.ok) ? 'yes' : 'NO'}`,
    `- random faults ≥ 80% of fault-free: resets ${(100 * share('resets')).toFixed(0)}%, 503s ${(100 * share('slowdowns')).toFixed(0)}%, ` +
      `5%+3% ${(100 * share('mix')).toFixed(0)}%; 10%+6% (target ≥ 60%) ${(100 * share('storm')).toFixed(0)}%`,
    `- stalls add at most --timeout (${chaosCases.find((c) => c.name === 'stalls')?.timeout ?? 30} s) + 20%: +${(s('stalls') - s('none')).toFixed(1)} s`)
  return lines.join('\n')
}

/** Command lines of the median soaker and rclone runs, for the README. */
export function chaosCommands(records: ChaosRun[]): string[] {
  const first = (t: string): ChaosRun | undefined => records.find((r) => r.tool === t)
  return [first('soaker')?.command, first('rclone')?.command].filter((c): c is string => c !== undefined)
}
