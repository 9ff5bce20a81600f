import { setFlagsFromString } from 'node:v8'

/** Objects finished in an interval that average under this many bytes make a run of small objects. */
export const smallObjectBytes = 1024 * 1024

/**
 * How far V8 may grow the heap past what survived a full collection, in percent, but while large
 * objects flow: the CLI's setting from its start (bin/soaker.js).
 */
export const baseGrowthPercent = 50

/**
 * How far V8 lets the heap grow before it collects it again, set from what the run moves. V8
 * reads the setting at every full collection, and the process has one for every thread.
 *
 * - Left alone, V8 lets the heap grow to as much as 4× what survived the last full collection,
 *   and many small objects make old garbage fast enough to earn that: 200,000 tiny objects
 *   peaked at 250 MiB of RSS with 20 MiB alive. Growing by half instead kept the peak at 155 MiB
 *   for the same CPU (bench/README, issue 15).
 * - A fixed growth costs large objects dearly: the socket's 64 KiB chunks that live past a
 *   young collection make the old generation reach a small limit again and again. A 512 MiB
 *   download (8 MiB parts, `--verify size`) spent 230-270 ms in the collector at 50% and 60-135
 *   at V8's own choice, 1.3 against 0.8 user CPU-s.
 *
 * So while the objects finished lately average 1 MiB or more (or none finished: parts of large
 * ones moved), V8 chooses (a setting of 0); otherwise, and once the run ends, the heap grows by
 * half again.
 */
export class HeapGrowth {
  private percent = baseGrowthPercent
  private objects = 0
  private bytes = 0

  constructor(private readonly set: (percent: number) => void = setGrowthPercent) {
    set(baseGrowthPercent)
  }

  /** Counts taken since the run began: objects finished, and bytes moved. */
  update(objects: number, bytes: number): void {
    const finished = objects - this.objects
    const moved = bytes - this.bytes
    this.objects = objects
    this.bytes = bytes
    this.apply(finished > 0 && moved / finished < smallObjectBytes ? baseGrowthPercent : 0)
  }

  close(): void {
    this.apply(baseGrowthPercent)
  }

  private apply(percent: number): void {
    if (percent === this.percent) return
    this.percent = percent
    this.set(percent)
  }
}

function setGrowthPercent(percent: number): void {
  setFlagsFromString(`--heap-growing-percent=${percent}`)
}
