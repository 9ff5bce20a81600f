import { describe, expect, test } from 'vitest'
import { sourceOptions, transferDefaults, transferOptions } from '../src/options.js'

describe('transferOptions(given)', () => {
  test('fills every option that has a default, and leaves the others unset', () => {
    expect(transferOptions()).toEqual(transferDefaults)
    expect(transferOptions().partSize).toBeUndefined()
  })

  test('what is given wins; an option given as undefined takes its default', () => {
    const o = transferOptions({ timeout: 10, retries: undefined, endpointUrl: 'http://127.0.0.1:7480' })
    expect(o.timeout).toBe(10)
    expect(o.retries).toBe(3)
    expect(o.endpointUrl).toBe('http://127.0.0.1:7480')
  })
})

describe('sourceOptions(options)', () => {
  test('without a source option the source takes the destination\'s endpoint, region and profile', () => {
    const o = transferOptions({ endpointUrl: 'http://127.0.0.1:7480', region: 'eu-west-1', profile: 'dev' })
    expect(sourceOptions(o)).toBe(o)
  })

  test('with any source option the source takes only the source options, unset where not given', () => {
    const o = transferOptions({ endpointUrl: 'http://127.0.0.1:7480', region: 'eu-west-1', profile: 'dev', sourceRegion: 'us-west-2' })
    const s = sourceOptions(o)
    expect([s.endpointUrl, s.region, s.profile]).toEqual([undefined, 'us-west-2', undefined])
    expect(s.timeout).toBe(o.timeout)
    expect([o.endpointUrl, o.region, o.profile]).toEqual(['http://127.0.0.1:7480', 'eu-west-1', 'dev'])
  })
})
