import { createRequire } from 'node:module'
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { nvmePolynomial } from '../../checksums/digester.js'

// The worker reads a byte range of a file (fresh in the page cache: it was just written, or is
// about to be uploaded) and returns its MD5, SHA-256, git blob SHA-1, CRC32 or CRC64NVME. It is
// inline CommonJS so that it runs the same from dist/ and from sources; CRC64NVME is hash-wasm's,
// loaded from the path the pool resolved (workerData), only once a job asks for it.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads')
const { openSync, readSync, closeSync } = require('node:fs')
const { createHash } = require('node:crypto')
const { crc32 } = require('node:zlib')
const buf = Buffer.allocUnsafe(1 << 20)
let crc64
function crc64Hasher() {
  if (!workerData.hashWasm) throw new Error('no CRC64NVME: hash-wasm cannot be found')
  crc64 ??= require(workerData.hashWasm).createCRC64(workerData.crc64Polynomial)
  return crc64
}
function hasher(algorithm, length) {
  if (algorithm === 'crc32') {
    let crc = 0
    return { update: (b) => { crc = crc32(b, crc) }, digest: () => crc.toString(16).padStart(8, '0') }
  }
  const h = algorithm === 'git-sha1' ? createHash('sha1').update('blob ' + length + '\\0') : createHash(algorithm)
  return { update: (b) => h.update(b), digest: () => h.digest('hex') }
}
parentPort.on('message', async ({ id, path, offset, length, algorithm }) => {
  let fd
  try {
    const h = algorithm === 'crc64nvme' ? (await crc64Hasher()).init() : hasher(algorithm, length)
    fd = openSync(path, 'r')
    for (let done = 0; done < length;) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, length - done), offset + done)
      if (n === 0) throw new Error('unexpected end of file at byte ' + (offset + done))
      h.update(buf.subarray(0, n))
      done += n
    }
    parentPort.postMessage({ id, md5: h.digest('hex') })
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) })
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
})`

/** What the pool's workers digest a range with. */
export type PoolAlgorithm = 'md5' | 'sha256' | 'git-sha1' | 'crc32' | 'crc64nvme'

/**
 * hash-wasm's entry point, for the workers' CRC64NVME: resolved from this module, which is the
 * CLI's bundle (dist/cli.cjs, where __filename is defined) or an ES module (dist/, or the sources).
 */
function hashWasmPath(): string | undefined {
  try {
    return createRequire(typeof __filename === 'string' ? __filename : import.meta.url).resolve('hash-wasm')
  } catch {
    return undefined // then a CRC64NVME job fails, saying so; the other digests work
  }
}

interface Job {
  resolve: (md5: string) => void
  reject: (err: Error) => void
}

/**
 * MD5s of file ranges, computed on worker threads. Hashing on the event loop capped a download
 * at one core's MD5 speed (about 550 MB/s here) and stalled every other transfer meanwhile.
 */
export class HashPool {
  private readonly workers: Array<{ worker: Worker; busy: number }> = []
  private readonly jobs = new Map<number, Job>()
  private nextId = 0

  constructor(private readonly size = Math.max(1, Math.min(4, availableParallelism() - 1))) {}

  private pick(): { worker: Worker; busy: number } {
    if (this.workers.length < this.size) {
      const worker = new Worker(workerSource, { eval: true, workerData: { hashWasm: hashWasmPath(), crc64Polynomial: nvmePolynomial } })
      worker.unref()
      const slot = { worker, busy: 0 }
      worker.on('message', (m: { id: number; md5?: string; error?: string }) => {
        slot.busy--
        const job = this.jobs.get(m.id)
        this.jobs.delete(m.id)
        if (m.md5 !== undefined) job?.resolve(m.md5)
        else job?.reject(new Error(m.error))
      })
      worker.on('error', (err) => { for (const j of this.jobs.values()) j.reject(err) })
      this.workers.push(slot)
      return slot
    }
    return this.workers.reduce((a, b) => (b.busy < a.busy ? b : a))
  }

  /** MD5 (hex) of `length` bytes of `path` from `offset`. */
  md5(path: string, offset: number, length: number): Promise<string> {
    return this.digest(path, offset, length, 'md5')
  }

  /**
   * MD5, SHA-256, git blob SHA-1 (of these bytes as a blob), CRC32 or CRC64NVME (a CRC big-endian),
   * as hex, of `length` bytes of `path` from `offset`.
   */
  digest(path: string, offset: number, length: number, algorithm: PoolAlgorithm): Promise<string> {
    const id = this.nextId++
    const slot = this.pick()
    slot.busy++
    return new Promise((resolve, reject) => {
      this.jobs.set(id, { resolve, reject })
      slot.worker.postMessage({ id, path, offset, length, algorithm })
    })
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()))
    this.workers.length = 0
  }
}
