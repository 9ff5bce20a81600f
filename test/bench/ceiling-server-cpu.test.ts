import { readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { cpuTicks } from '../../bench/ceiling/server-cpu.js'

// Fields 3 to 17 of a real line; utime (14) is 1234 and stime (15) 567.
const tail = 'S 1 5167 5167 0 -1 4194560 12345 0 0 0 1234 567 0 0 20'

describe('cpuTicks', () => {
  test('utime plus stime of a /proc/<pid>/stat line', () => {
    expect(cpuTicks(`5167 (radosgw) ${tail} 0 512 0 12345678\n`)).toBe(1801)
  })

  test('a command name with spaces and parentheses does not shift the fields', () => {
    expect(cpuTicks(`42 (a) b (c)) ${tail}`)).toBe(1801)
  })

  test('with reaped, the CPU time of the children it waited for too (cutime and cstime, fields 16 and 17)', () => {
    const line = `5167 (postgres) ${tail.replace(/ 0 0 20$/, ' 300 45 20')}`
    expect(cpuTicks(line)).toBe(1801)
    expect(cpuTicks(line, { reaped: true })).toBe(2146)
  })

  test('reads this process\'s own stat', () => {
    expect(cpuTicks(readFileSync('/proc/self/stat', 'utf8'))).toBeGreaterThanOrEqual(0)
  })

  test('a line that is not a stat line throws, naming what it got', () => {
    expect(() => cpuTicks('5167 (radosgw) S 1')).toThrow('got `5167 (radosgw) S 1`')
  })
})
