import { LocalWriteError, UsageError } from '../../errors.js'
import { PartialFile } from './partial-file.js'
import { appendLog, progressEntry } from './upload-log.js'

/**
 * How often the parts in flight of an upload are checkpointed. A kill -9 loses what arrived
 * since the last checkpoint: on average half an interval, plus the sync. Half a second keeps that
 * near half a second of throughput per part, and costs one fdatasync of the file and one flushed
 * append to its log per interval, however many parts are in flight.
 */
export const checkpointEveryMs = 500

/** One attempt at writing a part. */
export interface PartAttempt {
  /** Bytes from the part's start that are in the file: the writer advances it after each chunk. */
  bytes: number
  /**
   * Its bytes may be checkpointed as they arrive. Not when the body carries an MD5 to check: its
   * bytes are known good only once all of them have matched it.
   */
  readonly checkpointed: boolean
}

/**
 * The partial file of one upload in parts, open while parts are written into it, and their
 * checkpoints. Every `everyMs` while a part is in flight, the file is synced once (fdatasync) and
 * only then does the log get a progress line for each part in flight that grew, with the bytes
 * written before the sync began: a line never claims bytes a crash or power cut could still lose.
 * A checkpoint never throws: one that fails records nothing, and those bytes are sent again.
 * The descriptor stays open across parts; a tick that finds no part in flight closes it and stops,
 * so that an upload left unfinished holds no descriptor. Opened again, the name must still hold
 * the same file (device and inode): what complete publishes is the file the parts were written to.
 */
export class UploadFile {
  private file: PartialFile | undefined
  private readonly identity: string
  private readonly inFlight = new Map<number, PartAttempt>()
  /** Per part, the largest byte count a progress line of the log gives: a new line only goes past it. */
  private readonly recorded: Map<number, number>
  private timer: NodeJS.Timeout | undefined
  private checkpointing: Promise<void> | undefined

  constructor(
    /** The partial file's path. */
    readonly path: string,
    readonly logPath: string,
    readonly size: number,
    readonly partSize: number,
    file: PartialFile,
    /** Progress lines already in the log: part number to bytes. */
    recorded: Map<number, number>,
    private readonly everyMs = checkpointEveryMs,
  ) {
    this.file = file
    this.identity = file.identity
    this.recorded = new Map(recorded)
    this.startTimer() // its first tick closes the file if no part comes
  }

  /** Where part `partNumber` starts and how many bytes it holds. UsageError for a part the layout has not. */
  part(partNumber: number, key: string): { start: number; length: number } {
    const start = (partNumber - 1) * this.partSize
    const length = Math.min(this.partSize, this.size - start)
    if (!Number.isInteger(partNumber) || partNumber < 1 || length <= 0) {
      const count = Math.ceil(this.size / this.partSize)
      throw new UsageError(`Expected a part number from 1 to ${count} for \`${key}\` (${this.size} bytes in parts of ${this.partSize}), got ${partNumber}`)
    }
    return { start, length }
  }

  /**
   * Starts an attempt at part `partNumber` whose first `from` bytes are in the file already;
   * returns the open file and the attempt, which is checkpointed until end() is called.
   */
  begin(partNumber: number, from: number, checkpointed: boolean): { file: PartialFile; attempt: PartAttempt } {
    const file = this.open()
    const attempt = { bytes: from, checkpointed }
    this.inFlight.set(partNumber, attempt)
    this.startTimer()
    return { file, attempt }
  }

  /** The attempt is over, done or failed: no checkpoint records it any more. */
  end(partNumber: number, attempt: PartAttempt): void {
    if (this.inFlight.get(partNumber) === attempt) this.inFlight.delete(partNumber)
  }

  /**
   * Stops the checkpoints, waits for one under way, and hands over the open file, to publish it
   * (which closes it). Rejects with LocalWriteError when its name no longer holds the file written.
   */
  async take(): Promise<PartialFile> {
    this.stopTimer()
    await this.checkpointing
    const file = this.open()
    this.file = undefined
    return file
  }

  /** Stops the checkpoints, waits for one under way, and closes the file. */
  async close(): Promise<void> {
    this.stopTimer()
    await this.checkpointing
    this.closeNow()
  }

  /** Stops the checkpoints and closes the file at once, for a provider that closes. */
  closeNow(): void {
    this.stopTimer()
    this.file?.close()
    this.file = undefined
  }

  /** The open file: opened again if an idle tick closed it, if its name still holds it. */
  private open(): PartialFile {
    if (this.file) return this.file
    const file = PartialFile.reopen(this.path, this.size)
    if (file?.identity !== this.identity) {
      file?.close()
      throw new LocalWriteError(`\`${this.path}\` is no longer the file soaker wrote (removed or replaced while the object was copied)`)
    }
    this.file = file
    return file
  }

  private startTimer(): void {
    if (this.timer) return
    this.timer = setInterval(() => this.tick(), this.everyMs)
    this.timer.unref()
  }

  private stopTimer(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  private tick(): void {
    if (this.checkpointing) return
    if (this.inFlight.size === 0) return this.closeNow()
    this.checkpointing = this.checkpoint().finally(() => { this.checkpointing = undefined })
  }

  private async checkpoint(): Promise<void> {
    const file = this.file
    // Counts taken before the sync: only bytes written by then are sure to be durable after it.
    const due = [...this.inFlight]
      .filter(([n, a]) => a.checkpointed && a.bytes > (this.recorded.get(n) ?? 0))
      .map(([partNumber, attempt]) => ({ partNumber, attempt, bytes: attempt.bytes }))
    if (file === undefined || due.length === 0) return
    try {
      await file.datasync()
      // A part finished meanwhile has its own line; one that failed is not vouched for.
      const still = due.filter((d) => this.inFlight.get(d.partNumber) === d.attempt)
      if (still.length === 0) return
      await appendLog(this.logPath, still.map((d) => progressEntry(d.partNumber, d.bytes)).join(''))
      for (const d of still) this.recorded.set(d.partNumber, d.bytes)
    } catch {
      // Not synced or not logged: a resumed upload sends these bytes again.
    }
  }
}
