/**
 * The CPU a PostgreSQL server spends while a case runs. Each connection is a process of its own,
 * a child of the server's first process, that ends with the connection; its CPU time then joins
 * the first process's count of its reaped children.
 */
import { readdir, readFile } from 'node:fs/promises'
import { cpuTicks, statFields } from '../ceiling/server-cpu.js'

/** CPU ticks the server whose first process is `pid` has used so far: that process's own, its ended children's, its live children's. */
export async function postgresTicks(pid: number): Promise<number> {
  let ticks = cpuTicks(await readFile(`/proc/${pid}/stat`, 'utf8'), { reaped: true })
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    // A process may end between the listing and the read.
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined)
    if (stat !== undefined && statFields(stat)(4) === pid) ticks += cpuTicks(stat)
  }
  return ticks
}
