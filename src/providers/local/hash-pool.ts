import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'

// The worker reads a byte range of a file (fresh in the page cache: it was just written, or is
// about to be uploaded) and returns its MD5, SHA-256, git blob SHA-1 or CRC32. It is inline CommonJS so that it runs the same from dist/ and from sources.
const workerSource = `
const { parentPort } = require('node:worker_threads')
const { openSync, readSync, closeSync } = require('node:fs')
const { createHash } = require('node:crypto')
const { crc32 } = require('node:zlib')
const buf = Buffer.allocUnsafe(1 << 20)
parentPort.on('message', ({ id, path, offset, length, algorithm }) => {
  let fd
  try {
    fd = openSync(path, 'r')
    const h = algorithm === 'crc32' ? undefined
      : algorithm === 'git-sha1' ? createHash('sha1').update('blob ' + length + '\\0')
      : createHash(algorithm)
    let crc = 0
    for (let done = 0; done < length;) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, length - done), offset + done)
      if (n === 0) throw new Error('unexpected end of file at byte ' + (offset + done))
      if (h) h.update(buf.subarray(0, n))
      else crc = crc32(buf.subarray(0, n), crc)
      done += n
    }
    parentPort.postMessage({ id, md5: h ? h.digest('hex') : crc.toString(16).padStart(8, '0') })
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) })
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
})`

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
      const worker = new Worker(workerSource, { eval: true })
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

  /** MD5, SHA-256, git blob SHA-1 (of these bytes as a blob) or CRC32, as hex, of `length` bytes of `path` from `offset`. */
  digest(path: string, offset: number, length: number, algorithm: 'md5' | 'sha256' | 'git-sha1' | 'crc32'): Promise<string> {
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
