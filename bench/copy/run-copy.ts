/**
 * `npm run bench -- s3-to-s3`: copies between two buckets, soaker against rclone (and aws cli
 * where it can), on the same data in the same run, runs interleaved.
 *
 * - Streamed (`copy-small`, `copy-big`): the source bucket is reached through a second endpoint, a
 *   plain TCP forwarder to the same radosgw, so that to every tool the two buckets are two stores
 *   and each byte crosses the machine twice. rclone gets two remotes (it copies server-side only
 *   within one); aws cli cannot copy between endpoints and sits these out.
 * - Server-side (`copy-small-ss`, `copy-big-ss`): both buckets on one endpoint; soaker, rclone
 *   and aws cli each have the store copy (CopyObject, UploadPartCopy).
 *
 * Every run copies into a fresh bucket, which must then list exactly the source's keys, sizes and
 * contents, and is deleted after the run.
 */
import { createServer, connect, type Server, type Socket } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { TestS3Server } from '../../scripts/support/s3-server.js'
import { createBucket } from '../../scripts/support/seed.js'
import type { CopyScenarioName } from '../args.js'
import { collectGarbage } from '../ceph-gc.js'
import type { Dataset } from '../dataset.js'
import { explainFailure, measure } from '../measure.js'
import { baseEnv, formatCommand, type Invocation, type ToolName } from '../peers.js'
import { summarise, type RunRecord, type ScenarioReport } from '../report.js'
import type { Scenario } from '../scenarios.js'
import { purgeBucket } from '../upload/bucket.js'
import type { UploadContext } from '../upload/run-upload.js'
import { verifyBucket } from '../upload/verify-bucket.js'

const execFileAsync = promisify(execFile)
const runTimeoutMs = 20 * 60_000
const soakerBin = new URL('../../bin/soaker.js', import.meta.url).pathname
const rcloneBin = '/usr/bin/rclone'
const awsBin = '/usr/bin/aws'
/** Where each run's copy lands in its fresh bucket. */
const destPrefix = 'cp'

export interface CopyScenario {
  name: CopyScenarioName
  /** The download scenario whose seeded objects are copied. */
  data: Scenario
  /** Through a second endpoint (streamed), or within one (server-side). */
  serverSide: boolean
  targetVsRclone: number
}

export function copyScenarios(all: Record<'small' | 'big', Scenario>): Record<CopyScenarioName, CopyScenario> {
  return {
    'copy-small': { name: 'copy-small', data: all.small, serverSide: false, targetVsRclone: 1.3 },
    'copy-big': { name: 'copy-big', data: all.big, serverSide: false, targetVsRclone: 1.3 },
    'copy-small-ss': { name: 'copy-small-ss', data: all.small, serverSide: true, targetVsRclone: 1.0 },
    'copy-big-ss': { name: 'copy-big-ss', data: all.big, serverSide: true, targetVsRclone: 1.0 },
  }
}

/** A second endpoint for the same server: every connection piped to it, byte for byte. */
async function startForwarder(target: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const to = new URL(target)
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = connect(Number(to.port), to.hostname)
    sockets.add(client).add(upstream)
    client.pipe(upstream).pipe(client)
    const close = (): void => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream) }
    client.on('error', close).on('close', close)
    upstream.on('error', close).on('close', close)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()) }),
  }
}

interface Endpoints {
  source: string
  destination: string
}

function credentials(server: TestS3Server): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
    AWS_REGION: server.region, AWS_DEFAULT_REGION: server.region,
  }
}

function rcloneRemote(name: string, endpoint: string, server: TestS3Server): Record<string, string> {
  const p = `RCLONE_CONFIG_${name.toUpperCase()}_`
  return {
    [`${p}TYPE`]: 's3', [`${p}PROVIDER`]: 'Ceph', [`${p}ENDPOINT`]: endpoint,
    [`${p}ACCESS_KEY_ID`]: server.accessKeyId, [`${p}SECRET_ACCESS_KEY`]: server.secretAccessKey,
  }
}

/** The command of `tool` copying `from` (bucket/prefix) to `to` (bucket/prefix); undefined where it cannot. */
function copyCommand(tool: ToolName, from: string, to: string, at: Endpoints, server: TestS3Server, scratch: string): Invocation | undefined {
  const sameStore = at.source === at.destination
  if (tool === 'soaker') {
    const source = sameStore ? [] : ['--source-endpoint-url', at.source]
    return {
      argv: [process.execPath, soakerBin, 'cp', `s3://${from}`, `s3://${to}`, ...source, '--endpoint-url', at.destination, '--state', join(scratch, 'state.db')],
      env: credentials(server),
    }
  }
  if (tool === 'rclone') {
    // rclone copies server-side only within one remote: two remotes make it stream.
    const env = sameStore ? rcloneRemote('bench', at.destination, server) : { ...rcloneRemote('src', at.source, server), ...rcloneRemote('dst', at.destination, server) }
    return { argv: [rcloneBin, 'copy', `${sameStore ? 'bench' : 'src'}:${from}`, `${sameStore ? 'bench' : 'dst'}:${to}`], env }
  }
  if (!sameStore) return undefined
  return { argv: [awsBin, 's3', 'cp', '--recursive', `s3://${from}/`, `s3://${to}/`, '--endpoint-url', at.destination, '--quiet'], env: credentials(server) }
}

