import { describe, expect, test } from 'vitest'
import { transferDefaults, transferOptions } from '../src/options.js'

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
