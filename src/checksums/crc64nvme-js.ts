/**
 * CRC-64/NVME in plain JavaScript, for where Node runs without WebAssembly (`node --jitless`),
 * and so hash-wasm's, which digester.ts uses elsewhere, cannot load: the reflected
 * polynomial 0x9a6c9329ac4bc9b5, initial value and final XOR all ones (the check value of ASCII
 * "123456789" is 0xae8b14860a799888).
 *
 * JavaScript has no 64-bit integer short of BigInt, which allocates, so the register is two
 * 32-bit halves (`lo` holds bits 0–31, `hi` bits 32–63) and every table is a pair of Int32Arrays.
 * The bytes go through slicing-by-8: table k maps a byte to the CRC of that byte followed by k
 * zero bytes, so eight bytes cost eight look-ups and one shift of the register instead of eight
 * shifts. Slicing-by-16 measured no faster here (bench/checksums.ts: 882 MB/s against 911).
 */

const polyLo = 0xac4bc9b5 | 0
const polyHi = 0x9a6c9329 | 0

/**
 * `slices` tables of 256 entries each, table k at [k·256, k·256 + 256): the low and the high
 * halves of the CRC (no conditioning) of byte i followed by k zero bytes.
 */
function makeTables(slices: number): { lo: Int32Array; hi: Int32Array } {
  const lo = new Int32Array(256 * slices)
  const hi = new Int32Array(256 * slices)
  for (let i = 0; i < 256; i++) {
    let l = i
    let h = 0
    for (let bit = 0; bit < 8; bit++) {
      const carry = l & 1
      l = (l >>> 1) | (h << 31)
      h = h >>> 1
      if (carry) {
        l ^= polyLo
        h ^= polyHi
      }
    }
    lo[i] = l
    hi[i] = h
  }
  // One more zero byte: shift the previous table's entry right by 8 and fold in its low byte.
  for (let k = 1; k < slices; k++) {
    for (let i = 0; i < 256; i++) {
      const l = lo[(k - 1) * 256 + i]!
      const h = hi[(k - 1) * 256 + i]!
      const b = l & 0xff
      lo[k * 256 + i] = ((l >>> 8) | (h << 24)) ^ lo[b]!
      hi[k * 256 + i] = (h >>> 8) ^ hi[b]!
    }
  }
  return { lo, hi }
}

const tables = makeTables(8)

/** A running CRC-64/NVME, eight bytes a step. */
export class Crc64NvmeJs {
  // The register before the final XOR: all ones at the start.
  private lo = -1
  private hi = -1

  update(d: Uint8Array): void {
    const { lo: tl, hi: th } = tables
    let l = this.lo
    let h = this.hi
    let i = 0
    const whole = d.length - (d.length % 8)
    for (; i < whole; i += 8) {
      // The register meets the next eight bytes; byte j then passes 7 - j zero bytes: table 7 - j.
      const a = l ^ (d[i]! | (d[i + 1]! << 8) | (d[i + 2]! << 16) | (d[i + 3]! << 24))
      const b = h ^ (d[i + 4]! | (d[i + 5]! << 8) | (d[i + 6]! << 16) | (d[i + 7]! << 24))
      const i7 = 7 * 256 + (a & 0xff), i6 = 6 * 256 + ((a >>> 8) & 0xff)
      const i5 = 5 * 256 + ((a >>> 16) & 0xff), i4 = 4 * 256 + (a >>> 24)
      const i3 = 3 * 256 + (b & 0xff), i2 = 2 * 256 + ((b >>> 8) & 0xff)
      const i1 = 256 + ((b >>> 16) & 0xff), i0 = b >>> 24
      l = tl[i7]! ^ tl[i6]! ^ tl[i5]! ^ tl[i4]! ^ tl[i3]! ^ tl[i2]! ^ tl[i1]! ^ tl[i0]!
      h = th[i7]! ^ th[i6]! ^ th[i5]! ^ th[i4]! ^ th[i3]! ^ th[i2]! ^ th[i1]! ^ th[i0]!
    }
    // The last few bytes one at a time.
    for (; i < d.length; i++) {
      const b = (l ^ d[i]!) & 0xff
      l = ((l >>> 8) | (h << 24)) ^ tl[b]!
      h = (h >>> 8) ^ th[b]!
    }
    this.lo = l
    this.hi = h
  }

  /** The eight bytes of the CRC, big-endian, as S3 sends it (base64 of these). */
  digest(): Buffer {
    const out = Buffer.allocUnsafe(8)
    out.writeUInt32BE(~this.hi >>> 0, 0)
    out.writeUInt32BE(~this.lo >>> 0, 4)
    return out
  }
}
