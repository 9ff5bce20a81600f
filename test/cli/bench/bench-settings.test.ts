import { describe, expect, test } from 'vitest'
import { benchDefaults, benchSettings, parseList, planeThreadsDefault } from '../../../src/cli/bench/bench-settings.js'
import { UsageError } from '../../../src/errors.js'
import { thrown } from '../../support/thrown.js'

const MiB = 1024 * 1024

describe('planeThreadsDefault', () => {
  test.each([[1, [0, 1]], [2, [0, 1, 2]], [3, [0, 1, 2]], [8, [0, 1, 2, 4, 8]], [12, [0, 1, 2, 4, 8]]])('on %i cores: %j', (cores, threads) => {
    expect(planeThreadsDefault(cores)).toEqual(threads)
  })
})

describe('parseList', () => {
  test.each([['4,16,64', 1, [4, 16, 64]], [' 0 , 2 ', 0, [0, 2]], ['8', 1, [8]]])('parseList(%j, min %i) is %j', (raw, min, list) => {
    expect(parseList('--concurrency-list', raw, min)).toEqual(list)
  })

  test.each([['x', 1], ['', 1], ['4,,8', 1], ['0', 1], ['1.5', 0], ['-1', 0], ['4;8', 1]])('parseList(%j, min %i) is refused, naming the flag', (raw, min) => {
    const err = thrown(() => parseList('--concurrency-list', raw, min), UsageError)
    expect(err.message).toBe(`Expected \`--concurrency-list\` to be a comma-separated list of integers >= ${min} like ${min === 0 ? '0,1,2' : '4,16,64'}, got \`${raw}\``)
  })
})

describe('benchSettings', () => {
  test('the defaults: the data plane alone measures 0,1,2… threads; a store, what cp uses', () => {
    expect(benchSettings({}, false, 2)).toEqual({
      threads: [0, 1, 2], concurrency: [...benchDefaults.concurrency], size: 8 * MiB, partSize: 8 * MiB, count: 64, seconds: 3, verify: true, json: false, force: false,
    })
    expect(benchSettings({}, true, 2).threads).toEqual([0])
    expect(benchSettings({}, true, 4).threads).toEqual([3])
  })

  test('flags as commander collects them', () => {
    expect(benchSettings({
      dataThreadsList: '0,4', concurrencyList: '8', size: '64MiB', partSize: '16MiB', count: '10', seconds: '500ms', verify: 'size', json: 'true', force: 'true',
    }, false)).toEqual({ threads: [0, 4], concurrency: [8], size: 64 * MiB, partSize: 16 * MiB, count: 10, seconds: 0.5, verify: false, json: true, force: true })
  })

  test.each([
    [{ size: '0' }, false, 'Expected `--size` to be at least 1 byte, got `0`'],
    [{ partSize: '0' }, false, 'Expected `--part-size` to be at least 1 byte, got `0`'],
    [{ count: '0' }, false, 'Expected `--count` to be an integer >= 1, got `0`'],
    [{ seconds: '0' }, false, 'Expected `--seconds` to be more than 0, got `0`'],
    [{ verify: 'maybe' }, false, 'Expected `--verify` to be true, false or size, got `maybe`'],
    [{ size: '9MiB', partSize: '1MiB' }, true, 'Expected `--part-size` to be at least 5MiB where objects are uploaded in parts (S3\'s smallest part), got `1MiB`'],
    [{ size: '60000MiB', partSize: '5MiB' }, true, 'Expected `--size` / `--part-size` to make at most 10000 parts (S3\'s limit), got 12000'],
  ])('%j (target: %s) is refused: %s', (raw, store, message) => {
    expect(thrown(() => benchSettings(raw, store), UsageError).message).toBe(message)
  })

  test('small parts are fine for the data plane alone, and for a store when objects fit in one', () => {
    expect(benchSettings({ size: '9MiB', partSize: '1MiB' }, false).partSize).toBe(MiB)
    expect(benchSettings({ size: '1MiB', partSize: '1MiB' }, true).partSize).toBe(MiB)
  })
})
