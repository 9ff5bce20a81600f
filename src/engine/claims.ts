import { setTimeout as sleep } from 'node:timers/promises'
import type { ClaimOrder, ObjectRow, StateStore } from '../state/store.js'

/**
 * How often a worker of a shared job that waits looks at the job again (ms): for rows planned by
 * the lead, the listing's end, a listing left without a lead, work freed by a lease run out.
 */
export const sharedPollMs = 500

/** Pending rows claimed from the state store at a time, at most. */
const claimBatch = 256

/**
 * How many rows a worker of a shared job claims at a time: what it works through in about a
 * quarter of a second, as measured on the batch before, between 4 and 256, and at most twice
 * the batch before (the first batches go at once into the objects a run opens ahead). A worker alone
 * claims 256 at once; one of a fleet that claimed that many objects, big ones above all, would
 * hold work the others could be doing (and that waits a lease if it dies).
 */
export class ClaimSize {
  private size = 4
  private since = 0

  next(): number {
    this.since = performance.now()
    return this.size
  }

  /** The rows of the last claim (`n` of them) have all been taken up. */
  used(n: number): void {
    if (n === 0) return
    const seconds = Math.max(1e-3, (performance.now() - this.since) / 1000)
    this.size = Math.min(claimBatch, 2 * this.size, Math.max(4, Math.round((n / seconds) * 0.25)))
  }
}

/** Wakes whoever waits for something to change (the listing went on, an object finished). */
export class Wakeup {
  private waiters: Array<() => void> = []
  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve))
  }
  notify(): void {
    const w = this.waiters
    this.waiters = []
    for (const resolve of w) resolve()
  }
}

/**
 * How the planning of a run is going (a listing of a store, or a walk of a local tree): it
 * records pending rows in the state store while the transfers claim them.
 */
export class Planning {
  done = false
  /** Why the planning stopped before the end of the listing, if it did. */
  failed: unknown
  readonly wakeup = new Wakeup()
  /**
   * A job shared by several workers: whether pending objects are left that others hold. Their
   * leases may run out, so a worker whose own work is done keeps looking while there are.
   */
  heldElsewhere: (() => Promise<boolean>) | undefined
  /** A job shared by several workers: how many rows to claim at a time (else claimBatch). */
  claimSize: ClaimSize | undefined

  /** The planning of a job shared by several workers, which hands out work only by claims. */
  get shared(): boolean {
    return this.heldElsewhere !== undefined
  }

  /** `n` planned so far: claims are woken every 64, so that they come in batches (and at the end). */
  planned(n: number): void {
    if (n % 64 === 0) this.wakeup.notify()
  }

  /** The planning ended: at the end of the listing, or with `err`. */
  end(err?: unknown): void {
    this.failed ??= err
    this.done = true
    this.wakeup.notify()
  }

  /** Runs `plan` to its end in the background; never rejects (see `failed`). */
  static run(plan: (planning: Planning) => Promise<void>): { planning: Planning; finished: Promise<void> } {
    const planning = new Planning()
    const finished = plan(planning).then(() => planning.end(), (err: unknown) => planning.end(err))
    return { planning, finished }
  }
}

/** Objects claimed and not settled yet that may come back to the pending work (an upload to start over). */
export interface ComingBack {
  /** How many there are. */
  count(): number
  /** Notified when one settles or comes back. */
  settled: Wakeup
}

/**
 * The pending work of a run, claimed from the state store in `order` while the planning still
 * adds to it, until the planning has ended and nothing is left (nor may come back). Throws the
 * planning's error, if it failed, once the work it planned has been claimed.
 */
export async function* claimed(store: StateStore, order: ClaimOrder, planning: Planning, signal: AbortSignal, back?: ComingBack): AsyncIterable<ObjectRow> {
  for (;;) {
    if (signal.aborted) return
    // As they were before the claim: what changes while it is answered is seen by the next one.
    const planned = planning.done
    const busy = back?.count() ?? 0
    const rows = await store.claim(planning.claimSize?.next() ?? claimBatch, order)
    for (const row of rows) {
      if (signal.aborted) return
      yield row
    }
    planning.claimSize?.used(rows.length)
    if (rows.length > 0) continue
    if (planned && busy === 0) {
      if (planning.failed !== undefined) throw planning.failed
      if (!(await planning.heldElsewhere?.())) return
      await sleep(sharedPollMs, undefined, { signal }).catch(() => undefined)
      continue
    }
    if (planning.done !== planned || (back?.count() ?? 0) !== busy) continue
    await (planning.done ? back!.settled.wait() : Promise.race([planning.wakeup.wait(), ...(back ? [back.settled.wait()] : [])]))
  }
}
