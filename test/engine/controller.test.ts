import { describe, expect, test } from 'vitest'
import { forgetCeilingAfter, initialMemory, next, probeEvery, type ControllerInput, type ControllerMemory } from '../../src/engine/controller.js'

const MB = 1e6
const steady: ControllerMemory = { settling: false, held: probeEvery - 1, found: false }
const judging = (target: number, throughput: number, found = false): ControllerMemory =>
  ({ base: { target, throughput }, settling: false, held: 0, found })

function input(over: Partial<ControllerInput>): ControllerInput {
  return { target: 16, min: 1, max: 64, throughput: 100 * MB, throttled: 0, peakInFlight: 16, memory: steady, ...over }
}

describe('next(state) → target concurrency', () => {
  test.each<[string, Partial<ControllerInput>, number, RegExp | undefined]>([
    ['the first interval starts the climb: nothing before it needs to settle', { memory: initialMemory }, 32, /trying 32/],
    ['the interval after the first step settles: nothing changes', { target: 32, memory: next(input({ memory: initialMemory })).memory }, 32, undefined],
    ['holding until it is time to probe', { memory: { settling: false, held: 0, found: false } }, 16, undefined],
    ['time to probe, nothing pushed back yet: doubles', {}, 32, /trying 32/],
    ['once something pushed back, probes are quarter steps', { memory: { ...steady, found: true } }, 20, /trying 20/],
    ['a quarter step is at least one', { target: 2, peakInFlight: 2, memory: { ...steady, found: true } }, 3, /trying 3/],
    ['never above --max-concurrency', { target: 48, peakInFlight: 48 }, 64, /trying 64/],
    ['at --max-concurrency it holds', { target: 64, peakInFlight: 64 }, 64, /at --max-concurrency 64/],
    ['no probe when fewer requests had work than the target', { peakInFlight: 9 }, 16, /only 9 requests had work/],
    ['no probe at the speed cap', { throughput: 48 * MB, speedCap: 50 * MB }, 16, /at the speed cap/],
    ['below the speed cap it may probe', { throughput: 30 * MB, speedCap: 50 * MB }, 32, /trying 32/],
    // 16 → 32 ideally doubles 100 MB/s; a fifth of the ideal gain is 20 MB/s.
    ['a step that brought more than a fifth of the ideal gain is kept, and the next one tried', { target: 32, peakInFlight: 32, throughput: 125 * MB, memory: judging(16, 100 * MB) }, 64, /step paid .*trying 64/],
    ['a step that brought some gain but a fifth or less tries halfway', { target: 32, peakInFlight: 32, throughput: 118 * MB, memory: judging(16, 100 * MB) }, 24, /paid only partly .*trying 24/],
    ['a step that brought nothing goes back', { target: 32, peakInFlight: 32, throughput: 100 * MB, memory: judging(16, 100 * MB) }, 16, /did not pay/],
    ['a one-wide step that paid too little goes back (no halfway)', { target: 17, peakInFlight: 17, throughput: 101 * MB, memory: judging(16, 100 * MB, true) }, 16, /did not pay/],
    ['a step that lost throughput goes back', { target: 32, peakInFlight: 32, throughput: 80 * MB, memory: judging(16, 100 * MB) }, 16, /did not pay/],
    ['a kept step at the max holds there', { target: 64, peakInFlight: 64, throughput: 190 * MB, memory: judging(32, 100 * MB) }, 64, /step paid .*at --max-concurrency/],
    ['throttling backs off multiplicatively from what was in flight', { target: 40, peakInFlight: 40, throttled: 3 }, 28, /3 throttled requests/],
    ['throttling backs off from the peak in flight when that was lower', { target: 40, peakInFlight: 20, throttled: 1 }, 14, /throttled/],
    ['throttling never goes below --min-concurrency', { target: 3, peakInFlight: 3, throttled: 5, min: 2 }, 2, /throttled/],
    ['throttling backs off no lower than what the store served at once', { target: 32, peakInFlight: 32, peakServed: 24, throttled: 29 }, 24, /29 throttled requests at 32 in flight \(24 served at once\)/],
    ['where every request in flight was served at some moment, it backs off gently', { target: 30, peakInFlight: 30, peakServed: 30, throttled: 2 }, 27, /30 served at once/],
    ['one over what was served backs off by one', { target: 25, peakInFlight: 25, peakServed: 24, throttled: 3 }, 24, /24 served at once/],
    ['serving fewer than seven tenths leaves the multiplicative backoff', { target: 40, peakInFlight: 40, peakServed: 10, throttled: 8 }, 28, /^8 throttled requests at 40 in flight: backing off$/],
    ['below a known ceiling a probe goes halfway to it', { target: 24, peakInFlight: 24, memory: { ...steady, found: true, ceiling: 28, quiet: 3 } }, 26, /trying 26/],
    ['a quarter step below the ceiling stays a quarter step', { target: 16, memory: { ...steady, found: true, ceiling: 64, quiet: 3 } }, 20, /trying 20/],
    ['one below the ceiling it holds', { target: 24, peakInFlight: 24, memory: { ...steady, found: true, ceiling: 25, quiet: 3 } }, 24, /just below where the store throttled \(25 in flight\)/],
    ['a ceiling is forgotten after enough quiet intervals, and probing passes it again', { target: 24, peakInFlight: 24, memory: { ...steady, found: true, ceiling: 25, quiet: forgetCeilingAfter - 1 } }, 30, /trying 30/],
    ['throttling wins over judging a step', { target: 32, peakInFlight: 32, throttled: 1, throughput: 300 * MB, memory: judging(16, 100 * MB) }, 22, /throttled/],
  ])('%s', (_label, over, target, reason) => {
    const d = next(input(over))
    expect(d.target).toBe(target)
    if (reason) expect(d.reason).toMatch(reason)
    else expect(d.reason).toBeUndefined()
  })

  test('holding for lack of work looks again the next interval, and climbs once the work is there', () => {
    const idle = next(input({ peakInFlight: 9, memory: initialMemory }))
    expect(idle.target).toBe(16)
    expect(next(input({ memory: idle.memory })).target).toBe(32)
  })

  test('after a change the next interval is discarded as settling, then the step is judged', () => {
    const up = next(input({}))
    expect(up.memory).toEqual({ base: { target: 16, throughput: 100 * MB }, settling: true, held: 0, found: false })
    const settled = next(input({ target: 32, peakInFlight: 32, throughput: 1 * MB, memory: up.memory }))
    expect(settled.target).toBe(32) // a bad reading while settling does not count
    const judged = next(input({ target: 32, peakInFlight: 32, throughput: 190 * MB, memory: settled.memory }))
    expect(judged.target).toBe(64)
  })

  test('halfway is judged against the same base: S1 from the WAN bench (16 → 32 → 24, kept)', () => {
    // Measured in `npm run bench -- s1`: 16 requests gave 116.9 MB/s, 32 gave 137.8 (needed 140.2).
    const half = next(input({ target: 32, peakInFlight: 32, throughput: 137.8 * MB, memory: judging(16, 116.9 * MB) }))
    expect(half.target).toBe(24)
    const settled = next(input({ target: 24, peakInFlight: 24, throughput: 0, memory: half.memory }))
    // At 24 the same 137.8 MB/s is 20.9 MB/s over the base: more than a fifth of the 58.5 ideal.
    const kept = next(input({ target: 24, peakInFlight: 24, throughput: 137.8 * MB, memory: settled.memory }))
    expect(kept.target).toBe(30) // kept; the next probe is a quarter step
    expect(kept.reason).toMatch(/step paid/)
  })

  test('S3 from the WAN bench: SlowDown beyond 24 in flight; it settles at 24 and probes past it ever more rarely', () => {
    // The store serves 24 at once and refuses the rest; each request moves 3.7 MB/s.
    let target = 16
    let memory = initialMemory
    const targets: number[] = []
    for (let i = 0; i < 30; i++) {
      const d = next(input({
        target, peakInFlight: target, peakServed: Math.min(target, 24), throttled: Math.max(0, 3 * (target - 24)),
        throughput: Math.min(target, 24) * 3.7 * MB, memory,
      }))
      target = d.target
      memory = d.memory
      targets.push(target)
    }
    // Climbs, is throttled at 32 and goes straight to what was served; then probes halfway to
    // the lowest throttled count every probeEvery intervals (28, 26, 25), each time back to 24.
    expect(targets.slice(0, 2)).toEqual([32, 24])
    expect(targets.filter((t) => t !== 24)).toEqual([32, 28, 26, 25])
    expect(memory.ceiling).toBe(25)
  })

  test('after a rejected step it holds for probeEvery intervals, then probes again', () => {
    let d = next(input({ target: 32, peakInFlight: 32, throughput: 100 * MB, memory: judging(16, 100 * MB) }))
    expect(d.target).toBe(16)
    const targets: number[] = []
    for (let i = 0; i < probeEvery + 1; i++) {
      d = next(input({ target: 16, memory: d.memory }))
      targets.push(d.target)
    }
    // one settling interval, probeEvery - 1 of holding, then a quarter step
    expect(targets).toEqual([...Array(probeEvery).fill(16), 20])
  })

  test('is pure: the same input gives the same decision and the input is not changed', () => {
    const i = input({ memory: { ...steady } })
    const copy = structuredClone(i)
    expect(next(i)).toEqual(next(i))
    expect(i).toEqual(copy)
  })
})

