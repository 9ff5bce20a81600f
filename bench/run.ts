/**
 * `npm run bench`: races soaker against rclone and aws cli, each with its defaults, on the same
 * data in the same run, against a local Ceph radosgw. Runs interleave (soaker, rclone, aws,
 * soaker, ...) so that machine noise spreads over all tools. The upload scenarios (`upload`,
 * `up-small`, `up-big`, `up-tree`) race the same tools the other way, from a local tree into a
 * fresh bucket per run (bench/upload/). The ceiling (`ceiling`) sets them beside curl on the
 * small and big data (bench/ceiling/). The WAN scenarios (`wan`, `s1`-`s4`)
 * run the same way through the WAN emulator (bench/wan/). A markdown table goes to stdout,
 * progress to stderr, and every run to bench/results/<timestamp>.json. See bench/README.md.
 */
import { execFile } from 'node:child_process'
import { access, constants, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { S3Client } from '@aws-sdk/client-s3'
import { cephAvailable, startCeph, type TestS3Server } from '../scripts/support/s3-server.js'
import { seedClient } from '../scripts/support/seed.js'
import { parseBenchArgs, usage, type BenchOptions } from './args.js'
import { collectGarbage } from './ceph-gc.js'
import { removeBucket, type Dataset } from './dataset.js'
import { explainFailure, measure, timeBinary, timeFormat } from './measure.js'
import { addBaseline, baseEnv, formatCommand, requiredBinaries, tools, type Source, type Tool, type ToolName } from './peers.js'
import { renderMarkdown, summarise, type BenchReport, type RunRecord, type ScenarioReport } from './report.js'
import { scenarios, type Scenario } from './scenarios.js'
import { copyScenarios, runCopyScenario } from './copy/run-copy.js'
import { renderCeilingMarkdown } from './ceiling/render.js'
import { runCeiling } from './ceiling/run-ceiling.js'
import type { CeilingReport } from './ceiling/summary.js'
import { runUploadScenario } from './upload/run-upload.js'
import { uploadScenarios } from './upload/scenarios.js'
import { verifyDestination } from './verify.js'
import { killChaos, killLine, type ChaosResult } from './chaos/kill.js'
import { chaosBytes, chaosCommands, renderChaosMarkdown, runChaos, type ChaosRun } from './chaos/run-chaos.js'
import { runFleetBench } from './fleet/run-fleet.js'
import { runListingBench } from './listing/run-listing.js'
import { renderWanMarkdown, type WanScenarioReport } from './wan/report.js'
import { runWanScenario } from './wan/run-wan.js'
import { wanScenarios } from './wan/scenarios.js'

const execFileAsync = promisify(execFile)
// startCeph() serves radosgw here; answering before the bench starts means someone else owns it.
const cephEndpoint = 'http://127.0.0.1:7480'
// Generous: the slowest tool moves 1 GiB over loopback in well under a minute.
const runTimeoutMs = 10 * 60_000
const resultsDir = fileURLToPath(new URL('./results/', import.meta.url))
const method =
  'before each run the destination is emptied and `sync` flushes earlier writes; each command runs under ' +
  `\`${timeBinary} -f '${timeFormat}'\` with only the environment shown; runs interleave soaker, rclone, aws; ` +
  'a run counts only if the destination then holds exactly the expected files, sizes and MD5s; ' +
  'an upload goes into a fresh bucket per run, which must then list exactly the expected keys and sizes, with ETags ' +
  '(or the MD5 of the object read back) matching the files, and is deleted after the run; ' +
  'throughput is the data divided by the median wall time of the counted runs; MB = 10^6 bytes'

/** Where one bench invocation keeps its files: one destination, reused and emptied per run. */
interface Workspace {
  root: string
  home: string
  dest: string
}

async function main(argv: string[]): Promise<number> {
  // The seeding client's SDK notice about future Node releases is noise in a bench's output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
  // Listing at scale needs no Ceph: a synthetic server of generated keys (bench/listing/).
  if (argv[0] === 'listing') return await runListingBench(argv.slice(1))
  // A job of many objects, alone and shared by several workers: the listing server and a throwaway PostgreSQL (bench/fleet/).
  if (argv[0] === 'fleet') return await runFleetBench(argv.slice(1))
  let options: BenchOptions | 'help'
  try {
    options = parseBenchArgs(argv)
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${usage}`)
    return 2
  }
  if (options === 'help') {
    console.log(usage)
    return 0
  }
  await checkPrerequisites()
  if (options.baseline !== undefined) {
    const { bin, sha } = await buildBaseline(options.baseline)
    addBaseline(bin, sha)
  }

  // The first Ctrl-C stops the running tool and lets the cleanup below run; a second one exits now.
  const interrupt = new AbortController()
  process.on('SIGINT', () => {
    if (interrupt.signal.aborted) process.exit(130)
    console.error('\ninterrupted: stopping the running tool and cleaning up (Ctrl-C again to quit now)')
    interrupt.abort()
  })

  const startedAt = new Date()
  const loadAverageBefore = loadavg()
  const reused = await answering(cephEndpoint)
  log(reused ? `using the Ceph radosgw already answering at ${cephEndpoint}` : 'starting a Ceph radosgw')
  const server = await startCeph()
  const root = await mkdtemp(join(tmpdir(), 'soaker-bench-'))
  try {
    const work: Workspace = { root, home: join(root, 'home'), dest: join(root, 'dest') }
    await mkdir(work.home)
    const env = baseEnv(work.home)
    const versions = Object.fromEntries(
      await Promise.all(tools.map(async (t) => [t.name, await t.version(env)] as const)),
    ) as Partial<Record<ToolName, string>>
    const client = seedClient(server)
    const all = scenarios(options)
    // ISO 8601 basic format: no colons in file names; lowercased it is also a valid bucket name.
    const stamp = startedAt.toISOString().replace(/[-:]|\.\d+/g, '')
    const reports: ScenarioReport[] = []
    const runs: RunRecord[] = []
    for (const name of options.scenarios) {
      const bucket = `bench-${stamp.toLowerCase()}-${name}`
      const { report, records } = await runScenario(all[name], bucket, options.runs, { server, client, work, interrupt: interrupt.signal })
      reports.push(report)
      runs.push(...records)
    }
    const allUploads = uploadScenarios(options)
    for (const name of options.uploads) {
      const bucketBase = `bench-${stamp.toLowerCase()}-${name}`
      const ctx = { server, client, work, interrupt: interrupt.signal, log }
      const { report, records } = await runUploadScenario(allUploads[name], bucketBase, options.runs, ctx)
      reports.push(report)
      runs.push(...records)
    }
    const allCopies = copyScenarios(all)
    for (const name of options.copies) {
      const ctx = { server, client, work, interrupt: interrupt.signal, log }
      const { report, records } = await runCopyScenario(allCopies[name], `bench-${stamp.toLowerCase()}-${name}`, options.runs, ctx)
      reports.push(report)
      runs.push(...records)
    }
    const ceiling: CeilingReport | undefined = options.ceiling
      ? await runCeiling(options, `bench-${stamp.toLowerCase()}-ceiling`, { server, client, work, interrupt: interrupt.signal, log })
      : undefined
    const wan: WanScenarioReport[] = []
    const allWan = wanScenarios(options)
    for (const name of options.wan) {
      const bucket = `bench-${stamp.toLowerCase()}-${name}`
      wan.push(await runWanScenario(allWan[name], bucket, options.runs, { server, client, work, interrupt: interrupt.signal, log }))
    }
    const chaos: ChaosRun[] = options.chaos
      ? await runChaos(`bench-${stamp.toLowerCase()}-chaos`, options.runs, options.quick, { server, client, work, interrupt: interrupt.signal, log })
      : []
    const kills: ChaosResult[] = options.chaos ? await killChaos(server, undefined, log) : []

    const report: BenchReport = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      host: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
        memoryGiB: Math.round(totalmem() / 2 ** 30),
        kernel: release(),
        loadAverageBefore,
        loadAverageAfter: loadavg(),
      },
      server: { endpoint: server.endpoint, reused },
      versions,
      options: { runs: options.runs, quick: options.quick },
      method,
      scenarios: reports,
      runs,
      ...(ceiling === undefined ? {} : { ceiling }),
      ...(wan.length > 0 ? { wan } : {}),
      ...(chaos.length > 0 ? { chaos, kills } : {}),
    }
    await mkdir(resultsDir, { recursive: true })
    const resultsFile = join(resultsDir, `${stamp}.json`)
    await writeFile(resultsFile, `${JSON.stringify(report, null, 2)}\n`)
    const extra = [
      ...(ceiling === undefined ? [] : [renderCeilingMarkdown(ceiling)]),
      ...(wan.length > 0 ? [renderWanMarkdown(wan)] : []),
      ...(chaos.length > 0 ? [renderChaosMarkdown(chaos, chaosBytes(options.quick)), ...chaosCommands(chaos).map((c) => `\`${c}\``)] : []),
      ...(kills.length > 0 ? ['Kill -9 at 1, 3, 2, 4 and 1.5 s, then a finishing run, on a 25 MB/s link:', ...kills.map((k) => `- ${killLine(k)}`)] : []),
    ]
    console.log(renderMarkdown(report, relative(process.cwd(), resultsFile), extra))
    // Targets are information; only a run that failed to deliver everything fails the bench.
    const ceilingOk = ceiling?.runs.every((r) => r.ok) ?? true
    return runs.every((r) => r.ok) && ceilingOk && wan.every((w) => w.runs.every((r) => r.ok)) && chaos.every((r) => r.ok) ? 0 : 1
  } finally {
    await rm(root, { recursive: true, force: true })
    if (!reused) {
      log('stopping the Ceph radosgw the bench started')
      await server.stop()
    }
  }
}

