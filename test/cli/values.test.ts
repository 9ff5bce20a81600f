import { describe, expect, test } from 'vitest'
import {
  formatBytes, formatDuration, formatRate, parseBytes, parseChoice, parseInteger, parseRate, parseSeconds,
} from '../../src/cli/values.js'
import { UsageError } from '../../src/errors.js'
import { thrown } from '../support/thrown.js'

const MiB = 1024 * 1024

describe('parseInteger', () => {
  test.each([
    ['0', 0, 0],
    ['7', 0, 7],
    [' 12 ', 1, 12],
    ['64', 1, 64],
  ])('parseInteger(%j, min %i) is %i', (raw, min, expected) => {
    expect(parseInteger('--retries', raw, min)).toBe(expected)
  })

  test.each([
    ['abc', 0],
    ['1.5', 0],
    ['-1', 0],
    ['0', 1],
    ['', 0],
    ['   ', 0],
  ])('parseInteger(%j, min %i) is rejected', (raw, min) => {
    const err = thrown(() => parseInteger('--retries', raw, min), UsageError)
    expect(err.message).toBe(`Expected \`--retries\` to be an integer >= ${min}, got \`${raw}\``)
    expect(err.code).toBe('SOAKER_USAGE')
    expect(err.exitCode).toBe(2)
  })
})

describe('parseSeconds', () => {
  test.each([
    ['2', 2],
    ['0.5', 0.5],
    ['2s', 2],
    ['500ms', 0.5],
    ['1m', 60],
    [' 3 S ', 3],
    ['1.5m', 90],
  ])('parseSeconds(%j) is %d seconds', (raw, expected) => {
    expect(parseSeconds('--retry-delay', raw)).toBeCloseTo(expected, 9)
  })

  test.each(['fast', '-1', '2h', '', '1 2'])('parseSeconds(%j) is rejected with the flag and the value', (raw) => {
    expect(thrown(() => parseSeconds('--retry-delay', raw), UsageError).message)
      .toBe(`Expected \`--retry-delay\` to be a duration like 2, 0.5s or 500ms, got \`${raw}\``)
  })
})

describe('parseBytes', () => {
  test.each([
    ['8388608', 8 * MiB],
    ['8MiB', 8 * MiB],
    ['8mib', 8 * MiB],
    ['8Mi', 8 * MiB],
    ['16M', 16_000_000],
    ['16MB', 16_000_000],
    ['1.5GB', 1_500_000_000],
    ['1GiB', 1024 ** 3],
    ['512KiB', 512 * 1024],
    ['100b', 100],
    [' 2 MiB ', 2 * MiB],
  ])('parseBytes(%j) is %i bytes', (raw, expected) => {
    expect(parseBytes('--part-size', raw)).toBe(expected)
  })

  test.each(['big', '8XB', '-8MiB', '', '8 MiB/s'])('parseBytes(%j) is rejected with the flag and the value', (raw) => {
    expect(thrown(() => parseBytes('--part-size', raw), UsageError).message)
      .toBe(`Expected \`--part-size\` to be a size like 8MiB, 16M or 8388608, got \`${raw}\``)
  })
})

describe('parseRate', () => {
  test.each([
    ['50', 50e6],
    ['50MB/s', 50e6],
    ['50mb/s', 50e6],
    ['50 MB/s', 50e6],
    ['50M', 50e6],
    ['1.5GB/s', 1.5e9],
    ['800KB/s', 800e3],
    ['0.5', 500e3],
  ])('parseRate(%j) is %d bytes per second', (raw, expected) => {
    expect(parseRate('--max-speed', raw)).toBe(expected)
  })

  test('parseRate reads a binary unit as binary: 50MiB/s is 50 * 2^20 bytes per second', () => {
    expect(parseRate('--max-speed', '50MiB/s')).toBe(50 * MiB)
  })

  test.each(['fast', '0', '-1', '0.0', '', '50/s', '50TB/s'])('parseRate(%j) is rejected with the flag and the value', (raw) => {
    expect(thrown(() => parseRate('--max-speed', raw), UsageError).message)
      .toBe(`Expected \`--max-speed\` to be a rate in MB/s like 50 or 50MB/s, got \`${raw}\``)
  })

  test('the message for --max-speed fast has the shape the style guide shows', () => {
    expect(thrown(() => parseRate('--max-speed', 'fast'), UsageError).message)
      .toMatch(/^Expected `--max-speed` to be .+, got `fast`$/)
  })
})

describe('parseChoice', () => {
  const levels = ['debug', 'info', 'warn', 'error'] as const

  test.each([
    ['debug', 'debug'],
    ['WARN', 'warn'],
    [' error ', 'error'],
  ])('parseChoice(%j) is %j', (raw, expected) => {
    expect(parseChoice('--log-level', raw, levels)).toBe(expected)
  })

  test.each(['verbose', '', 'in fo'])('parseChoice(%j) is rejected listing the choices', (raw) => {
    expect(thrown(() => parseChoice('--log-level', raw, levels), UsageError).message)
      .toBe(`Expected \`--log-level\` to be one of debug, info, warn, error, got \`${raw}\``)
  })
})

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
