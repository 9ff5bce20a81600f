import { DataPlane, type PlaneLog } from '../../data/data-plane.js'
import { ChecksumMismatchError, FatalError } from '../../errors.js'
import { runLanes } from './lanes.js'
import type { RangeCursor, RangeRequest } from './ranges.js'

/** Where a bench's downloads land: nothing keeps their bytes. */
export const nullSink = '/dev/null'

/**
 * A data plane of `threads` threads, every one started: a row labelled with threads that never ran
 * (the plane runs its jobs on the calling thread when one cannot start) would be a lie.
 */
export async function startedPlane(threads: number, log: PlaneLog): Promise<DataPlane> {
  const plane = new DataPlane(threads, log)
  await plane.ready()
  if (plane.readyThreads < threads) {
    await plane.close()
    throw new FatalError(`Only ${plane.readyThreads} of ${threads} data threads started`, { code: 'SOAKER_DATA_THREAD' })
  }
  return plane
}

export interface FillPass {
  plane: DataPlane
  /** The source's number in `plane` (DataPlane.source). */
  source: number
  /** The key of object number `n`. */
  keyOf: (n: number) => string
  /** Takes each range's MD5 as it streams, as a verified download does. */
  md5: boolean
  /** The MD5 each range must have (where known: what the bench uploaded); a range with another fails the pass. */
  expected?: (r: RangeRequest) => string | undefined
  /** A descriptor open for writing on nullSink (Linux and macOS take positional writes there, and drop them). */
  fd: number
}

/**
 * Reads every range `cursor` hands out through the data plane into the null sink, `concurrency`
 * at a time: the jobs are those of a download (fill, written at the range's position, MD5 in
 * stream), only the file is /dev/null. Resolves with the bytes moved.
 */
export async function fillPass(pass: FillPass, cursor: RangeCursor, concurrency: number, signal: AbortSignal): Promise<number> {
  let bytes = 0
  await runLanes(concurrency, () => cursor.next(), async (r, laneSignal) => {
    const key = pass.keyOf(r.n)
    const result = await pass.plane.run({
      op: 'fill', source: pass.source, key, range: { start: r.start, end: r.end }, fd: pass.fd, path: nullSink, position: r.start,
      digest: pass.md5 ? 'md5' : undefined, name: key,
    }, laneSignal, () => undefined)
    const want = pass.expected?.(r)
    if (want !== undefined && result.md5 !== want) {
      throw new ChecksumMismatchError(`${key}: bytes ${r.start}-${r.end} arrived with MD5 ${result.md5 ?? 'none'}, ${want} were sent`)
    }
    bytes += result.bytes
  }, signal)
  return bytes
}
