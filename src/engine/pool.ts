/** A unit of work: one request (a whole small object or one part of a big one). Never rejects. */
export type Task = () => Promise<void>

/**
 * Runs tasks pulled from `source` with at most `size` at once. The size can change while it
 * runs: growing starts more tasks at once, shrinking lets running tasks finish.
 */
export class WorkerPool {
  private active = 0
  private peak = 0
  private ended = 0
  private pulling = false
  private exhausted = false
  private sourceError: { err: unknown } | undefined
  private resolveDone?: () => void
  private rejectDone?: (err: unknown) => void

  constructor(private readonly source: AsyncIterator<Task>, private size: number, private readonly onChange?: (active: number) => void) {}

  get running(): number {
    return this.active
  }

  /** The most tasks that ran at once since the last call. */
  takePeak(): number {
    const p = this.peak
    this.peak = this.active
    return p
  }

  /** Tasks that ended since the last call. */
  takeEnded(): number {
    const n = this.ended
    this.ended = 0
    return n
  }

  resize(size: number): void {
    this.size = Math.max(1, size)
    this.fill()
  }

  /**
   * Resolves when the source is exhausted and every task has finished. If the source throws, no
   * new task starts and it rejects with that error once the running ones have finished.
   */
  run(): Promise<void> {
    const done = new Promise<void>((resolve, reject) => { this.resolveDone = resolve; this.rejectDone = reject })
    this.fill()
    return done
  }

  private fill(): void {
    if (this.pulling || this.exhausted || this.active >= this.size) return this.settle()
    this.pulling = true
    this.source.next().then(
      (r) => {
        this.pulling = false
        if (r.done) this.exhausted = true
        else this.start(r.value)
        this.fill()
      },
      (err: unknown) => {
        this.pulling = false
        this.exhausted = true
        this.sourceError = { err }
        this.settle()
      },
    )
  }

  private start(task: Task): void {
    this.active++
    if (this.active > this.peak) this.peak = this.active
    this.onChange?.(this.active)
    void task().finally(() => {
      this.active--
      this.ended++
      this.onChange?.(this.active)
      this.fill()
    })
  }

  private settle(): void {
    if (!this.exhausted || this.active > 0 || this.pulling) return
    if (this.sourceError) this.rejectDone?.(this.sourceError.err)
    else this.resolveDone?.()
  }
}
