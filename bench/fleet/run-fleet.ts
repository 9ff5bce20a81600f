/**
 * `npm run bench -- fleet [--objects N] [--tiny N] [--workers N] [--runs N]`: a job of many
 * objects, on one machine and shared by several. No Ceph: the synthetic listing server
 * (scripts/support/listing-server.ts) serves generated keys with tiny deterministic bodies, and a
 * throwaway PostgreSQL (scripts/support/postgres.ts) holds the shared jobs.
 *
 * 1. Listing and planning `--objects` keys (default 1,000,000): `soaker plan` into SQLite and
 *    into PostgreSQL (it lists, decides and records a row per object, and transfers nothing)
 *    beside `rclone lsf -R` (lists) and `rclone copy --dry-run` (lists and compares; it does not
 *    run above 2,000,000 keys, which would not fit in memory here). Objects/s and peak RSS of
 *    each process.
 * 2. Copying `--tiny` objects (default 200,000): one soaker process alone, `--workers` soaker
 *    processes (default 4) sharing one PostgreSQL job, and rclone copy. Objects/s over the whole
 *    copy, the CPU of every process, and the largest RSS of any. Every file is checked after.
 *
 * Runs interleave; the table keeps every run and the summary the medians, with the CPU per object
 * of the processes and of the PostgreSQL server (from which a fleet of 100 is sized on paper). The
 * listing server runs in this process: its CPU is reported as the listing server's.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { listingBody, listingKey, startListingServer, type ListingServer } from '../../scripts/support/listing-server.js'
import { startTestPostgres, type TestPostgres } from '../../scripts/support/postgres.js'
import { clockTicksPerSecond } from '../ceiling/server-cpu.js'
import { explainFailure, measure, type Measurement } from '../measure.js'
import { baseEnv } from '../peers.js'
import { median } from '../report.js'
import { postgresTicks } from './postgres-cpu.js'

const soakerBin = fileURLToPath(new URL('../../bin/soaker.js', import.meta.url))
const rcloneBin = '/usr/bin/rclone'
const timeoutMs = 30 * 60_000
const ticksPerSecond = await clockTicksPerSecond()
// The server checks no signature; every tool still signs with these.
const keys = { AWS_ACCESS_KEY_ID: 'fleet', AWS_SECRET_ACCESS_KEY: 'fleet', AWS_REGION: 'us-east-1' }

/** One command of a case: what runs, and where its output is kept. */
interface Command {
  argv: string[]
  env: Record<string, string>
}

/** One run of a case: several commands for a fleet, started together. */
interface CaseRun {
  name: string
  run: number
  objects: number
  /** From the first start to the last exit. */
  wallSeconds: number
  /** Every process's CPU, summed. */
  cpuSeconds: number
  /** The largest peak RSS of any one process, in MiB. */
  maxRssMiB: number
  /** The listing server's CPU over the run (it runs in this process). */
  serverCpuSeconds: number
  /** The PostgreSQL server's CPU over the run. */
  postgresCpuSeconds: number
  failure?: string
  /** Why the case did not run. */
  skipped?: string
}

function rclone(url: string): Record<string, string> {
  return {
    RCLONE_CONFIG_X_TYPE: 's3', RCLONE_CONFIG_X_PROVIDER: 'Other', RCLONE_CONFIG_X_ENDPOINT: url, RCLONE_CONFIG_X_LIST_VERSION: '2',
    RCLONE_CONFIG_X_ACCESS_KEY_ID: keys.AWS_ACCESS_KEY_ID, RCLONE_CONFIG_X_SECRET_ACCESS_KEY: keys.AWS_SECRET_ACCESS_KEY,
  }
}

const soaker = (args: string[]): Command => ({ argv: [process.execPath, soakerBin, ...args], env: keys })

