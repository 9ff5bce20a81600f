import { describe, expect, test } from 'vitest'
import type { Measurement } from '../../bench/measure.js'
import { checksFor, medianRun, summariseVariants, type WanRunRecord } from '../../bench/wan/report.js'
import { settledTarget, type Sample } from '../../bench/wan/samples.js'
import { wanScenarios } from '../../bench/wan/scenarios.js'

const s3 = wanScenarios({ quick: false, sweep: [16, 24, 32] }).s3

function record(variant: string, run: number, wallSeconds: number, proxy: { requests: number; slowDowns: number }, targets: number[] = []): WanRunRecord {
  const v = s3.variants.find((x) => x.label === variant)!
  const measurement: Measurement = {
    exitCode: 0, signal: null, timedOut: false, wallSeconds, userSeconds: 1, systemSeconds: 1, cpuSeconds: 2, maxRssKiB: 100 * 1024, outputTail: '',
  }
  const samples: Sample[] = targets.map((target, i) => ({ t: 3 * (i + 1), target, inFlight: target, mbps: 1, throttles: 0, errors: 0 }))
  return {
    scenario: 's3', variant, tool: v.tool.name, role: v.role, ...(v.fixed === undefined ? {} : { fixed: v.fixed }), run, startedAt: '', command: variant,
    measurement, ok: true, throughput: null, proxy: { ...proxy, bytesSent: 0, bytesReceived: 0, connections: 1, peakInFlight: 1 }, samples, concurrencyChanges: [],
  }
}

describe('WAN report', () => {
  const records = [
    record('soaker', 1, 30, { requests: 1000, slowDowns: 10 }, [16, 32, 22, 22, 22]),
    record('soaker', 2, 20, { requests: 1000, slowDowns: 30 }, [16, 32, 22, 28, 20]),
    record('soaker', 3, 25, { requests: 1000, slowDowns: 20 }, [16, 32, 22, 22, 24]),
    record('rclone', 1, 100, { requests: 1000, slowDowns: 0 }),
    record('aws', 1, 50, { requests: 1000, slowDowns: 0 }),
    record('soaker, fixed 16', 1, 30, { requests: 1000, slowDowns: 0 }),
    record('soaker, fixed 24', 1, 22, { requests: 1000, slowDowns: 1 }),
    { ...record('soaker, fixed 32', 1, 21, { requests: 1200, slowDowns: 200 }), ok: false, failure: 'exited with status 1' },
  ]
  const rows = summariseVariants(records, s3.variants, (wall) => 100 / wall)

  test('medians over the runs that delivered everything; ratios are tuned soaker ÷ each', () => {
    const by = Object.fromEntries(rows.map((r) => [r.variant, r]))
    expect(by.soaker).toMatchObject({ okRuns: 3, medianWallSeconds: 25, throughput: 4, retryShare: 0.02, slowDowns: 20 })
    expect(by.rclone!.soakerRatio).toBeCloseTo(4)
    expect(by['soaker, fixed 32']).toMatchObject({ okRuns: 0, runs: 1, throughput: null, soakerRatio: null })
  })

  test('S3 is judged against the best fixed concurrency that delivered, and on the median run', () => {
    const middle = medianRun(records)!
    expect(middle.run).toBe(3)
    const checks = checksFor(s3, rows, { run: 3, wallSeconds: 25, samples: middle.samples, changes: [] })
    expect(checks.map((c) => [c.short, c.value, c.met])).toEqual([
      ['÷ best fixed (24)', '88.0%', false],
      ['retries ÷ requests', '2.00% (20 of 1000)', false],
      ['settled target', '22', true],
    ])
  })

  test.each([
    [[], null],
    [[16], 16],
    [[16, 32, 22, 22, 24], 22],
    [[16, 32, 22, 28], 25],
  ])('settled target of %j is %s', (targets, expected) => {
    expect(settledTarget(targets.map((target, i) => ({ t: i, target, inFlight: 0, mbps: 0, throttles: 0, errors: 0 })))).toBe(expected)
  })
})
