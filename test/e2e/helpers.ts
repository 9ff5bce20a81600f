import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, inject } from 'vitest'
import { startFaultProxy, type FaultProxy } from '../../scripts/support/fault-proxy.js'
import { createBucket, seedClient } from '../../scripts/support/seed.js'
import { SqliteStateStore } from '../../src/state/sqlite-store.js'
import type { ObjectRow, ObjectStatus, RunRow, Sample, StatusCount } from '../../src/state/store.js'

export const bin = fileURLToPath(new URL('../../bin/soaker.js', import.meta.url))
export const s3 = inject('s3')
export const client = seedClient(s3)

export function tempDir(label = 'e2e'): string {
  return mkdtempSync(join(tmpdir(), `soaker-${label}-`))
}

/** A fresh directory holding `files` (relative path → content), directories made as needed. */
export function sourceTree(files: Record<string, string | Buffer>, label = 'src'): string {
  const root = tempDir(label)
  for (const [rel, data] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true })
    writeFileSync(join(root, rel), data)
  }
  return root
}

/**
 * The counting fault proxy of one test file, in front of the test server: started before the
 * file's tests, stopped after them. `cp` builds a cp command line that goes through it.
 */
export function faultProxyForFile(): { readonly proxy: FaultProxy; cp: (source: string, dest: string, state: string, ...more: string[]) => string[] } {
  let proxy: FaultProxy | undefined
  beforeAll(async () => { proxy = await startFaultProxy(s3.endpoint) })
  afterAll(async () => { await proxy?.stop() })
  return {
    get proxy() { return proxy! },
    cp: (source, dest, state, ...more) => ['cp', source, dest, '--endpoint-url', proxy!.url, '--state', state, ...more],
  }
}

/**
 * The compiled code of the CLI (src/cli/bundle-loader.ts), kept across runs as for a user's: one
 * directory under the temp dir for all test runs (each checkout's build replaces its own files
 * there), not one per test file, which would leave a few MB behind each time.
 */
const compileCache = join(inject('sharedTmp'), 'soaker-test-compile-cache')

/**
 * Environment of a soaker run: the test server's keys, no instance-metadata lookups, state in a
 * temp dir; the CLI's compiled code in one directory for all runs.
 */
export function soakerEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, HOME: tempDir('home'),
    AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region,
    AWS_EC2_METADATA_DISABLED: 'true', XDG_STATE_HOME: tempDir('xdg'), XDG_CACHE_HOME: compileCache,
    SOAKER_RETRY_DELAY: '0.05', SOAKER_LOG_LEVEL: 'info',
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k]
    else env[k] = v
  }
  return env
}

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Starts the real CLI; `done` resolves when it exits. */
export function startSoaker(args: string[], env = soakerEnv()): { child: ChildProcess; done: Promise<RunResult>; output: () => string } {
  const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  const done = new Promise<RunResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  return { child, done, output: () => stdout + stderr }
}

export function soaker(args: string[], env = soakerEnv()): Promise<RunResult> {
  return startSoaker(args, env).done
}

/** `cp` against the test server with a state file of the test's choosing. */
export function cpArgs(source: string, dest: string, state: string, ...more: string[]): string[] {
  return ['cp', source, dest, '--endpoint-url', s3.endpoint, '--state', state, ...more]
}

let bucketCount = 0
export async function freshBucket(): Promise<string> {
  const name = `${s3.bucketPrefix}-${process.pid}-${bucketCount++}`
  await createBucket(client, name)
  return name
}

/** The bytes of an object on the test server. */
export async function objectBytes(bucket: string, key: string): Promise<Buffer> {
  const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  return Buffer.from(await r.Body!.transformToByteArray())
}

/** Every key of a bucket on the test server (up to 1,000), sorted. */
export async function keysOf(bucket: string): Promise<string[]> {
  const r = await client.send(new ListObjectsV2Command({ Bucket: bucket }))
  return (r.Contents ?? []).map((o) => o.Key!).sort()
}

export const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex')
export const body = (n: number): Buffer => randomBytes(n)

/** Every file under `dir`: relative path → MD5 of its bytes. */
export async function treeOf(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  async function walk(d: string): Promise<void> {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) await walk(p)
      else out[relative(dir, p)] = md5(await readFile(p))
    }
  }
  await walk(dir)
  return out
}

/** Names of the partial files soaker keeps under `root` (in `.soaker/partial/`); none when absent. */
export async function partialFiles(root: string): Promise<string[]> {
  return readdir(join(root, '.soaker', 'partial')).catch(() => [])
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false)
}

/** What a state database holds, as soaker's store reads it: plain data, the database closed again. */
export interface JobSnapshot {
  /** Every object row, in key order, whatever its status. */
  objects: ObjectRow[]
  /** Objects of each status and their bytes, as the store tallies them. */
  counts: Record<ObjectStatus, StatusCount>
  /** Finished parts of each object that has any: key → part index → digest (null where none is known). */
  parts: Map<string, Map<number, string | null>>
  /** Finished parts of all objects together. */
  partCount: number
  /** Every run, oldest first. */
  runs: RunRow[]
  /** The controller's samples of every run, in the order they were taken. */
  samples: Sample[]
}

/** Rows per page when reading every object. */
const pageSize = 1000

/**
 * The state database at `path`, read through SqliteStateStore opened read-only, so that it can be
 * read beside a soaker run that writes it. Throws while the database is not there yet (waitFor
 * counts that as not yet). The reads are separate: beside a run, what is read last (parts, runs)
 * may be a moment newer than the objects.
 */
export async function readState(path: string): Promise<JobSnapshot> {
  const store = new SqliteStateStore(path, { readOnly: true })
  try {
    // `objects(after)` starts after `after`, so the one key it cannot return, '', is looked up itself.
    const objects: ObjectRow[] = []
    const emptyKey = await store.getObject('')
    if (emptyKey) objects.push(emptyKey)
    let page = await store.objects('', pageSize)
    while (page.length > 0) {
      objects.push(...page)
      page = await store.objects(page.at(-1)!.key, pageSize)
    }
    const counts = await store.counts()
    const parts = new Map<string, Map<number, string | null>>()
    for (const { key } of objects) {
      const done = await store.doneParts(key)
      if (done.size > 0) parts.set(key, done)
    }
    const runs = (await store.runs(Number.MAX_SAFE_INTEGER)).reverse()
    const samples: Sample[] = []
    for (const run of runs) samples.push(...await store.samples(run.id))
    const partCount = [...parts.values()].reduce((n, p) => n + p.size, 0)
    return { objects, counts, parts, partCount, runs, samples }
  } finally {
    await store.close()
  }
}

/** Polls `cond` until it holds; a throw counts as not yet (a file that is not there yet). */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await Promise.resolve().then(cond).catch(() => false)) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}
