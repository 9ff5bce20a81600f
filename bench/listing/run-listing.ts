/**
 * `npm run bench -- listing [--keys N] [--runs N]`: listing and planning at scale, without Ceph.
 * The synthetic listing server (scripts/support/listing-server.ts) serves N generated keys;
 * `soaker cp --dry-run` (lists, decides against the state and the destination, transfers
 * nothing) races `rclone lsf -R` (lists and prints every key) against it, each run under
 * /usr/bin/time. Reports objects listed per second of wall time and the peak RSS of each tool.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startListingServer } from '../../scripts/support/listing-server.js'
import { explainFailure, measure, type Measurement } from '../measure.js'
import { baseEnv } from '../peers.js'

const soakerBin = fileURLToPath(new URL('../../bin/soaker.js', import.meta.url))
const rcloneBin = '/usr/bin/rclone'
const timeoutMs = 10 * 60_000
// The server checks no signature; both tools still sign with these.
const keys = { AWS_ACCESS_KEY_ID: 'listing', AWS_SECRET_ACCESS_KEY: 'listing', AWS_REGION: 'us-east-1' }

interface ToolRun {
  tool: 'soaker' | 'rclone'
  argv: string[]
  env: Record<string, string>
}

function invocations(url: string, bucket: string, scratch: string): ToolRun[] {
  return [
    {
      tool: 'soaker',
      argv: [process.execPath, soakerBin, 'cp', `s3://${bucket}/data`, join(scratch, 'dest'), '--endpoint-url', url, '--state', join(scratch, 'state.db'), '--dry-run'],
      env: keys,
    },
    {
      tool: 'rclone',
      argv: [rcloneBin, 'lsf', '-R', '--files-only', `x:${bucket}/data`],
      env: {
        RCLONE_CONFIG_X_TYPE: 's3', RCLONE_CONFIG_X_PROVIDER: 'Other', RCLONE_CONFIG_X_ENDPOINT: url, RCLONE_CONFIG_X_LIST_VERSION: '2',
        RCLONE_CONFIG_X_ACCESS_KEY_ID: keys.AWS_ACCESS_KEY_ID, RCLONE_CONFIG_X_SECRET_ACCESS_KEY: keys.AWS_SECRET_ACCESS_KEY,
      },
    },
  ]
}

function line(tool: string, run: number, n: number, m: Measurement): string {
  const failure = explainFailure(m, timeoutMs)
  if (failure) return `| ${tool} | ${run} | FAILED: ${failure} | | | |`
  return `| ${tool} | ${run} | ${m.wallSeconds.toFixed(2)} | ${Math.round(n / m.wallSeconds)} | ${m.cpuSeconds.toFixed(2)} | ${(m.maxRssKiB / 1024).toFixed(0)} |`
}

export async function runListingBench(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { keys: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '1' } } })
  const n = Number(values.keys)
  const runs = Number(values.runs)
  const server = await startListingServer({ keys: n })
  const scratch = await mkdtemp(join(tmpdir(), 'soaker-bench-listing-'))
  let ok = true
  try {
    console.log(`listing ${n} keys from ${server.url} (scripts/support/listing-server.ts), ${runs} run(s) each, interleaved\n`)
    console.log('| tool | run | wall s | objects/s | CPU s | peak RSS MiB |\n|---|---|---|---|---|---|')
    for (let run = 1; run <= runs; run++) {
      for (const t of invocations(server.url, server.bucket, scratch)) {
        await rm(join(scratch, 'state.db'), { force: true })
        const m = await measure(t.argv, { env: { ...baseEnv(scratch), ...t.env }, timeFile: join(scratch, 'time'), timeoutMs, logFile: join(scratch, `${t.tool}.log`) })
        ok &&= explainFailure(m, timeoutMs) === undefined
        console.log(line(t.tool, run, n, m))
      }
    }
  } finally {
    await server.stop()
    await rm(scratch, { recursive: true, force: true })
  }
  return ok ? 0 : 1
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = await runListingBench(process.argv.slice(2))
