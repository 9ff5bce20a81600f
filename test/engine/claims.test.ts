import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { claimed, Planning, Wakeup } from '../../src/engine/claims.js'
import { SqliteStateStore } from '../../src/state/sqlite-store.js'
import type { ObjectRow } from '../../src/state/store.js'

let store: SqliteStateStore
beforeEach(async () => {
  store = new SqliteStateStore(':memory:')
  await store.beginRun('s3://b', '/d')
})
afterEach(async () => { await store.close() })

async function keysOf(rows: AsyncIterable<ObjectRow>, onEach?: (row: ObjectRow) => Promise<void> | void): Promise<string[]> {
  const keys: string[] = []
  for await (const row of rows) {
    keys.push(row.key)
    await onEach?.(row)
  }
  return keys
}

describe('claimed', () => {
  test('takes what the planning records while it runs, each row once, and ends with it', async () => {
    const { planning, finished } = Planning.run(async (p) => {
      for (let i = 0; i < 300; i++) {
        store.putObject({ key: `k${String(i).padStart(3, '0')}`, size: 1 }, 'pending')
        p.planned(i + 1)
        if (i % 50 === 0) await new Promise((r) => setImmediate(r)) // the listing waits for a page
      }
    })
    const keys = await keysOf(claimed(store, 'path', planning, new AbortController().signal))
    await finished
    expect(keys).toHaveLength(300)
    expect(new Set(keys).size).toBe(300)
    expect((await store.claim(10, 'path'))).toEqual([])
  })

  test('rows planned by an earlier run are not taken until planned again', async () => {
    store.putObject({ key: 'old', size: 1 }, 'pending')
    await store.beginRun('s3://b', '/d')
    const { planning } = Planning.run(async () => { store.putObject({ key: 'new', size: 1 }, 'pending') })
    expect(await keysOf(claimed(store, 'path', planning, new AbortController().signal))).toEqual(['new'])
  })

  test('an object that comes back (started over) is taken again before the end', async () => {
    const { planning } = Planning.run(async () => {
      store.putObject({ key: 'a', size: 1 }, 'pending')
      store.putObject({ key: 'b', size: 1 }, 'pending')
    })
    const busy = new Set<string>()
    const settled = new Wakeup()
    let startedOver = false
    const keys = await keysOf(claimed(store, 'path', planning, new AbortController().signal, { count: () => busy.size, settled }), (row) => {
      busy.add(row.key)
      // Settles later, off this loop: `a` starts over once, `b` is done.
      setTimeout(() => {
        if (row.key === 'a' && !startedOver) {
          startedOver = true
          store.release('a')
        } else store.setStatus(row.key, 'done')
        busy.delete(row.key)
        settled.notify()
      }, 5)
    })
    expect(keys).toEqual(['a', 'b', 'a'])
  })

  test('the planning\'s error is thrown once what it planned has been taken', async () => {
    const { planning } = Planning.run(async () => {
      store.putObject({ key: 'a', size: 1 }, 'pending')
      throw new Error('listing broke off')
    })
    const keys: string[] = []
    await expect(keysOf(claimed(store, 'path', planning, new AbortController().signal), (r) => { keys.push(r.key) })).rejects.toThrow('listing broke off')
    expect(keys).toEqual(['a'])
  })

  test('an aborted run takes nothing more', async () => {
    const abort = new AbortController()
    const { planning } = Planning.run(async () => {
      for (const key of ['a', 'b', 'c']) store.putObject({ key, size: 1 }, 'pending')
    })
    const keys = await keysOf(claimed(store, 'path', planning, abort.signal), () => abort.abort())
    expect(keys).toEqual(['a'])
  })

  test('in a shared job, keeps looking while others hold pending objects, takes what comes back, and ends when none are held', async () => {
    const { planning } = Planning.run(async () => { store.putObject({ key: 'mine', size: 1 }, 'pending') })
    let held = 2 // another worker's claim on `theirs`, which its lease gives back
    planning.heldElsewhere = async () => {
      held--
      if (held === 0) store.putObject({ key: 'theirs', size: 1 }, 'pending') // the lease ran out: claimable again
      return held >= 0
    }
    expect(await keysOf(claimed(store, 'path', planning, new AbortController().signal))).toEqual(['mine', 'theirs'])
    expect(held).toBe(-1)
  })
})
