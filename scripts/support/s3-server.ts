import { execFile, spawn } from 'node:child_process'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'

const run = promisify(execFile)
const here = fileURLToPath(new URL('.', import.meta.url))
const cephStart = join(here, '..', 'test-servers', 'ceph-rgw-start.sh')
const cephStop = join(here, '..', 'test-servers', 'ceph-rgw-stop.sh')

export interface TestS3Server {
  kind: 'ceph' | 's3rver'
  endpoint: string
  accessKeyId: string
  secretAccessKey: string
  region: string
  stop(): Promise<void>
  /** Deletes the buckets whose names start with `prefix`, objects included. */
  removeBuckets(prefix: string): Promise<void>
}

/** Ceph's radosgw is the real server; its Debian packages may not be on this machine. */
export async function cephAvailable(): Promise<boolean> {
  try {
    await run('sh', ['-c', 'command -v radosgw && command -v ceph-mon && command -v ceph-osd'])
    return true
  } catch {
    return false
  }
}

/** A single-node Ceph cluster with radosgw on loopback (about a second; reuses one already up). */
export async function startCeph(): Promise<TestS3Server> {
  const { stdout } = await run('bash', [cephStart], { env: { ...process.env, WITH_MGR: '0' }, timeout: 120_000 })
  const vars = Object.fromEntries(stdout.trim().split('\n').map((l) => l.split('=', 2) as [string, string]))
  return {
    kind: 'ceph',
    endpoint: vars.S3_ENDPOINT!,
    accessKeyId: vars.S3_ACCESS_KEY!,
    secretAccessKey: vars.S3_SECRET_KEY!,
    region: vars.S3_REGION ?? 'us-east-1',
    stop: async () => { await run('bash', [cephStop]) },
    // radosgw-admin purges a bucket in one call, far faster than deleting objects over S3;
    // the OSD keeps data in RAM, so test runs must give back what they used.
    removeBuckets: async (prefix) => {
      const conf = ['-c', vars.CEPH_CONF!]
      const { stdout: list } = await run('radosgw-admin', [...conf, 'bucket', 'list'])
      for (const bucket of (JSON.parse(list) as string[]).filter((b) => b.startsWith(prefix))) {
        await run('radosgw-admin', [...conf, 'bucket', 'rm', `--bucket=${bucket}`, '--purge-objects'])
      }
    },
  }
}

/** s3rver from npm: no root, no Debian packages; lax where DESIGN.md says, so tests say which ran. */
export async function startS3rver(directory?: string): Promise<TestS3Server> {
  const dir = directory ?? (await mkdtemp(join(tmpdir(), 'soaker-s3rver-')))
  const child = spawn(process.execPath, ['--openssl-legacy-provider', join(here, 's3rver-main.cjs'), dir], { stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve)
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}`)))
  })
  const { port } = JSON.parse(line) as { port: number }
  return {
    kind: 's3rver',
    endpoint: `http://127.0.0.1:${port}`,
    // s3rver accepts these well-known keys.
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    region: 'us-east-1',
    removeBuckets: async () => {}, // its data lives in a temp directory that goes with it
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return // already gone (e.g. Ctrl-C reached it)
      const gone = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await gone
    },
  }
}

/** Ceph where it is installed, unless SOAKER_TEST_S3=s3rver; s3rver otherwise. */
export async function startTestS3(): Promise<TestS3Server> {
  if (process.env.SOAKER_TEST_S3 !== 's3rver' && (await cephAvailable())) return startCeph()
  return startS3rver()
}
