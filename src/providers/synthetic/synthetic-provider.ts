import { addAbortSignal, Readable } from 'node:stream'
import { FatalError, NotFoundError, SourceChangedError, UsageError } from '../../errors.js'
import type { ObjectDetails, ObjectInfo, Provider, ReadOptions, ReadResult } from '../provider.js'
import { bodyChunks, md5Of } from './synthetic-bodies.js'

/** What a SyntheticProvider serves: `count` objects of `size` bytes (kind.ts, SyntheticLocation). */
export interface SyntheticSet {
  count: number
  size: number
  /** `synthetic://<count>x<size>`, for messages. */
  uri: string
}

/** Every synthetic object was last modified then: a listing is the same from run to run. */
const lastModified = new Date('2020-01-01T00:00:00Z')

/**
 * The objects `obj-000000` to `obj-<count - 1>` (numbers of at least six digits, as many as the
 * last needs, so that key order is number order), `size` bytes each, made up from memory
 * (synthetic-bodies.ts). Their ETags are the MD5s of their bytes, as an S3 store's single-part
 * ETags are, computed as first asked for. Reads honour ranges and If-Match; nothing can be written.
 */
export class SyntheticProvider implements Provider {
  readonly name = 'synthetic'
  readonly capabilities = { rangedReads: true, uploadPartInfo: false }
  private readonly width: number
  private readonly root: string

  constructor(private readonly set: SyntheticSet) {
    this.width = Math.max(6, String(set.count - 1).length)
    this.root = set.uri.replace(/^(synthetic:\/\/[^/]*).*$/is, '$1')
  }

  /** The key of object number `n`. */
  keyOf(n: number): string {
    return `obj-${String(n).padStart(this.width, '0')}`
  }

  /** The number of the object `key`, or undefined when the set holds no such key. */
  private numberOf(key: string): number | undefined {
    const m = /^obj-(\d+)$/.exec(key)
    const n = m ? Number(m[1]) : NaN
    return m && m[1]!.length === this.width && n < this.set.count ? n : undefined
  }

  private numberOrFail(key: string): number {
    const n = this.numberOf(key)
    if (n === undefined) {
      throw new NotFoundError(`${this.root}/${key} does not exist: the set holds ${this.keyOf(0)} to ${this.keyOf(this.set.count - 1)}`)
    }
    return n
  }

  async check(_signal: AbortSignal): Promise<void> {}

  async *list(prefix: string, signal: AbortSignal): AsyncIterable<ObjectInfo> {
    for (let n = 0; n < this.set.count; n++) {
      if (n % 1000 === 0) signal.throwIfAborted()
      const key = this.keyOf(n)
      if (key.startsWith(prefix)) yield { key, size: this.set.size, etag: md5Of(n, this.set.size), lastModified }
    }
  }

  async stat(key: string, _signal: AbortSignal): Promise<ObjectDetails> {
    const n = this.numberOrFail(key)
    return { key, size: this.set.size, etag: md5Of(n, this.set.size), lastModified }
  }

  /**
   * The object's bytes, or those of `range` (its end cut at the object's end, as HTTP does), as
   * views of memory. Rejects with NotFoundError, SourceChangedError (If-Match), or FatalError
   * (InvalidRange) for a range that starts past the end.
   */
  async read(key: string, options: ReadOptions): Promise<ReadResult> {
    options.signal.throwIfAborted()
    const n = this.numberOrFail(key)
    const size = this.set.size
    const start = options.range?.start ?? 0
    const end = Math.min(options.range?.end ?? size - 1, size - 1)
    if (options.range !== undefined && (start >= size || start > options.range.end || start < 0)) {
      throw new FatalError(`${this.root}/${key}: the range ${start}-${options.range.end} is outside its ${size} bytes`, { code: 'InvalidRange' })
    }
    if (options.ifMatch !== undefined && options.ifMatch !== md5Of(n, size)) {
      throw new SourceChangedError(`${this.root}/${key} does not have the ETag ${options.ifMatch} (it is ${md5Of(n, size)})`)
    }
    const body = addAbortSignal(options.signal, Readable.from(bodyChunks(n, start, end)))
    // The ETag is an MD5 of the whole body: taken when asked for (a whole read's verification), not
    // for every ranged read, whose reader never looks.
    const details: ReadResult['details'] = { size: end - start + 1, get etag() { return md5Of(n, size) } }
    return { body, details }
  }

  async write(key: string, _body: Buffer, _signal: AbortSignal): Promise<void> {
    throw new UsageError(`${this.root} is read-only: ${key} cannot be written`)
  }

  close(): void {}
}
