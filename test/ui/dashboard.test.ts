import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import type { CopyResult } from '../../src/engine/copy.js'
import { Stats, type StatsSnapshot, type TransferSnapshot } from '../../src/engine/stats.js'
import { bar, clean, fit, fitMiddle, renderDashboard, sparkline, textWidth, type DashboardView } from '../../src/ui/dashboard.js'
import { dashboardReporter } from '../../src/ui/dashboard-reporter.js'

const MiB = 1024 * 1024

function snapshot(over: Partial<StatsSnapshot> = {}): StatsSnapshot {
  return {
    elapsedMs: 10_000, listed: 32, listedBytes: 120 * MiB, listingDone: true,
    planned: 30, plannedBytes: 100 * MiB, resumedBytes: 0,
    done: 12, doneBytes: 40 * MiB, skipped: 2, skippedBytes: 20 * MiB, failed: 1,
    transferred: 40 * MiB, retries: 3, throttles: 1, inFlight: 12, concurrency: 16, active: [], discarded: 0,
    ...over,
  }
}

function view(over: Partial<DashboardView> = {}, snap: Partial<StatsSnapshot> = {}): DashboardView {
  return { snapshot: snapshot(snap), history: [], warnings: [], width: 79, ...over }
}

function transfers(n: number, over: Partial<TransferSnapshot> = {}): TransferSnapshot[] {
  return Array.from({ length: n }, (_, i) => ({ key: `data/f${String(i).padStart(2, '0')}.bin`, size: 4 * MiB, bytes: MiB, elapsedMs: 2000, ...over }))
}

const line = (v: DashboardView, start: string): string | undefined => renderDashboard(v).find((l) => l.startsWith(start))

describe('renderDashboard: totals', () => {
  test('files and bytes with percent, a bar, runtime and ETA, speed and sparkline, concurrency and counts', () => {
    const lines = renderDashboard(view({ history: [MiB, 2 * MiB, 3 * MiB, 4 * MiB] }))
    expect(lines.slice(1, 6)).toEqual([
      'Files   13/30 (43%)           Bytes  40.0 MiB/100 MiB (40%)',
      `Total   [${'█'.repeat(16)}${'░'.repeat(24)}]  40%  10.0s elapsed, ETA 24s`,
      'Speed   4.2 MB/s   ▂▄▆█',
      'Workers 12 in flight, target 16',
      'Objects 12 completed, 1 failed, 3 retries, 2 skipped',
    ])
  })

  test('while the listing goes on, the totals have a + and no percentages (they would go backwards)', () => {
    const v = view({}, { listingDone: false })
    expect(line(v, 'Files')).toBe('Files   13/30+                Bytes  40.0 MiB/100 MiB+')
    expect(line(v, 'Total')).toBe(`Total   [${'░'.repeat(31)}]   …  10.0s elapsed, ETA after listing`)
  })

  test('before the first second has a sample, the speed is the average so far', () => {
    expect(line(view(), 'Speed')).toBe('Speed   4.2 MB/s')
  })

  test.each<[string, Partial<DashboardView>, Partial<StatsSnapshot>, string]>([
    ['without samples, at the pace of the whole run', {}, {}, 'ETA 15s'],
    ['at the pace of the last ten seconds', { history: [...Array(10).fill(MiB), ...Array(10).fill(6 * MiB)] }, {}, 'ETA 10s'],
    ['over a minute, in minutes', { history: [MiB / 2] }, {}, 'ETA 2m00s'],
    ['bytes resumed from an earlier run are not to come', {}, { resumedBytes: 20 * MiB }, 'ETA 10s'],
    ['nothing moving yet', { history: [0, 0] }, { transferred: 0, done: 0 }, 'ETA --'],
    ['everything here', {}, { transferred: 100 * MiB }, 'ETA 0s'],
  ])('ETA %s', (_label, over, snap, expected) => {
    expect(line(view(over, snap), 'Total')).toMatch(new RegExp(` ${expected}$`))
  })

  test('the bar and the percentages never pass 100', () => {
    const v = view({}, { transferred: 150 * MiB })
    expect(line(v, 'Files')).toContain('(100%)')
    expect(line(v, 'Total')).toMatch(/^Total {3}\[█+\] 100% /)
  })

  test('the sparkline shows the last 60 seconds, newest on the right', () => {
    // 30 s at 8 MiB/s, then 0 to 7 MiB/s over and over: the first 30 s are out of the window and of its scale.
    const history = Array.from({ length: 90 }, (_, i) => (i < 30 ? 8 * MiB : (i % 8) * MiB))
    const speed = line(view({ history }), 'Speed')!
    expect(speed).toBe(`Speed   1.0 MB/s   ${' ▂▃▄▅▆▇█'.repeat(9).slice(6, 66)}`)
    expect(textWidth(speed)).toBeLessThanOrEqual(79)
  })
})

