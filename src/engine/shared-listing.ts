import { setTimeout as sleep } from 'node:timers/promises'
import { errorMessage } from '../errors.js'
import type { ObjectInfo } from '../providers/provider.js'
import type { SharedJob } from '../state/store.js'
import { Planning, sharedPollMs } from './claims.js'
import type { Logger } from './logger.js'
import type { Stats } from './stats.js'

/**
 * The objects of `listing` after `lastKey`. A listing comes in key order, compared as UTF-8 bytes
 * (as S3, GCS and Azure sort keys), so once a key is past the mark every later one is.
 */
export async function* listedAfter(listing: AsyncIterable<ObjectInfo>, lastKey: string | null): AsyncIterable<ObjectInfo> {
  if (lastKey === null) return yield* listing
  const mark = Buffer.from(lastKey)
  let past = false
  for await (const info of listing) {
    past ||= Buffer.compare(Buffer.from(info.key), mark) > 0
    if (past) yield info
  }
}

/**
 * The planning of one source of a shared job. The worker that leads the listing runs `plan` from
 * after the last key recorded (by itself or by a lead before it that went); `plan` records its
 * progress with markListing as it goes. The other workers wait for the listing to end, waking
 * their claims for the rows planned meanwhile, and take the lead over if it is left without one.
 * Pending objects that other workers hold keep a worker waiting after the listing: their leases
 * may run out.
 */
export function sharedPlanning(
  job: SharedJob, source: string, signal: AbortSignal,
  plan: (after: string | null, planning: Planning) => Promise<void>,
): { planning: Planning; finished: Promise<void> } {
  return Planning.run(async (planning) => {
    planning.heldElsewhere = () => job.heldElsewhere()
    while (!signal.aborted) {
      if (await job.leadListing()) {
        const mark = await job.listing(source)
        if (!mark.done) {
          await plan(mark.lastKey, planning)
          job.markListing(source, { lastKey: null, done: true })
        }
        return
      }
      if ((await job.listing(source)).done) return
      planning.wakeup.notify()
      await sleep(sharedPollMs, undefined, { signal }).catch(() => undefined)
    }
  })
}

/**
 * Beats for this worker every third of `leaseMs` (renewing its claims) with what it has done so
 * far, until stopped. A beat that fails is logged: the claims stay this worker's until the lease
 * runs out, and the next beat tries again.
 */
export function startHeartbeat(job: SharedJob, stats: Stats, leaseMs: number, log: Logger): { close(): Promise<void> } {
  let beating: Promise<void> = Promise.resolve()
  const beat = (): void => {
    beating = job.heartbeat({ objects: stats.done + stats.failed, bytes: stats.transferred })
      .catch((err: unknown) => log.warn(`the shared job's heartbeat failed (claims are kept until the lease runs out): ${errorMessage(err)}`))
  }
  beat()
  const timer = setInterval(beat, Math.max(100, Math.floor(leaseMs / 3)))
  timer.unref()
  return {
    async close() {
      clearInterval(timer)
      await beating
    },
  }
}
