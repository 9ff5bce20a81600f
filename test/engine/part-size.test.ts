import { describe, expect, test } from 'vitest'
import { choosePartLayout, defaultPartSize, inferUploadParts, maxAlignedPartSize, partSizeForRate, type PartLayout } from '../../src/engine/part-size.js'
import type { UploadParts } from '../../src/providers/provider.js'

const MiB = 1024 * 1024
const GiB = 1024 * MiB
const TiB = 1024 * GiB

describe('inferUploadParts', () => {
  test.each<[string, number, number, number | undefined]>([
    ['aws cli: 1 GiB in 8 MiB parts', GiB, 128, 8 * MiB],
    ['aws cli: 100,000,000 bytes in 12 parts', 100_000_000, 12, 8 * MiB],
    ['aws cli: 8 MiB + 1 byte in 2 parts', 8 * MiB + 1, 2, 8 * MiB],
    ['rclone: 1 GiB in 5 MiB parts', GiB, 205, 5 * MiB],
    ['rclone: 12 MiB in 3 parts', 12 * MiB, 3, 5 * MiB],
    ['s5cmd: 1 GiB in 50 MiB parts', GiB, 21, 50 * MiB],
    ['16 MiB parts of 1 GiB', GiB, 64, 16 * MiB],
    ['the only whole MiB that fits, though uncommon: 6 MiB', 36 * MiB + 100, 7, 6 * MiB],
    ['the only whole MiB that fits, though uncommon: 1 MiB', 3 * MiB, 3, MiB],
    // Several sizes fit two parts of 9 MiB (5 and 8 among them): aws cli's 8 MiB comes first.
    ['ambiguous, common sizes fit: 9 MiB in 2 parts', 9 * MiB, 2, 8 * MiB],
    // 2 and 3 MiB both fit and neither is common: no guess.
    ['ambiguous, no common size: 3 MiB + 100 in 2 parts', 3 * MiB + 100, 2, undefined],
    ['no whole MiB fits: 100 bytes in 2 parts', 100, 2, undefined],
    ['no whole MiB fits: 2.5 MiB in 4 parts', 2.5 * MiB, 4, undefined],
    ['a count of 1 says nothing', GiB, 1, undefined],
    ['a count of 0 says nothing', GiB, 0, undefined],
  ])('%s', (_label, size, count, partSize) => {
    const got = inferUploadParts(size, count)
    if (partSize === undefined) {
      expect(got).toBeUndefined()
    } else {
      expect(got).toEqual({ count, partSize, inferred: true })
      // The guess is consistent with the size: count - 1 full parts and a last one of 1..partSize bytes.
      expect((count - 1) * partSize).toBeLessThan(size)
      expect(count * partSize).toBeGreaterThanOrEqual(size)
    }
  })
})

