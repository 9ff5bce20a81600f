import { setImmediate as tick } from 'node:timers/promises'
import { describe, expect, test } from 'vitest'
import { WorkerPool, type Task } from '../../src/engine/pool.js'

/** Lets every pending promise callback run (the pool pulls and starts tasks in callbacks). */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await tick()
}

/**
 * Tasks that each wait until the test releases them, and a record of what ran when.
 * `started` and `finished` hold task indexes in order; `peak` is the most running at once.
 */
function controlled(n: number) {
  const releases: Array<() => void> = []
  const state = { running: 0, peak: 0, started: [] as number[], finished: [] as number[] }
  const tasks: Task[] = Array.from({ length: n }, (_, i) => async () => {
    state.started.push(i)
    state.running++
    state.peak = Math.max(state.peak, state.running)
    await new Promise<void>((r) => { releases[i] = r })
    state.running--
    state.finished.push(i)
  })
  const release = async (...indexes: number[]): Promise<void> => {
    for (const i of indexes) {
      const r = releases[i]
      if (!r) throw new Error(`task ${i} has not started`)
      r()
    }
    await flush()
  }
  return { tasks, state, release }
}

async function* fromArray(tasks: Task[]): AsyncGenerator<Task> {
  for (const t of tasks) yield t
}

describe('WorkerPool', () => {
  test.each([1, 2, 5, 16])('never runs more than %i tasks at once, and reaches that many', async (size) => {
    let running = 0, peak = 0, done = 0
    const tasks = Array.from({ length: 40 }, (_, i): Task => async () => {
      running++
      peak = Math.max(peak, running)
      await new Promise((r) => setTimeout(r, i % 3))
      running--
      done++
    })
    await new WorkerPool(fromArray(tasks), size).run()
    expect(peak).toBe(size)
    expect(done).toBe(40)
  })

  test('starts tasks in the order the source gives them', async () => {
    const c = controlled(6)
    const run = new WorkerPool(fromArray(c.tasks), 2).run()
    await flush()
    expect(c.state.started).toEqual([0, 1])
    await c.release(1)
    expect(c.state.started).toEqual([0, 1, 2])
    for (const i of [0, 2, 3, 4, 5]) await c.release(i)
    await run
    expect(c.state.started).toEqual([0, 1, 2, 3, 4, 5])
  })

  test('reports the number of running tasks through onChange and `running`', async () => {
    const c = controlled(3)
    const seen: number[] = []
    const pool = new WorkerPool(fromArray(c.tasks), 2, (active) => seen.push(active))
    const run = pool.run()
    await flush()
    expect(pool.running).toBe(2)
    await c.release(0, 1)
    await c.release(2)
    await run
    expect(pool.running).toBe(0)
    expect(seen[0]).toBe(1)
    expect(Math.max(...seen)).toBe(2)
    expect(seen.at(-1)).toBe(0)
  })

  test('resize up starts more tasks at once', async () => {
    const c = controlled(10)
    const pool = new WorkerPool(fromArray(c.tasks), 1)
    const run = pool.run()
    await flush()
    expect(c.state.running).toBe(1)
    pool.resize(4)
    await flush()
    expect(c.state.running).toBe(4)
    expect(c.state.started).toEqual([0, 1, 2, 3])
    await c.release(...c.state.started)
    await c.release(4, 5, 6, 7)
    await c.release(8, 9)
    await run
    expect(c.state.peak).toBe(4)
  })

  test('resize down lets running tasks finish and starts none until below the new size', async () => {
    const c = controlled(8)
    const pool = new WorkerPool(fromArray(c.tasks), 4)
    const run = pool.run()
    await flush()
    expect(c.state.running).toBe(4)
    pool.resize(2)
    await flush()
    expect(c.state.running).toBe(4) // nothing is cancelled
    await c.release(0)
    expect(c.state.running).toBe(3)
    expect(c.state.started).toHaveLength(4) // 3 running > 2: no new task
    await c.release(1)
    expect(c.state.started).toHaveLength(4) // 2 running = 2: still none
    await c.release(2)
    expect(c.state.started).toEqual([0, 1, 2, 3, 4]) // 1 running < 2: one more
    expect(c.state.running).toBe(2)
    await c.release(3, 4)
    await c.release(5, 6)
    await c.release(7)
    await run
    expect(c.state.finished.sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
  })

  test('resize to 0 or less keeps one task running', async () => {
    const c = controlled(3)
    const pool = new WorkerPool(fromArray(c.tasks), 2)
    const run = pool.run()
    await flush()
    pool.resize(0)
    await c.release(0, 1)
    expect(c.state.running).toBe(1)
    await c.release(2)
    await run
    expect(c.state.finished).toHaveLength(3)
  })

  test('run() resolves only after the last task has finished', async () => {
    const c = controlled(3)
    let resolved = false
    const run = new WorkerPool(fromArray(c.tasks), 3).run().then(() => { resolved = true })
    await flush()
    await c.release(0, 1)
    expect(resolved).toBe(false)
    await c.release(2)
    await run
    expect(resolved).toBe(true)
    expect(c.state.finished).toEqual([0, 1, 2])
  })

  test('run() resolves for an empty source', async () => {
    let resolved = false
    await new WorkerPool(fromArray([]), 4).run().then(() => { resolved = true })
    expect(resolved).toBe(true)
  })

  test('when the source throws, running tasks finish before run() rejects with that error, and no task starts after', async () => {
    const c = controlled(5)
    const boom = new Error('listing failed')
    async function* source(): AsyncGenerator<Task> {
      yield c.tasks[0]!
      yield c.tasks[1]!
      throw boom
    }
    const events: string[] = []
    const run = new WorkerPool(source(), 4).run().then(
      () => events.push('resolved'),
      (err: unknown) => events.push(err === boom ? 'rejected with boom' : `rejected with ${String(err)}`),
    )
    await flush()
    expect(c.state.started).toEqual([0, 1])
    expect(events).toEqual([])
    await c.release(0)
    expect(events).toEqual([])
    await c.release(1)
    await run
    expect(c.state.finished).toEqual([0, 1])
    expect(events).toEqual(['rejected with boom'])
  })

  test('a source that throws at once rejects run() with its error', async () => {
    const boom = new Error('no bucket')
    // eslint-disable-next-line require-yield
    async function* source(): AsyncGenerator<Task> {
      throw boom
    }
    await expect(new WorkerPool(source(), 4).run()).rejects.toBe(boom)
  })
})
