import { describe, expect, test } from 'vitest'
import { parseBytes, parseChoice, parseInteger, parseRate, parseSeconds } from '../../src/cli/values.js'
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