/** Runs `commands` together, each under GNU time, and sums them up as one run of `name`. */
async function runCase(name: string, run: number, objects: number, commands: Command[], scratch: string, pg: TestPostgres): Promise<CaseRun> {
  const pg0 = await postgresTicks(pg.pid)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const measured: Measurement[] = await Promise.all(commands.map((c, i) => measure(c.argv, {
    env: { ...baseEnv(scratch), ...c.env }, timeFile: join(scratch, `time-${i}`), timeoutMs, logFile: join(scratch, `${name}-${run}-${i}.log`),
  })))
  const wallSeconds = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const postgresCpuSeconds = ((await postgresTicks(pg.pid)) - pg0) / ticksPerSecond
  const failure = measured.map((m) => explainFailure(m, timeoutMs)).find((f) => f !== undefined)
  return {
    name, run, objects, wallSeconds, failure,
    cpuSeconds: measured.reduce((n, m) => n + m.cpuSeconds, 0),
    maxRssMiB: Math.max(...measured.map((m) => m.maxRssKiB / 1024)),
    serverCpuSeconds: (cpu.user + cpu.system) / 1e6, postgresCpuSeconds,
  }
}

function row(r: CaseRun): string {
  if (r.skipped) return `| ${r.name} | ${r.run} | skipped: ${r.skipped} | | | | | |`
  if (r.failure) return `| ${r.name} | ${r.run} | FAILED: ${r.failure} | | | | | |`
  return `| ${r.name} | ${r.run} | ${r.wallSeconds.toFixed(1)} | ${Math.round(r.objects / r.wallSeconds)} | ${r.cpuSeconds.toFixed(1)} | ` +
    `${r.serverCpuSeconds.toFixed(1)} | ${r.postgresCpuSeconds.toFixed(1)} | ${r.maxRssMiB.toFixed(0)} |`
}

/**
 * rclone copy --dry-run held 3.5 to 3.9 GiB for a million keys (bench/README): it keeps a directory's
 * listing in memory. Beyond this many keys it would not fit this machine, and does not run.
 */
const dryRunAtMost = 2_000_000

/** Every file of the tiny copy is there with its body. */
async function checkTiny(dest: string, n: number): Promise<string | undefined> {
  const names = await readdir(dest)
  const files = names.filter((f) => !f.startsWith('.'))
  if (files.length !== n) return `${files.length} files in the destination, expected ${n}`
  for (let i = 0; i < n; i++) {
    const name = listingKey(i).slice('data/'.length)
    if (!(await readFile(join(dest, name))).equals(listingBody(i))) return `${name}: its bytes differ from the source's`
  }
  return undefined
}

