import { describe, expect, test } from 'vitest'
import { copyOptionTable, envName, flagName, optionHelp, resolveCopyOptions, resolveShard } from '../../src/cli/options.js'
import { UsageError } from '../../src/errors.js'
import { thrown } from '../support/thrown.js'

const MiB = 1024 * 1024

describe('flagName and envName', () => {
  test.each([
    ['retries', '--retries', 'SOAKER_RETRIES'],
    ['maxSpeed', '--max-speed', 'SOAKER_MAX_SPEED'],
    ['minConcurrency', '--min-concurrency', 'SOAKER_MIN_CONCURRENCY'],
    ['endpointUrl', '--endpoint-url', 'SOAKER_ENDPOINT_URL'],
    ['tuneInterval', '--tune-interval', 'SOAKER_TUNE_INTERVAL'],
  ])('%s is %s on the command line and %s in the environment', (key, flag, env) => {
    expect(flagName(key)).toBe(flag)
    expect(envName(key)).toBe(env)
  })
})

describe('optionHelp', () => {
  test('lists the default, the SOAKER_ variable and the legacy variable', () => {
    expect(optionHelp('maxConcurrency')).toBe('most requests in flight (default: 64) [env: SOAKER_MAX_CONCURRENCY, MAX_PROCESSES]')
  })

  test('leaves out the default of an option that has none', () => {
    expect(optionHelp('profile')).not.toContain('(default:')
    expect(optionHelp('profile')).toMatch(/\[env: SOAKER_PROFILE\]$/)
  })
})

