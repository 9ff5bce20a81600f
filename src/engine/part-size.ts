import type { UploadParts } from '../providers/provider.js'

const MiB = 1024 * 1024
/** Ranges of 8 MiB: AWS's guidance for parallel GETs, and aws cli's default. */
export const defaultPartSize = 8 * MiB
/** Upload parts larger than this are not followed: too few ranges to fetch in parallel. */
export const maxAlignedPartSize = 64 * MiB
const maxParts = 10_000

export interface PartLayout {
  partSize: number
  count: number
  /** The ranges are the object's upload parts, so the multipart ETag can be checked part by part. */
  alignedWithUpload: boolean
  /** The upload layout was guessed (see inferUploadParts): a mismatch may be a wrong guess. */
  inferred: boolean
}

// Part sizes the common uploaders use: aws cli 8, rclone 5, s5cmd 50 MiB, and round numbers.
const commonPartSizes = [8, 5, 16, 50, 64, 10, 15, 32, 100, 128, 256, 512].map((n) => n * MiB)

/** At most this many part sizes are tried when checking a multipart ETag by re-reading the file. */
const maxCandidates = 16

/**
 * The part sizes an object of `size` bytes uploaded in `count` parts may have had, most likely
 * first: uploaders use equal parts of a whole number of MiB, and the size pins the part size to
 * the range [size / count, size / (count - 1)). Common sizes come first, then the rest.
 */
export function uploadPartCandidates(size: number, count: number): number[] {
  if (count < 2) return []
  const fits = (p: number): boolean => (count - 1) * p < size && size <= count * p
  const out = commonPartSizes.filter(fits)
  const lo = Math.ceil(size / count / MiB), hi = Math.floor((size - 1) / (count - 1) / MiB)
  for (let m = lo; m <= hi && out.length < maxCandidates; m++) {
    if (fits(m * MiB) && !out.includes(m * MiB)) out.push(m * MiB)
  }
  return out
}

/** The most likely upload layout (see uploadPartCandidates), flagged as inferred. */
export function inferUploadParts(size: number, count: number): UploadParts | undefined {
  const best = uploadPartCandidates(size, count)[0]
  if (best === undefined) return undefined
  const unique = uploadPartCandidates(size, count).length === 1
  // With several candidates and no common size among them, a guess is not worth following.
  return unique || commonPartSizes.includes(best) ? { count, partSize: best, inferred: true } : undefined
}

/**
 * How an object of `size` bytes is fetched. Where the store says how the object was uploaded and
 * the parts are of a usable size, the ranges follow the upload parts: each range's MD5 is then
 * one term of the multipart ETag, and the whole object is verified without a second read.
 */
export function choosePartLayout(size: number, userPartSize?: number, upload?: UploadParts): PartLayout {
  const floor = Math.ceil(size / maxParts / MiB) * MiB
  const uploadFits = upload !== undefined && upload.partSize >= MiB && upload.partSize <= maxAlignedPartSize &&
    (upload.count - 1) * upload.partSize < size && size <= upload.count * upload.partSize
  let partSize: number
  if (userPartSize !== undefined) partSize = Math.max(userPartSize, floor)
  else if (uploadFits) partSize = upload.partSize
  else partSize = Math.max(defaultPartSize, floor)
  const count = Math.max(1, Math.ceil(size / partSize))
  const alignedWithUpload = uploadFits && upload.partSize === partSize
  return { partSize, count, alignedWithUpload, inferred: alignedWithUpload && upload.inferred === true }
}

/** The smallest upload part S3 accepts (but for the last). */
export const minUploadPartSize = 5 * MiB
/**
 * Seconds one upload part should take at the measured per-request rate. A part is atomic on the
 * store: a kill loses every byte of it sent so far, so a part of a second bounds that loss to a
 * second of its request's throughput. It stays below upload-budget.ts's `secondsInFlight`, so
 * that parts fitted to the rate always fit in the bytes allowed in flight.
 */
export const secondsPerUploadPart = 1

/**
 * Part size of a new multipart upload when the user gave none: a second of `bytesPerSecond`
 * (the measured per-request rate), in whole MiB, between S3's 5 MiB and `ceiling` (the default
 * part size: a fast link gains nothing from bigger parts, and a slow one would lose more). Without
 * a measurement yet: `ceiling`.
 */
export function partSizeForRate(bytesPerSecond: number | undefined, ceiling: number): number {
  if (bytesPerSecond === undefined || !(bytesPerSecond > 0)) return ceiling
  const fit = Math.ceil((secondsPerUploadPart * bytesPerSecond) / MiB) * MiB
  return Math.max(minUploadPartSize, Math.min(ceiling, fit))
}
