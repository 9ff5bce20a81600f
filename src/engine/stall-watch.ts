import type { Readable } from 'node:stream'
import { StalledError } from '../errors.js'
import type { RetryPolicy } from './retry.js'

/** The idle timeout when the policy sets none, in seconds: the AWS CRT's for a dead connection. */
export const defaultStallSeconds = 30

export function stallSeconds(ctx: { retry: RetryPolicy }): number {
  return ctx.retry.timeout ?? defaultStallSeconds
}

/**
 * The idle timeout of one request attempt. The attempt runs under `signal`; every chunk of bytes
 * that moves (received, or read from a file to be sent) calls `touch()`. When nothing moves for
 * the timeout, from the request's start (an answer that never comes) or mid-body (a connection
 * left open that stopped sending), the watch aborts `signal` and destroys the streams it guards,
 * and the attempt fails with a StalledError, which is retried like any transient fault.
 */
export class StallWatch {
  private readonly controller = new AbortController()
  private readonly timer: NodeJS.Timeout
  private readonly guarded: Readable[] = []
  private paused = false
  readonly signal: AbortSignal
  /** Set once the watch has fired. */
  stalled: StalledError | undefined

  constructor(outer: AbortSignal, private readonly seconds: number, private readonly what: string) {
    this.signal = AbortSignal.any([outer, this.controller.signal])
    this.timer = setTimeout(this.fire, seconds * 1000)
    this.timer.unref()
  }

  private readonly fire = (): void => {
    if (this.paused) {
      this.timer.refresh() // a wait on purpose: look again later
      return
    }
    this.stalled = new StalledError(`${this.what}: no bytes moved for ${this.seconds}s; the request was cancelled`)
    this.controller.abort(this.stalled)
    for (const s of this.guarded) s.destroy(this.stalled)
  }

  /** Bytes moved: the idle time starts again (re-arming the one timer allocates nothing). */
  touch(): void {
    this.paused = false
    if (!this.stalled) this.timer.refresh()
  }

  /** Stops the clock while the attempt waits on purpose (the speed cap); `touch()` restarts it. */
  pause(): void {
    this.paused = true
  }

  /** Destroys `stream` with the StalledError if the watch fires. */
  guard(stream: Readable): void {
    if (this.stalled) stream.destroy(this.stalled)
    else this.guarded.push(stream)
  }

  close(): void {
    clearTimeout(this.timer)
    this.guarded.length = 0
  }
}

/**
 * Runs one attempt under a StallWatch of `seconds`. An attempt that fails because the watch fired
 * rejects with the StalledError, whatever error the cancelled request surfaced as; an attempt
 * cancelled by `outer` rejects as it would have without the watch.
 */
export async function watched<T>(outer: AbortSignal, seconds: number, what: string, attempt: (watch: StallWatch) => Promise<T>): Promise<T> {
  const watch = new StallWatch(outer, seconds, what)
  try {
    return await attempt(watch)
  } catch (err) {
    if (watch.stalled && !outer.aborted) throw watch.stalled
    throw err
  } finally {
    watch.close()
  }
}
