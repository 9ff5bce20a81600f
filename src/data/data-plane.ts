import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { TransientError } from '../errors.js'
import type { Provider } from '../providers/provider.js'
import { runJob, type BytesMoved, type DataJob, type DataResult, type SourceRef } from './data-job.js'
import type { ToControl, ToData } from './data-messages.js'
import { fromWire } from './wire-errors.js'

/** Where the plane tells of its threads (the run's logger). */
export interface PlaneLog {
  debug(message: string): void
  warn(message: string): void
}

/** A job handed to a data thread, until its thread answers. */
interface Pending {
  resolve: (r: DataResult) => void
  reject: (err: unknown) => void
  moved: BytesMoved
  /** The caller's signal fired: the answer is awaited (the thread may still be writing), then this is thrown. */
  cancelled?: unknown
}

/** One data thread and the jobs it runs. */
interface DataThread {
  worker: Worker
  pending: Map<number, Pending>
  /** It has loaded its script and takes jobs. */
  ready: boolean
  /** Settles once it is ready, or gone. */
  started: Promise<void>
}

/**
 * The data plane: the requests that carry bytes (a ranged read into a file, a small object read
 * whole) run on `threads` worker threads, each with its own connections, hashing and writes, so
 * that a transfer uses every core; the control thread plans, records and steers. Jobs are plain
 * data (DataJob); each thread answers with its result and reports bytes in batches. With
 * `threads` 0 the jobs run on the calling thread, through the same code; so do small objects read
 * whole while the threads are still starting (loading a thread's script takes a few hundred ms:
 * a run of small objects would wait that long for nothing), and every job once a thread could
 * not start at all.
 *
 * A job's promise settles only once its thread no longer runs it: a cancelled fill may still be
 * writing into its file, whose descriptor the caller must not close before. A thread that dies
 * fails its jobs with a TransientError (they are retried) and is replaced by the next job.
 */
export class DataPlane {
  private readonly threads: DataThread[] = []
  private readonly refs: SourceRef[] = []
  private readonly inline: Provider[] = []
  private nextId = 0
  private closed = false
  /** A thread could not start: no more are started, and the jobs run on the calling thread. */
  private cannotStart = false

  constructor(readonly size: number, private readonly log?: PlaneLog) {}

  /** Starts the threads, if they are not running, and resolves once each is ready or gone. */
  async ready(): Promise<void> {
    this.startThreads()
    await Promise.all(this.threads.map((t) => t.started))
  }

  /** The threads that take jobs now. */
  get readyThreads(): number {
    return this.threads.filter((t) => t.ready).length
  }

  /** Starts threads up to `size`, unless the plane is closed or a thread could not start. */
  private startThreads(): void {
    while (this.threads.length < this.size && !this.closed && !this.cannotStart) this.start()
  }

  /** Registers a source the jobs read from; `provider` is it opened here (jobs run inline with it). */
  source(ref: SourceRef, provider: Provider): number {
    const source = this.refs.push(ref) - 1
    this.inline.push(provider)
    for (const thread of this.threads) this.post(thread, { t: 'source', source, ref })
    return source
  }

  /** Runs `job`, telling `moved` of its bytes as they land. Rejects with the job's error, or with `signal`'s reason. */
  async run(job: DataJob, signal: AbortSignal, moved: BytesMoved): Promise<DataResult> {
    signal.throwIfAborted()
    let thread = this.pick()
    // A fill is long (a ranged read of megabytes): it waits for a thread rather than hold the
    // calling thread for all of it; a small object read whole does not wait.
    while (thread === undefined && job.op === 'fill' && this.threads.length > 0) {
      await Promise.race(this.threads.map((t) => t.started))
      signal.throwIfAborted()
      thread = this.pick()
    }
    if (thread === undefined) return await runJob(inlined(job), this.inline[job.source]!, signal, moved)
    const id = this.nextId++
    return await new Promise<DataResult>((resolve, reject) => {
      const onAbort = (): void => {
        const p = thread.pending.get(id)
        if (p === undefined) return
        p.cancelled = signal.reason
        this.post(thread, { t: 'cancel', id })
      }
      const settle = <T>(f: (v: T) => void) => (v: T): void => {
        signal.removeEventListener('abort', onAbort)
        if (thread.pending.size === 0) thread.worker.unref()
        f(v)
      }
      thread.pending.set(id, { resolve: settle(resolve), reject: settle(reject), moved })
      thread.worker.ref() // a run whose sockets are all in the threads must not end while they work
      signal.addEventListener('abort', onAbort, { once: true })
      this.post(thread, { t: 'job', id, job })
    })
  }

