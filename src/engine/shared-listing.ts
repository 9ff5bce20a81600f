import { setTimeout as sleep } from 'node:timers/promises'
import { errorMessage } from '../errors.js'
import type { ObjectInfo } from '../providers/provider.js'
import type { ListingCursor, SharedJob } from '../state/store.js'
import { ClaimSize, Planning, sharedPollMs } from './claims.js'
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
 * The listing of a shared job's sources, as this worker sees it. The worker that takes the
 * listing lock lists; its cursor records, per source (by namespace, '' for one source), the last
 * key whose row is recorded, or that the source is listed to its end. A cursor is written with
 * the rows buffered before it, so a lister that takes over from one that died starts after the
 * last key whose row is there, and never plans a key twice.
 */
export class SharedListing {
  /** Per source: the last key planned, or true once its listing has ended. Set while this worker lists. */
  private marks: Record<string, string | true> | undefined
  /** The job's listing had ended when this worker took the lock. */
  private allListed = false
  private leading: Promise<boolean> | undefined

  constructor(private readonly job: SharedJob, private readonly sources: number) {}

  /** Whether this worker lists: it takes the lock if nobody holds it (and then keeps it). */
  async lead(): Promise<boolean> {
    if (this.marks !== undefined) return true
    this.leading ??= this.take()
    const took = await this.leading
    if (!took) this.leading = undefined
    return took
  }

  private async take(): Promise<boolean> {
    if (!(await this.job.tryLeadListing())) return false
    const cursor = await this.job.listingCursor()
    this.allListed = cursor.done
    this.marks = parseMarks(cursor)
    return true
  }

  /** The lister: where the listing of `source` starts (after the key given), or true when it is listed already. */
  from(source: string): string | null | true {
    return this.allListed ? true : this.marks![source] ?? null
  }

  /** The lister: every key of `source` up to `lastKey` has its row. */
  planned(source: string, lastKey: string): void {
    this.marks![source] = lastKey
    this.job.setListingCursor(JSON.stringify(this.marks))
  }

  /** The lister: `source` is listed to its end; once every source is, so is the job. */
  ended(source: string): void {
    this.marks![source] = true
    this.job.setListingCursor(JSON.stringify(this.marks))
    if (Object.values(this.marks!).filter((m) => m === true).length >= this.sources) this.job.finishListing()
  }

  /** Whether the listing of `source` has ended, as recorded by whoever lists. */
  async listed(source: string): Promise<boolean> {
    const cursor = await this.job.listingCursor()
    return cursor.done || parseMarks(cursor)[source] === true
  }
}

function parseMarks(cursor: ListingCursor): Record<string, string | true> {
  return cursor.token === null ? {} : JSON.parse(cursor.token) as Record<string, string | true>
}

/**
 * The planning of one source of a shared job. The worker that lists runs `plan` from after the
 * last key recorded (by itself, or by a lister before it that went); `plan` records each key it
 * plans (SharedListing.planned). The other workers wait for the source's listing to end, waking
 * their claims for the rows planned meanwhile, and take the listing over if the lock is free.
 * After the listing, pending objects that other workers hold keep a worker waiting: their leases
 * may run out.
 */
export function sharedPlanning(
  job: SharedJob, listing: SharedListing, source: string, signal: AbortSignal,
  plan: (after: string | null, planning: Planning) => Promise<void>,
): { planning: Planning; finished: Promise<void> } {
  return Planning.run(async (planning) => {
    planning.heldElsewhere = () => job.heldElsewhere()
    planning.claimSize = new ClaimSize()
    while (!signal.aborted) {
      if (await listing.lead()) {
        const from = listing.from(source)
        if (from === true) return
        await plan(from, planning)
        listing.ended(source)
        return
      }
      if (await listing.listed(source)) return
      planning.wakeup.notify()
      await sleep(sharedPollMs, undefined, { signal }).catch(() => undefined)
    }
  })
}

/**
 * Beats for this worker every third of `leaseMs` (renewing its claims) with what it has done so
 * far, until closed. A beat that fails is logged: the claims stay this worker's until the lease
 * runs out, and the next beat tries again.
 */
export function startHeartbeat(job: SharedJob, stats: Stats, leaseMs: number, log: Logger): { close(): Promise<void> } {
  let beating: Promise<void> = Promise.resolve()
  const beat = (): void => {
    beating = job.renewLeases({ objects: stats.done + stats.failed, bytes: stats.transferred })
      .then(() => undefined, (err: unknown) => log.warn(`the shared job's heartbeat failed (claims are kept until the lease runs out): ${errorMessage(err)}`))
  }
  beat()
  const timer = setInterval(beat, Math.max(100, Math.floor(leaseMs / 3)))
  timer.unref()
  return {
    /** Stops beating after a last beat, so that the job records everything this worker did. */
    async close() {
      clearInterval(timer)
      await beating
      beat()
      await beating
    },
  }
}
