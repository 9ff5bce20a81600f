import { createHash } from 'node:crypto'
import { closeSync, createReadStream, openSync, readFileSync, statSync } from 'node:fs'
import {
  errorCode, errorMessage, FileChangedError, LocalReadError, SizeMismatchError, SourceChangedError,
} from '../errors.js'
import type { CopySource, FileFill, Provider, ReadResult, UploadChecksum, UploadParts } from '../providers/provider.js'
import type { DataPlane } from '../data/data-plane.js'
import { readWhole, type StreamDigest } from '../data/data-job.js'
import type { ObjectRow } from '../state/store.js'
import { fileMetadata, formatMtime } from '../providers/file-metadata.js'
import type { HashPool } from '../providers/local/hash-pool.js'
import { digester, type ChecksumAlgorithm, type CrcAlgorithm } from '../checksums/digester.js'
import { checkWhole, downloadDigest, etagPromise, wholeDigestOf, wholeHash, type ExpectedDigest } from './integrity.js'

const MiB = 1024 * 1024

/** A source registered with the run's data plane (DataPlane.source), whose reads it runs. */
export interface PlaneSource {
  plane: DataPlane
  source: number
}

/** One version of a source object: what its parts are read from, and what must not change under them. */
export interface SourceVersion {
  size: number
  /** What the state store keys the version by: a file's mtime, an object's Last-Modified. */
  mtimeNs: bigint
  /** An object's ETag, which each read of it asks for (If-Match). Absent for local files. */
  etag?: string
  /** Metadata the destination object carries: `mtime` and `mode` as rclone stores them, and the source's own. */
  metadata: Record<string, string>
  /**
   * An object's metadata as its store keeps it, without the `mtime` added from its Last-Modified:
   * what a copy the store makes itself carries, in parts (copyPart) as whole (copyObject).
   */
  ownMetadata?: Record<string, string>
  contentType?: string
  /**
   * What the source says its bytes hash to (a CRC its store keeps, an object's ETag, or Azure's
   * Content-MD5); absent for files.
   */
  expected?: ExpectedDigest
}

/** A small object read whole. */
export interface WholeObject {
  body: Buffer
  metadata: Record<string, string>
  contentType?: string
  /**
   * The body's MD5 (base64) where it is known without hashing it again: checked already, or
   * (`unchecked`) the one the source promises, which the destination must check before it keeps
   * the bytes (sent as the write's MD5 checksum).
   */
  md5?: string
  unchecked?: boolean
}

/** The bytes of a source range as they stream, and (after they all went) their MD5 where it was computed on the way. */
export interface SourceBytes {
  chunks: AsyncIterable<Buffer>
  /** MD5 (hex) of the bytes streamed, once they all went; undefined if not asked for. */
  md5(): string | undefined
}

/**
 * Where the objects of a transfer come from: the files of a local tree, or the objects of another
 * store. The engine (pipeline.ts) moves both the same way: whole objects in one request,
 * larger ones as multipart uploads whose parts are ranges of the source. What differs is here:
 * how a change is noticed, what is read ahead and what is hashed on the way.
 */
export interface TransferSource {
  /** Reading the whole object into memory first, then sending it with its Content-MD5: objects up to this size. */
  readonly inlineMax: number
  /** What each object's ETag says about its bytes: `md5`, and the same ETag at the destination is the same bytes. */
  readonly etagIsMd5: boolean
  /** `digest` gives a range's checksum before it is sent (else parts are hashed as they stream). */
  readonly digestsAhead: boolean
  /** The version a row recorded when the source was listed, where reads can go by it without asking again. */
  listed(row: ObjectRow): SourceVersion | undefined
  /** The version of `key` now (a stat, a HEAD). */
  current(key: string, signal: AbortSignal): Promise<SourceVersion>
  /** The row recorded this version when it was listed (its parts, if any, are of it). */
  recorded(row: ObjectRow, v: SourceVersion): boolean
  /** Throws when `key` is no longer `v`. Objects are checked by every read's If-Match instead. */
  assertUnchanged(key: string, v: SourceVersion): void
  /** Throws a LocalReadError now for a file that cannot be read (before an upload is opened on the store). */
  assertReadable(key: string): void
  /** The whole of a small object (at most inlineMax), checked against its version. */
  readWhole(key: string, v: SourceVersion, signal: AbortSignal): Promise<WholeObject>
  /** `length` bytes of `key` from `start`; `md5` asks for their MD5 on the way. */
  open(key: string, v: SourceVersion, start: number, length: number, signal: AbortSignal, md5: boolean): SourceBytes
  /**
   * The same bytes as a FileFill, read and written into the destination's file by the data plane
   * (on another thread), for a destination that takes fills; `moved` hears of bytes as they land.
   * The whole object, where verifying, is checked against the source's digest as it streams.
   * `md5` asks for the range's MD5; `receipt` for the digest a part is recorded with: the CRC the
   * object is verified by where it is verified by one (FillDigest.crc), else the MD5.
   * Undefined where this source has no data plane (then `open`).
   */
  fill?(key: string, v: SourceVersion, start: number, length: number, options: FillOptions): FileFill | undefined
  /**
   * The digest of a range before it is sent (a Content-MD5), where that costs no transfer: a local
   * file's range, hashed on a worker. Undefined: it is computed as the range streams.
   */
  digest(key: string, start: number, length: number, algorithm: UploadChecksum['algorithm']): Promise<string | undefined>
  /** MD5 of a range that the store holds a part of but the record missed, where reading it costs no transfer. */
  partMd5(key: string, start: number, length: number): Promise<string | undefined>
  /** How the object was split when it was uploaded, to split its copy alike (then the ETags match). */
  uploadParts(key: string, signal: AbortSignal): Promise<UploadParts | undefined>
  /** Where the destination is the same store: the object as a source the store copies from. */
  copySource?(key: string, v: SourceVersion): CopySource
  /** Whether `err` says the source changed under the transfer (then it starts over). */
  isChange(err: unknown): boolean
}

