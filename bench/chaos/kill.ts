/**
 * `npx tsx bench/chaos/kill.ts [download] [upload]` (both when none is named; `npm run bench -- chaos`
 * runs both after the fault cases): the figure
 * "a kill loses seconds, not parts". One command through a 25 MB/s link (the WAN emulator, both
 * directions paced) is killed with SIGKILL five times, at fixed delays of 1 to 4 s after it
 * starts, then run to the end; the link counts every body byte. Re-sent = bytes that crossed for
 * the data, divided by its size, minus 1. Every run ends byte-identical or the script fails.
 * Needs dist/ built (npm run build) and uses the Ceph radosgw at 127.0.0.1:7480 (started if absent).
 */
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GetObjectCommand } from '@aws-sdk/client-s3'
import { startCeph, type TestS3Server } from '../../scripts/support/s3-server.js'
import { createBucket, putMultipart, putObject, seedClient } from '../../scripts/support/seed.js'
import { removeBucket } from '../dataset.js'
import { startWanProxy, type WanProxy } from '../wan/wan-proxy.js'

const MiB = 1024 * 1024
const bin = fileURLToPath(new URL('../../bin/soaker.js', import.meta.url))
/** The link of the measurement. */
export const linkBytesPerSec = 25e6
/** Seconds after its start at which each killed run is killed: five kills, 1 to 4 s apart. */
export const killAfterSeconds = [1, 3, 2, 4, 1.5]
/** 167 MiB to download: two multipart objects (8 MiB parts) and one fetched in a single GET. */
const downloadFiles: Record<string, number> = { 'a.bin': 96 * MiB, 'b.bin': 64 * MiB, 'c.bin': 7 * MiB }
/** 150 MiB to upload: two multipart files and one sent in a single PUT. */
const uploadFiles: Record<string, number> = { 'a.bin': 96 * MiB, 'b.bin': 48 * MiB, 'c.bin': 6 * MiB }

export interface ChaosResult {
  direction: 'download' | 'upload'
  bytes: number
  crossed: number
  /** crossed / bytes - 1, in percent. */
  resentPercent: number
  /** How each run ended: killed, or the exit code. */
  runs: string[]
  command: string
}

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex')

/** Runs `args` of the CLI; kills it after `killAfter` seconds if it is still running. */
function runSoaker(args: string[], env: NodeJS.ProcessEnv, killAfter?: number): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'ignore', 'ignore'] })
    const timer = killAfter === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfter * 1000)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve(signal ? `killed (${signal})` : `exit ${code}`)
    })
  })
}

async function killThenFinish(args: string[], env: NodeJS.ProcessEnv): Promise<string[]> {
  const runs: string[] = []
  for (const s of killAfterSeconds) runs.push(`${s} s: ${await runSoaker(args, env, s)}`)
  runs.push(`last: ${await runSoaker(args, env)}`)
  return runs
}

function envFor(server: TestS3Server, work: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH, HOME: work, XDG_STATE_HOME: join(work, 'xdg'),
    AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey, AWS_REGION: server.region,
    AWS_EC2_METADATA_DISABLED: 'true', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  }
}

async function chaosDownload(server: TestS3Server, link: WanProxy, work: string): Promise<ChaosResult> {
  const client = seedClient(server)
  const bucket = `chaos-dl-${Date.now().toString(36)}`
  await createBucket(client, bucket)
  try {
    const data: Record<string, Buffer> = {}
    for (const [name, size] of Object.entries(downloadFiles)) {
      data[name] = randomBytes(size)
      if (size > 8 * MiB) await putMultipart(client, bucket, `d/${name}`, data[name], 8 * MiB)
      else await putObject(client, bucket, `d/${name}`, data[name])
    }
    const dest = join(work, 'dest')
    const args = ['cp', `s3://${bucket}/d/`, dest, '--endpoint-url', link.url, '--state', join(work, 'dl.db')]
    const before = link.stats().bytesSent
    const runs = await killThenFinish(args, envFor(server, work))
    const crossed = link.stats().bytesSent - before
    for (const [name, buf] of Object.entries(data)) {
      if (md5(readFileSync(join(dest, name))) !== md5(buf)) throw new Error(`download: ${name} differs from its object`)
    }
    return result('download', data, crossed, runs, args)
  } finally {
    await removeBucket(client, bucket).catch(() => undefined)
  }
}

async function chaosUpload(server: TestS3Server, link: WanProxy, work: string): Promise<ChaosResult> {
  const client = seedClient(server)
  const bucket = `chaos-up-${Date.now().toString(36)}`
  await createBucket(client, bucket)
  try {
    const src = mkdtempSync(join(work, 'src-'))
    const data: Record<string, Buffer> = {}
    for (const [name, size] of Object.entries(uploadFiles)) {
      data[name] = randomBytes(size)
      writeFileSync(join(src, name), data[name])
    }
    const args = ['cp', src, `s3://${bucket}/u`, '--endpoint-url', link.url, '--state', join(work, 'up.db')]
    const before = link.stats().bytesReceived
    const runs = await killThenFinish(args, envFor(server, work))
    const crossed = link.stats().bytesReceived - before
    for (const [name, buf] of Object.entries(data)) {
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `u/${name}` }))
      if (md5(Buffer.from(await got.Body!.transformToByteArray())) !== md5(buf)) throw new Error(`upload: ${name} differs from its file`)
    }
    return result('upload', data, crossed, runs, args)
  } finally {
    await removeBucket(client, bucket).catch(() => undefined)
  }
}

function result(direction: ChaosResult['direction'], data: Record<string, Buffer>, crossed: number, runs: string[], args: string[]): ChaosResult {
  const bytes = Object.values(data).reduce((n, b) => n + b.length, 0)
  return { direction, bytes, crossed, resentPercent: (crossed / bytes - 1) * 100, runs, command: `soaker ${args.join(' ')}` }
}

/** Five kills then a finishing run, for each of `directions`, through a 25 MB/s link paced both ways. */
export async function killChaos(server: TestS3Server, directions: readonly string[] = ['download', 'upload'], log = console.log): Promise<ChaosResult[]> {
  const link = await startWanProxy({ target: server.endpoint, linkBytesPerSec, paceRequests: true })
  const work = mkdtempSync(join(tmpdir(), 'soaker-chaos-'))
  const results: ChaosResult[] = []
  try {
    for (const d of directions) {
      const r = d === 'upload' ? await chaosUpload(server, link, work) : await chaosDownload(server, link, work)
      log(killLine(r))
      results.push(r)
    }
    return results
  } finally {
    await link.stop()
    await rm(work, { recursive: true, force: true })
  }
}

export function killLine(r: ChaosResult): string {
  return `${r.direction}: ${(r.crossed / MiB).toFixed(0)} MiB crossed for ${(r.bytes / MiB).toFixed(0)} MiB ` +
    `(re-sent ${r.resentPercent.toFixed(0)}%, target ≤ ${r.direction === 'download' ? 40 : 100}%), every file byte-identical; ` +
    `runs: ${r.runs.join(', ')}; \`${r.command}\``
}

async function main(argv: string[]): Promise<number> {
  await killChaos(await startCeph(), argv.length > 0 ? argv : undefined)
  return 0
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => { console.error(err); process.exit(1) })
}
