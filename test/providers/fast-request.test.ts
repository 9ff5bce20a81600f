import { describe, expect, test } from 'vitest'
import { encodeKeyPath } from '../../src/providers/s3/fast-request.js'

describe('encodeKeyPath', () => {
  test.each([
    ['a/b/c.txt', 'a/b/c.txt'],
    ['with space/é', 'with%20space/%C3%A9'],
    ["it's (1)*!", 'it%27s%20%281%29%2A%21'],
    ['a+b=c&d?e#f', 'a%2Bb%3Dc%26d%3Fe%23f'],
    ['../x//y', '../x//y'],
  ])('%s → %s (RFC 3986 per segment, slashes kept)', (key, encoded) => {
    expect(encodeKeyPath(key)).toBe(encoded)
  })
})
