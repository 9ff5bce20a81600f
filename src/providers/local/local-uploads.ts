import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import { ChecksumMismatchError, NotFoundError, UsageError } from '../../errors.js'
import { crcReceipt } from '../../checksums/part-receipt.js'
import { isFileFill, type Body, type Crc, type FileFill, type MultipartUploads, type PutOptions, type UploadedPart } from '../provider.js'
import { localError } from './local-files.js'
import { checkMd5, receiveBody, type LocalWrites, type ReadBackAlgorithm } from './local-writes.js'
import { PartialFile } from './partial-file.js'
import { checkpointEveryMs, UploadFile } from './upload-file.js'
import { appendLog, layoutEntry, partEntry, readLog, sealLog, unhashedPart } from './upload-log.js'

/**
 * Uploads in parts into one partial file, each part written in place at its offset as it
 * arrives, in any order and in parallel. Beside the file, a log (upload-log.ts) records the
 * layout, a part with its MD5 once the part's bytes are synced, and checkpoints of the parts
 * still arriving (UploadFile): what a run after a crash finds of the upload (listParts, progress),
 * so that a kill loses seconds of a part, not parts. Complete checks every part is there with the
 * digest the caller has for it, then publishes the file; abort deletes both.
 */
export class LocalUploads implements MultipartUploads {
  readonly listsDigests = true
  readonly abortDeletes = true
  /** The uploads this instance has open (or is opening): each one's file and checkpoints. */
  private readonly uploads = new Map<string, UploadFile | Promise<UploadFile>>()

  /** `logDir`: where the uploads' logs are kept; absent: beside their partial files. */
  constructor(private readonly writes: LocalWrites, private readonly everyMs = checkpointEveryMs, private readonly logDir?: string) {}

  /**
   * The partial file of the uploads in parts of `key`: one name per path, whatever the upload
   * (an upload is given up before another of the same path starts).
   */
  private partialOf(key: string): string {
    return this.writes.partialOf(this.writes.pathOf(key))
  }

  /** The log of upload `uploadId` into `partial`. */
  private logOf(partial: string, uploadId: string): string {
    return join(this.logDir ?? dirname(partial), `${basename(partial)}.${uploadId}.parts`)
  }

  async create(key: string, options: { size?: number; partSize?: number; signal: AbortSignal }): Promise<string> {
    const { size, partSize } = options
    if (size === undefined || partSize === undefined || partSize <= 0) {
      throw new UsageError(`Expected the size and part size of an upload in parts to a local file, got size ${size}, part size ${partSize} (${key})`)
    }
    const path = await this.writes.prepare(key)
    const uploadId = randomBytes(8).toString('hex')
    const partial = this.writes.partialOf(path)
    const log = this.logOf(partial, uploadId)
    if (this.logDir !== undefined) await mkdir(this.logDir, { recursive: true }).catch((err: unknown) => { throw localError(err, this.logDir!) })
    const file = await PartialFile.create(partial)
    try {
      file.setLength(size)
      await file.datasync()
      await appendLog(log, layoutEntry(size, partSize))
    } catch (err) {
      await file.discard()
      await rm(log, { force: true }).catch(() => undefined)
      throw err
    }
    this.uploads.set(uploadId, new UploadFile(partial, log, size, partSize, file, new Map(), this.everyMs))
    return uploadId
  }

  /** The open upload; opened from its log and partial file when this instance has not (a run after a crash). */
  private async upload(key: string, uploadId: string): Promise<UploadFile> {
    const known = this.uploads.get(uploadId)
    if (known) return await known
    const opening = this.open(key, uploadId)
    this.uploads.set(uploadId, opening)
    try {
      const upload = await opening
      if (this.uploads.get(uploadId) === opening) this.uploads.set(uploadId, upload)
      return upload
    } catch (err) {
      if (this.uploads.get(uploadId) === opening) this.uploads.delete(uploadId)
      throw err
    }
  }

