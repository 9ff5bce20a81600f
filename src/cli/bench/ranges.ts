/** One request of a bench pass: the range `start`-`end` (inclusive) of object number `n`, part `part` of `parts`. */
export interface RangeRequest {
  n: number
  part: number
  parts: number
  start: number
  end: number
}

/** Parts of an object of `size` bytes read or sent in ranges of `partSize`: one at least. */
export function partsOf(size: number, partSize: number): number {
  return Math.max(1, Math.ceil(size / partSize))
}

/**
 * The requests of a pass, in order: every range of one object, then of the next, cycling through
 * the `count` objects of `size` bytes. Before each new object it asks `more` (told how many
 * objects were started): a pass always moves whole objects, so that objects/s counts only
 * objects that arrived, and ends once the last one started has.
 */
export class RangeCursor {
  private started = 0
  private current: RangeRequest | undefined

  constructor(private readonly count: number, private readonly size: number, private readonly partSize: number,
    private readonly more: (started: number) => boolean) {}

  /** Objects whose first range was handed out. */
  get objects(): number {
    return this.started
  }

  next(): RangeRequest | undefined {
    const c = this.current
    if (c !== undefined && c.part + 1 < c.parts) {
      const start = (c.part + 1) * this.partSize
      this.current = { ...c, part: c.part + 1, start, end: Math.min(start + this.partSize, this.size) - 1 }
      return this.current
    }
    if (!this.more(this.started)) return undefined
    const n = this.started % this.count
    this.started++
    this.current = { n, part: 0, parts: partsOf(this.size, this.partSize), start: 0, end: Math.min(this.partSize, this.size) - 1 }
    return this.current
  }
}