describe('throttling at a steady rate is noise, not pushback', () => {
  /** Runs the controller for `intervals` with `throttledAt(target)` of `requests` throttled each. */
  function run(intervals: number, throttledAt: (target: number) => number, served = (t: number) => t, requests = 400): { targets: number[]; memory: ControllerMemory; reasons: string[] } {
    let target = 16
    let memory = initialMemory
    const targets: number[] = []
    const reasons: string[] = []
    for (let i = 0; i < intervals; i++) {
      const d = next(input({
        target, peakInFlight: target, peakServed: served(target), throttled: throttledAt(target), requests,
        throughput: Math.min(target, 48) * 1 * MB, memory,
      }))
      target = d.target
      memory = d.memory
      targets.push(target)
      if (d.reason) reasons.push(d.reason)
    }
    return { targets, memory, reasons }
  }

  test('8% of requests throttled at every concurrency: one back-off on trial, undone, and the climb goes on to the max', () => {
    const { targets, memory, reasons } = run(20, () => 32) // 32 of 400: 8%
    expect(targets[0]).toBe(14) // the first back-off (gentle: every request was served at some moment)
    expect(Math.max(...targets)).toBe(64)
    expect(targets.at(-1)).toBe(64)
    expect(targets.filter((t) => t < 16)).toEqual([14, 14]) // the trial and its settling interval; never again
    expect(reasons.some((r) => /throttling stayed at 8\.0% of requests after backing off from 16 to 14 .*a steady rate, not the load; back to 16/.test(r))).toBe(true)
    expect(memory.noise).toBeCloseTo(0.08, 3)
    expect(memory.ceiling).toBeUndefined()
  })

  test('S3 from the WAN bench with requests counted: throttling that falls when stepping down still settles at 24', () => {
    const { targets, memory } = run(30, (t) => Math.max(0, 3 * (t - 24)), (t) => Math.min(t, 24))
    expect(targets.slice(0, 2)).toEqual([32, 24])
    expect(targets.filter((t) => t !== 24)).toEqual([32, 28, 26, 25])
    expect(memory.noise).toBeUndefined()
  })

  test('a store serving 4 connections at once refuses the rest: its share falls a little with each step down, and it is pushback, never noise', () => {
    // 100 requests end in each interval; those beyond 4 in flight are refused (75% of 16, 64% of 11).
    const { targets, memory } = run(30, (t) => Math.round((100 * Math.max(0, t - 4)) / t), (t) => Math.min(t, 4), 100)
    expect(Math.max(...targets)).toBeLessThanOrEqual(16)
    expect(targets.at(-1)).toBeLessThanOrEqual(6)
    expect(memory.noise).toBeUndefined()
  })

  test('pushback on top of known noise still backs off, and the back-off stands when the throttling falls', () => {
    const noisy = run(20, () => 32).memory
    const pushed = next(input({ target: 64, peakInFlight: 64, peakServed: 40, throttled: 32 + 120, requests: 400, memory: noisy }))
    expect(pushed.target).toBe(45)
    const settling = next(input({ target: 45, peakInFlight: 45, peakServed: 40, throttled: 60, requests: 400, memory: pushed.memory }))
    expect(settling.target).toBe(45) // requests begun at 64 still end: not judged yet
    const judged = next(input({ target: 45, peakInFlight: 45, peakServed: 40, throttled: 30, requests: 400, memory: settling.memory }))
    expect(judged.target).toBe(45) // within the noise again: the back-off stands
    expect(judged.memory.trial).toBeUndefined()
  })

  test('a few throttled requests within the noise are not pushback', () => {
    const memory: ControllerMemory = { ...steady, found: true, noise: 0.05 }
    expect(next(input({ target: 32, peakInFlight: 32, throttled: 25, requests: 400, memory })).target).toBe(40) // 20 expected, 25 within the bound
    expect(next(input({ target: 32, peakInFlight: 32, throttled: 60, requests: 400, memory })).target).toBe(22)
  })
})