describe('resolveCopyOptions', () => {
  test('with nothing given, every option with a default has it and the others are unset', () => {
    expect(resolveCopyOptions({}, {})).toEqual({
      logLevel: 'info',
      minConcurrency: 1,
      maxConcurrency: 64,
      tuneInterval: 3,
      retries: 3,
      lowLevelRetries: 10,
      timeout: 30,
      retryDelay: 1,
      connectTimeout: 10,
      lease: 30,
      progressInterval: 5,
      json: false,
      retryFailed: false,
      serverSideCopy: true,
      dryRun: false,
      verify: true,
      storeChecksums: true,
      dashboard: true,
      order: 'size-asc',
      followSymlinks: false,
      uploadChecksum: 'md5',
      nice: false,
    })
  })

  test('parses every kind of value from flags', () => {
    const o = resolveCopyOptions({
      endpointUrl: 'http://127.0.0.1:7480', region: 'eu-west-1', profile: 'dev', logLevel: 'DEBUG',
      minConcurrency: '2', maxConcurrency: '32', concurrency: '8', maxSpeed: '50MB/s', tuneInterval: '500ms',
      retries: '0', lowLevelRetries: '4', timeout: '5s', retryDelay: '0.5', partSize: '16MiB', connectTimeout: '1m', state: '/tmp/s.db', lease: '10s',
      progressInterval: '2s', verify: 'false', dryRun: 'true', json: 'true', retryFailed: 'true', dashboard: 'false', bucketsFile: '/tmp/b.txt',
      order: 'Path', followSymlinks: 'yes', uploadChecksum: 'CRC32', nice: 'on', storeChecksums: 'false',
      sourceEndpointUrl: 'https://s3.other.example', sourceRegion: 'us-west-2', sourceProfile: 'other', serverSideCopy: 'no',
    }, {})
    expect(o).toEqual({
      endpointUrl: 'http://127.0.0.1:7480', region: 'eu-west-1', profile: 'dev', logLevel: 'debug',
      minConcurrency: 2, maxConcurrency: 32, concurrency: 8, maxSpeed: 50e6, tuneInterval: 0.5,
      retries: 0, lowLevelRetries: 4, timeout: 5, retryDelay: 0.5, partSize: 16 * MiB, connectTimeout: 60, state: '/tmp/s.db', lease: 10,
      progressInterval: 2, verify: false, dryRun: true, json: true, retryFailed: true, dashboard: false, bucketsFile: '/tmp/b.txt',
      order: 'path', followSymlinks: true, uploadChecksum: 'crc32', nice: true, storeChecksums: false,
      sourceEndpointUrl: 'https://s3.other.example', sourceRegion: 'us-west-2', sourceProfile: 'other', serverSideCopy: false,
    })
  })

  // [key, legacy variable, flag value, SOAKER_ value, legacy value, default, parsed flag, parsed SOAKER_, parsed legacy]
  const legacyTable: Array<[string, string, string, string, string, unknown, unknown, unknown, unknown]> = [
    ['minConcurrency', 'MIN_PROCESSES', '3', '4', '5', 1, 3, 4, 5],
    ['maxConcurrency', 'MAX_PROCESSES', '30', '40', '50', 64, 30, 40, 50],
    ['maxSpeed', 'MAX_SPEED', '10', '20MB/s', '30', undefined, 10e6, 20e6, 30e6],
    ['tuneInterval', 'OPTIMIZATION_INTERVAL', '1', '2s', '4', 3, 1, 2, 4],
    ['retries', 'MAX_RETRIES', '6', '7', '8', 3, 6, 7, 8],
    ['retryDelay', 'RETRY_DELAY', '0.1', '0.2', '0.3', 1, 0.1, 0.2, 0.3],
  ]

  describe.each(legacyTable)('%s (legacy %s)', (key, legacy, flag, soaker, old, dflt, fromFlag, fromSoaker, fromLegacy) => {
    const soakerVar = envName(key)
    const get = (given: Record<string, string>, env: Record<string, string>): unknown =>
      (resolveCopyOptions(given, env) as Record<string, unknown>)[key]

    test('the flag beats SOAKER_<NAME> and the legacy variable', () => {
      expect(get({ [key]: flag }, { [soakerVar]: soaker, [legacy]: old })).toBe(fromFlag)
    })
    test('SOAKER_<NAME> beats the legacy variable', () => {
      expect(get({}, { [soakerVar]: soaker, [legacy]: old })).toBe(fromSoaker)
    })
    test('the legacy variable beats the default', () => {
      expect(get({}, { [legacy]: old })).toBe(fromLegacy)
    })
    test('with nothing set, the default holds', () => {
      expect(get({}, {})).toBe(dflt)
    })
    test('an empty variable counts as unset', () => {
      expect(get({}, { [soakerVar]: '', [legacy]: old })).toBe(fromLegacy)
      expect(get({}, { [soakerVar]: '', [legacy]: '' })).toBe(dflt)
    })
  })

  test('the legacy table covers exactly the Super Obj Soaker variables', () => {
    const legacy = Object.values(copyOptionTable).flatMap((spec) => ('legacyEnv' in spec ? spec.legacyEnv : []))
    expect(legacy.sort()).toEqual(['MAX_PROCESSES', 'MAX_RETRIES', 'MAX_SPEED', 'MIN_PROCESSES', 'OPTIMIZATION_INTERVAL', 'RETRY_DELAY'])
  })

  test('SOAKER_ variables work for options without a legacy name', () => {
    const o = resolveCopyOptions({}, { SOAKER_PART_SIZE: '32MiB', SOAKER_VERIFY: 'no', SOAKER_LOG_LEVEL: 'warn' })
    expect(o.partSize).toBe(32 * MiB)
    expect(o.verify).toBe(false)
    expect(o.logLevel).toBe('warn')
  })

  test.each([
    [{ maxSpeed: 'fast' }, {}, 'Expected `--max-speed` to be a rate in MB/s like 50 or 50MB/s, got `fast`'],
    [{}, { SOAKER_MAX_SPEED: 'fast' }, 'Expected `SOAKER_MAX_SPEED` to be a rate in MB/s like 50 or 50MB/s, got `fast`'],
    [{}, { MAX_SPEED: 'fast' }, 'Expected `MAX_SPEED` to be a rate in MB/s like 50 or 50MB/s, got `fast`'],
    [{}, { MAX_PROCESSES: 'many' }, 'Expected `MAX_PROCESSES` to be an integer >= 1, got `many`'],
    [{ minConcurrency: '0' }, {}, 'Expected `--min-concurrency` to be an integer >= 1, got `0`'],
    [{}, { MAX_RETRIES: '-1' }, 'Expected `MAX_RETRIES` to be an integer >= 0, got `-1`'],
    [{}, { RETRY_DELAY: 'soon' }, 'Expected `RETRY_DELAY` to be a duration like 2, 0.5s or 500ms, got `soon`'],
    [{ verify: 'maybe' }, {}, 'Expected `--verify` to be true, false or size, got `maybe`'],
    [{}, { SOAKER_LOG_LEVEL: 'loud' }, 'Expected `SOAKER_LOG_LEVEL` to be one of debug, info, warn, error, got `loud`'],
  ])('given %j and env %j it rejects: %s', (given, env, message) => {
    const err = thrown(() => resolveCopyOptions(given, env), UsageError)
    expect(err.message).toBe(message)
  })

  test('a bad legacy value is not reached when SOAKER_<NAME> is set', () => {
    expect(resolveCopyOptions({}, { SOAKER_MAX_SPEED: '5', MAX_SPEED: 'fast' }).maxSpeed).toBe(5e6)
  })

  test('a bad environment value is not reached when the flag is given', () => {
    expect(resolveCopyOptions({ retries: '2' }, { SOAKER_RETRIES: 'x', MAX_RETRIES: 'y' }).retries).toBe(2)
  })

  test.each([
    [{ minConcurrency: '10', maxConcurrency: '5' }, {}],
    [{}, { MIN_PROCESSES: '100' }],
    [{ maxConcurrency: '4' }, { SOAKER_MIN_CONCURRENCY: '8' }],
  ])('rejects a minimum concurrency above the maximum (%j, env %j)', (given, env) => {
    expect(thrown(() => resolveCopyOptions(given, env), UsageError).message)
      .toMatch(/^Expected `--min-concurrency` \(\d+\) to be at most `--max-concurrency` \(\d+\)$/)
  })

  test('accepts equal minimum and maximum concurrency', () => {
    const o = resolveCopyOptions({ minConcurrency: '8', maxConcurrency: '8' }, {})
    expect([o.minConcurrency, o.maxConcurrency]).toEqual([8, 8])
  })

  test.each([['1000000', 1_000_000], ['1M', 1_000_000], ['1023KiB', 1023 * 1024], ['1', 1]])(
    'rejects a part size below 1MiB: %s', (raw, bytes) => {
      expect(thrown(() => resolveCopyOptions({ partSize: raw }, {}), UsageError).message)
        .toBe(`Expected \`--part-size\` to be at least 1MiB, got \`${bytes}\` bytes`)
    })

  test('accepts a part size of exactly 1MiB', () => {
    expect(resolveCopyOptions({ partSize: '1MiB' }, {}).partSize).toBe(MiB)
  })

  test('does not read process.env: only the environment it is given', () => {
    const saved = process.env.SOAKER_RETRIES
    process.env.SOAKER_RETRIES = '9'
    try {
      expect(resolveCopyOptions({}, {}).retries).toBe(3)
    } finally {
      if (saved === undefined) delete process.env.SOAKER_RETRIES
      else process.env.SOAKER_RETRIES = saved
    }
  })
})