/** A whole object's bytes, the facts its answer gave, and the CRC of the bytes where that answer names one the store keeps. */
interface WholeBody {
  body: Buffer
  details: ReadResult['details']
  /** Hex, big-endian. */
  crc?: string
}

/** What a FileFill of a source range hashes, and who hears of its bytes (TransferSource.fill). */
export interface FillOptions {
  md5: boolean
  receipt: boolean
  moved: (bytes: number) => void
}

/** An mtime in nanoseconds as the whole milliseconds the state store keeps. */
export const mtimeMsOf = (ns: bigint): number => Number(ns / 1_000_000n)

interface FileState {
  size: number
  mtimeNs: bigint
  mode: number
}

/** The file as it is now; read errors become LocalReadError naming the path. */
function statFile(path: string): FileState {
  try {
    const st = statSync(path, { bigint: true })
    if (!st.isFile()) throw new LocalReadError(`${path} is no longer a regular file`)
    return { size: Number(st.size), mtimeNs: st.mtimeNs, mode: Number(st.mode & 0o7777n) }
  } catch (err) {
    if (err instanceof LocalReadError) throw err
    const code = errorCode(err)
    const why = code === 'ENOENT' ? 'it no longer exists' : errorMessage(err)
    throw new LocalReadError(`cannot read ${path}: ${why}`, { cause: err })
  }
}

function readFailed(path: string, err: unknown): LocalReadError {
  return err instanceof LocalReadError ? err : new LocalReadError(`cannot read ${path}: ${errorMessage(err)}`, { cause: err })
}

function changedError(path: string, before: { size: number }, after: { size: number }): FileChangedError {
  const what = before.size !== after.size ? `size ${before.size} → ${after.size}` : 'mtime changed'
  return new FileChangedError(`${path} changed while it was being uploaded (${what})`)
}

/** A running MD5 over chunks as they pass, when asked for. */
function hashed(chunks: AsyncIterable<Buffer>, md5: boolean): SourceBytes {
  if (!md5) return { chunks, md5: () => undefined }
  const h = createHash('md5')
  let hex: string | undefined
  return {
    chunks: (async function* () {
      for await (const c of chunks) {
        h.update(c)
        yield c
      }
      hex = h.digest('hex')
    })(),
    md5: () => hex,
  }
}

/**
 * The files of a local tree (or one file). A file is the same version while its size and mtime
 * (to the nanosecond) are; it is stat'ed before each part and after each request.
 */
export class LocalFiles implements TransferSource {
  /** Files up to 1 MiB are read in one synchronous read: from the page cache it costs microseconds, a thread-pool hop more. */
  readonly inlineMax = 1 * MiB
  readonly etagIsMd5 = false
  readonly digestsAhead = true

  constructor(private readonly pathFor: (key: string) => string, private readonly hashes: HashPool) {}

  listed(): undefined {
    return undefined
  }

  async current(key: string): Promise<SourceVersion> {
    return this.version(statFile(this.pathFor(key)))
  }

  private version(file: FileState): SourceVersion {
    return { size: file.size, mtimeNs: file.mtimeNs, metadata: fileMetadata(file) }
  }