export async function runFleetBench(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      objects: { type: 'string', default: '1000000' }, tiny: { type: 'string', default: '200000' },
      workers: { type: 'string', default: '4' }, runs: { type: 'string', default: '3' },
    },
  })
  const n = Number(values.objects)
  const tiny = Number(values.tiny)
  const workers = Number(values.workers)
  const runs = Number(values.runs)
  const scratch = await mkdtemp(join(tmpdir(), 'soaker-bench-fleet-'))
  const pg = await startTestPostgres()
  const servers: ListingServer[] = []
  const results: CaseRun[] = []
  try {
    const many = await startListingServer({ keys: n, bucket: 'many' })
    const few = await startListingServer({ keys: tiny, bucket: 'tiny' })
    servers.push(many, few)
    const header = '| case | run | wall s | objects/s | CPU s (all processes) | listing server CPU s | PostgreSQL CPU s | peak RSS MiB (largest process) |\n' +
      '|---|---|---|---|---|---|---|---|'

    console.log(`## Listing and planning ${n} keys (${runs} runs, interleaved)\n\n${header}`)
    for (let run = 1; run <= runs; run++) {
      const dest = join(scratch, `plan-${run}`)
      const listing: Array<[string, Command]> = [
        ['soaker plan, SQLite', soaker(['plan', `s3://many/data`, dest, '--endpoint-url', many.url, '--state', join(scratch, `plan-${run}.db`)])],
        // A destination of its own makes a job of its own in the shared database.
        ['soaker plan, PostgreSQL', soaker(['plan', `s3://many/data`, `${dest}-pg`, '--endpoint-url', many.url, '--state', pg.url])],
        ['rclone lsf -R', { argv: [rcloneBin, 'lsf', '-R', '--files-only', 'x:many/data'], env: rclone(many.url) }],
        ['rclone copy --dry-run', { argv: [rcloneBin, 'copy', '--dry-run', 'x:many/data', join(scratch, 'rclone-dry')], env: rclone(many.url) }],
      ]
      for (const [name, command] of listing) {
        const r: CaseRun = name.includes('--dry-run') && n > dryRunAtMost
          ? { name, run, objects: n, wallSeconds: 0, cpuSeconds: 0, maxRssMiB: 0, serverCpuSeconds: 0, postgresCpuSeconds: 0,
            skipped: `it keeps a directory's listing in memory (3.5 to 3.9 GiB at 1M keys); above ${dryRunAtMost} keys it would not fit this machine` }
          : await runCase(name, run, n, [command], scratch, pg)
        results.push(r)
        console.log(row(r))
      }
    }

    if (tiny > 0) console.log(`\n## Copying ${tiny} tiny objects (${runs} runs, interleaved)\n\n${header}`)
    for (let run = 1; run <= runs && tiny > 0; run++) {
      const copies: Array<[string, (dest: string) => Command[]]> = [
        ['soaker, 1 process', (dest) => [soaker(['cp', 's3://tiny/data', dest, '--endpoint-url', few.url, '--state', join(scratch, `tiny-${run}.db`)])]],
        [`soaker, ${workers} workers sharing PostgreSQL`, (dest) => Array.from({ length: workers }, () =>
          soaker(['cp', 's3://tiny/data', dest, '--endpoint-url', few.url, '--state', pg.url]))],
        ['rclone copy', (dest) => [{ argv: [rcloneBin, 'copy', '--transfers', '16', 'x:tiny/data', dest], env: rclone(few.url) }]],
      ]
      for (const [name, commands] of copies) {
        const dest = join(scratch, `tiny-${run}-${results.length}`)
        await mkdir(dest, { recursive: true })
        const r = await runCase(name, run, tiny, commands(dest), scratch, pg)
        r.failure ??= await checkTiny(dest, tiny)
        results.push(r)
        console.log(row(r))
        await rm(dest, { recursive: true, force: true })
      }
    }

    console.log('\n## Medians\n\n| case | objects/s | CPU s | CPU ms per object | PostgreSQL CPU ms per object | peak RSS MiB |\n|---|---|---|---|---|---|')
    for (const name of [...new Set(results.map((r) => r.name))]) {
      const ok = results.filter((r) => r.name === name && r.failure === undefined && r.skipped === undefined)
      const rate = median(ok.map((r) => r.objects / r.wallSeconds))
      const perObject = (seconds: (r: CaseRun) => number): string => median(ok.map((r) => (1000 * seconds(r)) / r.objects))?.toFixed(3) ?? ''
      console.log(`| ${name} | ${rate === null ? 'did not run or all failed' : Math.round(rate)} | ${median(ok.map((r) => r.cpuSeconds))?.toFixed(1) ?? ''} | ` +
        `${perObject((r) => r.cpuSeconds)} | ${perObject((r) => r.postgresCpuSeconds)} | ${median(ok.map((r) => r.maxRssMiB))?.toFixed(0) ?? ''} |`)
    }
    await mkdir(fileURLToPath(new URL('../results/', import.meta.url)), { recursive: true })
    const out = fileURLToPath(new URL(`../results/fleet-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '')}.json`, import.meta.url))
    await writeFile(out, JSON.stringify({ objects: n, tiny, workers, runs, results }, null, 2) + '\n')
    console.log(`\nresults: ${out}`)
    return results.every((r) => r.failure === undefined) ? 0 : 1
  } finally {
    for (const s of servers) await s.stop()
    await pg.stop()
    await rm(scratch, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = await runFleetBench(process.argv.slice(2))