/**
 * The build of git `ref` (--baseline): its files at that commit, unpacked under the temp
 * directory with this checkout's node_modules and built there once by its own `npm run build`
 * (tsc, and the CLI bundle where the commit has one), kept for later benches.
 */
async function buildBaseline(ref: string): Promise<{ bin: string; sha: string }> {
  const repo = fileURLToPath(new URL('..', import.meta.url))
  const sha = (await execFileAsync('git', ['rev-parse', '--verify', `${ref}^{commit}`], { cwd: repo })).stdout.trim()
  const root = join(tmpdir(), `soaker-baseline-${sha.slice(0, 12)}`)
  const bin = join(root, 'bin', 'soaker.js')
  const built = join(root, '.built')
  if (await access(built, constants.R_OK).then(() => true, () => false)) return { bin, sha }
  log(`building the baseline ${ref} (${sha.slice(0, 12)}) in ${root}`)
  await rm(root, { recursive: true, force: true })
  await mkdir(root, { recursive: true })
  await execFileAsync('sh', ['-c', 'git archive "$1" | tar -x -C "$2"', 'sh', sha, root], { cwd: repo })
  await symlink(join(repo, 'node_modules'), join(root, 'node_modules'))
  await execFileAsync('npm', ['run', 'build', '--silent'], { cwd: root })
  await writeFile(built, `${sha}\n`)
  return { bin, sha }
}