  recorded(row: ObjectRow, v: SourceVersion): boolean {
    return row.size === v.size && row.lastModified === mtimeMsOf(v.mtimeNs)
  }

  assertUnchanged(key: string, v: SourceVersion): void {
    const path = this.pathFor(key)
    const now = statFile(path)
    if (now.size !== v.size || now.mtimeNs !== v.mtimeNs) throw changedError(path, v, now)
  }

  assertReadable(key: string): void {
    const path = this.pathFor(key)
    try {
      closeSync(openSync(path, 'r'))
    } catch (err) {
      throw readFailed(path, err)
    }
  }

  async readWhole(key: string, v: SourceVersion): Promise<WholeObject> {
    const path = this.pathFor(key)
    let body: Buffer
    try {
      body = readFileSync(path)
    } catch (err) {
      throw readFailed(path, err)
    }
    const after = statFile(path)
    if (after.size !== v.size || after.mtimeNs !== v.mtimeNs || body.length !== v.size) throw changedError(path, v, after)
    return { body, metadata: v.metadata }
  }

  open(key: string, _v: SourceVersion, start: number, length: number, _signal: AbortSignal, md5: boolean): SourceBytes {
    const path = this.pathFor(key)
    if (length === 0) return hashed((async function* () {})(), md5)
    const stream = createReadStream(path, { start, end: start + length - 1, highWaterMark: 256 * 1024 })
    return hashed((async function* () {
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) yield chunk
      } catch (err) {
        throw readFailed(path, err)
      }
    })(), md5)
  }

  async digest(key: string, start: number, length: number, algorithm: UploadChecksum['algorithm']): Promise<string> {
    const path = this.pathFor(key)
    return await this.hashes.digest(path, start, length, algorithm).catch((err: unknown) => { throw readFailed(path, err) })
  }

  async partMd5(key: string, start: number, length: number): Promise<string> {
    return await this.hashes.md5(this.pathFor(key), start, length)
  }

  async uploadParts(): Promise<undefined> {
    return undefined
  }

  isChange(err: unknown): boolean {
    return err instanceof FileChangedError
  }
}

/**
 * The objects of another store. A version is an ETag: every read asks for it (If-Match), so an
 * object replaced while it is copied fails the read with SourceChangedError and starts over.
 * Small objects are read whole and checked against the source's digest before they are sent;
 * larger ones stream from ranged reads into the destination's parts, hashed on the way.
 */
export class RemoteObjects implements TransferSource {
  readonly inlineMax: number
  readonly etagIsMd5: boolean
  readonly digestsAhead = false
  private readonly verify: boolean
  private readonly deferMd5: boolean
  private readonly plane: PlaneSource | undefined

  /**
   * `keyOf`: the source key of a destination key. `base`: the source's URI without its key, for
   * messages. `sameStore`: the destination is this store, which copies objects itself (`bucket`
   * names the source in a copy). `inlineMax`: objects read whole into memory, at most (8 MiB: a
   * store's PUT carries its Content-MD5; a local file takes a stream as cheaply, 1 MiB).
   * `verify`: whole objects are checked against the source's digest as they are read.
   * `deferMd5`: the destination checks a write's MD5 checksum before it keeps the bytes (a local
   * file, before its rename): an object read whole is not hashed here, its promised MD5 goes with it.
   */
  constructor(
    private readonly provider: Provider,
    private readonly keyOf: (key: string) => string,
    private readonly base: string,
    options: { sameStore?: { bucket: string }; inlineMax?: number; verify?: boolean; deferMd5?: boolean; plane?: PlaneSource } = {},
  ) {
    const { sameStore } = options
    this.plane = options.plane
    this.inlineMax = options.inlineMax ?? 8 * MiB
    this.verify = options.verify ?? true
    this.deferMd5 = options.deferMd5 ?? false
    this.etagIsMd5 = (provider.capabilities.etagDigest ?? 'md5') === 'md5'
    // Set once: the engine asks for it per object and per part.
    if (sameStore) this.copySource = (key, v) => ({ bucket: sameStore.bucket, key: this.keyOf(key), ifMatch: v.etag })
  }

  readonly copySource?: (key: string, v: SourceVersion) => CopySource

  /** The source object of `key`, for messages. */
  private nameOf(key: string): string {
    return this.base + this.keyOf(key)
  }

  listed(row: ObjectRow): SourceVersion | undefined {
    if (row.etag === null || row.lastModified === null) return undefined
    return { size: row.size, mtimeNs: BigInt(row.lastModified) * 1_000_000n, etag: row.etag, metadata: {} }
  }

