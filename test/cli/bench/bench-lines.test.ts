import { describe, expect, test } from 'vitest'
import { headerLine, jsonLine, ratesOf, textLine, type BenchRow } from '../../../src/cli/bench/bench-lines.js'

const row: BenchRow = { direction: 'read', threads: 2, concurrency: 16, objects: 300, bytes: 2_516_582_400, seconds: 3, cpuSeconds: 5.1 }

describe('bench lines', () => {
  test('rates: objects/s, MB/s in 10^6 bytes, CPU-s per 10^9 bytes', () => {
    const r = ratesOf(row)
    expect(r.objectsPerSecond).toBe(100)
    expect(r.mbPerSecond).toBeCloseTo(838.86, 2)
    expect(r.cpuSecondsPerGb).toBeCloseTo(5.1 / 2.5165824, 6)
  })

  test('a row with no bytes costs 0 CPU-s/GB rather than infinity', () => {
    expect(ratesOf({ ...row, bytes: 0 }).cpuSecondsPerGb).toBe(0)
  })

  test('the text line sits under the header, column by column', () => {
    expect(headerLine()).toBe('direction  threads  concurrency   objects/s       MB/s  CPU-s/GB')
    expect(textLine(row)).toBe('read             2           16       100.0      838.9      2.03')
    expect(textLine(row).length).toBe(headerLine().length)
  })

  test('the JSON line has the measurements as taken and the rates of the text line', () => {
    expect(JSON.parse(jsonLine(row))).toEqual({
      type: 'bench', direction: 'read', threads: 2, concurrency: 16, objects: 300, bytes: 2_516_582_400, seconds: 3, cpu_seconds: 5.1,
      objects_per_second: 100, mb_per_second: 838.86, cpu_seconds_per_gb: 2.027,
    })
  })
})
