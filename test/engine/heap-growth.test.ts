import { describe, expect, test } from 'vitest'
import { baseGrowthPercent, HeapGrowth, smallObjectBytes } from '../../src/engine/heap-growth.js'

describe('HeapGrowth', () => {
  function tracked(): { heap: HeapGrowth; set: number[] } {
    const set: number[] = []
    return { heap: new HeapGrowth((p) => set.push(p)), set }
  }

  test('grows the heap by half from the start and while small objects finish', () => {
    const { heap, set } = tracked()
    expect(set).toEqual([baseGrowthPercent])
    heap.update(500, 500 * 16 * 1024) // 500 objects of 16 KiB
    heap.update(900, 900 * 16 * 1024)
    expect(set).toEqual([baseGrowthPercent]) // unchanged: set once
  })

  test('lets V8 choose while large objects finish, or while only their parts moved', () => {
    const { heap, set } = tracked()
    heap.update(2, 2 * 64 * 1024 * 1024) // two 64 MiB objects
    expect(set).toEqual([baseGrowthPercent, 0])
    heap.update(2, 2 * 64 * 1024 * 1024 + 300 * 1024 * 1024) // no object finished, 300 MiB of parts moved
    expect(set).toEqual([baseGrowthPercent, 0])
    heap.update(1002, 2 * 64 * 1024 * 1024 + 300 * 1024 * 1024 + 1000 * 4096) // then 1,000 tiny ones
    expect(set).toEqual([baseGrowthPercent, 0, baseGrowthPercent])
  })

  test('judges each interval by its own objects, at the 1 MiB line', () => {
    const { heap, set } = tracked()
    heap.update(10, 10 * smallObjectBytes) // exactly 1 MiB each: large
    heap.update(20, 10 * smallObjectBytes + 10 * (smallObjectBytes - 1)) // just under
    expect(set).toEqual([baseGrowthPercent, 0, baseGrowthPercent])
  })

  test('gives the heap its growth by half back when the run ends', () => {
    const { heap, set } = tracked()
    heap.update(1, 1024 * 1024 * 1024)
    heap.close()
    expect(set).toEqual([baseGrowthPercent, 0, baseGrowthPercent])
    heap.close()
    expect(set).toHaveLength(3)
  })
})
