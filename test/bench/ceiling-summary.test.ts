import { describe, expect, test } from 'vitest'
import type { Measurement } from '../../bench/measure.js'
import { summariseCeiling, type CeilingRun } from '../../bench/ceiling/summary.js'
import type { CeilingToolName } from '../../bench/ceiling/tools.js'

function run(tool: CeilingToolName, n: number, wallSeconds: number, extra: Partial<CeilingRun> = {}, rssMiB = 100, cpuSeconds = 2): CeilingRun {
  const measurement: Measurement = {
    exitCode: 0, signal: null, timedOut: false, wallSeconds, userSeconds: cpuSeconds, systemSeconds: 0, cpuSeconds,
    maxRssKiB: rssMiB * 1024, outputTail: '',
  }
  return {
    data: 'big', tool, run: n, startedAt: '', command: `${tool} ${n}`, measurement, serverCpuSeconds: 1, checked: true,
    ok: true, throughput: 100 / wallSeconds, ...extra,
  }
}

const tools = (['curl-files', 'curl-null', 'rclone', 'soaker', 'soaker-verify-size'] as const).map((name) => ({ name, label: name }))

describe('summariseCeiling', () => {
  const runs: CeilingRun[] = [
    run('curl-files', 1, 1), run('curl-files', 2, 2), run('curl-files', 3, 3),
    run('curl-null', 1, 1, { checked: false }),
    run('rclone', 1, 4, { serverCpuSeconds: 2 }), run('rclone', 2, 4, { serverCpuSeconds: null }),
    run('soaker', 1, 5, {}, 150, 2.4), run('soaker', 2, 9, { ok: false, failure: 'exited with status 1', throughput: null }, 250, 9),
    run('soaker-verify-size', 1, 2.5, {}, 120, 1.5),
    // Another dataset's run never mixes in.
    run('soaker', 1, 0.1, { data: 'small' }),
  ]
  const rows = summariseCeiling(runs, 'big', tools, (wall) => 100 / wall)
  const by = Object.fromEntries(rows.map((r) => [r.tool, r]))

  test('medians over the counted runs; the peak RSS over every run, failed ones included', () => {
    expect(by['curl-files']).toMatchObject({ okRuns: 3, runs: 3, medianWallSeconds: 2, throughput: 50, medianServerCpuSeconds: 1 })
    expect(by.soaker).toMatchObject({ okRuns: 1, runs: 2, medianWallSeconds: 5, medianCpuSeconds: 2.4, maxRssMiB: 250 })
  })

  test('a server CPU missing from any counted run leaves no median rather than one of fewer runs', () => {
    expect(by.rclone!.medianServerCpuSeconds).toBeNull()
  })

  test('each row\'s throughput ÷ rclone\'s and ÷ curl into files', () => {
    expect(by.soaker).toMatchObject({ vsRclone: 0.8, vsCurlFiles: 0.4 })
    expect(by['soaker-verify-size']).toMatchObject({ vsRclone: 1.6, vsCurlFiles: 0.8 })
    expect(by['curl-null']!.vsCurlFiles).toBe(2)
  })

  test('the issue\'s targets for big, judged: the MD5-verified default and --verify size have their own', () => {
    expect(by.soaker!.checks).toEqual([
      { target: '≥ 0.65× rclone', met: true },
      { target: '≤ 2.6 client CPU-s', met: true },
      { target: 'peak RSS ≤ 200 MiB', met: false },
    ])
    expect(by['soaker-verify-size']!.checks).toEqual([
      { target: '≥ 1.0× rclone', met: true },
      { target: '≥ 0.9× curl → files', met: false },
      { target: 'peak RSS ≤ 200 MiB', met: true },
    ])
    expect(by.rclone!.checks).toEqual([])
  })

  test('a tool with no counted run has no throughput, no ratios, and its targets unknown', () => {
    const failed = summariseCeiling(runs.map((r) => (r.tool === 'soaker' ? { ...r, ok: false } : r)), 'big', tools, (wall) => 100 / wall)
    const soaker = failed.find((r) => r.tool === 'soaker')!
    expect(soaker).toMatchObject({ throughput: null, vsRclone: null, vsCurlFiles: null })
    expect(soaker.checks.map((c) => c.met)).toEqual([null, null, false])
  })
})
