import { readdirSync } from 'node:fs'
import { setPriority } from 'node:os'

/** The lowest CPU priority there is. */
const lowest = 19

/**
 * Lowers the priority of every thread of this process to nice 19. On Linux, nice is per thread:
 * setting it for the process id alone would leave V8's and libuv's threads at full priority.
 * Threads started later inherit it from the thread that starts them. Returns how many threads
 * were lowered.
 */
export function lowerPriority(): number {
  let tids: number[]
  try {
    tids = readdirSync('/proc/self/task').map(Number).filter(Number.isInteger)
  } catch {
    setPriority(lowest) // no /proc: the calling thread, which is all other systems distinguish
    return 1
  }
  let n = 0
  for (const tid of tids) {
    try {
      setPriority(tid, lowest)
      n++
    } catch {
      // a thread that ended meanwhile
    }
  }
  return n
}