describe('choosePartLayout', () => {
  const told = (count: number, partSize: number): UploadParts => ({ count, partSize })
  const guessed = (count: number, partSize: number): UploadParts => ({ count, partSize, inferred: true })

  test.each<[string, number, number | undefined, UploadParts | undefined, PartLayout]>([
    ['an empty object is one part of the default size', 0, undefined, undefined,
      { partSize: defaultPartSize, count: 1, alignedWithUpload: false, inferred: false }],
    ['a small object is one part', 1000, undefined, undefined,
      { partSize: 8 * MiB, count: 1, alignedWithUpload: false, inferred: false }],
    ['100 MiB, layout unknown: 8 MiB ranges', 100 * MiB, undefined, undefined,
      { partSize: 8 * MiB, count: 13, alignedWithUpload: false, inferred: false }],
    ['1 GiB in aws cli parts, told by the store: follows them', GiB, undefined, told(128, 8 * MiB),
      { partSize: 8 * MiB, count: 128, alignedWithUpload: true, inferred: false }],
    ['1 GiB in rclone parts, guessed: follows them, marked inferred', GiB, undefined, guessed(205, 5 * MiB),
      { partSize: 5 * MiB, count: 205, alignedWithUpload: true, inferred: true }],
    ['100,000,000 bytes in 12 guessed parts: 8 MiB, aligned', 100_000_000, undefined, guessed(12, 8 * MiB),
      { partSize: 8 * MiB, count: 12, alignedWithUpload: true, inferred: true }],
    ['upload parts of exactly 64 MiB are followed', GiB, undefined, told(16, 64 * MiB),
      { partSize: 64 * MiB, count: 16, alignedWithUpload: true, inferred: false }],
    ['upload parts above 64 MiB are not followed', GiB, undefined, told(8, 128 * MiB),
      { partSize: 8 * MiB, count: 128, alignedWithUpload: false, inferred: false }],
    ['upload parts below 1 MiB are not followed', 2 * MiB, undefined, told(4, 512 * 1024),
      { partSize: 8 * MiB, count: 1, alignedWithUpload: false, inferred: false }],
    ['an upload layout that does not match the size is not followed', GiB, undefined, told(100, 8 * MiB),
      { partSize: 8 * MiB, count: 128, alignedWithUpload: false, inferred: false }],
    ['the user part size wins over the upload parts', GiB, 16 * MiB, told(128, 8 * MiB),
      { partSize: 16 * MiB, count: 64, alignedWithUpload: false, inferred: false }],
    ['a user part size equal to the upload parts is aligned', GiB, 8 * MiB, told(128, 8 * MiB),
      { partSize: 8 * MiB, count: 128, alignedWithUpload: true, inferred: false }],
    ['the user part size, layout unknown', 100 * MiB, 16 * MiB, undefined,
      { partSize: 16 * MiB, count: 7, alignedWithUpload: false, inferred: false }],
    // 1 TiB / 10,000 = 104.86 MiB, rounded up to whole MiB: 105 MiB, 9,987 parts.
    ['1 TiB: the default is raised to stay within 10,000 parts', TiB, undefined, undefined,
      { partSize: 105 * MiB, count: 9987, alignedWithUpload: false, inferred: false }],
    ['1 TiB: a small user part size is raised too', TiB, 8 * MiB, undefined,
      { partSize: 105 * MiB, count: 9987, alignedWithUpload: false, inferred: false }],
    ['5 TiB, the S3 maximum: at most 10,000 parts', 5 * TiB, undefined, undefined,
      { partSize: 525 * MiB, count: 9987, alignedWithUpload: false, inferred: false }],
    ['78.125 GiB is exactly at the 10,000-part floor of 8 MiB', 10_000 * 8 * MiB, undefined, undefined,
      { partSize: 8 * MiB, count: 10_000, alignedWithUpload: false, inferred: false }],
  ])('%s', (_label, size, user, upload, expected) => {
    expect(choosePartLayout(size, user, upload)).toEqual(expected)
  })

  test.each([GiB, 3 * GiB + 17, 100 * GiB, TiB, 5 * TiB - 1])('an object of %i bytes never needs more than 10,000 parts', (size) => {
    const layout = choosePartLayout(size)
    expect(layout.count).toBeLessThanOrEqual(10_000)
    expect(layout.count * layout.partSize).toBeGreaterThanOrEqual(size)
    expect((layout.count - 1) * layout.partSize).toBeLessThan(size)
    expect(layout.partSize % MiB).toBe(0)
  })

  test('maxAlignedPartSize is 64 MiB', () => {
    expect(maxAlignedPartSize).toBe(64 * MiB)
  })

  test('inferUploadParts feeds choosePartLayout: a 100,000,000-byte object in 12 parts is fetched in its 8 MiB upload parts', () => {
    expect(choosePartLayout(100_000_000, undefined, inferUploadParts(100_000_000, 12))).toEqual(
      { partSize: 8 * MiB, count: 12, alignedWithUpload: true, inferred: true })
  })
})

describe('partSizeForRate', () => {
  const MB = 1e6
  test.each<[string, number | undefined, number]>([
    ['nothing measured: the default', undefined, 8 * MiB],
    ['a request at 0 B/s: the default', 0, 8 * MiB],
    ['1.5 MB/s per request: a second is under 5 MiB, so 5 MiB', 1.5 * MB, 5 * MiB],
    ['6 MB/s per request: a second, in whole MiB', 6 * MB, 6 * MiB],
    ['8 MB/s per request: 8,000,000 bytes round up to 8 MiB', 8 * MB, 8 * MiB],
    ['100 MB/s per request: never above the default', 100 * MB, 8 * MiB],
  ])('%s', (_label, rate, expected) => {
    expect(partSizeForRate(rate, 8 * MiB)).toBe(expected)
  })
})
