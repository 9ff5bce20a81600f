import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { describe, expect, test } from 'vitest'
import { checkShard, onlyShard, shardHash, shardName, shardOf } from '../../src/engine/shard.js'
import { ShardMismatchError } from '../../src/errors.js'
import { SqliteStateStore } from '../../src/state/sqlite-store.js'
import { thrown } from '../support/thrown.js'

/** A listing of `keys`, as a provider streams one. */
async function* listing(keys: readonly string[]): AsyncIterable<string> {
  for (const key of keys) yield key
}

async function collect(items: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = []
  for await (const item of items) out.push(item)
  return out
}

/** Keys shaped like a real bucket's: numbered files differing in a character or two, nested. */
const manyKeys = Array.from({ length: 10_000 }, (_, i) => `train/n${String(i % 97).padStart(8, '0')}/img_${String(i).padStart(6, '0')}.JPEG`)

describe('shardOf', () => {
  // Pinned: computed once, and by Python's hashlib as README documents the function
  // (int.from_bytes(sha256(key.encode()).digest()[:8], 'big') % n). A changed function moves keys
  // between the shards of jobs under way; it must fail here.
  test.each([
    ['', [0, 1, 0, 1, 2, 652]],
    ['a', [0, 1, 2, 4, 0, 250]],
    ['photos/2024/cat.jpg', [0, 1, 2, 2, 2, 442]],
    ['datasets/imagenet/train/n01440764/n01440764_10026.JPEG', [1, 0, 3, 0, 5, 835]],
    ['données/été/über.txt', [0, 0, 0, 6, 2, 592]],
    ['日本語/ファイル.bin', [1, 1, 3, 0, 7, 227]],
    ['🦀/crab.rs', [0, 0, 2, 5, 0, 270]],
  ])('%j is in shards %j of 2, 3, 4, 7, 10 and 1000 shards', (key, expected) => {
    expect([2, 3, 4, 7, 10, 1000].map((n) => shardOf(key, n))).toEqual(expected)
  })

  test('is the first 8 bytes of SHA-256 of the UTF-8 bytes, big-endian, mod N, for any N up to 2^53', () => {
    const reference = (key: string, n: bigint): number => Number(BigInt(`0x${createHash('sha256').update(Buffer.from(key, 'utf8')).digest('hex').slice(0, 16)}`) % n)
    for (const key of manyKeys.slice(0, 200)) {
      for (const n of [1, 2, 5, 64, 1_000_003, 2 ** 40 + 15, Number.MAX_SAFE_INTEGER]) expect(shardOf(key, n)).toBe(reference(key, BigInt(n)))
    }
  })

  test('hashes a key\'s bytes as they are: the NFC and NFD spellings of one name are two keys', () => {
    const nfc = 'café.txt'.normalize('NFC')
    const nfd = 'café.txt'.normalize('NFD')
    expect(nfc).not.toBe(nfd)
    expect(shardOf(nfc, 1000)).toBe(708)
    expect(shardOf(nfd, 1000)).toBe(655)
  })

  test.each([2, 4, 7, 10, 16])('spreads 10,000 keys that differ in a character or two evenly over %i shards', (n) => {
    const counts = new Array<number>(n).fill(0)
    for (const key of manyKeys) counts[shardOf(key, n)]!++
    const mean = manyKeys.length / n
    for (const c of counts) expect(Math.abs(c - mean) / mean).toBeLessThan(0.08)
    // Pearson's chi-squared against an even spread: below its 99.9th percentile (n - 1 degrees of freedom, at most 15: 37.7).
    const chi2 = counts.reduce((sum, c) => sum + (c - mean) ** 2 / mean, 0)
    expect(chi2).toBeLessThan(37.7)
  })
})