  async current(key: string, signal: AbortSignal): Promise<SourceVersion> {
    const d = await this.provider.stat(this.keyOf(key), signal)
    const mtimeNs = BigInt(d.lastModified?.getTime() ?? 0) * 1_000_000n
    const expected = downloadDigest(d.etag, d, this.provider.capabilities.etagDigest)
    return { size: d.size, mtimeNs, etag: d.etag, metadata: carried(d.metadata, mtimeNs), ownMetadata: d.metadata ?? {}, contentType: d.contentType, expected }
  }

  recorded(row: ObjectRow, v: SourceVersion): boolean {
    return row.size === v.size && (row.etag ?? undefined) === v.etag
  }

  assertUnchanged(): void {}

  assertReadable(): void {}

  async readWhole(key: string, v: SourceVersion, signal: AbortSignal): Promise<WholeObject> {
    const r = await this.readBody(key, v, signal)
    const body = r.body
    if (body.length !== v.size) {
      throw new SourceChangedError(`${this.nameOf(key)} was served with ${body.length} bytes, ${v.size} were listed`)
    }
    const object: WholeObject = { body, metadata: carried(r.details.metadata, v.mtimeNs), contentType: r.details.contentType }
    if (!this.verify) return object
    const expected = downloadDigest(r.details.etag ?? v.etag, r.details, this.provider.capabilities.etagDigest)
    const want = wholeDigestOf(etagPromise(expected))
    if (want?.algorithm === 'md5') object.md5 = Buffer.from(want.hex, 'hex').toString('base64')
    // Checked by the CRC the store keeps, taken as the bytes arrived; an MD5 the ETag promises
    // still goes with them as the write's checksum, which the destination checks in turn.
    if (expected.kind === 'crc') {
      checkWhole(this.nameOf(key), expected, r.crc ?? 'none')
      return object
    }
    if (want?.algorithm === 'md5' && this.deferMd5) return { ...object, unchecked: true }
    // Checked here, before anything is sent: the Content-MD5 of the request covers only the rest of the way.
    const check = await wholeCheck(this.nameOf(key), expected, body.length)
    check?.update(body)
    check?.end()
    return object
  }

  /**
   * The whole object's bytes and response facts, and the CRC of the bytes where the answer names
   * one the store keeps (details.crc, taken as they arrive): read by the data plane where there is one.
   */
  private async readBody(key: string, v: SourceVersion, signal: AbortSignal): Promise<WholeBody> {
    const job = { op: 'read-whole', key: this.keyOf(key), ifMatch: v.etag, size: v.size, name: this.nameOf(key), storeCrc: this.verify } as const
    const r = this.plane
      ? await this.plane.plane.run({ ...job, source: this.plane.source }, signal, () => undefined)
      : await readWhole(job, this.provider, signal, () => undefined)
    return { body: r.body!, details: r.details!, crc: r.crc }
  }

  fill(key: string, v: SourceVersion, start: number, length: number, options: FillOptions): FileFill | undefined {
    if (this.plane === undefined) return undefined
    const { plane, source } = this.plane
    const name = this.nameOf(key)
    const expected: ExpectedDigest = (this.verify ? v.expected : undefined) ?? { kind: 'none' }
    const isWhole = start === 0 && length === v.size
    // The whole object is checked against the source's digest, where that is a CRC the store
    // keeps or an MD5 (an MD5 ETag, Azure's Content-MD5); one of another kind (the Hub's SHA-256)
    // streams through `open`.
    const crc = expected.kind === 'crc' ? expected : undefined
    const whole = isWhole && crc === undefined ? wholeDigestOf(expected) : undefined
    if (whole !== undefined && whole.algorithm !== 'md5') return undefined
    const checked = whole !== undefined || (isWhole && crc !== undefined)
    if (checked && crc !== undefined && options.md5) return undefined // a CRC and an MD5 of one job: `open` takes both
    const digest = fillDigest(options, crc, checked)
    const range = { start, end: start + length - 1 }
    const job = { op: 'fill', source, key: this.keyOf(key), ifMatch: v.etag, range, digest, digestOffThreadOnly: digest === 'md5' && !checked, name } as const
    return {
      kind: 'fill',
      hashes: digest !== undefined,
      into: async (target) => {
        if (target.size !== length) throw new SizeMismatchError(`${name}: expected to fill ${target.size} bytes, the range holds ${length}`)
        const r = await plane.run({ ...job, fd: target.fd, path: target.path, position: target.position }, target.signal, (bytes) => {
          options.moved(bytes)
          target.moved(bytes)
        })
        // Never skipped: a job checking the whole object keeps its digest wherever it runs.
        if (checked) checkWhole(name, expected, (crc ? r.crc : r.md5) ?? 'none')
        return {
          md5: r.md5 === undefined ? undefined : Buffer.from(r.md5, 'hex'),
          crc: crc === undefined || r.crc === undefined ? undefined : { algorithm: crc.algorithm, hex: r.crc },
        }
      },
    }
  }

