import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, test } from 'vitest'
import { batches } from '../../src/engine/batches.js'

async function collect<T>(items: AsyncIterable<T[]>): Promise<T[][]> {
  const out: T[][] = []
  for await (const b of items) out.push(b)
  return out
}

async function* ready(n: number): AsyncIterable<number> {
  for (let i = 0; i < n; i++) yield i
}

describe('batches', () => {
  test('items that are ready come in batches of at most max, in order, none lost', async () => {
    const out = await collect(batches(ready(10), 4))
    expect(out).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
  })

  test('an empty source gives no batch', async () => {
    expect(await collect(batches(ready(0), 4))).toEqual([])
  })

  test('a batch ends where the source makes the next item wait (a listing fetching its next page)', async () => {
    async function* pages(): AsyncIterable<number> {
      yield 1
      yield 2
      await sleep(20) // the next page
      yield 3
    }
    expect(await collect(batches(pages(), 100))).toEqual([[1, 2], [3]])
  })

  test('the first item of a slow source is not held back for more', async () => {
    let released = false
    async function* slow(): AsyncIterable<string> {
      yield 'first'
      await new Promise<void>((resolve) => { const t = setInterval(() => { if (released) { clearInterval(t); resolve() } }, 5) })
      yield 'second'
    }
    const it = batches(slow(), 100)[Symbol.asyncIterator]()
    expect((await it.next()).value).toEqual(['first']) // would hang here if it waited for a full batch
    released = true
    expect((await it.next()).value).toEqual(['second'])
    expect((await it.next()).done).toBe(true)
  })

  test('an error of the source reaches the consumer after the items before it', async () => {
    async function* failing(): AsyncIterable<number> {
      yield 1
      throw new Error('listing broke off')
    }
    const seen: number[][] = []
    await expect((async () => { for await (const b of batches(failing(), 10)) seen.push(b) })()).rejects.toThrow('listing broke off')
    expect(seen).toEqual([[1]])
  })
})
