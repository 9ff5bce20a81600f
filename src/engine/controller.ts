/**
 * The concurrency controller: a pure function from what the last interval measured to the
 * target number of requests in flight. It never reads a clock or a socket; the tuner feeds it.
 *
 * It climbs while more concurrency pays, keeping a step only if throughput rose by more than a
 * fifth of the ideal gain (AzCopy's rule: going from c to c' should multiply throughput by c'/c),
 * tries halfway when a step paid only partly, steps back when it did not pay at all, backs off multiplicatively on throttling, never adds what
 * a speed cap or a lack of work would leave unused, and probes upward again from time to time
 * because links change.
 */

/** What the controller remembers between intervals; start from `initialMemory`. */
export interface ControllerMemory {
  /** The target and throughput before the step being judged; absent when not judging a step. */
  base?: { target: number; throughput: number }
  /** The interval after a change is discarded: requests started at the old target still run. */
  settling: boolean
  /** Intervals spent holding since the last change. */
  held: number
  /** A step has been rejected or throttling seen: later probes are gentler. */
  found: boolean
  /**
   * The fewest requests in flight at which the store throttled, until `forgetCeilingAfter`
   * intervals pass without throttling: probes stay below it, bisecting the gap.
   */
  ceiling?: number
  /** Intervals since the last throttling (counts only while a ceiling is known). */
  quiet?: number
  /**
   * The share of requests throttled whatever the concurrency (a flaky proxy's 503s and resets),
   * once a step down showed that throttling did not fall. Throttling within it is not pushback.
   */
  noise?: number
  /** A back-off on trial: the throttling it answered, and the memory from before it. */
  trial?: Trial
}

/** What a back-off is judged against: did stepping down make throttling fall? */
export interface Trial {
  target: number
  throttled: number
  requests: number
  before: ControllerMemory
  /** What the intervals since the back-off (its settling one aside) counted, while no verdict came. */
  after?: { throttled: number; requests: number; intervals: number }
}

export interface ControllerInput {
  target: number
  min: number
  max: number
  /** Bytes per second over the interval. */
  throughput: number
  /** Throttling answers (503 SlowDown, 429) and connection resets in the interval. */
  throttled: number
  /** The most requests in flight at once during the interval. */
  peakInFlight: number
  /**
   * The most requests whose response body arrived at once during the interval: how many the
   * store was serving while it refused others. 0 where not measured (uploads).
   */
  peakServed?: number
  /** --max-speed in bytes per second, if set. */
  speedCap?: number
  /**
   * Requests that ended in the interval, throttled ones included. With it, throttling that comes
   * at the same rate whatever the concurrency is told apart from pushback; without it, every
   * throttled request is pushback.
   */
  requests?: number
  memory: ControllerMemory
}

export interface ControllerDecision {
  target: number
  memory: ControllerMemory
  /** Why, for the log: present when the target changed or a step was judged. */
  reason?: string
}

/** Intervals of holding before probing upward again. */
export const probeEvery = 6

/**
 * A run starts climbing after its first interval: there is no earlier target whose requests could
 * blur it. (Letting it settle first cost S1 3 s at 16 in flight, 2 points of the link.)
 */
export const initialMemory: ControllerMemory = { settling: false, held: probeEvery - 1, found: false }

/** A step is kept if it brought more than this share of its ideal gain. */
export const keepShare = 0.2
/** Throttling multiplies the target by this, at most. */
export const backoff = 0.7
/** ...and by this at least where the store served every request in flight at some moment. */
export const gentleBackoff = 0.9
/** A ceiling is forgotten after this many intervals without throttling: stores and links change. */
export const forgetCeilingAfter = 4 * probeEvery
/** Within this share of the speed cap, more concurrency cannot help. */
export const capShare = 0.95

function clamp(n: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, Math.round(n)))
}