  private async open(key: string, uploadId: string): Promise<UploadFile> {
    const partial = this.partialOf(key)
    const logPath = this.logOf(partial, uploadId)
    const log = await readLog(logPath, `${uploadId} of \`${key}\``)
    const file = PartialFile.reopen(partial, log.size)
    if (file === undefined) {
      throw new NotFoundError(`No upload ${uploadId} of \`${key}\`: its partial file \`${partial}\` is gone or not the one written`)
    }
    try {
      await sealLog(logPath, log)
    } catch (err) {
      file.close()
      throw err
    }
    return new UploadFile(partial, logPath, log.size, log.partSize, file, log.progress, this.everyMs)
  }

  /**
   * Writes part `partNumber` from its byte `offset` (what an earlier run left durable, see
   * progress): the body is the rest. Returns the part's receipt (checksums/part-receipt.ts),
   * logged once its bytes are synced: the CRC a FileFill of the whole part took as its bytes
   * streamed, where it took one (the object is verified by a CRC the store keeps); else the MD5
   * (hex) of the whole part; or `unhashed` for a FileFill that takes no digest (a transfer that
   * does not verify) of a whole part. The MD5 is the FileFill's own, taken as its bytes streamed;
   * else read back from the file by the HashPool where there is one; else inline, as the body
   * streams, where the body is the whole part. An MD5 `checksum` is that of the body.
   */
  async uploadPart(key: string, uploadId: string, partNumber: number, body: Body,
    options: Omit<PutOptions, 'metadata'> & { offset?: number }): Promise<string> {
    const upload = await this.upload(key, uploadId)
    const { start, length } = upload.part(partNumber, key)
    const offset = options.offset ?? 0
    if (!Number.isInteger(offset) || offset < 0 || offset > length || options.size !== length - offset) {
      const held = offset === 0 ? '' : ` of which ${offset} held already`
      const layout = `${upload.size} in parts of ${upload.partSize}`
      throw new UsageError(`Expected part ${partNumber} of \`${key}\` to hold ${length} bytes of ${layout}${held}, got ${options.size}`)
    }
    const what = `${key} (part ${partNumber})`
    const bodyIsPart = offset === 0
    const fill = isFileFill(body)
    // The body is hashed as it streams here when its MD5 is to be checked, or when it is the
    // whole part and no HashPool takes the part's MD5 off the event loop.
    const hash = options.checksum?.algorithm === 'md5' || (bodyIsPart && !this.writes.hashesOffThread)
    const { file, attempt } = upload.begin(partNumber, offset, options.checksum?.algorithm !== 'md5')
    let crc: Crc | undefined
    try {
      const received = fill ? tellingCrc(body, (c) => { crc = c }) : body
      const sent = await receiveBody(file, received, start + offset, options.size, what, options.signal, {
        hash, progress: (written) => { attempt.bytes = offset + written },
      })
      if (sent) checkMd5(what, sent, options.checksum)
      else if (options.checksum?.algorithm === 'md5') throw new ChecksumMismatchError(`${what}: its bytes came without the MD5 they were to be checked against`)
      const receipt = bodyIsPart && crc ? crcReceipt(crc)
        : bodyIsPart && sent ? sent.toString('hex')
        : bodyIsPart && fill && !body.hashes ? unhashedPart
        : this.writes.digest(upload.path, start, length, 'md5')
      // Synced before the log names the part: a logged part survives a power cut.
      const [, logged] = await Promise.all([file.datasync(), receipt])
      await appendLog(upload.logPath, partEntry(partNumber, length, logged))
      return logged
    } finally {
      upload.end(partNumber, attempt)
    }
  }

  async listParts(key: string, uploadId: string, _signal: AbortSignal): Promise<UploadedPart[]> {
    const upload = await this.upload(key, uploadId)
    const { parts } = await readLog(upload.logPath, `${uploadId} of \`${key}\``)
    return [...parts].sort((a, b) => a[0] - b[0]).map(([partNumber, p]) => ({ partNumber, size: p.size, etag: p.receipt }))
  }

