import type { CopyResult } from '../engine/copy.js'
import { createLogger, type Logger, type LogLevel } from '../engine/logger.js'
import type { Stats, StatsSnapshot } from '../engine/stats.js'
import { maxWarnings, renderDashboard, sparkSeconds } from './dashboard.js'
import type { Reporter, ReporterOptions } from './reporter.js'
import { summaryLines } from './summary.js'

/** The terminal the dashboard draws on: process.stdout, or a fake in tests. */
export interface Screen {
  write(chunk: string): unknown
  readonly columns?: number
  readonly rows?: number
  on?(event: 'resize', listener: () => void): unknown
  off?(event: 'resize', listener: () => void): unknown
}

export interface DashboardOptions extends ReporterOptions {
  /** Milliseconds between frames. @default 250 */
  frameMs?: number
  /** Where log lines go when the frame cannot hold them. @default process.stderr */
  stderr?: { write(chunk: string): unknown; readonly isTTY?: boolean }
}

const hideCursor = '\x1b[?25l'
const showCursor = '\x1b[?25h'
const eraseLine = '\x1b[K'
const eraseBelow = '\x1b[J'
const clearScreen = '\x1b[H\x1b[2J'
const up = (n: number): string => (n > 0 ? `\x1b[${n}A` : '')
const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 }

/** Throughput of each of the last seconds, in a fixed ring (no shifting on the hot path). */
class SecondsRing {
  private readonly values = new Array<number>(sparkSeconds).fill(0)
  private count = 0
  push(v: number): void {
    this.values[this.count % this.values.length] = v
    this.count++
  }
  /** Oldest first. */
  list(): number[] {
    const n = Math.min(this.count, this.values.length)
    const out: number[] = []
    for (let i = this.count - n; i < this.count; i++) out.push(this.values[i % this.values.length]!)
    return out
  }
}

/**
 * A terminal on stdout: a live dashboard redrawn in place a few times a second, then a final frame
 * and the summary. Log lines never land inside the frame: warnings and errors are kept for it, the
 * latest info line is its status line, debug lines are dropped (all go to stderr as well when
 * stderr is not the terminal).
 */
export function dashboardReporter(o: DashboardOptions, screen: Screen = process.stdout): Reporter {
  const frameMs = o.frameMs ?? 250
  const stderr = o.stderr ?? process.stderr
  const plain = createLogger(o.logLevel, (l) => stderr.write(l + '\n'))
  const warnings: string[] = []
  const history = new SecondsRing()
  let status: string | undefined
  let title = ''
  let stats: Stats | undefined
  let ticker: NodeJS.Timeout | undefined
  let live = false
  let drawn = 0
  let lastSample = { at: 0, bytes: 0 }

  const at = (level: LogLevel) => (message: string): void => {
    // Before the first frame and after the last, nothing is in the way of plain lines.
    if (!live || !stderr.isTTY) plain[level](message)
    if (!live || order[level] < order[o.logLevel]) return
    if (level === 'warn' || level === 'error') {
      warnings.push(`${new Date().toISOString().slice(11, 19)} ${level.toUpperCase().padEnd(5)} ${message}`)
      if (warnings.length > maxWarnings) warnings.splice(0, warnings.length - maxWarnings)
    } else if (level === 'info') {
      status = message
    }
  }
  const log: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }

  const sample = (s: StatsSnapshot, now: number): void => {
    if (now - lastSample.at < 1000) return
    history.push((s.transferred - lastSample.bytes) / ((now - lastSample.at) / 1000))
    lastSample = { at: now, bytes: s.transferred }
  }

  // One write per frame: move up over the previous frame, rewrite each line and erase what is left
  // of it, then erase below in case the frame shrank. One column stays free, so that no line ends
  // in the last column, where terminals defer the wrap and erase-to-end-of-line would eat a cell.
  const draw = (snapshot: StatsSnapshot, nowMs?: number): void => {
    const lines = renderDashboard({
      snapshot, history: history.list(), warnings, status, title, nowMs,
      width: Math.max(1, (screen.columns || 80) - 1),
      // A frame taller than the screen would scroll, and moving up over it would fall short.
      height: Math.max(1, (screen.rows || 24) - 1),
    })
    screen.write(`${up(drawn)}\r${lines.map((l) => l + eraseLine).join('\n')}\n${eraseBelow}`)
    drawn = lines.length
  }

  // After a resize the terminal may have rewrapped the old frame, so counting lines up would be
  // wrong: start again from a clear screen.
  const onResize = (): void => {
    if (!live || !stats) return
    screen.write(clearScreen)
    drawn = 0
    draw(stats.snapshot(), Date.now())
  }
  // A second Ctrl-C exits at once (main calls process.exit): the cursor must come back anyway.
  const onExit = (): void => { screen.write(showCursor) }

  // The final frame stays on the screen; without one (a dry run, whose plan is the whole story)
  // the live frame is erased.
  const stop = (final: StatsSnapshot | undefined): void => {
    clearInterval(ticker)
    if (!live) return
    if (final) draw(final)
    else screen.write(`${up(drawn)}\r${eraseBelow}`)
    live = false
    screen.write(showCursor)
    screen.off?.('resize', onResize)
    process.off('exit', onExit)
  }

  return {
    log,
    start(s, run) {
      stats = s
      title = `${run.source} → ${run.destination}${run.shard ? ` (shard ${run.shard})` : ''}`
      live = true
      lastSample = { at: Date.now(), bytes: s.transferred }
      screen.write(hideCursor)
      process.on('exit', onExit)
      screen.on?.('resize', onResize)
      const tick = (): void => {
        const now = Date.now()
        const snapshot = s.snapshot(now)
        sample(snapshot, now)
        draw(snapshot, now)
      }
      tick()
      ticker = setInterval(tick, frameMs)
      ticker.unref()
    },
    finish(result: CopyResult, command: string) {
      stop(result.plan ? undefined : result.snapshot)
      for (const line of summaryLines(result, command)) screen.write(line + '\n')
    },
    abort() {
      stop(stats?.snapshot())
    },
  }
}