interface Context {
  server: TestS3Server
  client: S3Client
  work: Workspace
  interrupt: AbortSignal
}

/** Seeds `scenario` into a fresh `bucket` once, runs every tool `runs` times interleaved, removes the bucket. */
async function runScenario(scenario: Scenario, bucket: string, runs: number, ctx: Context): Promise<{ report: ScenarioReport; records: RunRecord[] }> {
  log(`seeding ${scenario.name} (${scenario.description}) into s3://${bucket}`)
  try {
    const seedStart = performance.now()
    const dataset = await scenario.seed(ctx.client, bucket)
    log(`seeded in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`)
    const { endpoint, accessKeyId, secretAccessKey, region } = ctx.server
    const source: Source = { endpoint, accessKeyId, secretAccessKey, region, bucket, prefix: dataset.prefix }
    const records: RunRecord[] = []
    for (let i = 1; i <= runs; i++) {
      for (const tool of tools) {
        ctx.interrupt.throwIfAborted()
        const record = await runOnce(tool, scenario, dataset, source, i, ctx)
        records.push(record)
        log(progressLine(record, runs, scenario))
      }
    }
    const summaries = summarise(records, tools.map((t) => t.name), (wall) => scenario.throughput(dataset, wall))
    return {
      report: {
        name: scenario.name, description: scenario.description, unit: scenario.unit, bucket, prefix: dataset.prefix,
        files: dataset.files.length, totalBytes: dataset.totalBytes, targetVsRclone: scenario.targetVsRclone, summaries,
      },
      records,
    }
  } finally {
    // Ceph's memstore keeps objects in RAM, so each scenario's data goes before the next is seeded.
    await removeBucket(ctx.client, bucket).catch((err: Error) => log(`could not remove bucket ${bucket}: ${err.message}`))
    await collectGarbage(log)
  }
}

