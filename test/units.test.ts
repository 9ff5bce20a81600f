import { describe, expect, test } from 'vitest'
import { formatBytes, formatDuration, formatRate, parseByteCount } from '../src/units.js'

const MiB = 1024 * 1024

describe('formatBytes', () => {
  test.each([
    [0, '0 B'],
    [1, '1 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [100 * 1024, '100 KiB'],
    [8 * MiB, '8.0 MiB'],
    [1024 ** 3, '1.0 GiB'],
    [1.5 * 1024 ** 4, '1.5 TiB'],
    [2048 * 1024 ** 4, '2048 TiB'],
  ])('formatBytes(%d) is %j', (n, expected) => {
    expect(formatBytes(n)).toBe(expected)
  })

  // Rounding must not print a value that belongs to the next unit.
  test.each([
    [MiB - 1, '1.0 MiB'],
    [1024 ** 3 - 1, '1.0 GiB'],
  ])('formatBytes(%d), just under a unit, is %j', (n, expected) => {
    expect(formatBytes(n)).toBe(expected)
  })
})

describe('formatRate', () => {
  test.each([
    [0, '0.0 MB/s'],
    [50e6, '50.0 MB/s'],
    [1_234_567, '1.2 MB/s'],
    [1.5e9, '1500.0 MB/s'],
  ])('formatRate(%d) is %j', (n, expected) => {
    expect(formatRate(n)).toBe(expected)
  })
})

describe('formatDuration', () => {
  test.each([
    [0, '0.0s'],
    [1.25, '1.3s'],
    [59.9, '59.9s'],
    [60, '1m00s'],
    [65, '1m05s'],
    [119.6, '2m00s'],
    [3599, '59m59s'],
    [3600, '1h00m00s'],
    [3725, '1h02m05s'],
    [90061, '25h01m01s'],
  ])('formatDuration(%d) is %j', (secs, expected) => {
    expect(formatDuration(secs)).toBe(expected)
  })

  test('formatDuration(59.96) rounds up into minutes rather than printing 60.0s', () => {
    expect(formatDuration(59.96)).toBe('1m00s')
  })
})

describe('parseByteCount', () => {
  test.each([
    ['16384', 16384],
    ['16KiB', 16 * 1024],
    ['256mib', 256 * MiB],
    ['1.5GB', 1_500_000_000],
    [' 8 M ', 8_000_000],
    ['0', 0],
  ])('parseByteCount(%j) is %i', (raw, expected) => {
    expect(parseByteCount(raw)).toBe(expected)
  })

  test.each(['', 'big', '8XB', '-1', '8 MiB/s', '1e6'])('parseByteCount(%j) is undefined', (raw) => {
    expect(parseByteCount(raw)).toBeUndefined()
  })
})
