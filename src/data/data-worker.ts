import { parentPort } from 'node:worker_threads'
import { callOnce, type Provider } from '../providers/provider.js'
import { openProvider } from '../providers/registry.js'
import { runJob, type DataJob, type SourceRef } from './data-job.js'
import { toWire } from './wire-errors.js'
import type { ToControl, ToData } from './data-messages.js'

/**
 * A data thread: it opens each source it is told of with its own client and connections, runs
 * the jobs it is given (data-job.ts) and reports their bytes in batches: after every
 * `reportEvery` bytes of a job, and every `reportMs` for what is left over, so that the control
 * thread's stall watches see a live request as live without a message per chunk.
 */
const reportEvery = 8 * 1024 * 1024
const reportMs = 200

const port = parentPort!
const refs = new Map<number, SourceRef>()
const providers = new Map<number, Promise<Provider>>()
const running = new Map<number, { abort: AbortController; unreported: number }>()
let timer: NodeJS.Timeout | undefined

function post(message: ToControl, transfer?: ArrayBuffer[]): void {
  port.postMessage(message, transfer)
}

function providerOf(source: number): Promise<Provider> {
  let p = providers.get(source)
  if (p === undefined) {
    const ref = refs.get(source)
    if (ref === undefined) throw new Error(`data thread: no source ${source}`)
    p = openProvider(ref.location, { options: ref.options, env: process.env, retry: callOnce, given: ref.given })
    providers.set(source, p)
    p.catch(() => providers.delete(source)) // a source that failed to open is opened again by the next job
  }
  return p
}

function flush(): void {
  for (const [id, job] of running) {
    if (job.unreported === 0) continue
    post({ t: 'moved', id, bytes: job.unreported })
    job.unreported = 0
  }
  if (running.size === 0 && timer !== undefined) {
    clearInterval(timer)
    timer = undefined
  }
}

async function run(id: number, job: DataJob): Promise<void> {
  const state = { abort: new AbortController(), unreported: 0 }
  running.set(id, state)
  timer ??= setInterval(flush, reportMs)
  try {
    const provider = await providerOf(job.source)
    const result = await runJob(job, provider, state.abort.signal, (bytes) => {
      state.unreported += bytes
      if (state.unreported >= reportEvery) {
        post({ t: 'moved', id, bytes: state.unreported })
        state.unreported = 0
      }
    })
    running.delete(id)
    if (state.unreported > 0) post({ t: 'moved', id, bytes: state.unreported })
    const body = result.body
    post({ t: 'done', id, result }, body ? [body.buffer as ArrayBuffer] : undefined)
  } catch (err) {
    running.delete(id)
    if (state.unreported > 0) post({ t: 'moved', id, bytes: state.unreported })
    post({ t: 'failed', id, error: toWire(err) })
  }
}

port.on('message', (m: ToData) => {
  if (m.t === 'source') {
    refs.set(m.source, m.ref)
    providerOf(m.source).catch(() => undefined) // opened now, before its first job; a failure is that job's
  }
  else if (m.t === 'job') void run(m.id, m.job)
  else running.get(m.id)?.abort.abort()
})
post({ t: 'ready' })
