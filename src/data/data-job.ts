import { digester, type CrcAlgorithm, type Digester } from '../checksums/digester.js'
import { SizeMismatchError, SourceChangedError } from '../errors.js'
import type { GivenSettings } from '../providers/kind.js'
import { writeAllAt } from '../providers/local/partial-file.js'
import type { Provider, ReadResult } from '../providers/provider.js'
import type { RemoteLocation } from '../providers/registry.js'
import type { TransferOptions } from '../options.js'

/**
 * A source a data thread opens for itself: plain data (its location, the options it opens with,
 * settings given explicitly), so that each thread has its own client, connections and credentials.
 */
export interface SourceRef {
  location: RemoteLocation
  options: TransferOptions
  given?: GivenSettings
}

/**
 * What a job's bytes are hashed with as they stream: MD5 (a part's receipt, an MD5 ETag's check)
 * or the CRC the store keeps of the object (S3's full-object checksum, GCS's crc32c), whose
 * ranges' values combine into the object's (crc-combine.ts).
 */
export type StreamDigest = 'md5' | CrcAlgorithm

/**
 * One request of the data plane, as plain data: where it reads and where its bytes go. Jobs name
 * their source by the number DataPlane.source gave it.
 *
 * - `read-whole`: the whole object into memory (small objects), handed back.
 * - `fill`: a range of the object written into the open file `fd` (a partial file, written in
 *   place) from `position`, each chunk as it arrives.
 */
export type DataJob =
  | {
    op: 'read-whole'; source: number; key: string; ifMatch?: string; size: number; digest?: StreamDigest; name: string
    /** Also the CRC the answer says the store keeps of the object (details.crc), if it names one. */
    storeCrc?: boolean
  }
  | {
    op: 'fill'; source: number; key: string; ifMatch?: string; range: { start: number; end: number }
    fd: number; path: string; position: number; digest?: StreamDigest; name: string
    /**
     * The digest may be left out where the job runs on the control thread: the destination then
     * reads the bytes back on its hash threads, which costs less there than hashing them inline.
     */
    digestOffThreadOnly?: boolean
  }

/** What a job did. */
export interface DataResult {
  bytes: number
  /** MD5 (hex) of the bytes, where the job asked for it. */
  md5?: string
  /** The CRC (hex, big-endian) of the bytes, where the job asked for one (digest, storeCrc). */
  crc?: string
  /** read-whole: the object's bytes, in a buffer of their own (it moves between threads uncopied). */
  body?: Buffer
  /** read-whole: facts from the response headers. */
  details?: ReadResult['details']
}

/** Bytes of a job that moved since the last report: counted, and a sign of life for its stall watch. */
export type BytesMoved = (bytes: number) => void

/**
 * Runs `job` against `provider` (opened in this thread), reporting bytes as they land. Failures
 * reject with soaker errors: the provider's for the read, LocalWriteError for the file,
 * SizeMismatchError or SourceChangedError when the object's length is not the one expected.
 */
export async function runJob(job: DataJob, provider: Provider, signal: AbortSignal, moved: BytesMoved): Promise<DataResult> {
  return job.op === 'read-whole' ? await readWhole(job, provider, signal, moved) : await fill(job, provider, signal, moved)
}

/**
 * A read-whole job's work, wherever it runs: on a data thread, or called directly by a source
 * that has no data plane (a copy between buckets), which needs no source number.
 */
export async function readWhole(job: Omit<Extract<DataJob, { op: 'read-whole' }>, 'source'>, provider: Provider, signal: AbortSignal,
  moved: BytesMoved): Promise<DataResult> {
  const r = await provider.read(job.key, { ifMatch: job.ifMatch, signal })
  const chunks: Buffer[] = []
  let n = 0
  const hash = await digesterOf(job.digest)
  const crcAlgorithm = job.storeCrc ? r.details.crc?.algorithm : undefined
  const crc = crcAlgorithm === job.digest ? undefined : await digesterOf(crcAlgorithm)
  for await (const c of r.body as AsyncIterable<Buffer>) {
    chunks.push(c)
    hash?.update(c)
    crc?.update(c)
    n += c.length
    moved(c.length)
  }
  if (n !== job.size) throw new SourceChangedError(`${job.name} was served with ${n} bytes, ${job.size} were listed`)
  // A buffer of its own: a chunk may share its memory with others, which cannot be handed over.
  const body = Buffer.allocUnsafeSlow(n)
  let at = 0
  for (const c of chunks) at += c.copy(body, at)
  return { bytes: n, body, details: r.details, ...digestsOf(job.digest, hash), ...(crc && { crc: crc.digest().toString('hex') }) }
}

async function digesterOf(algorithm: StreamDigest | undefined): Promise<Digester | undefined> {
  return algorithm === undefined ? undefined : await digester(algorithm)
}

/** The result's field of a job's digest: `md5` or `crc`. */
function digestsOf(algorithm: StreamDigest | undefined, hash: Digester | undefined): Pick<DataResult, 'md5' | 'crc'> {
  if (algorithm === undefined || hash === undefined) return {}
  const hex = hash.digest().toString('hex')
  return algorithm === 'md5' ? { md5: hex } : { crc: hex }
}

async function fill(job: Extract<DataJob, { op: 'fill' }>, provider: Provider, signal: AbortSignal, moved: BytesMoved): Promise<DataResult> {
  const length = job.range.end - job.range.start + 1
  const hash = await digesterOf(job.digest)
  let n = 0
  if (length > 0) {
    const r = await provider.read(job.key, { range: job.range, ifMatch: job.ifMatch, signal })
    for await (const chunk of r.body as AsyncIterable<Buffer>) {
      // More than asked for would land on the next part of a file assembled in place.
      if (n + chunk.length > length) throw new SizeMismatchError(`${job.name}: expected ${length} bytes, received ${n + chunk.length} or more`)
      writeAllAt(job.fd, job.path, chunk, job.position + n)
      hash?.update(chunk)
      n += chunk.length
      moved(chunk.length)
    }
  }
  if (n !== length) throw new SizeMismatchError(`${job.name}: expected ${length} bytes, received ${n}`)
  return { bytes: n, ...digestsOf(job.digest, hash) }
}
