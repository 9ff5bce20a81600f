import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { FolderConflicts } from '../../src/engine/folder-conflicts.js'
import { KeyConflictError } from '../../src/errors.js'
import { NamespacedStore } from '../../src/state/namespaced-store.js'
import { SqliteStateStore } from '../../src/state/sqlite-store.js'

let db: SqliteStateStore
beforeEach(() => { db = new SqliteStateStore(':memory:') })
afterEach(async () => { await db.close() })

/** Plans `keys` in the order given, as the planner does: a key is checked, then recorded. Returns each refusal. */
async function planAll(keys: string[], prefix = '', store = db as SqliteStateStore | NamespacedStore, batch?: number): Promise<Record<string, string>> {
  const conflicts = new FolderConflicts(store, prefix.length)
  const refused: Record<string, string> = {}
  for (const [i, key] of keys.entries()) {
    // In batches, as the planner does: what the store holds is asked for the batch at once.
    if (batch !== undefined && i % batch === 0) await conflicts.prefetch(keys.slice(i, i + batch))
    try {
      await conflicts.check(key)
      store.putObject({ key, size: 1 }, 'pending')
    } catch (err) {
      expect(err).toBeInstanceOf(KeyConflictError)
      const e = err as KeyConflictError
      expect(e.code).toBe('SOAKER_KEY_CONFLICT')
      store.putObject({ key, size: 1 }, 'failed', e.message, e.code)
      refused[key] = e.message
    }
  }
  return refused
}

const cases: Array<[string, string[], Record<string, string>]> = [
    ['sorted: a file, then a key under it', ['a', 'a/b'], { 'a/b': 'the object "a" is a file' }],
    ['sorted, with a-x between a and a/b', ['a', 'a-x', 'a.y', 'a/b'], { 'a/b': 'the object "a" is a file' }],
    ['unsorted: the key under it first', ['a/b', 'a'], { a: 'the object "a/b" needs a folder' }],
    ['a deeper folder', ['d/e', 'd/e/f/g'], { 'd/e/f/g': 'the object "d/e" is a file' }],
    ['a folder marker after a file', ['m', 'm/'], { 'm/': 'the object "m" is a file' }],
    ['a file after a folder marker', ['m/', 'm'], { m: 'the object "m/" needs a folder' }],
    ['no conflict: siblings and look-alikes', ['a', 'a-x/b', 'a.y', 'ab/c', 'b/a'], {}],
]

describe('FolderConflicts', () => {
  test.each(cases)('%s', async (_name, keys, expected) => {
    const refused = await planAll(keys)
    expect(Object.keys(refused)).toEqual(Object.keys(expected))
    for (const [key, says] of Object.entries(expected)) {
      expect(refused[key]).toContain(`key ${JSON.stringify(key)}`)
      expect(refused[key]).toContain(says)
      expect(refused[key]).toContain('it is in the way')
    }
  })

  test.each(cases.flatMap(([name, keys, expected]) => [1, 2, 100].map((batch) => [`${name}, in prefetched batches of ${batch}`, keys, expected, batch] as const)))(
    '%s', async (_name, keys, expected, batch) => {
      const refused = await planAll([...keys], '', db, batch)
      expect(Object.keys(refused)).toEqual(Object.keys(expected))
      for (const [key, says] of Object.entries(expected)) expect(refused[key]).toContain(says)
    })

  test('every key under a file is refused, each naming the file', async () => {
    const refused = await planAll(['a', 'a/1', 'a/2', 'a/sub/3'])
    expect(Object.keys(refused)).toEqual(['a/1', 'a/2', 'a/sub/3'])
    for (const reason of Object.values(refused)) expect(reason).toContain('"a"')
  })

  test('a refused key is in no one\'s way: a rerun in the same order refuses the same key', async () => {
    expect(Object.keys(await planAll(['a', 'a/b']))).toEqual(['a/b'])
    expect(Object.keys(await planAll(['a', 'a/b']))).toEqual(['a/b'])
    expect(Object.keys(await planAll(['x/y', 'x']))).toEqual(['x'])
    expect(Object.keys(await planAll(['x/y', 'x']))).toEqual(['x'])
  })

  test('folders of the source prefix itself are not checked', async () => {
    db.putObject({ key: 'p', size: 1 }, 'done') // a file beside the prefix, from another job
    expect(await planAll(['p/a', 'p/b/c'], 'p/')).toEqual({})
  })

  test('works through a namespaced store (many buckets in one run)', async () => {
    const ns = new NamespacedStore(db, 's3://b/')
    db.putObject({ key: 's3://other/a', size: 1 }, 'pending')
    expect(await planAll(['a/b'], '', ns)).toEqual({}) // another bucket's `a` is not in the way
    expect(Object.keys(await planAll(['a'], '', ns))).toEqual(['a'])
  })

  test('a folder remembered as clear still refuses a file of its name that arrives later', async () => {
    const keys = ['f/1', ...Array.from({ length: 50 }, (_, i) => `g${i}/x`), 'f']
    expect(Object.keys(await planAll(keys))).toEqual(['f'])
  })
})