/** The next target concurrency. */
export function next(input: ControllerInput): ControllerDecision {
  const { target, min, max, throughput } = input
  let { memory } = input
  const pushback = input.throttled > 0 && !withinNoise(input.throttled, input.requests, memory.noise)
  // Requests begun at the old target still end in the interval after a back-off: it is not judged.
  if (memory.trial && memory.settling && input.requests !== undefined) return { target, memory: { ...memory, settling: false } }
  if (memory.trial && input.requests !== undefined) {
    const { trial } = memory
    const after = {
      throttled: (trial.after?.throttled ?? 0) + input.throttled,
      requests: (trial.after?.requests ?? 0) + input.requests,
      intervals: (trial.after?.intervals ?? 0) + 1,
    }
    const verdict = judge(trial, after)
    // Pushback on too few requests to tell is the same steady rate met again.
    if (verdict === 'steady' || (pushback && verdict === 'unknown')) return steadyThrottling(trial, after, input)
    if ((verdict === 'unknown' || verdict === 'lower') && after.intervals < probeEvery) {
      // Too few requests on either side to tell yet (a first interval of a few big parts, a quiet
      // one after the back-off), or a share that fell, but not clearly: hold, and judge on what
      // the next intervals add.
      return { target, memory: { ...memory, trial: { ...trial, after } } }
    }
    // It fell, or nothing came back for long: the back-off stands. Pushback now is answered below.
    memory = { ...memory, trial: undefined }
  }
  if (pushback) {
    // Back off multiplicatively, but no lower than what the store was seen serving at once: it
    // refused only the requests beyond those. Where it served all of them at some moment (a
    // store that throttles by rate, not by count), that says little: back off gently instead.
    const peak = Math.min(target, input.peakInFlight)
    const served = (input.peakServed ?? 0) < peak ? input.peakServed ?? 0 : peak * gentleBackoff
    const t = clamp(Math.max(peak * backoff, served), min, max)
    const ceiling = Math.min(memory.ceiling ?? Infinity, peak)
    // A first back-off is on trial where requests are counted: the next interval shows whether
    // throttling fell with the load.
    const trial = input.requests !== undefined && !input.memory.trial
      ? { target: peak, throttled: input.throttled, requests: input.requests, before: memory }
      : undefined
    return {
      target: t,
      memory: { settling: true, held: 0, found: true, ceiling, quiet: 0, noise: memory.noise, ...(trial && { trial }) },
      reason: `${input.throttled} throttled requests at ${peak} in flight${served > peak * backoff ? ` (${input.peakServed} served at once)` : ''}: backing off`,
    }
  }
  memory = forget(memory)
  if (memory.settling) return { target, memory: { ...memory, settling: false } }

  if (memory.base) {
    const { base } = memory
    const ideal = base.throughput * (target / base.target - 1)
    const gain = throughput - base.throughput
    if (ideal > 0 && gain <= keepShare * ideal) {
      // A big step that paid only partly overshot: the best lies between. Try halfway, judged
      // against the same base (its ideal gain is half as big).
      const mid = Math.floor((base.target + target) / 2)
      if (gain > 0 && mid > base.target && mid < target) {
        return {
          target: clamp(mid, min, max),
          memory: { base, settling: true, held: 0, found: true, ceiling: memory.ceiling, quiet: memory.quiet },
          reason: `step ${base.target}→${target} paid only partly (${fmt(base.throughput)} → ${fmt(throughput)}); trying ${mid}`,
        }
      }
      return {
        target: clamp(base.target, min, max),
        memory: { settling: true, held: 0, found: true, ceiling: memory.ceiling, quiet: memory.quiet },
        reason: `step ${base.target}→${target} did not pay (${fmt(base.throughput)} → ${fmt(throughput)}, needed > ${fmt(base.throughput + keepShare * ideal)})`,
      }
    }
    // The step paid: keep it and try the next one from here.
    const up = stepUp({ ...input, memory: { ...memory, base: undefined } })
    return { ...up, reason: up.target !== target ? `step paid (${fmt(base.throughput)} → ${fmt(throughput)}); ${up.reason}` : `step paid (${fmt(base.throughput)} → ${fmt(throughput)}); holding: ${up.reason}` }
  }

  if (memory.held + 1 < probeEvery) return { target, memory: { ...memory, held: memory.held + 1 } }
  return stepUp({ ...input, memory })
}

/**
 * Whether `throttled` of `requests` is no more than the known noise would give: its expected
 * count plus two standard deviations (a Poisson bound) and one.
 */
function withinNoise(throttled: number, requests: number | undefined, noise: number | undefined): boolean {
  if (noise === undefined || requests === undefined) return false
  const expected = noise * requests
  return throttled <= expected + 2 * Math.sqrt(expected) + 1
}

/**
 * The fewest throttled requests that each side of a trial must be expected to hold, at the rate
 * of both together, before their shares are compared: below it a share is a guess (one SlowDown
 * in a first second of three requests is a third of them, and says nothing).
 */
