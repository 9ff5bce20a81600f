import { describe, expect, test } from 'vitest'
import { ChunkedObject, type ChunkHandler } from '../../src/engine/chunked.js'

/** A handler that records what the machine asked of it; `fails` maps a part to the error it rejects with. */
function recording(fails: Map<number, Error> = new Map(), hold?: Promise<void>) {
  const log: string[] = []
  const handler: ChunkHandler = {
    async move(i) {
      log.push(`move ${i}`)
      await hold
      const err = fails.get(i)
      if (err) throw err
    },
    partFailed(i, err) { log.push(`failed ${i}: ${(err as Error).message}`) },
    async settle(complete) { log.push(`settle ${complete}`) },
  }
  return { log, handler }
}

const signal = (): AbortController => new AbortController()

async function runAll(o: ChunkedObject): Promise<void> {
  await Promise.all([...o.tasks()].map((t) => t.run()))
}

describe('ChunkedObject: one object moved in parts, settled once', () => {
  test('every missing part moves, then the object settles complete, once', async () => {
    const { log, handler } = recording()
    const o = new ChunkedObject([0, 2, 3], signal().signal, handler)
    expect([...o.tasks()].map((t) => t.index)).toEqual([0, 2, 3])
    await runAll(o)
    expect(log).toEqual(['move 0', 'move 2', 'move 3', 'settle true'])
  })

  test('nothing missing: one settling task', async () => {
    const { log, handler } = recording()
    const o = new ChunkedObject([], signal().signal, handler)
    const tasks = [...o.tasks()]
    expect(tasks.map((t) => t.index)).toEqual([-1])
    await tasks[0]!.run()
    expect(log).toEqual(['settle true'])
  })

  test('the first failure is told once; no part starts after it; the object settles incomplete after the last in flight', async () => {
    let release!: () => void
    const hold = new Promise<void>((r) => { release = r })
    const { log, handler } = recording(new Map([[0, new Error('a')], [1, new Error('b')]]), hold)
    const o = new ChunkedObject([0, 1, 2], signal().signal, handler)
    const [t0, t1, t2] = [...o.tasks()]
    const running = [t0!.run(), t1!.run()]
    release()
    await Promise.all(running)
    await t2!.run() // starts after the failure: does nothing
    expect(log).toEqual(['move 0', 'move 1', 'failed 0: a', 'settle false'])
  })

  test('a part that rejects after the run was interrupted tells no failure; the object settles incomplete', async () => {
    const ac = signal()
    let release!: () => void
    const hold = new Promise<void>((r) => { release = r })
    const { log, handler } = recording(new Map([[0, new Error('cancelled')]]), hold)
    const o = new ChunkedObject([0, 1], ac.signal, handler)
    const [t0, t1] = [...o.tasks()]
    const running = t0!.run()
    ac.abort()
    release()
    await running
    await t1!.run() // the run is interrupted: it does nothing
    expect(log).toEqual(['move 0', 'settle false'])
  })
})
