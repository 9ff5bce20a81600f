import { closeSync, openSync } from 'node:fs'
import type { PlaneLog } from '../../data/data-plane.js'
import { transferOptions } from '../../options.js'
import { syntheticKind } from '../../providers/synthetic/kind.js'
import { SyntheticProvider } from '../../providers/synthetic/synthetic-provider.js'
import type { BenchRow } from './bench-lines.js'
import type { BenchSettings } from './bench-settings.js'
import { fillPass, nullSink, startedPlane, type FillPass } from './fill-pass.js'
import { measured } from './lanes.js'
import { RangeCursor } from './ranges.js'

/** Untimed seconds each thread count runs first (its threads' code compiled, their sources opened), at most a quarter of --seconds. */
const warmUpSeconds = 0.5

/** The source a bench of the data plane alone reads: `count` synthetic objects of `size` bytes. */
export function syntheticUri(s: Pick<BenchSettings, 'count' | 'size'>): string {
  return `synthetic://${s.count}x${s.size}`
}

/**
 * The data plane alone: for each thread count, a plane of that many threads (started before any
 * clock runs), then for each concurrency about `seconds` of fill jobs from the synthetic source
 * into /dev/null, the objects cycled, each in ranges of `partSize`. What is measured is the cost
 * of the plane itself: the jobs, the reads' streams, the MD5s and the writes, with no network.
 * Each setting is handed to `emit` as it ends.
 */
export async function benchPlane(s: BenchSettings, emit: (row: BenchRow) => void, signal: AbortSignal, log: PlaneLog): Promise<void> {
  const location = syntheticKind.parse(syntheticUri(s))
  const provider = new SyntheticProvider(location)
  const fd = openSync(nullSink, 'w')
  try {
    for (const threads of s.threads) {
      const plane = await startedPlane(threads, log)
      try {
        const pass: FillPass = { plane, source: plane.source({ location, options: transferOptions() }, provider), keyOf: (n) => provider.keyOf(n), md5: s.verify, fd }
        await timedFills(pass, s, s.concurrency[0]!, Math.min(warmUpSeconds, s.seconds / 4), signal)
        for (const concurrency of s.concurrency) {
          const { result, cost } = await measured(() => timedFills(pass, s, concurrency, s.seconds, signal))
          emit({ direction: 'read', threads, concurrency, ...result, ...cost })
        }
      } finally {
        await plane.close()
      }
    }
  } finally {
    closeSync(fd)
  }
}

/** Fills for about `seconds` (new objects stop being started then); the objects and bytes moved. */
async function timedFills(pass: FillPass, s: BenchSettings, concurrency: number, seconds: number, signal: AbortSignal): Promise<{ objects: number; bytes: number }> {
  const deadline = performance.now() + seconds * 1000
  const cursor = new RangeCursor(s.count, s.size, s.partSize, () => performance.now() < deadline)
  const bytes = await fillPass(pass, cursor, concurrency, signal)
  return { objects: cursor.objects, bytes }
}
