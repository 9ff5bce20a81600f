import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'

/** What GNU time reports about one command, and how the command ended. */
export interface Measurement {
  exitCode: number | null
  signal: NodeJS.Signals | null
  timedOut: boolean
  /** Elapsed real time. NaN when time itself was killed and reported nothing. */
  wallSeconds: number
  userSeconds: number
  systemSeconds: number
  /** User plus system CPU of the command and every descendant it waited for. */
  cpuSeconds: number
  /** Peak resident set size of the command (the largest of its processes), in KiB. */
  maxRssKiB: number
  /** The last few KiB of the command's stdout and stderr, for diagnosing a failure. */
  outputTail: string
}

export const timeBinary = '/usr/bin/time'
// %e wall seconds, %U user CPU seconds, %S system CPU seconds, %M peak RSS in KiB.
export const timeFormat = '%e %U %S %M'
const timeLine = /^(\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\d+)$/
const tailBytes = 8192

/**
 * Runs `argv` under `/usr/bin/time -f '%e %U %S %M'`. GNU time writes its report to `timeFile`
 * (`-o`), so the command's own output never mixes into the numbers. Never rejects for a failing
 * command: the exit status is part of the measurement. After `timeoutMs` the command's process
 * group is killed and the measurement says `timedOut`; when `signal` aborts, it is killed too.
 * With `logFile`, the command's whole output (stdout and stderr, interleaved) is also kept there.
 */
export async function measure(
  argv: readonly string[],
  options: { env: NodeJS.ProcessEnv; timeFile: string; timeoutMs: number; signal?: AbortSignal; logFile?: string },
): Promise<Measurement> {
  options.signal?.throwIfAborted()
  // A process group of its own lets a timeout kill the tool together with any helpers it forked.
  // It also keeps a Ctrl-C at the terminal from reaching the tool directly: the bench forwards it.
  const child = spawn(timeBinary, ['-f', timeFormat, '-o', options.timeFile, ...argv], {
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let tail = ''
  const log = options.logFile === undefined ? undefined : createWriteStream(options.logFile)
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-tailBytes)
    log?.write(chunk)
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)

  let timedOut = false
  const killGroup = (): void => {
    if (child.pid === undefined) return
    try {
      process.kill(-child.pid, 'SIGKILL')
    } catch {
      // ESRCH: the group has already exited; nothing is left to stop.
    }
  }
  const timer = setTimeout(() => { timedOut = true; killGroup() }, options.timeoutMs)
  options.signal?.addEventListener('abort', killGroup)
  const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, sig) => resolve([code, sig]))
  }).finally(() => {
    clearTimeout(timer)
    options.signal?.removeEventListener('abort', killGroup)
  })
  if (log) await new Promise<void>((resolve) => log.end(resolve))

  const numbers = await readTimeReport(options.timeFile)
  return { exitCode, signal, timedOut, ...numbers, outputTail: tail }
}

type TimeNumbers = Pick<Measurement, 'wallSeconds' | 'userSeconds' | 'systemSeconds' | 'cpuSeconds' | 'maxRssKiB'>

/** The numbers from GNU time's report; its last line, because a failed command adds a line before. */
async function readTimeReport(timeFile: string): Promise<TimeNumbers> {
  const text = await readFile(timeFile, 'utf8').catch(() => '')
  const match = text.trim().split('\n').at(-1)?.match(timeLine)
  if (!match) return { wallSeconds: NaN, userSeconds: NaN, systemSeconds: NaN, cpuSeconds: NaN, maxRssKiB: NaN }
  const [wall, user, system, rss] = match.slice(1).map(Number) as [number, number, number, number]
  return { wallSeconds: wall, userSeconds: user, systemSeconds: system, cpuSeconds: user + system, maxRssKiB: rss }
}

/** Why a measured command did not succeed, or undefined when it exited 0 with a time report. */
export function explainFailure(m: Measurement, timeoutMs: number): string | undefined {
  const lastLine = m.outputTail.trim().split('\n').at(-1) ?? ''
  if (m.timedOut) return `timed out after ${timeoutMs / 1000} s`
  if (m.signal !== null) return `killed by ${m.signal}`
  if (m.exitCode !== 0) return `exited with status ${m.exitCode}${lastLine ? `: ${lastLine}` : ''}`
  if (!Number.isFinite(m.wallSeconds)) return `${timeBinary} reported no numbers`
  return undefined
}
