import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The CLI exactly as users run it, built by `npm run build`. */
const soakerBin = fileURLToPath(new URL('../../bin/soaker.js', import.meta.url))

export interface SoakerRun {
  status: number
  /** What soaker wrote to stdout, when it was captured; '' otherwise. */
  stdout: string
}

/** The counts of soaker's last line of summary, e.g. "Done in 0.4s: 0 copied (0 B), 302 skipped (…)…". */
export interface Summary {
  ok: boolean
  copied: number
  skipped: number
  failed: number
  listed: number
}

/**
 * Runs `soaker <args>` as a child process with exactly `env` as its environment. stderr (logs,
 * progress) always goes straight to the terminal. stdout does too, unless `capture` is set: then
 * it is copied to the terminal as it arrives and also returned, which is how the demo reads
 * soaker's summary.
 */
export async function runSoaker(args: string[], env: NodeJS.ProcessEnv, capture = false): Promise<SoakerRun> {
  const child = spawn(process.execPath, [soakerBin, ...args], {
    env,
    stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'],
  })
  let stdout = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    process.stdout.write(chunk)
  })
  const status = await new Promise<number>((resolve, reject) => {
    child.once('error', reject)
    // A signal (Ctrl-C reaches the whole process group) counts as a failure, like the shell's 128+n.
    child.once('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)))
  })
  return { status, stdout }
}

/** The counts of soaker's summary line in `stdout`, or undefined when it printed none. */
export function parseSummary(stdout: string): Summary | undefined {
  const m = /^(Done|Finished with failures|Interrupted) in \S+: (\d+) copied \([^)]*\), (\d+) skipped \([^)]*\), (\d+) failed, (\d+) listed/m.exec(stdout)
  if (!m) return undefined
  return { ok: m[1] === 'Done', copied: Number(m[2]), skipped: Number(m[3]), failed: Number(m[4]), listed: Number(m[5]) }
}