  /**
   * How far each unfinished part got durably (its checkpoints in the log): part number to bytes
   * from its start. A finished part is not in it; nor is a count the part cannot hold.
   */
  async progress(key: string, uploadId: string, _signal: AbortSignal): Promise<Map<number, number>> {
    const upload = await this.upload(key, uploadId)
    const log = await readLog(upload.logPath, `${uploadId} of \`${key}\``)
    const arrived = new Map<number, number>()
    for (const [partNumber, bytes] of log.progress) {
      const length = Math.min(upload.partSize, upload.size - (partNumber - 1) * upload.partSize)
      if (!log.parts.has(partNumber) && partNumber >= 1 && bytes > 0 && bytes <= length) arrived.set(partNumber, bytes)
    }
    return arrived
  }

  /** The digest of a range of the upload's bytes, read back from its partial file. */
  async digest(key: string, uploadId: string, start: number, length: number, algorithm: ReadBackAlgorithm, _signal: AbortSignal): Promise<string> {
    const upload = await this.upload(key, uploadId)
    if (start < 0 || length < 0 || start + length > upload.size) {
      throw new UsageError(`Expected a range within the ${upload.size} bytes of \`${key}\`, got ${length} bytes from byte ${start}`)
    }
    return await this.writes.digest(upload.path, start, length, algorithm)
  }

  async complete(key: string, uploadId: string, parts: Array<{ partNumber: number; etag: string }>, _signal: AbortSignal,
    object: { metadata?: Record<string, string> } = {}): Promise<string | undefined> {
    const upload = await this.upload(key, uploadId)
    const log = await readLog(upload.logPath, `${uploadId} of \`${key}\``)
    const count = Math.ceil(log.size / log.partSize)
    if (parts.length !== count) throw new UsageError(`Expected all ${count} parts of \`${key}\` to complete it, got ${parts.length}`)
    for (const p of parts) {
      const held = log.parts.get(p.partNumber)
      if (held === undefined) throw new NotFoundError(`Part ${p.partNumber} of \`${key}\` was never written (upload ${uploadId})`)
      if (held.receipt !== p.etag) throw new ChecksumMismatchError(`Part ${p.partNumber} of \`${key}\` has receipt ${held.receipt}, the caller's is ${p.etag}`)
    }
    await this.writes.publish(await upload.take(), this.writes.pathOf(key), object.metadata)
    this.uploads.delete(uploadId)
    await removeFile(upload.logPath)
    return undefined
  }

  async abort(key: string, uploadId: string, _signal: AbortSignal): Promise<void> {
    const known = this.uploads.get(uploadId)
    this.uploads.delete(uploadId)
    const upload = await Promise.resolve(known).catch(() => undefined)
    await upload?.close()
    const partial = this.partialOf(key)
    const log = this.logOf(partial, uploadId)
    // Without its log the partial file is not this upload's (or it is gone already): it is left alone.
    if (!existsSync(log)) return
    await removeFile(partial)
    await removeFile(log)
  }

  /** Closes the file of every upload open here and stops their checkpoints. */
  close(): void {
    for (const upload of this.uploads.values()) {
      if (upload instanceof UploadFile) upload.closeNow()
      else upload.then((u) => u.closeNow(), () => undefined)
    }
    this.uploads.clear()
  }
}

/** `fill`, telling `crc` of the CRC it took of its bytes, if it took one (receiveBody hands back only an MD5). */
function tellingCrc(fill: FileFill, crc: (c: Crc) => void): FileFill {
  return {
    ...fill,
    into: async (target) => {
      const r = await fill.into(target)
      if (r.crc) crc(r.crc)
      return r
    },
  }
}

async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true }).catch((err: unknown) => { throw localError(err, path) })
}
