import { describe, expect, test } from 'vitest'
import { interleave } from '../../src/engine/interleave.js'

async function* items<T>(values: T[], delayMs = 0): AsyncIterable<T> {
  for (const v of values) {
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs))
    yield v
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const v of it) out.push(v)
  return out
}

describe('interleave', () => {
  test('takes from every source in turn while all have items ready', async () => {
    const out = await collect(interleave([items(['a1', 'a2', 'a3']), items(['b1', 'b2']), items(['c1'])], 8))
    expect(out).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3'])
  })

  test('a slow source holds none of the others back', async () => {
    const out = await collect(interleave([items(['slow'], 50), items(['f1', 'f2', 'f3'])], 8))
    expect(out).toEqual(['f1', 'f2', 'f3', 'slow'])
  })

  test('opens at most `open` sources at once, the next when one ends', async () => {
    const started: string[] = []
    function* sources(): Iterable<AsyncIterable<string>> {
      for (const name of ['a', 'b', 'c']) {
        started.push(name)
        yield items([`${name}1`, `${name}2`])
      }
    }
    const it = interleave(sources(), 2)[Symbol.asyncIterator]()
    expect((await it.next()).value).toBe('a1')
    expect(started).toEqual(['a', 'b'])
    const rest: string[] = []
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value)
    expect(started).toEqual(['a', 'b', 'c'])
    expect(rest.sort()).toEqual(['a2', 'b1', 'b2', 'c1', 'c2'])
  })

  test('an error of one source ends the iteration with it, and the others are closed', async () => {
    let closed = false
    async function* endless(): AsyncIterable<string> {
      try {
        for (;;) yield 'x'
      } finally {
        closed = true
      }
    }
    async function* broken(): AsyncIterable<string> {
      yield 'ok'
      throw new Error('listing broke off')
    }
    await expect(collect(interleave([endless(), broken()], 8))).rejects.toThrow('listing broke off')
    expect(closed).toBe(true)
  })

  test('no sources: nothing', async () => {
    expect(await collect(interleave([], 8))).toEqual([])
  })
})
