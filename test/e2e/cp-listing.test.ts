import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, test } from 'vitest'
import { listingBody, listingKey, startListingServer, type ListingServer, type ListingServerOptions } from '../../scripts/support/listing-server.js'
import { bin, md5, readState, soaker, soakerEnv, tempDir, treeOf, type RunResult } from './helpers.js'

const maxRssPreload = fileURLToPath(new URL('../../scripts/support/max-rss.mjs', import.meta.url))
const MiB = 1024 * 1024

let server: ListingServer | undefined
afterEach(async () => {
  await server?.stop()
  server = undefined
})

async function listing(options: ListingServerOptions): Promise<ListingServer> {
  server = await startListingServer(options)
  return server
}

const cp = (s: ListingServer, dest: string, ...more: string[]): string[] =>
  ['cp', `s3://${s.bucket}/data`, dest, '--endpoint-url', s.url, '--state', join(tempDir(), 's.db'), ...more]

/** Runs the CLI and reports its peak RSS, measured inside the process as it exits. */
async function soakerWithPeakRss(args: string[]): Promise<RunResult & { peakRssBytes: number }> {
  const rssFile = join(tempDir('rss'), 'max-rss')
  const child = spawn(process.execPath, ['--import', maxRssPreload, bin, ...args], { env: soakerEnv({ SOAKER_MAX_RSS_FILE: rssFile }), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])))
  return { code, signal, stdout, stderr, peakRssBytes: Number(readFileSync(rssFile, 'utf8')) * 1024 }
}

describe('soaker cp over listings that are large or that lie', () => {
  test('cp --dry-run over 1,000,000 listed keys counts every one and peaks under 200 MiB of RSS', async () => {
    const s = await listing({ keys: 1_000_000 })
    const r = await soakerWithPeakRss(cp(s, join(tempDir(), 'dest'), '--dry-run'))
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('would copy 1000000 objects (')
    expect(r.stdout).toContain(', 1000000 listed')
    expect(s.counts.list).toBe(1 + 1000) // the first asks whether data is a prefix or an object
    expect(s.counts.get).toBe(0)
    expect(r.peakRssBytes).toBeGreaterThan(20 * MiB) // the measurement measured something
    expect(r.peakRssBytes).toBeLessThanOrEqual(200 * MiB)
  }, 180_000)

  test('a ListObjectsV2 page answered with an empty 200 is asked again, and the listing stays exact', async () => {
    const s = await listing({ keys: 3500, breakListing: ({ first, nth }) => (first === 2000 && nth <= 2 ? 'empty' : undefined) })
    const r = await soaker(cp(s, join(tempDir(), 'dest'), '--dry-run'))
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('would copy 3500 objects (')
    expect(s.counts.list).toBe(1 + 4 + 2)
  })

  test('a bucket whose listing is only ever an empty 200 fails the run with SOAKER_INVALID_RESPONSE, never "0 listed"', async () => {
    const s = await listing({ keys: 10, breakListing: () => 'empty' })
    const r = await soaker(cp(s, join(tempDir(), 'dest')))
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/not a listing .*\[SOAKER_INVALID_RESPONSE\]/)
    expect(r.stdout + r.stderr).not.toMatch(/\b0 listed/)
    expect(s.counts.list).toBeGreaterThan(1) // retried before giving up
  })

  test('a web page under 200 in the middle of a listing fails the copy after the objects listed before it', async () => {
    const s = await listing({ keys: 2500, breakListing: ({ first }) => (first === 1000 ? 'html' : undefined) })
    const dest = join(tempDir(), 'dest')
    const args = cp(s, dest)
    const r = await soaker(args)
    expect(r.code).toBe(1)
    expect(r.stdout + r.stderr).toContain('SOAKER_INVALID_RESPONSE')
    const files = await treeOf(dest)
    expect(Object.keys(files).length).toBeLessThanOrEqual(1000)
    for (const [name, sum] of Object.entries(files)) expect(sum).toBe(md5(listingBody(Number(name))))
    const state = args[args.indexOf('--state') + 1]!
    expect((await readState(state)).runs.map(({ status }) => ({ status }))).toEqual([{ status: 'failed' }])
  })

  test('cp s3://listing/data dir copies a synthetic bucket exactly', async () => {
    const s = await listing({ keys: 1200 })
    const dest = join(tempDir(), 'dest')
    const r = await soaker(cp(s, dest))
    expect(r.code).toBe(0)
    const files = await treeOf(dest)
    expect(Object.keys(files)).toHaveLength(1200)
    expect(files[listingKey(1199).slice('data/'.length)]).toBe(md5(listingBody(1199)))
  })
})
