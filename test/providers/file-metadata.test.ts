import { describe, expect, test } from 'vitest'
import { fileMetadata, formatMtime, parseMode, parseMtime } from '../../src/providers/file-metadata.js'
import { uploadPartSize } from '../../src/engine/pipeline.js'

const MiB = 1024 * 1024

describe('file metadata in the conventions other tools read', () => {
  test.each([
    [1_577_934_245_123_456_789n, '1577934245.123456789'],
    [1_577_934_245_000_000_000n, '1577934245'],
    [1_577_934_245_100_000_000n, '1577934245.1'],
    [5n, '0.000000005'],
    [-1_500_000_000n, '-1.5'],
  ])('mtime %s ns is written as %s float seconds', (ns, text) => {
    expect(formatMtime(ns)).toBe(text)
  })

  test('mode is octal permission bits with a leading zero', () => {
    expect(fileMetadata({ mtimeNs: 0n, mode: 0o640 })).toEqual({ mtime: '0', mode: '0640' })
    expect(fileMetadata({ mtimeNs: 0n, mode: 0o4755 })).toEqual({ mtime: '0', mode: '04755' })
  })

  test.each([
    [{ mtime: '1577934245.123456789' }, 1_577_934_245_123.457],
    [{ mtime: '1577934245' }, 1_577_934_245_000],
    [{ mtime: ' 12.5 ' }, 12_500],
    [{ mtime: 'yesterday' }, undefined],
    [{ mtime: '1e9' }, undefined],
    [{}, undefined],
    [undefined, undefined],
  ])('parseMtime(%j) is %s ms', (meta, ms) => {
    const got = parseMtime(meta as Record<string, string> | undefined)
    if (ms === undefined) expect(got).toBeUndefined()
    else expect(got).toBeCloseTo(ms, 2)
  })

  test.each([
    ['0644', 0o644], ['644', 0o644], ['0755', 0o755],
    ['04755', 0o755], // setuid from a bucket is not trusted
    ['33188', 0o644], // s3fs: decimal st_mode of a 0644 regular file
    ['rw-r--r--', undefined], ['999', undefined], ['', undefined],
  ])('parseMode(%s) is %s', (raw, mode) => {
    expect(parseMode({ mode: raw })).toBe(mode)
  })
})

describe('uploadPartSize', () => {
  test.each([
    [100 * MiB, undefined, 8 * MiB],
    [100 * MiB, 16 * MiB, 16 * MiB],
    [100 * MiB, 5 * MiB, 5 * MiB],
    // 10,000 parts at most: 100 GiB needs parts of at least 10.24 MiB, so 11 MiB.
    [100 * 1024 * MiB, undefined, 11 * MiB],
    [100 * 1024 * MiB, 8 * MiB, 11 * MiB],
  ])('a %d-byte file with --part-size %s uploads in parts of %d bytes', (size, user, expected) => {
    expect(uploadPartSize(size, user)).toBe(expected)
    expect(Math.ceil(size / expected)).toBeLessThanOrEqual(10_000)
  })

  test.each([
    // 1.5 MB/s per request: a second is 1.5 MB, so the smallest part S3 takes.
    [100 * MiB, undefined, 1.5e6, 5 * MiB],
    [100 * MiB, undefined, 6e6, 6 * MiB],
    [100 * MiB, undefined, 50e6, 8 * MiB],
    // The user's part size wins over any measurement.
    [100 * MiB, 16 * MiB, 1.5e6, 16 * MiB],
    // The 10,000-part limit wins over a slow link.
    [100 * 1024 * MiB, undefined, 1.5e6, 11 * MiB],
  ])('a %d-byte file with --part-size %s at %d B/s per request uploads in parts of %d bytes', (size, user, rate, expected) => {
    expect(uploadPartSize(size, user, rate)).toBe(expected)
  })
})