describe('onlyShard', () => {
  test('every key of a listing is in exactly one of N shards, in the listing\'s order, whatever that order', async () => {
    const keys = [...manyKeys.slice(0, 2000), 'ä/ö', '', 'a/', 'a/b/c/']
    const reversed = [...keys].reverse()
    for (const n of [1, 3, 4]) {
      const shards = await Promise.all(Array.from({ length: n }, (_, index) => collect(onlyShard(listing(keys), { index, count: n }, (k) => k))))
      const seen = shards.flat()
      expect(seen.length).toBe(keys.length)
      expect(new Set(seen)).toEqual(new Set(keys))
      for (const shard of shards) expect(shard).toEqual(keys.filter((k) => shard.includes(k))) // listing order kept
      // Another order of the same keys: the same keys in each shard.
      for (let index = 0; index < n; index++) {
        const again = await collect(onlyShard(listing(reversed), { index, count: n }, (k) => k))
        expect(again.reverse()).toEqual(shards[index])
      }
    }
  })

  test('without a shard, it is the listing itself', () => {
    const items = listing(['a'])
    expect(onlyShard(items, undefined, (k) => k)).toBe(items)
  })

  test('decides by the key it is given, not the item', async () => {
    const items = [{ key: 'photos/2024/cat.jpg' }, { key: 'a' }]
    const kept: string[] = []
    for await (const item of onlyShard((async function* () { yield* items })(), { index: 2, count: 4 }, (i) => i.key)) kept.push(item.key)
    expect(kept).toEqual(['photos/2024/cat.jpg', 'a']) // both are shard 2 of 4 (pinned above)
  })
})

describe('checkShard', () => {
  const shard = (index: number, count: number): { index: number; count: number } => ({ index, count })
  /** A state database in a file of its own, closed after `fn`. */
  async function withState(fn: (store: SqliteStateStore, path: string) => Promise<void> | void): Promise<void> {
    const path = join(mkdtempSync(join(tmpdir(), 'soaker-shard-')), 's.db')
    const store = new SqliteStateStore(path)
    try {
      await fn(store, path)
    } finally {
      await store.close()
    }
  }

  test('a state no run has used takes the run\'s shard, and keeps it when opened again', async () => {
    await withState(async (store, path) => {
      checkShard(store, shard(1, 4), path, true)
      expect(store.recordedShard()).toEqual({ index: 1, count: 4, hash: shardHash })
      await store.close()
      const again = new SqliteStateStore(path)
      try {
        expect(again.recordedShard()).toEqual({ index: 1, count: 4, hash: shardHash })
        checkShard(again, shard(1, 4), path, true)
      } finally {
        await again.close()
      }
    })
  })

  test('a run that does not write (a dry run, status) records nothing', async () => {
    await withState((store, path) => {
      checkShard(store, shard(1, 4), path, false)
      expect(store.recordedShard()).toBeUndefined()
    })
  })

  test('a state of shard 1/4 refuses shard 2/4, 1/5 and a run of every object, naming both and the fix', async () => {
    await withState(async (store, path) => {
      checkShard(store, shard(1, 4), path, true)
      await store.beginRun('s3://b/p', '/d')
      expect(thrown(() => checkShard(store, shard(2, 4), path, true), ShardMismatchError).message).toBe(
        `The state database \`${path}\` holds the objects of shard 1/4 (--shard 1/4), but this run is shard 2/4: ` +
        'pass --shard 1/4 to continue it, or give this run a state of its own (leave --state out: each shard has its own by default)')
      expect(thrown(() => checkShard(store, shard(1, 5), path, false), ShardMismatchError).message).toContain('this run is shard 1/5')
      const whole = thrown(() => checkShard(store, undefined, path, true), ShardMismatchError)
      expect(whole.message).toContain('but this run is of every object (no --shard)')
      expect(whole.code).toBe('SOAKER_SHARD_MISMATCH')
      expect(whole.exitCode).toBe(2)
      expect(store.recordedShard()).toEqual({ index: 1, count: 4, hash: shardHash })
    })
  })

  test('a state that runs without --shard used refuses a run of one shard; a fresh one is anybody\'s', async () => {
    await withState(async (store, path) => {
      checkShard(store, undefined, path, true)
      expect(store.recordedShard()).toBeUndefined()
      await store.beginRun('s3://b/p', '/d')
      checkShard(store, undefined, path, true)
      expect(thrown(() => checkShard(store, shard(0, 2), path, true), ShardMismatchError).message).toBe(
        `The state database \`${path}\` holds every object (made by runs without --shard), but this run is shard 0/2: ` +
        'give this run a state of its own (leave --state out: each shard has its own by default)')
      expect(store.recordedShard()).toBeUndefined()
    })
  })

  test('a state sharded by a hash this soaker does not know is refused, whatever the shard', async () => {
    await withState((store, path) => {
      store.recordShard({ index: 0, count: 2, hash: 'fnv1a-64' })
      expect(thrown(() => checkShard(store, shard(0, 2), path, true), ShardMismatchError).message)
        .toMatch(/^The state database `.*` was sharded by `fnv1a-64`, which this soaker does not know \(it assigns keys by `sha256-64`\)/)
    })
  })

  test('shardName is K/N', () => {
    expect(shardName(shard(3, 8))).toBe('3/8')
  })
})
