import { describe, expect, test } from 'vitest'
import { march } from '../../src/engine/check.js'
import type { ObjectInfo } from '../../src/providers/provider.js'

async function* listing(keys: string[]): AsyncIterable<{ key: string; info: ObjectInfo }> {
  for (const key of keys) yield { key, info: { key, size: key.length } }
}

async function steps(xs: string[], ys: string[]): Promise<string[]> {
  const out: string[] = []
  for await (const s of march(listing(xs), listing(ys))) out.push(`${s.x ? 'x' : '-'}${s.y ? 'y' : '-'} ${s.key}`)
  return out
}

describe('march: two listings side by side in key order', () => {
  test('each key once, with its object on each side where it has one', async () => {
    expect(await steps(['a', 'b', 'd'], ['b', 'c', 'd', 'e'])).toEqual(['x- a', 'xy b', '-y c', 'xy d', '-y e'])
  })

  test('one side empty: every key of the other', async () => {
    expect(await steps([], ['a', 'b'])).toEqual(['-y a', '-y b'])
    expect(await steps(['a'], [])).toEqual(['x- a'])
  })

  test('orders by UTF-8 bytes as S3 lists, not by UTF-16 code units', async () => {
    // U+FFFD sorts before U+1F600 in UTF-8 (EF BF BD < F0 9F 98 80), after it in UTF-16.
    expect(await steps(['\uFFFD', '😀'], ['😀'])).toEqual(['x- \uFFFD', 'xy 😀'])
  })

  test('a listing out of key order fails the march, naming both keys', async () => {
    await expect(steps(['b', 'a'], ['a'])).rejects.toThrow('A listing came out of key order (`a` after `b`)')
  })
})