describe('--shard and --shards', () => {
  const shardOf = (given: Record<string, string>, env: Record<string, string> = {}): unknown => resolveCopyOptions(given, env).shard

  test.each([
    [{ shard: '0/1' }, {}, { index: 0, count: 1 }],
    [{ shard: '3/4' }, {}, { index: 3, count: 4 }],
    [{ shard: ' 2 / 8 ' }, {}, { index: 2, count: 8 }],
    [{}, { SOAKER_SHARD: '5/16' }, { index: 5, count: 16 }],
    [{ shard: '1/4', shards: '4' }, {}, { index: 1, count: 4 }],
    [{ shard: 'auto', shards: '4' }, { JOB_COMPLETION_INDEX: '3' }, { index: 3, count: 4 }],
    [{ shard: 'AUTO' }, { JOB_COMPLETION_INDEX: '0', SOAKER_SHARDS: '2' }, { index: 0, count: 2 }],
    [{}, { SOAKER_SHARD: 'auto', SOAKER_SHARDS: '8', JOB_COMPLETION_INDEX: '7' }, { index: 7, count: 8 }],
    // The flag beats the variable, for the count as for the shard.
    [{ shard: 'auto', shards: '3' }, { SOAKER_SHARDS: '9', JOB_COMPLETION_INDEX: '2' }, { index: 2, count: 3 }],
    [{ shard: '0/2' }, { SOAKER_SHARD: '9/9x' }, { index: 0, count: 2 }],
  ])('given %j and env %j it is shard %j', (given, env, expected) => {
    expect(shardOf(given, env)).toEqual(expected)
  })

  test('without --shard every object is copied: no shard, whatever JOB_COMPLETION_INDEX says', () => {
    expect(shardOf({}, { JOB_COMPLETION_INDEX: '3' })).toBeUndefined()
  })

  test.each([
    [{ shard: 'x' }, {}, 'Expected `--shard` to be K/N (shard K of N shards, K counted from 0 as a Kubernetes Indexed Job numbers its pods) or auto, got `x`'],
    [{ shard: '1' }, {}, 'Expected `--shard` to be K/N (shard K of N shards, K counted from 0 as a Kubernetes Indexed Job numbers its pods) or auto, got `1`'],
    [{ shard: '-1/4' }, {}, 'Expected `--shard` to be K/N (shard K of N shards, K counted from 0 as a Kubernetes Indexed Job numbers its pods) or auto, got `-1/4`'],
    [{ shard: '1.5/4' }, {}, 'Expected `--shard` to be K/N (shard K of N shards, K counted from 0 as a Kubernetes Indexed Job numbers its pods) or auto, got `1.5/4`'],
    [{ shard: '99999999999999999999/1' }, {}, 'Expected `--shard` to be K/N (shard K of N shards, K counted from 0 as a Kubernetes Indexed Job numbers its pods) or auto, got `99999999999999999999/1`'],
    [{}, { SOAKER_SHARD: 'half' }, 'Expected `SOAKER_SHARD` to be K/N (shard K of N shards, K counted from 0 as a Kubernetes Indexed Job numbers its pods) or auto, got `half`'],
    [{ shard: '0/0' }, {}, 'Expected `--shard` to be K/N with at least 1 shard (N >= 1), got `0/0`'],
    [{ shard: '4/4' }, {}, 'Expected `--shard` to be K/N with K below N (4 shards are 0/4 to 3/4), got `4/4`'],
    [{ shard: '7/4' }, {}, 'Expected `--shard` to be K/N with K below N (4 shards are 0/4 to 3/4), got `7/4`'],
    [{ shard: '1/4', shards: '5' }, {}, 'Expected `--shards` to be the N of `--shard 1/4`, 4, got `5`'],
    [{ shard: '1/4' }, { SOAKER_SHARDS: '8' }, 'Expected `SOAKER_SHARDS` to be the N of `--shard 1/4`, 4, got `8`'],
    [{ shard: 'auto', shards: '4' }, {}, 'Expected `JOB_COMPLETION_INDEX` for `--shard auto` (Kubernetes sets it in each pod of an Indexed Job), got none; elsewhere, give the shard as `--shard K/N`'],
    [{ shard: 'auto', shards: '4' }, { JOB_COMPLETION_INDEX: '' }, 'Expected `JOB_COMPLETION_INDEX` for `--shard auto` (Kubernetes sets it in each pod of an Indexed Job), got none; elsewhere, give the shard as `--shard K/N`'],
    [{ shard: 'auto' }, { JOB_COMPLETION_INDEX: '1' }, 'Expected `--shards N` or `SOAKER_SHARDS` for `--shard auto` (N: the Indexed Job\'s completions), got neither'],
    [{ shard: 'auto', shards: '4' }, { JOB_COMPLETION_INDEX: 'one' }, 'Expected `JOB_COMPLETION_INDEX` to be an integer >= 0, got `one`'],
    [{ shard: 'auto', shards: '4' }, { JOB_COMPLETION_INDEX: '4' }, 'Expected `JOB_COMPLETION_INDEX` to be below the number of shards, 4 (`--shards`), got `4`: give the Job as many completions as shards'],
    [{ shard: 'auto' }, { JOB_COMPLETION_INDEX: '0', SOAKER_SHARDS: '0' }, 'Expected `SOAKER_SHARDS` to be an integer >= 1, got `0`'],
    [{ shards: 'many' }, {}, 'Expected `--shards` to be an integer >= 1, got `many`'],
    [{ shards: '4' }, {}, 'Expected `--shard auto` or `--shard K/4` with `--shards` (4), got no `--shard` (or SOAKER_SHARD): without one, every object is copied'],
    [{}, { SOAKER_SHARDS: '4', JOB_COMPLETION_INDEX: '1' }, 'Expected `--shard auto` or `--shard K/4` with `SOAKER_SHARDS` (4), got no `--shard` (or SOAKER_SHARD): without one, every object is copied'],
  ])('given %j and env %j it rejects: %s', (given, env, message) => {
    expect(thrown(() => resolveCopyOptions(given, env), UsageError).message).toBe(message)
  })

  test('resolveShard resolves them alone, as cp does, whatever else the environment holds', () => {
    const env = { SOAKER_SHARD: 'auto', SOAKER_SHARDS: '4', JOB_COMPLETION_INDEX: '2', SOAKER_MAX_SPEED: 'fast' }
    expect(resolveShard({}, env)).toEqual({ index: 2, count: 4 })
    expect(resolveShard({ shard: '0/2', shards: undefined }, {})).toEqual({ index: 0, count: 2 })
    expect(resolveShard({}, {})).toBeUndefined()
    expect(thrown(() => resolveShard({ shard: '2/2' }, {}), UsageError).message).toMatch(/^Expected `--shard` to be K\/N with K below N/)
  })

  test('help names the shape, auto and the variables', () => {
    expect(optionHelp('shard')).toMatch(/^copy only static shard K of N \(K from 0\).*auto: K from JOB_COMPLETION_INDEX.*\[env: SOAKER_SHARD\]$/)
    expect(optionHelp('shards')).toBe('the number of shards of --shard auto: the Indexed Job\'s completions [env: SOAKER_SHARDS]')
  })
})