/**
 * Seeds the scenario's objects into `bucket` once, then runs each tool `runs` times interleaved,
 * each copy into a fresh bucket that is verified and deleted after the run.
 */
export async function runCopyScenario(scenario: CopyScenario, bucket: string, runs: number, ctx: UploadContext): Promise<{ report: ScenarioReport; records: RunRecord[] }> {
  const forwarder = scenario.serverSide ? undefined : await startForwarder(ctx.server.endpoint)
  const at: Endpoints = { source: forwarder?.url ?? ctx.server.endpoint, destination: ctx.server.endpoint }
  const tools: ToolName[] = scenario.serverSide ? ['soaker', 'rclone', 'aws'] : ['soaker', 'rclone']
  const description = `${scenario.data.description}, ${scenario.serverSide ? 'bucket to bucket on one endpoint (server-side)' : 'bucket to bucket across two endpoints (streamed)'}`
  ctx.log(`seeding ${scenario.name} (${description}) into s3://${bucket}`)
  let dataset: Dataset | undefined
  try {
    dataset = await scenario.data.seed(ctx.client, bucket)
    const records: RunRecord[] = []
    for (let i = 1; i <= runs; i++) {
      for (const tool of tools) {
        ctx.interrupt.throwIfAborted()
        const record = await runOnce(tool, scenario, dataset, `${bucket}-${tool}-${i}`, i, at, ctx)
        records.push(record)
        const m = record.measurement
        ctx.log(`[${scenario.name} ${i}/${runs}] ${tool.padEnd(6)} ${m.wallSeconds.toFixed(2)} s  ` +
          `${record.throughput === null ? 'FAILED' : `${record.throughput.toFixed(1)} ${scenario.data.unit}`}  CPU ${m.cpuSeconds.toFixed(2)} s  ` +
          `RSS ${(m.maxRssKiB / 1024).toFixed(0)} MiB${record.failure ? `  (${record.failure})` : ''}`)
      }
    }
    const summaries = summarise(records, tools, (wall) => scenario.data.throughput(dataset!, wall))
    return {
      report: {
        name: scenario.name, description, unit: scenario.data.unit, bucket: `${bucket}-<tool>-<run>`, prefix: destPrefix,
        files: dataset.files.length, totalBytes: dataset.totalBytes, targetVsRclone: scenario.targetVsRclone, summaries,
      },
      records,
    }
  } finally {
    await forwarder?.stop()
    if (dataset) await purgeBucket(ctx.client, bucket).catch((err: Error) => ctx.log(`could not remove bucket ${bucket}: ${err.message}`))
    await collectGarbage(ctx.log)
  }
}

async function runOnce(tool: ToolName, scenario: CopyScenario, dataset: Dataset, bucket: string, run: number, at: Endpoints, ctx: UploadContext): Promise<RunRecord> {
  const scratch = await mkdtemp(join(ctx.work.root, `${tool}-`))
  await createBucket(ctx.client, bucket)
  try {
    await execFileAsync('sync')
    const invocation = copyCommand(tool, `${dataset.bucket}/${dataset.prefix}`, `${bucket}/${destPrefix}`, at, ctx.server, scratch)!
    const env = baseEnv(ctx.work.home)
    const startedAt = new Date().toISOString()
    const measurement = await measure(invocation.argv, {
      env: { ...env, ...invocation.env }, timeFile: join(scratch, 'time.txt'), timeoutMs: runTimeoutMs, signal: ctx.interrupt,
    })
    ctx.interrupt.throwIfAborted()
    const expected = { dir: '', files: dataset.files, totalBytes: dataset.totalBytes, emptyDirectories: [] }
    const failure = explainFailure(measurement, runTimeoutMs) ?? (await verifyBucket(ctx.client, bucket, destPrefix, expected))
    return {
      scenario: scenario.name, tool, run, startedAt, command: formatCommand(env, invocation), measurement,
      ok: failure === undefined, ...(failure === undefined ? {} : { failure }),
      throughput: failure === undefined ? scenario.data.throughput(dataset, measurement.wallSeconds) : null,
    }
  } finally {
    await rm(scratch, { recursive: true, force: true })
    await purgeBucket(ctx.client, bucket).catch((err: Error) => ctx.log(`could not remove bucket ${bucket}: ${err.message}`))
    await collectGarbage(ctx.log)
  }
}