/** One run of `tool` into an empty destination, measured, then checked against `dataset`. */
async function runOnce(tool: Tool, scenario: Scenario, dataset: Dataset, source: Source, run: number, ctx: Context): Promise<RunRecord> {
  const { work } = ctx
  await rm(work.dest, { recursive: true, force: true })
  await mkdir(work.dest)
  const scratch = await mkdtemp(join(work.root, `${tool.name}-`))
  // Writeback of the previous run's gigabyte would otherwise land in this run's time.
  await execFileAsync('sync')
  const invocation = tool.invocation(source, work.dest, scratch)
  const env = baseEnv(work.home)
  const startedAt = new Date().toISOString()
  const measurement = await measure(invocation.argv, {
    env: { ...env, ...invocation.env },
    timeFile: join(scratch, 'time.txt'),
    timeoutMs: runTimeoutMs,
    signal: ctx.interrupt,
  })
  ctx.interrupt.throwIfAborted()
  const failure = explainFailure(measurement, runTimeoutMs) ?? (await verifyDestination(work.dest, dataset.files))
  await rm(scratch, { recursive: true, force: true })
  return {
    scenario: scenario.name,
    tool: tool.name,
    run,
    startedAt,
    command: formatCommand(env, invocation),
    measurement,
    ok: failure === undefined,
    ...(failure === undefined ? {} : { failure }),
    throughput: failure === undefined ? scenario.throughput(dataset, measurement.wallSeconds) : null,
  }
}

function progressLine(r: RunRecord, runs: number, scenario: Scenario): string {
  const m = r.measurement
  // A killed command leaves GNU time no chance to report, so its numbers are NaN.
  const num = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : '?')
  const speed = r.throughput === null ? 'FAILED' : `${num(r.throughput, 1)} ${scenario.unit}`
  return `[${r.scenario} ${r.run}/${runs}] ${r.tool.padEnd(6)} ${num(m.wallSeconds, 2)} s  ${speed}  ` +
    `CPU ${num(m.cpuSeconds, 2)} s  RSS ${num(m.maxRssKiB / 1024, 0)} MiB${r.failure ? `  (${r.failure})` : ''}`
}

/** Fails early, naming what to install, when a binary the bench runs is missing. */
async function checkPrerequisites(): Promise<void> {
  for (const binary of [timeBinary, ...requiredBinaries]) {
    await access(binary, constants.X_OK).catch(() => {
      throw new Error(`${binary} is missing; the bench needs the Debian packages time, rclone and awscli (see bench/README.md)`)
    })
  }
  if (!(await answering(cephEndpoint)) && !(await cephAvailable())) {
    throw new Error('Ceph is not installed and nothing answers on 127.0.0.1:7480 (see bench/README.md)')
  }
}

/** Whether anything answers HTTP at `url` within two seconds. */
async function answering(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2000) })
    return true
  } catch {
    return false
  }
}

function log(line: string): void {
  console.error(line)
}

process.exitCode = await main(process.argv.slice(2)).catch((err: Error) => {
  console.error(err.name === 'AbortError' ? 'bench interrupted' : `bench failed: ${err.stack ?? err.message}`)
  return err.name === 'AbortError' ? 130 : 1
})
