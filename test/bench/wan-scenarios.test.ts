import { describe, expect, test } from 'vitest'
import { parseBenchArgs } from '../../bench/args.js'
import { mixedSizes, wanScenarios } from '../../bench/wan/scenarios.js'

const MiB = 1024 * 1024

describe('bench arguments', () => {
  test.each([
    { argv: [], scenarios: ['small', 'big'], uploads: [], wan: [], runs: 3 },
    { argv: ['upload'], scenarios: [], uploads: ['up-small', 'up-big', 'up-tree'], wan: [], runs: 3 },
    { argv: ['up-tree', 'up-small', '--runs', '1'], scenarios: [], uploads: ['up-small', 'up-tree'], wan: [], runs: 1 },
    { argv: ['big'], scenarios: ['big'], wan: [], runs: 3 },
    { argv: ['wan'], scenarios: [], wan: ['s1', 's2', 's3', 's4'], runs: 3 },
    { argv: ['wan', '--quick'], scenarios: [], wan: ['s1', 's2', 's3', 's4'], runs: 1 },
    { argv: ['s3', 's1', 'small', '--quick', '--runs', '2'], scenarios: ['small'], wan: ['s1', 's3'], runs: 2 },
  ])('npm run bench -- $argv', ({ argv, scenarios, uploads, wan, runs }) => {
    expect(parseBenchArgs(argv)).toMatchObject({ scenarios, wan, runs, ...(uploads === undefined ? {} : { uploads }) })
  })

  test.each([
    { argv: ['ceiling'], expected: { scenarios: [], wan: [], ceiling: true, runs: 3, smallObjects: 2000, bigMiB: 1024 } },
    { argv: ['ceiling', '--runs', '1', '--small-objects', '200', '--big-mib', '64'], expected: { ceiling: true, runs: 1, smallObjects: 200, bigMiB: 64 } },
    { argv: ['small', 'big'], expected: { ceiling: false } },
  ])('npm run bench -- $argv: the ceiling', ({ argv, expected }) => {
    expect(parseBenchArgs(argv)).toMatchObject(expected)
  })

  test.each([
    { argv: ['upload'], sizes: { upSmallFiles: 20_000, upBigMiB: 1024, upTreeFiles: 100_000 } },
    { argv: ['upload', '--quick'], sizes: { upSmallFiles: 500, upBigMiB: 64, upTreeFiles: 1000 } },
    { argv: ['upload', '--quick', '--up-tree-files', '3000'], sizes: { upSmallFiles: 500, upBigMiB: 64, upTreeFiles: 3000 } },
    { argv: ['up-big', '--up-big-mib', '256'], sizes: { upSmallFiles: 20_000, upBigMiB: 256, upTreeFiles: 100_000 } },
  ])('npm run bench -- $argv: upload sizes', ({ argv, sizes }) => {
    expect(parseBenchArgs(argv)).toMatchObject(sizes)
  })

  test('a bad scenario or sweep names the input', () => {
    expect(() => parseBenchArgs(['s5'])).toThrow('got `s5`')
    expect(() => parseBenchArgs(['s3', '--sweep', '16,x'])).toThrow('`--sweep` to be a positive integer, got `x`')
    expect(() => parseBenchArgs(['up-tree', '--up-tree-files', '0'])).toThrow('`--up-tree-files` to be a positive integer, got `0`')
    expect(() => parseBenchArgs(['up-huge'])).toThrow('got `up-huge`')
  })
})

describe('WAN scenarios', () => {
  test.each([4096 * MiB, 512 * MiB, 100 * MiB, 64 * MiB])('S1 sizes add up to exactly %d bytes, each 32-64 MiB', (total) => {
    const sizes = mixedSizes(total)
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(total)
    for (const size of sizes) {
      expect(size % MiB).toBe(0)
      expect(size).toBeGreaterThanOrEqual(32 * MiB)
      expect(size).toBeLessThanOrEqual(64 * MiB)
    }
  })

  test('--quick shrinks the data, never the network', () => {
    const full = wanScenarios({ quick: false, sweep: [16, 24] })
    const quick = wanScenarios({ quick: true, sweep: [16, 24] })
    expect(full.s1.data).toMatch(/^4 GiB in 85 objects/)
    expect(full.s2.data).toBe('5,000 objects of 64 KiB')
    expect(quick.s1.data).toMatch(/^512 MiB/)
    for (const name of ['s1', 's2', 's3', 's4'] as const) expect(quick[name].network).toEqual(full[name].network)
    expect(full.s3.variants.map((v) => v.label)).toEqual(['soaker', 'rclone', 'aws', 'soaker, fixed 16', 'soaker, fixed 24'])
  })
})