export const fewestExpected = 5

/**
 * Throttling of more than this share of requests is never taken for noise, however steady: a
 * store that refuses most requests at every load is pushing back. (A store that serves 4
 * connections at once refuses 75% of 16 and 64% of 11: a count limit's share falls only a
 * little with each step down, and less the higher it starts.)
 */
export const noiseAtMost = 0.5

/**
 * Whether the share of requests throttled after the back-off is clearly below the share before
 * it ('fell': lower by more than two standard errors of the difference of the two shares), lower
 * but not clearly ('lower': by one to two), no lower ('steady'), or whether either side has too
 * few requests to tell ('unknown'). A share above `noiseAtMost` is pushback: the back-off stands
 * as if it fell.
 */
function judge(trial: Trial, after: { throttled: number; requests: number }): 'fell' | 'lower' | 'steady' | 'unknown' {
  const n1 = Math.max(trial.requests, trial.throttled, 1)
  const n2 = Math.max(after.requests, after.throttled, 1)
  const pooled = (trial.throttled + after.throttled) / (n1 + n2)
  if (Math.min(n1, n2) * pooled < fewestExpected) return 'unknown'
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
  const [before, now] = [trial.throttled / n1, after.throttled / n2]
  if (now < before - 2 * se || pooled > noiseAtMost) return 'fell'
  return now < before - se ? 'lower' : 'steady'
}

/**
 * Throttling did not fall when the target stepped down: it comes at a steady rate, not from the
 * load. The back-off is undone (and the ceiling it set forgotten), the rate becomes the noise
 * that later intervals are measured against, and climbing resumes at once.
 */
function steadyThrottling(trial: Trial, after: { throttled: number; requests: number }, input: ControllerInput): ControllerDecision {
  const requests = Math.max(after.requests, after.throttled, 1)
  const noise = Math.max(trial.before.noise ?? 0, (trial.throttled + after.throttled) / (Math.max(trial.requests, trial.throttled, 1) + requests))
  const pct = (k: number, n: number): string => `${((100 * k) / Math.max(n, k, 1)).toFixed(1)}%`
  return {
    target: clamp(trial.target, input.min, input.max),
    memory: { ...trial.before, base: undefined, trial: undefined, settling: true, held: probeEvery - 1, noise },
    reason: `throttling stayed at ${pct(after.throttled, requests)} of requests after backing off from ${trial.target} to ${input.target} ` +
      `(${pct(trial.throttled, trial.requests)} before): a steady rate, not the load; back to ${trial.target}`,
  }
}

/** Tries a bigger target, unless it could not be used; otherwise holds. */
function stepUp(input: ControllerInput): ControllerDecision {
  const { target, max, throughput, memory } = input
  // Holding changes nothing, so the next interval may look again: work may have arrived by then.
  const hold = (reason: string): ControllerDecision => ({ target, memory: { ...memory, base: undefined }, reason })
  if (target >= max) return hold(`at --max-concurrency ${max}`)
  if (input.speedCap !== undefined && throughput >= capShare * input.speedCap) return hold('at the speed cap')
  if (input.peakInFlight < target) return hold(`only ${input.peakInFlight} requests had work`)
  // Double while nothing has pushed back; afterwards probe in quarter steps, and below a known
  // ceiling halfway to it.
  let t = clamp(memory.found ? Math.max(target + 1, target * 1.25) : target * 2, input.min, max)
  if (memory.ceiling !== undefined) {
    if (target + 1 >= memory.ceiling) return hold(`just below where the store throttled (${memory.ceiling} in flight)`)
    t = Math.min(t, Math.floor((target + memory.ceiling) / 2))
  }
  return { target: t, memory: { ...memory, base: { target, throughput }, settling: true, held: 0 }, reason: `trying ${t}` }
}

/** Counts a quiet interval against a known ceiling, and forgets the ceiling after enough of them. */
function forget(memory: ControllerMemory): ControllerMemory {
  if (memory.ceiling === undefined) return memory
  const quiet = (memory.quiet ?? 0) + 1
  if (quiet >= forgetCeilingAfter) return { ...memory, ceiling: undefined, quiet: undefined }
  return { ...memory, quiet }
}

function fmt(bytesPerSecond: number): string {
  return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`
}
