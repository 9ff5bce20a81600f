import { describe, expect, test } from 'vitest'
import { failureLine } from '../../src/ui/failure-line.js'

describe('failureLine', () => {
  test('lists key, reason and code', () => {
    expect(failureLine({ key: 'a/b', errorCode: 'SOAKER_UNSAFE_KEY', reason: 'why' })).toBe('  a/b: why [SOAKER_UNSAFE_KEY]')
  })

  test.each([
    ['esc\u001b[31mred', 'esc\\u001b[31mred'],
    ['line\nbreak', 'line\\u000abreak'],
    ['del\u007f', 'del\\u007f'],
    ['csi\u009b2J', 'csi\\u009b2J'],
  ])('never prints a control character of the key %j raw', (key, shown) => {
    const line = failureLine({ key, errorCode: null, reason: 'refused' })
    expect(line).toBe(`  ${shown}: refused [?]`)
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/)
  })
})
