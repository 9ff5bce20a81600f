import { describe, expect, test } from 'vitest'
import { partsOf, RangeCursor, type RangeRequest } from '../../../src/cli/bench/ranges.js'

function all(cursor: RangeCursor): RangeRequest[] {
  const out: RangeRequest[] = []
  for (let r = cursor.next(); r !== undefined; r = cursor.next()) out.push(r)
  return out
}

describe('partsOf', () => {
  test.each([[1, 8, 1], [8, 8, 1], [9, 8, 2], [24, 8, 3], [0, 8, 1]])('an object of %i bytes in parts of %i: %i parts', (size, part, parts) => {
    expect(partsOf(size, part)).toBe(parts)
  })
})

describe('RangeCursor', () => {
  test('hands out every range of one object, then of the next, the last range cut at the end', () => {
    const cursor = new RangeCursor(2, 10, 4, (started) => started < 2)
    expect(all(cursor).map((r) => [r.n, r.part, r.start, r.end])).toEqual([
      [0, 0, 0, 3], [0, 1, 4, 7], [0, 2, 8, 9], [1, 0, 0, 3], [1, 1, 4, 7], [1, 2, 8, 9],
    ])
    expect(cursor.objects).toBe(2)
  })

  test('cycles through the objects for as long as `more` says', () => {
    const cursor = new RangeCursor(3, 5, 8, (started) => started < 7)
    expect(all(cursor).map((r) => r.n)).toEqual([0, 1, 2, 0, 1, 2, 0])
    expect(cursor.objects).toBe(7)
  })

  test('`more` is asked only between objects: an object started is handed out whole', () => {
    let open = true
    const cursor = new RangeCursor(4, 12, 4, () => open)
    expect(cursor.next()).toMatchObject({ n: 0, part: 0 })
    open = false
    expect([cursor.next(), cursor.next()].map((r) => r?.part)).toEqual([1, 2])
    expect(cursor.next()).toBeUndefined()
    expect(cursor.objects).toBe(1)
  })
})
