import { createHash, type Hash } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { crc32c } from '@node-rs/crc32'
import { createCRC64, type IHasher } from 'hash-wasm'
import { Crc64NvmeJs } from './crc64nvme-js.js'

/**
 * The digests soaker computes as bytes stream, named as S3 names its checksum algorithms
 * (`x-amz-checksum-crc64nvme`), in lower case. A transfer hands each chunk it reads to the
 * digesters it needs, so that no byte is read twice to be hashed (issue 14).
 */
export type ChecksumAlgorithm = 'md5' | 'sha256' | 'crc32' | 'crc32c' | 'crc64nvme'

/** The CRCs: their values of two ranges combine into the value of both (crc-combine.ts). */
export type CrcAlgorithm = 'crc32' | 'crc32c' | 'crc64nvme'

export const checksumAlgorithms: readonly ChecksumAlgorithm[] = ['md5', 'sha256', 'crc32', 'crc32c', 'crc64nvme']

/** Bytes in each algorithm's digest. */
export const digestSize: Readonly<Record<ChecksumAlgorithm, number>> = {
  md5: 16, sha256: 32, crc32: 4, crc32c: 4, crc64nvme: 8,
}

/** A digest computed as the bytes stream by, fed in the order they come. */
export interface Digester {
  /** Feeds the next bytes. Throws once digest() has been called. */
  update(chunk: Uint8Array): void
  /**
   * The digest of every byte fed so far, big-endian: for a CRC, its value as an unsigned integer
   * of digestSize bytes, most significant first, which is what S3 base64-encodes. Called once:
   * the digester is spent after it, and a second call throws.
   */
  digest(): Buffer
}

/**
 * A new digester of `algorithm`. Asynchronous because CRC64NVME runs in WebAssembly
 * (hash-wasm: 1,430 MB/s per core here against 448 for the SDK's JavaScript, bench/checksums.ts)
 * and a WebAssembly instance is made asynchronously; a spent digester's instance serves the next
 * one, so most calls make none.
 */
export async function digester(algorithm: ChecksumAlgorithm): Promise<Digester> {
  switch (algorithm) {
    case 'md5':
    case 'sha256':
      return new HashDigester(createHash(algorithm))
    case 'crc32':
      return new Crc32Digester(crc32)
    case 'crc32c':
      return new Crc32Digester(crc32cOf)
    case 'crc64nvme':
      return hasWebAssembly() ? new Crc64NvmeWasmDigester(await crc64Hasher()) : new Crc64NvmeJsDigester()
  }
}

/** False under `node --jitless`, which leaves WebAssembly out. */
function hasWebAssembly(): boolean {
  return (globalThis as { WebAssembly?: unknown }).WebAssembly !== undefined
}

function spentError(): Error {
  return new Error('The digester was used after digest(): it computes one digest')
}

class HashDigester implements Digester {
  // node:crypto throws ERR_CRYPTO_HASH_FINALIZED itself when a Hash is used after digest().
  constructor(private readonly hash: Hash) {}
  update(chunk: Uint8Array): void {
    this.hash.update(chunk)
  }
  digest(): Buffer {
    return this.hash.digest()
  }
}

/** @node-rs/crc32 takes Buffers; a Uint8Array becomes a view of the same bytes, not a copy. */
function crc32cOf(chunk: Uint8Array, crc: number): number {
  return crc32c(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), crc)
}

/** CRC32 or CRC32C: `step` continues a finished CRC over more bytes (zlib's and @node-rs/crc32's convention). */
class Crc32Digester implements Digester {
  private crc = 0
  private spent = false
  constructor(private readonly step: (chunk: Uint8Array, crc: number) => number) {}
  update(chunk: Uint8Array): void {
    if (this.spent) throw spentError()
    this.crc = this.step(chunk, this.crc)
  }
  digest(): Buffer {
    if (this.spent) throw spentError()
    this.spent = true
    const out = Buffer.allocUnsafe(4)
    out.writeUInt32BE(this.crc >>> 0, 0)
    return out
  }
}

// CRC-64/NVME is hash-wasm's CRC-64 with this reflected polynomial (its init and final XOR are
// all ones, as NVMe's are).
export const nvmePolynomial = '9a6c9329ac4bc9b5'

// A WebAssembly instance costs ~60 µs to make, and memory of its own: a spent digester's instance
// is kept for the next digester, up to maxIdle idle ones (the rest are left to the collector).
const idleHashers: IHasher[] = []
const maxIdle = 64

async function crc64Hasher(): Promise<IHasher> {
  const idle = idleHashers.pop()
  return idle !== undefined ? idle.init() : await createCRC64(nvmePolynomial)
}

class Crc64NvmeWasmDigester implements Digester {
  constructor(private hasher: IHasher | undefined) {}
  update(chunk: Uint8Array): void {
    if (this.hasher === undefined) throw spentError()
    this.hasher.update(chunk)
  }
  digest(): Buffer {
    const hasher = this.hasher
    if (hasher === undefined) throw spentError()
    this.hasher = undefined
    const bytes = hasher.digest('binary') // a copy, out of the instance's memory
    const out = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    if (idleHashers.length < maxIdle) idleHashers.push(hasher)
    return out
  }
}

class Crc64NvmeJsDigester implements Digester {
  private crc = new Crc64NvmeJs()
  private spent = false
  update(chunk: Uint8Array): void {
    if (this.spent) throw spentError()
    this.crc.update(chunk)
  }
  digest(): Buffer {
    if (this.spent) throw spentError()
    this.spent = true
    return this.crc.digest()
  }
}
