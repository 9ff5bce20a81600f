/**
 * The server's share of a run: the CPU time radosgw spends while a tool runs, read from
 * /proc/<pid>/stat before and after. On loopback the server takes cores the client could use, so
 * a ceiling is only a ceiling with the server's seconds beside it.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** The processes of the server, and how many clock ticks make a second of their CPU time. */
export interface ServerProcesses {
  pids: number[]
  ticksPerSecond: number
}

/**
 * User plus system CPU time (fields 14 and 15, utime and stime, in clock ticks) from the text of
 * /proc/<pid>/stat; with `reaped`, also that of the children it has waited for (16 and 17, cutime
 * and cstime). Throws when the line has fewer fields than that.
 */
export function cpuTicks(stat: string, o: { reaped?: boolean } = {}): number {
  const f = statFields(stat)
  const ticks = [f(14), f(15), ...(o.reaped ? [f(16), f(17)] : [])]
  if (!ticks.every(Number.isInteger)) throw new Error(`Expected /proc/<pid>/stat text, got \`${stat.slice(0, 80)}\``)
  return ticks.reduce((a, b) => a + b, 0)
}

/** The fields of a /proc/<pid>/stat line, by their number in proc(5) (from 3 on), as numbers. */
export function statFields(stat: string): (n: number) => number {
  // Field 2, the command name, is in parentheses and may hold spaces or ')' itself: the other
  // fields resume after the last ')'. There, field 3 (the state) comes first.
  const fields = stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/)
  return (n) => Number(fields[n - 3])
}

/**
 * The radosgw processes on this machine, or undefined when none runs. `pgrep -x` matches the
 * process name exactly: `pgrep -f radosgw` would also count radosgw-admin, or a shell whose
 * command line names radosgw.
 */
export async function findServer(): Promise<ServerProcesses | undefined> {
  const pids = await run('pgrep', ['-x', 'radosgw']).then(
    ({ stdout }) => stdout.trim().split('\n').filter((line) => line !== '').map(Number),
    // pgrep exits 1 when nothing matches.
    () => [],
  )
  if (pids.length === 0) return undefined
  return { pids, ticksPerSecond: await clockTicksPerSecond() }
}

/** How many clock ticks make a second of the CPU times in /proc. */
export async function clockTicksPerSecond(): Promise<number> {
  return Number((await run('getconf', ['CLK_TCK'])).stdout.trim())
}

/** CPU ticks the server's processes have used so far, summed; undefined when any of them is gone. */
export async function serverTicks(server: ServerProcesses): Promise<number | undefined> {
  try {
    const stats = await Promise.all(server.pids.map((pid) => readFile(`/proc/${pid}/stat`, 'utf8')))
    return stats.reduce((sum, stat) => sum + cpuTicks(stat), 0)
  } catch {
    return undefined
  }
}
