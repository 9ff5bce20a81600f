import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { walk, type WalkEntry } from '../../src/engine/walk.js'

const roots: string[] = []
afterEach(() => { for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true }) })

/** A tree of these paths under a new directory: a path ending in `/` is an empty directory. */
function tree(paths: string[]): string {
  const root = mkdtempSync(join(tmpdir(), 'soaker-walk-'))
  roots.push(root)
  for (const p of paths) {
    if (p.endsWith('/')) mkdirSync(join(root, p), { recursive: true })
    else {
      mkdirSync(join(root, p, '..'), { recursive: true })
      writeFileSync(join(root, p), p)
    }
  }
  return root
}

async function rels(entries: AsyncIterable<WalkEntry>): Promise<string[]> {
  const out: string[] = []
  for await (const e of entries) out.push(`${e.kind} ${e.rel}`)
  return out
}

// In UTF-8 byte order: 'a.txt' < 'a/…' < 'a0' ('.' < '/' < '0'), and U+FFFD (EF BF BD) before
// U+1F600 (F0 9F 98 80), which JavaScript's own string order puts the other way round.
const paths = ['😀', '\uFFFD', 'é', 'a0', 'a/z/deep', 'a/b', 'a/empty/', 'a.txt', 'B', 'c/']
const inByteOrder = [
  'file B', 'file a.txt', 'file a/b', 'empty-dir a/empty/', 'file a/z/deep', 'file a0', 'empty-dir c/', 'file é', 'file \uFFFD', 'file 😀',
]

describe('walk', () => {
  test('as the directory gives them: every entry once', async () => {
    const root = tree(paths)
    expect((await rels(walk(root, { followSymlinks: false }))).sort()).toEqual([...inByteOrder].sort())
  })

  test('ordered: in the UTF-8 byte order of their paths, a directory\'s entries as if its name ended in /', async () => {
    const root = tree(paths)
    expect(await rels(walk(root, { followSymlinks: false, ordered: { after: null } }))).toEqual(inByteOrder)
  })

  test('ordered after a path it gave: exactly the entries after it, whichever it was', async () => {
    const root = tree(paths)
    for (let i = 0; i < inByteOrder.length; i++) {
      const after = inByteOrder[i]!.slice(inByteOrder[i]!.indexOf(' ') + 1)
      expect(await rels(walk(root, { followSymlinks: false, ordered: { after } })), `after ${after}`).toEqual(inByteOrder.slice(i + 1))
    }
  })

  test('ordered: a link loop is skipped where it sorts, and entries that are not files keep their place', async () => {
    const root = tree(['d/f', 'e'])
    symlinkSync(root, join(root, 'd', 'loop'))
    symlinkSync(join(root, 'missing'), join(root, 'd', 'broken'))
    expect(await rels(walk(root, { followSymlinks: true, ordered: { after: null } }))).toEqual(
      ['failed d/broken', 'file d/f', 'skipped d/loop/', 'file e'])
    expect(await rels(walk(root, { followSymlinks: true, ordered: { after: 'd/f' } }))).toEqual(['skipped d/loop/', 'file e'])
  })
})
