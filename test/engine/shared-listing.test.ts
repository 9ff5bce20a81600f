import { describe, expect, test } from 'vitest'
import { listedAfter } from '../../src/engine/shared-listing.js'
import type { ObjectInfo } from '../../src/providers/provider.js'

async function keysOf(listing: AsyncIterable<ObjectInfo>): Promise<string[]> {
  const keys: string[] = []
  for await (const info of listing) keys.push(info.key)
  return keys
}

async function* listing(keys: string[]): AsyncIterable<ObjectInfo> {
  for (const key of keys) yield { key, size: 1 }
}

describe('listedAfter', () => {
  test('without a mark, the whole listing', async () => {
    expect(await keysOf(listedAfter(listing(['a', 'b']), null))).toEqual(['a', 'b'])
  })

  test('with a mark, only the keys after it, whether the mark is listed or not', async () => {
    expect(await keysOf(listedAfter(listing(['a', 'b', 'c', 'd']), 'b'))).toEqual(['c', 'd'])
    expect(await keysOf(listedAfter(listing(['a', 'b', 'd']), 'c'))).toEqual(['d'])
    expect(await keysOf(listedAfter(listing(['a', 'b']), 'b'))).toEqual([])
  })

  test('compares keys as UTF-8 bytes, the order a store lists them in, not as JavaScript strings', async () => {
    // U+FF5E sorts before U+1F600 in UTF-8, after it in UTF-16 (a surrogate pair starts with 0xD83D).
    const stored = ['a', '\uff5e', '\u{1f600}']
    expect(await keysOf(listedAfter(listing(stored), '\uff5e'))).toEqual(['\u{1f600}'])
    expect(await keysOf(listedAfter(listing(stored), 'a'))).toEqual(['\uff5e', '\u{1f600}'])
  })
})
