/**
 * Seconds of the measured throughput that unfinished upload requests may hold together. A part is
 * atomic on the store, so a kill loses every byte of every request in flight: with at most a
 * second and a half of throughput in flight, a kill loses under a second on average, however
 * slow the link. Parts last `secondsPerUploadPart` (1 s) at the measured rate, so the budget holds
 * half again what keeps the link busy. (At 2 s: 108% and 116% re-sent over the five kills of
 * bench/chaos/kill.ts; at 1.5 s, 86% and 85% with parts of 2 s, 84% and 40% with parts of 1 s.)
 */
export const secondsInFlight = 1.5
/** Requests of a full part that may always be in flight, measured or not (a start, a stall). */
export const minPartsInFlight = 4
/** The throughput is measured over windows at least this long. */
const windowMs = 500
/** Weight of the newest request in the per-request rate. */
const newest = 0.3

/**
 * Bytes of unfinished upload requests allowed in flight: `secondsInFlight` of the measured
 * throughput, and never less than `minPartsInFlight` parts of `partSize` (before anything is
 * measured, and so that a link whose requests are each slow still has several going).
 */
export function inFlightBudget(bytesPerSecond: number | undefined, partSize: number): number {
  const floor = minPartsInFlight * partSize
  if (bytesPerSecond === undefined || !(bytesPerSecond > 0)) return floor
  return Math.max(floor, secondsInFlight * bytesPerSecond)
}

/**
 * Keeps the bytes of upload requests in flight within inFlightBudget, so that a kill loses
 * seconds, not parts, and measures the per-request rate new part sizes are fitted to. The task
 * source waits in `admit` before it hands out a request; the request releases its bytes when it
 * ends. One request is always admitted when none is in flight, however big.
 */
export class UploadBudget {
  private held = 0
  private waiters: Array<() => void> = []
  private window: { at: number; bytes: number }
  private bytesPerSecond: number | undefined
  private perRequest: number | undefined

  /** `transferred()`: bytes sent so far by the run (the meter's count); `now()`: milliseconds. */
  constructor(
    private readonly transferred: () => number,
    private readonly partSize: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.window = { at: now(), bytes: transferred() }
  }

  /** Bytes of the requests admitted and not yet released. */
  get inFlight(): number {
    return this.held
  }

  /** The bytes allowed in flight now. */
  limit(): number {
    this.measure()
    return inFlightBudget(this.bytesPerSecond, this.partSize)
  }

  /** Resolves once `bytes` more fit in the budget (or at once when `signal` is aborted); holds them. */
  async admit(bytes: number, signal: AbortSignal): Promise<void> {
    while (this.held > 0 && this.held + bytes > this.limit() && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const wake = (): void => { signal.removeEventListener('abort', wake); resolve() }
        this.waiters.push(wake)
        signal.addEventListener('abort', wake, { once: true })
      })
    }
    this.held += bytes
  }

  /** A request admitted with `bytes` ended (whatever its outcome). */
  release(bytes: number): void {
    this.held -= bytes
    const w = this.waiters
    this.waiters = []
    for (const wake of w) wake()
  }

  /** A request of `bytes` took `seconds` from its first byte to its answer. */
  recordRequest(bytes: number, seconds: number): void {
    if (!(seconds > 0) || bytes <= 0) return
    const rate = bytes / seconds
    this.perRequest = this.perRequest === undefined ? rate : this.perRequest + newest * (rate - this.perRequest)
  }

  /** The measured rate of one request, bytes per second; undefined until a request has ended. */
  perRequestRate(): number | undefined {
    return this.perRequest
  }

  private measure(): void {
    const at = this.now()
    if (at - this.window.at < windowMs) return
    const bytes = this.transferred()
    this.bytesPerSecond = ((bytes - this.window.bytes) * 1000) / (at - this.window.at)
    this.window = { at, bytes }
  }
}