describe('renderDashboard: transfers', () => {
  test('a row: index, file, bar and percent, bytes done/total, speed', () => {
    const lines = renderDashboard(view({}, { active: [{ key: 'data/a.bin', size: 4 * MiB, bytes: MiB, elapsedMs: 2000 }] }))
    const head = lines.indexOf(lines.find((l) => l.startsWith(' #'))!)
    expect(lines.slice(head, head + 2)).toEqual([
      ' #  file                    progress                          bytes       speed',
      ` 1  data/a.bin              [${'█'.repeat(3)}${'░'.repeat(10)}]  25%    1.0 MiB/4.0 MiB    0.5 MB/s`,
    ])
  })

  test('at most 10 rows, then "… and N more"', () => {
    const lines = renderDashboard(view({}, { active: transfers(14) }))
    const rows = lines.filter((l) => /^ ?\d+ {2}data\//.test(l))
    expect(rows.map((r) => r.slice(0, 16))).toEqual(Array.from({ length: 10 }, (_, i) => `${String(i + 1).padStart(2)}  data/f${String(i).padStart(2, '0')}.bin`))
    expect(lines[lines.indexOf(rows[9]!) + 1]).toBe('  … and 4 more')
  })

  test('ten transfers fit without a "more" line', () => {
    expect(renderDashboard(view({}, { active: transfers(10) })).some((l) => l.includes('more'))).toBe(false)
  })

  test('in a short terminal the rows give way, and the frame fits its height', () => {
    const lines = renderDashboard(view({ height: 15 }, { active: transfers(14) }))
    expect(lines.length).toBeLessThanOrEqual(15)
    expect(lines.filter((l) => /^ ?\d+ {2}data\//.test(l))).toHaveLength(6)
    expect(lines).toContain('  … and 8 more')
  })

  test('a long key keeps its beginning and its file name', () => {
    const row = renderDashboard(view({}, { active: transfers(1, { key: 'photos/2023/summer/a-very-long-directory-name/IMG_0001.jpg' }) }))
      .find((l) => l.startsWith(' 1 '))!
    expect(row).toMatch(/^ 1 {2}photos\/2…e\/IMG_0001\.jpg \[/)
  })

  test('an empty object is 100% from the start; a transfer of no time yet has no speed', () => {
    const row = renderDashboard(view({}, { active: transfers(1, { size: 0, bytes: 0, elapsedMs: 0 }) })).find((l) => l.startsWith(' 1 '))!
    expect(row).toMatch(/\[█{13}\] 100% +0 B\/0 B +0\.0 MB\/s$/)
  })

  test('with nothing in flight the table says so', () => {
    expect(renderDashboard(view())).toContain('No transfers in flight')
  })
})

describe('renderDashboard: title, warnings, status', () => {
  test('the newest warnings (5) under the table, newest last, then the status line', () => {
    const warnings = Array.from({ length: 7 }, (_, i) => `12:00:0${i} WARN  failed k${i}: HTTP 403`)
    const lines = renderDashboard(view({ warnings, status: 'concurrency 16 → 32: throughput rose' }, { active: transfers(2) }))
    expect(lines.slice(-8)).toEqual([
      ' 2  data/f01.bin            [███░░░░░░░░░░]  25%    1.0 MiB/4.0 MiB    0.5 MB/s',
      '',
      ...warnings.slice(2),
      'concurrency 16 → 32: throughput rose',
    ])
  })

  test('a live frame turns a spinner in the last column; the final frame has none', () => {
    const live = renderDashboard(view({ title: 's3://b/p → ./d', nowMs: 1_000 }))[0]!
    expect(live).toBe(`soaker  s3://b/p → ./d${' '.repeat(56)}⠋`)
    expect(renderDashboard(view({ title: 's3://b/p → ./d', nowMs: 1_100 }))[0]!.endsWith('⠙')).toBe(true)
    expect(renderDashboard(view({ title: 's3://b/p → ./d' }))[0]).toBe('soaker  s3://b/p → ./d')
  })

  test('control characters in keys and messages cannot steer the terminal', () => {
    const lines = renderDashboard(view({ warnings: ['bad \x1b[2J key'], title: 's3://b/\x07' }, { active: transfers(1, { key: 'evil\x1b[31mkey\u202e' }) }))
    expect(lines.join('\n')).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f\u202e]/)
    expect(lines.some((l) => l.includes('evil?[31mkey'))).toBe(true)
    expect(lines).toContain('bad ?[2J key')
  })

  test.each([1, 5, 12, 20, 30, 40, 50, 60, 79, 80, 100, 160, 250])('no line is wider than %i columns', (width) => {
    const keys = ['a', 'x'.repeat(300), '日本語のファイル名/とても長いディレクトリ/写真.jpg', 'emoji/😀😀😀😀😀😀😀😀😀😀😀😀.png', 'e\u0301te\u0301/cafe\u0301.txt', 'ctl\x1b\x00/k']
    const active = keys.map((key, i) => ({ key, size: 10 ** (i + 3), bytes: 10 ** (i + 2), elapsedMs: 1 + i * 1000 }))
    const lines = renderDashboard({
      snapshot: snapshot({ active, planned: 123_456_789, done: 98_765_432, failed: 12_345, retries: 123_456, skipped: 9_999_999, plannedBytes: 5e15, transferred: 3e15, inFlight: 64, concurrency: 64, elapsedMs: 987_654_321 }),
      history: Array.from({ length: 60 }, (_, i) => i * 1e8), warnings: ['w'.repeat(400), '警告'.repeat(100)], width,
      nowMs: 5, title: 's3://bucket/' + 'p'.repeat(200), status: 's'.repeat(300),
    })
    for (const l of lines) expect(textWidth(l), JSON.stringify(l)).toBeLessThanOrEqual(width)
  })

  test('is pure: the same view gives the same lines', () => {
    const v = view({ history: [1, 2, 3], warnings: ['w'], nowMs: 42 }, { active: transfers(3) })
    expect(renderDashboard(v)).toEqual(renderDashboard(structuredClone(v)))
  })
})

describe('text helpers', () => {
  test.each<[string, number]>([['abc', 3], ['日本', 4], ['😀', 2], ['e\u0301', 1], ['…█░▁', 4], ['', 0]])('textWidth(%j) is %i', (s, w) => {
    expect(textWidth(s)).toBe(w)
  })

  test.each<[string, number, string]>([
    ['short', 10, 'short'],
    ['exactly10!', 10, 'exactly10!'],
    ['one too long', 11, 'one too lo…'],
    ['日本語テキスト', 7, '日本語…'],
  ])('fit(%j, %i) is %j', (s, w, out) => {
    expect(fit(s, w)).toBe(out)
  })

  test('fitMiddle keeps the end, where the file name is', () => {
    const out = fitMiddle('photos/2023/summer/a-very-long-directory/IMG_0001.jpg', 24)
    expect(out).toBe('photos/20…y/IMG_0001.jpg')
    expect(textWidth(out)).toBe(24)
  })

  test.each<[number, number, string]>([[0.5, 12, '[█████░░░░░]'], [1.2, 6, '[████]'], [-1, 6, '[░░░░]'], [0.999, 6, '[███░]'], [0, 2, '[]']])(
    'bar(%d, %i) is %s', (fraction, width, out) => {
      expect(bar(fraction, width)).toBe(out)
    })

  test.each<[number[], string]>([[[0, 1, 2, 4, 8], ' ▁▂▄█'], [[0, 0, 0], '   '], [[5, 5], '██'], [[], '']])('sparkline(%j) is %j', (samples, out) => {
    expect(sparkline(samples)).toBe(out)
  })

  test('clean replaces control characters and drops format characters', () => {
    expect(clean('a\x1bb\x9bc\u200dd\ne')).toBe('a?b?cd?e')
  })
})

describe('dashboardReporter', () => {
  const esc = '\x1b'
  let writes: string[]
  let errors: string[]
  const screen = { columns: 80, rows: 30, write: (s: string) => { writes.push(s) } }
  const stderr = (isTTY: boolean) => ({ isTTY, write: (s: string) => { errors.push(s) } })
  const options = { logLevel: 'info' as const, progressInterval: 5 }
  const run = { source: 's3://b/p', destination: 'file:///d' }

  function result(stats: Stats, over: Partial<CopyResult> = {}): CopyResult {
    return { status: 'ok', snapshot: stats.snapshot(), failures: [], statePath: '/s.db', ...over }
  }

  beforeEach(() => {
    vi.useFakeTimers()
    writes = []
    errors = []
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  test('hides the cursor, then redraws the frame in place every 250 ms', () => {
    const r = dashboardReporter({ ...options, stderr: stderr(true) }, screen)
    r.start(new Stats(), run)
    expect(writes[0]).toBe(`${esc}[?25l`)
    const first = writes[1]!
    expect(first.startsWith(`\rsoaker  s3://b/p → file:///d`)).toBe(true)
    const lines = first.split('\n').length - 1
    vi.advanceTimersByTime(250)
    expect(writes).toHaveLength(3)
    expect(writes[2]!.startsWith(`${esc}[${lines}A\r`)).toBe(true)
    // Each line erases what is left of the line before it; the end erases below a shrunk frame.
    expect(writes[2]!.split('\n').slice(0, -1).every((l) => l.endsWith(`${esc}[K`))).toBe(true)
    expect(writes[2]!.endsWith(`\n${esc}[J`)).toBe(true)
    r.abort(new Error('x'))
  })

  test('lines fit one column less than the terminal, so that none ends in the wrapping column', () => {
    const r = dashboardReporter({ ...options, stderr: stderr(true) }, { ...screen, columns: 60 })
    const stats = new Stats()
    stats.begin('k/' + 'x'.repeat(100), 10)
    r.start(stats, run)
    const frame = writes[1]!.replaceAll(`${esc}[K`, '').replace(/^\r/, '')
    expect(Math.max(...frame.split('\n').map(textWidth))).toBe(59)
    r.abort(new Error('x'))
  })

  test('warnings and errors go into the frame, the latest info line is its status, debug is dropped', () => {
    const r = dashboardReporter({ ...options, stderr: stderr(true) }, screen)
    r.start(new Stats(), run)
    r.log.warn('failed k1: HTTP 403')
    r.log.error('disk almost full')
    r.log.info('concurrency 16 → 32')
    r.log.debug('done k2')
    vi.advanceTimersByTime(250)
    const frame = writes.at(-1)!
    expect(frame).toMatch(/\d\d:\d\d:\d\d WARN {2}failed k1: HTTP 403\x1b\[K\n\d\d:\d\d:\d\d ERROR disk almost full\x1b\[K\nconcurrency 16 → 32\x1b\[K\n/)
    expect(frame).not.toContain('done k2')
    expect(errors).toEqual([])
    r.abort(new Error('x'))
  })

  test('when stderr is not the terminal, log lines go there too', () => {
    const r = dashboardReporter({ ...options, stderr: stderr(false) }, screen)
    r.start(new Stats(), run)
    r.log.warn('failed k1')
    r.log.debug('hidden at info')
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/WARN {2}failed k1\n$/)
    r.abort(new Error('x'))
  })

  test('keeps one throughput sample a second for the sparkline', () => {
    const r = dashboardReporter({ ...options, stderr: stderr(true) }, screen)
    const stats = new Stats()
    r.start(stats, run)
    for (const bytes of [1e6, 2e6, 4e6, 8e6]) {
      stats.transferred += bytes
      vi.advanceTimersByTime(1000)
    }
    expect(writes.at(-1)).toMatch(/Speed {3}8\.0 MB\/s {3}▁▂▄█\x1b\[K/)
    r.abort(new Error('x'))
  })

  test('finish leaves a final frame without spinner, shows the cursor, prints the summary and stops', () => {
    const r = dashboardReporter({ ...options, stderr: stderr(true) }, screen)
    const stats = new Stats()
    const exitListeners = process.listenerCount('exit')
    r.start(stats, run)
    expect(process.listenerCount('exit')).toBe(exitListeners + 1)
    stats.done = 3
    r.finish(result(stats), 'soaker cp s3://b/p ./d')
    const [frame, cursor, ...summary] = writes.slice(-4)
    expect(frame).toMatch(/^\x1b\[\d+A\rsoaker {2}s3:\/\/b\/p → file:\/\/\/d\x1b\[K\n/)
    expect(frame).toContain('Objects 3 completed')
    expect(cursor).toBe(`${esc}[?25h`)
    expect(summary.join('')).toMatch(/^Done in 0\.0s: 3 copied .*\nTransferred 0 B at 0\.0 MB\/s\n$/)
    expect(process.listenerCount('exit')).toBe(exitListeners)
    const count = writes.length
    vi.advanceTimersByTime(5000)
    expect(writes).toHaveLength(count)
    // After the run nothing is in the way of plain lines.
    r.log.warn('late')
    expect(errors.join('')).toMatch(/WARN {2}late\n$/)
  })

  test('a dry run erases the live frame and leaves only its plan', () => {
    const r = dashboardReporter({ ...options, stderr: stderr(true) }, screen)
    const stats = new Stats()
    r.start(stats, run)
    const lines = writes[1]!.split('\n').length - 1
    r.finish(result(stats, { plan: { first: [], kept: false } }), 'soaker cp s3://b/p ./d --dry-run')
    expect(writes.slice(-3)).toEqual([`${esc}[${lines}A\r${esc}[J`, `${esc}[?25h`, expect.stringMatching(/^Dry run, nothing transferred/)])
  })

  test('abort leaves a final frame and shows the cursor', () => {
    const r = dashboardReporter({ ...options, stderr: stderr(true) }, screen)
    r.start(new Stats(), run)
    r.abort(new Error('bucket gone'))
    expect(writes.at(-2)).toMatch(/^\x1b\[\d+A\rsoaker /)
    expect(writes.at(-1)).toBe(`${esc}[?25h`)
  })

  test('after a resize the frame starts again on a clear screen', () => {
    let onResize: (() => void) | undefined
    const r = dashboardReporter({ ...options, stderr: stderr(true) }, { ...screen, on: (_e, l) => { onResize = l }, off: () => { onResize = undefined } })
    r.start(new Stats(), run)
    onResize!()
    expect(writes.at(-2)).toBe(`${esc}[H${esc}[2J`)
    expect(writes.at(-1)!.startsWith('\rsoaker')).toBe(true)
    r.abort(new Error('x'))
    expect(onResize).toBeUndefined()
  })
})
