import { createHash } from 'node:crypto'

/**
 * The bytes of synthetic objects: each body is one pseudo-random block of `blockSize` bytes
 * repeated (cut short at the object's size), so that any range of any object is served as views
 * of a block in memory, and no byte is generated or copied per request. An object's block is
 * chosen by its number among `distinctBlocks`: neighbours differ (no store or cache sees one body
 * over and over), and an ETag, the real MD5 of the body, is computed once per block and size.
 */
export const blockSize = 1024 * 1024

/** Blocks there are (memory: this many MiB, made as first needed), and so distinct bodies per size. */
export const distinctBlocks = 8

/**
 * The largest chunk a read hands over: about what one socket read gives, so that a fill of a
 * synthetic object pays the per-chunk costs (a write, a hash update, a count) of a download.
 */
export const chunkSize = 64 * 1024

const blocks: Buffer[] = []
const etags = new Map<string, string>()

/** The block of object number `n`, made on first use (xorshift128, seeded by the block's number). */
export function blockOf(n: number): Buffer {
  const b = n % distinctBlocks
  let block = blocks[b]
  if (block === undefined) {
    block = Buffer.allocUnsafeSlow(blockSize)
    const words = new Uint32Array(block.buffer, block.byteOffset, blockSize / 4)
    let x = 0x9e3779b9 ^ (b + 1), y = 362436069, z = 521288629, w = 88675123 + b
    for (let i = 0; i < words.length; i++) {
      const t = x ^ (x << 11)
      x = y; y = z; z = w
      w = (w ^ (w >>> 19) ^ t ^ (t >>> 8)) >>> 0
      words[i] = w
    }
    blocks[b] = block
  }
  return block
}

/**
 * The bytes `start` to `end` (inclusive) of object number `n`, as views of its block of at most
 * `chunkSize` bytes each.
 */
export function* bodyChunks(n: number, start: number, end: number): Generator<Buffer> {
  const block = blockOf(n)
  for (let at = start; at <= end;) {
    const offset = at % blockSize
    const length = Math.min(chunkSize, blockSize - offset, end - at + 1)
    yield block.subarray(offset, offset + length)
    at += length
  }
}

/** MD5 (hex) of the `size` bytes of object number `n`: computed once per block and size in a thread. */
export function md5Of(n: number, size: number): string {
  const id = `${n % distinctBlocks}:${size}`
  let etag = etags.get(id)
  if (etag === undefined) {
    const hash = createHash('md5')
    for (const chunk of wholeBlocks(n, size)) hash.update(chunk)
    etag = hash.digest('hex')
    etags.set(id, etag)
  }
  return etag
}

/** The body of object number `n` in views of whole blocks: hashing takes fewer, larger updates. */
function* wholeBlocks(n: number, size: number): Generator<Buffer> {
  const block = blockOf(n)
  for (let at = 0; at < size; at += blockSize) yield block.subarray(0, Math.min(blockSize, size - at))
}