  private post(thread: DataThread, m: ToData): void {
    thread.worker.postMessage(m)
  }

  /**
   * The ready thread with the fewest jobs; undefined (run it here) while none is ready. The first
   * job starts all `size` threads (and a thread that died is replaced by the next job).
   */
  private pick(): DataThread | undefined {
    if (this.closed) throw new Error('the data plane is closed')
    this.startThreads()
    let best: DataThread | undefined
    for (const t of this.threads) if (t.ready && (best === undefined || t.pending.size < best.pending.size)) best = t
    return best
  }

  private start(): void {
    const script = workerScript()
    const worker = new Worker(script.file, { eval: script.eval })
    let started!: () => void
    const thread: DataThread = { worker, pending: new Map(), ready: false, started: new Promise((resolve) => { started = resolve }) }
    worker.unref()
    worker.on('message', (m: ToControl) => {
      if (m.t !== 'ready') return this.answer(thread, m)
      thread.ready = true
      started()
      if (this.threads.every((t) => t.ready)) this.log?.debug(`${this.threads.length} data threads ready`)
    })
    const lost = (why: string): void => {
      started()
      if (!thread.ready && !this.closed && !this.cannotStart) {
        this.cannotStart = true
        this.log?.warn(`a data thread could not start (${why}): the transfer runs on the main thread`)
      }
      const i = this.threads.indexOf(thread)
      if (i >= 0) this.threads.splice(i, 1)
      for (const [id, p] of thread.pending) {
        thread.pending.delete(id)
        p.reject(p.cancelled ?? new TransientError(`a data thread stopped (${why}) in the middle of the request`, { code: 'SOAKER_DATA_THREAD', lowLevel: true }))
      }
    }
    worker.on('error', (err) => lost(err.message))
    worker.on('exit', (code) => lost(`exit code ${code}`))
    this.threads.push(thread)
    this.refs.forEach((ref, source) => this.post(thread, { t: 'source', source, ref }))
  }

  private answer(thread: DataThread, m: Exclude<ToControl, { t: 'ready' }>): void {
    const p = thread.pending.get(m.id)
    if (p === undefined) return
    if (m.t === 'moved') return p.moved(m.bytes)
    thread.pending.delete(m.id)
    if (p.cancelled !== undefined) return p.reject(p.cancelled)
    if (m.t === 'failed') return p.reject(fromWire(m.error))
    const { body } = m.result
    // Structured cloning hands over a Uint8Array: the same memory, seen as a Buffer again.
    p.resolve(body ? { ...m.result, body: Buffer.from(body.buffer, body.byteOffset, body.byteLength) } : m.result)
  }

  /**
   * Stops every thread now: the jobs they run fail with a TransientError (their requests are
   * tried again), and the next job starts new threads.
   */
  async stopThreads(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.worker.terminate()))
  }

  /** Stops every thread; jobs still running fail. */
  async close(): Promise<void> {
    this.closed = true
    await this.stopThreads()
  }
}

/** `job` as it runs on the control thread: without the digests that are better taken elsewhere there. */
function inlined(job: DataJob): DataJob {
  return job.op === 'fill' && job.digestOffThreadOnly ? { ...job, digest: undefined } : job
}

/**
 * The data thread's script: beside the bundle in the CLI's bundled build (dist/data-worker.cjs);
 * beside this module in the library's build; and, from the sources (tests), loaded through tsx's
 * CommonJS hook (its ES module hook does not register inside a worker on Node 20).
 */
function workerScript(): { file: string | URL; eval?: boolean } {
  if (typeof __filename === 'string' && __filename.endsWith('.cjs')) return { file: join(dirname(__filename), 'data-worker.cjs') }
  const here = import.meta.url
  if (!here.endsWith('.ts')) return { file: new URL('./data-worker.js', here) }
  const script = fileURLToPath(new URL('./data-worker.ts', here))
  const tsx = createRequire(here).resolve('tsx/cjs/api')
  return { file: `require(${JSON.stringify(tsx)}).register(); require(${JSON.stringify(script)})`, eval: true }
}
