import { digestSize, type CrcAlgorithm } from './digester.js'

/**
 * The CRC of A‖B from the CRC of A, the CRC of B and B's length: ranges of an object hashed apart
 * (in parallel, out of order, by different readers) make the object's full CRC, S3's full-object
 * CRC64NVME, CRC32 or CRC32C, with no byte read twice.
 *
 * Why it works: each of these CRCs is the remainder mod P of the message's polynomial times x^w
 * (w the CRC's width), with the register starting at all ones and the result XORed with all ones.
 * Appending B multiplies A's contribution, ones included, by x^(8·|B|); B's own ones at start and
 * end cancel A's final XOR and add the new one. What is left is
 *
 *     crc(A‖B) = crc(A) · x^(8·|B|) mod P  ⊕  crc(B)
 *
 * which holds for any CRC whose initial value equals its final XOR. x^(8·|B|) mod P is a product
 * of the precomputed x^(2^k) mod P over the bits of 8·|B|: about log2(|B|) multiplications, never
 * a pass over |B| zero bytes.
 *
 * Polynomials are in reflected form, as these CRCs shift: the top bit of a w-bit value is the
 * coefficient of x^0, the bottom bit that of x^(w-1).
 */

interface Crc {
  /** The reflected polynomial, x^w's term left out. */
  poly: bigint
  /** x^0: the top bit. */
  one: bigint
  /** x^(2^k) mod P at index k, grown as longer lengths ask for more. */
  powers: bigint[]
  /** x^(8·length) mod P of lengths seen lately: parts of one object are mostly one size. */
  shifts: Map<number, bigint>
}

function crcOf(width: number, poly: bigint): Crc {
  const one = 1n << BigInt(width - 1)
  return { poly, one, powers: [one >> 1n], shifts: new Map() }
}

const crcs: Record<CrcAlgorithm, Crc> = {
  crc32: crcOf(32, 0xedb88320n),
  crc32c: crcOf(32, 0x82f63b78n),
  crc64nvme: crcOf(64, 0x9a6c9329ac4bc9b5n),
}

const maxCachedShifts = 16

/** a · b mod P. */
function multiply(crc: Crc, a: bigint, b: bigint): bigint {
  let product = 0n
  // a's coefficients from x^0 up, while b runs through b·x^0, b·x^1, ...
  for (let bit = crc.one; bit !== 0n && a !== 0n; bit >>= 1n) {
    if (a & bit) {
      product ^= b
      a ^= bit
    }
    b = b & 1n ? (b >> 1n) ^ crc.poly : b >> 1n
  }
  return product
}

/** x^(8·length) mod P: what a CRC is multiplied by when `length` bytes follow its bytes. */
function shiftBy(crc: Crc, length: number): bigint {
  const cached = crc.shifts.get(length)
  if (cached !== undefined) return cached
  let result = crc.one
  // 8·length = length·2^3: bit j of length stands for x^(2^(j + 3)).
  for (let k = 3, n = BigInt(length); n !== 0n; k++, n >>= 1n) {
    while (crc.powers.length <= k) {
      const last = crc.powers[crc.powers.length - 1]!
      crc.powers.push(multiply(crc, last, last))
    }
    if (n & 1n) result = multiply(crc, crc.powers[k]!, result)
  }
  if (crc.shifts.size >= maxCachedShifts) crc.shifts.clear()
  crc.shifts.set(length, result)
  return result
}

function toValue(algorithm: CrcAlgorithm, digest: Buffer, name: string): bigint {
  const size = digestSize[algorithm]
  if (digest.length !== size) {
    throw new RangeError(`Expected \`${name}\` to be a ${algorithm} digest of ${size} bytes, got ${digest.length} bytes`)
  }
  return size === 8 ? digest.readBigUInt64BE(0) : BigInt(digest.readUInt32BE(0))
}

function toDigest(algorithm: CrcAlgorithm, value: bigint): Buffer {
  const out = Buffer.allocUnsafe(digestSize[algorithm])
  if (out.length === 8) out.writeBigUInt64BE(value, 0)
  else out.writeUInt32BE(Number(value), 0)
  return out
}

function checkLength(length: number, name: string): void {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`Expected \`${name}\` to be a whole number of bytes, got ${length}`)
  }
}

/**
 * The CRC of A‖B, as digests are written (big-endian, digestSize bytes): `crcA` of A, `crcB` of
 * B, and `lengthB`, B's length in bytes. Throws RangeError for a digest of the wrong size or a
 * length that is not a whole number of bytes.
 */
export function combine(algorithm: CrcAlgorithm, crcA: Buffer, crcB: Buffer, lengthB: number): Buffer {
  checkLength(lengthB, 'lengthB')
  const crc = crcs[algorithm]
  const a = toValue(algorithm, crcA, 'crcA')
  const b = toValue(algorithm, crcB, 'crcB')
  return toDigest(algorithm, multiply(crc, shiftBy(crc, lengthB), a) ^ b)
}

/** A range's CRC and its length in bytes. */
export interface CrcRange {
  digest: Buffer
  length: number
}

/**
 * The CRC of the ranges' bytes one after another, in the order given: the full-object CRC of an
 * object from its parts' CRCs. No ranges make the CRC of nothing, all zeros. Throws as combine().
 */
export function combineRanges(algorithm: CrcAlgorithm, ranges: Iterable<CrcRange>): Buffer {
  const crc = crcs[algorithm]
  let value = 0n
  let index = 0
  for (const range of ranges) {
    checkLength(range.length, `ranges[${index}].length`)
    const next = toValue(algorithm, range.digest, `ranges[${index}].digest`)
    value = multiply(crc, shiftBy(crc, range.length), value) ^ next
    index++
  }
  return toDigest(algorithm, value)
}
