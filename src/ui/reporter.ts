import type { CopyResult } from '../engine/copy.js'
import { errorCode, errorMessage } from '../errors.js'
import { createLogger, type Logger, type LogLevel } from '../engine/logger.js'
import type { Stats } from '../engine/stats.js'
import { jsonSummary, toJsonEvent, progressEvent } from './json-events.js'
import { progressLine } from './progress-line.js'
import { summaryLines } from './summary.js'

/** How a run shows itself: where its logs go, what it shows while it runs, and how it ends. */
/** What a run copies, as its reporter names it. */
export interface RunHeader {
  source: string
  destination: string
  /** The static shard (`K/N`) of a run of one shard. */
  shard?: string
}

export interface Reporter {
  readonly log: Logger
  start(stats: Stats, run: RunHeader): void
  /** Stops any timers and prints the end of the run. */
  finish(result: CopyResult, command: string): void
  /** The run could not start or stopped with an error of the whole job (main prints it on stderr). */
  abort(err: unknown): void
}

export interface ReporterOptions {
  logLevel: LogLevel
  progressInterval: number
}

/** No terminal (CI, Kubernetes logs): log lines and a progress line every few seconds on stderr, the summary on stdout. */
export function plainReporter(o: ReporterOptions): Reporter {
  const log = createLogger(o.logLevel)
  let ticker: NodeJS.Timeout | undefined
  return {
    log,
    start(stats) {
      ticker = setInterval(() => log.info(progressLine(stats.snapshot())), o.progressInterval * 1000)
      ticker.unref()
    },
    finish(result, command) {
      clearInterval(ticker)
      for (const line of summaryLines(result, command)) process.stdout.write(line + '\n')
    },
    abort() {
      clearInterval(ticker)
    },
  }
}

/** `--json`: one JSON object per line on stdout for every event, progress and the summary (see README). */
export function jsonReporter(o: ReporterOptions, write: (line: string) => void = (l) => process.stdout.write(l + '\n')): Reporter {
  const emit = (obj: object): void => write(JSON.stringify(obj))
  const log = createLogger(o.logLevel, () => undefined)
  const levels: LogLevel[] = ['debug', 'info', 'warn', 'error']
  const at = levels.indexOf(o.logLevel)
  for (const level of levels) {
    log[level] = (message: string) => {
      if (levels.indexOf(level) >= at) emit({ event: 'log', time: new Date().toISOString(), level, message })
    }
  }
  let ticker: NodeJS.Timeout | undefined
  return {
    log,
    start(stats, run) {
      emit({ event: 'run_started', time: new Date().toISOString(), source: run.source, destination: run.destination, ...(run.shard && { shard: run.shard }) })
      stats.on((e) => emit(toJsonEvent(e)))
      ticker = setInterval(() => emit(progressEvent(stats.snapshot())), o.progressInterval * 1000)
      ticker.unref()
    },
    finish(result) {
      clearInterval(ticker)
      emit(jsonSummary(result))
    },
    abort(err) {
      clearInterval(ticker)
      emit({ event: 'error', time: new Date().toISOString(), code: errorCode(err), message: errorMessage(err) })
    },
  }
}