  /** A range; the whole object, read in one, is checked against the source's digest as it streams (where verifying). */
  open(key: string, v: SourceVersion, start: number, length: number, signal: AbortSignal, md5: boolean): SourceBytes {
    const { provider, verify } = this
    const from = this.keyOf(key)
    const name = this.nameOf(key)
    if (!(verify && start === 0 && length === v.size)) {
      return hashed((async function* () {
        if (length === 0) return
        yield* (await provider.read(from, { range: { start, end: start + length - 1 }, ifMatch: v.etag, signal })).body as AsyncIterable<Buffer>
      })(), md5)
    }
    // The whole object: checked as it streams. Where the check is an MD5, the MD5 asked for is
    // that one, not a second hash of the same bytes.
    let hex: string | undefined
    const chunks = (async function* () {
      if (length === 0) {
        if (md5) hex = createHash('md5').digest('hex')
        return
      }
      const r = await provider.read(from, { ifMatch: v.etag, signal })
      const check = await wholeCheck(name, downloadDigest(r.details.etag ?? v.etag, r.details, provider.capabilities.etagDigest), length)
      const own = md5 && check?.algorithm !== 'md5' ? createHash('md5') : undefined
      for await (const chunk of r.body as AsyncIterable<Buffer>) {
        check?.update(chunk)
        own?.update(chunk)
        yield chunk
      }
      const checked = check?.end()
      if (md5) hex = own?.digest('hex') ?? checked
    })()
    return { chunks, md5: () => hex }
  }

  async digest(): Promise<undefined> {
    return undefined
  }

  async partMd5(): Promise<undefined> {
    return undefined
  }

  async uploadParts(key: string, signal: AbortSignal): Promise<UploadParts | undefined> {
    return await this.provider.uploadParts?.(this.keyOf(key), signal)
  }

  isChange(err: unknown): boolean {
    return err instanceof SourceChangedError
  }
}

/**
 * What a fill of a range hashes as it streams: the MD5 asked for; else, where the object is
 * verified by a CRC its store keeps, that CRC, for a part's receipt or the whole object's check;
 * else an MD5 for either. (A part's MD5 receipt can be read back by the destination, so the job
 * may leave it out on the control thread; a CRC receipt never is, nor the whole object's check.)
 */
function fillDigest(options: FillOptions, crc: { algorithm: CrcAlgorithm } | undefined, checked: boolean): StreamDigest | undefined {
  if (options.md5) return 'md5'
  if (!options.receipt && !checked) return undefined
  return crc?.algorithm ?? 'md5'
}

/**
 * A running check of a whole object's bytes against the digest its store gives (a CRC it keeps,
 * an MD5 ETag, the Hub's SHA-256, Azure's Content-MD5); undefined where it gives none. `end`
 * throws on a mismatch, else returns the digest (hex).
 */
async function wholeCheck(name: string, expected: ExpectedDigest, size: number): Promise<WholeCheck | undefined> {
  if (expected.kind === 'crc') {
    const crc = await digester(expected.algorithm)
    return checkOf(name, expected, expected.algorithm, { update: (c) => crc.update(c), digest: () => crc.digest().toString('hex') })
  }
  const want = wholeDigestOf(expected)
  if (want === undefined) return undefined
  const h = wholeHash(want.algorithm, size)
  return checkOf(name, expected, want.algorithm, { update: (c) => h.update(c), digest: () => h.digest('hex') })
}

interface WholeCheck {
  algorithm: ChecksumAlgorithm | 'git-sha1'
  update: (chunk: Buffer) => void
  end: () => string
}

function checkOf(name: string, expected: ExpectedDigest, algorithm: WholeCheck['algorithm'],
  hash: { update: (chunk: Buffer) => void; digest: () => string }): WholeCheck {
  return {
    algorithm,
    update: hash.update,
    end: () => {
      const hex = hash.digest()
      checkWhole(name, expected, hex)
      return hex
    },
  }
}

/** The source's user metadata, with an `mtime` (its Last-Modified) where it has none of its own. */
function carried(metadata: Record<string, string> | undefined, mtimeNs: bigint): Record<string, string> {
  return { mtime: formatMtime(mtimeNs), ...metadata }
}