describe('a back-off is judged only on enough requests', () => {
  const first = (throttled: number, requests: number): ReturnType<typeof next> =>
    next(input({ target: 16, peakInFlight: 16, peakServed: 16, throttled, requests, memory: initialMemory }))
  const settle = (d: ReturnType<typeof next>): ReturnType<typeof next> =>
    next(input({ target: d.target, peakInFlight: d.target, peakServed: d.target, throttled: 1, requests: 50, memory: d.memory }))

  test('a share that fell by between one and two standard errors is held for more intervals, and the back-off stands when it keeps falling', () => {
    const backedOff = first(40, 200)
    expect(backedOff.target).toBe(14)
    // 20% before, 15% after: lower by 1.3 standard errors of the difference
    const held = next(input({ target: 14, peakInFlight: 14, throttled: 30, requests: 200, memory: settle(backedOff).memory }))
    expect(held.target).toBe(14)
    expect(held.memory.trial?.after).toEqual({ throttled: 30, requests: 200, intervals: 1 })
    // 13.5% over both intervals since: clearly lower. The back-off stands, and the throttling
    // still coming is answered with another.
    const judged = next(input({ target: 14, peakInFlight: 14, throttled: 24, requests: 200, memory: held.memory }))
    expect(judged.target).toBe(10)
    expect(judged.reason).toMatch(/^24 throttled requests at 14 in flight: backing off$/)
    expect(judged.memory.trial).toBeUndefined()
    expect(judged.memory.noise).toBeUndefined()
  })

  test('one SlowDown in a first second of 3 requests, then 5% of 400: a steady rate, back to 16', () => {
    const backedOff = first(1, 3)
    expect(backedOff.target).toBe(14)
    const judged = next(input({ target: 14, peakInFlight: 14, peakServed: 14, throttled: 20, requests: 400, memory: settle(backedOff).memory }))
    expect(judged.target).toBe(16)
    expect(judged.reason).toMatch(/throttling stayed at 5\.0% of requests after backing off from 16 to 14 \(33\.3% before\)/)
    expect(judged.memory.noise).toBeCloseTo(21 / 403, 5)
  })

  test('a quiet interval of a few requests after a back-off is no verdict: the trial waits for more', () => {
    const quiet = next(input({ target: 14, peakInFlight: 14, throttled: 0, requests: 9, memory: settle(first(2, 30)).memory }))
    expect(quiet.target).toBe(14)
    expect(quiet.memory.trial?.after).toEqual({ throttled: 0, requests: 9, intervals: 1 })
    const judged = next(input({ target: 14, peakInFlight: 14, throttled: 30, requests: 400, memory: quiet.memory }))
    expect(judged.target).toBe(16)
    expect(judged.memory.noise).toBeCloseTo(32 / 439, 5)
  })

  test('throttling gone for probeEvery intervals after a back-off on few requests: the back-off stands', () => {
    let d = settle(first(2, 4))
    const targets: number[] = []
    for (let i = 0; i < probeEvery; i++) {
      d = next(input({ target: d.target, peakInFlight: d.target, throttled: 0, requests: 30, memory: d.memory }))
      targets.push(d.target)
    }
    expect(targets).toEqual(Array(probeEvery).fill(14))
    expect(d.memory.trial).toBeUndefined()
    expect(d.memory.noise).toBeUndefined()
  })

  test('throttling that falls to nothing over enough requests: the back-off stands at once', () => {
    const backedOff = next(input({ target: 32, peakInFlight: 32, peakServed: 24, throttled: 60, requests: 400, memory: { ...steady } }))
    const d = next(input({ target: 24, peakInFlight: 24, throttled: 0, requests: 400, memory: settle(backedOff).memory }))
    expect(d.target).toBe(24)
    expect(d.memory.trial).toBeUndefined()
  })
})
