import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join, sep } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { localPathFor, nameMax, partialPathFor } from '../../src/engine/keys.js'
import { UnsafeKeyError } from '../../src/errors.js'
import { thrown } from '../support/thrown.js'

const root = mkdtempSync(join(tmpdir(), 'soaker-keys-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('localPathFor', () => {
  test.each([
    ['../x', /`\.\.` segment/],
    ['a/../../b', /`\.\.` segment/],
    ['a/..', /`\.\.` segment/],
    ['..', /`\.\.` segment/],
    ['/abs', /absolute path/],
    ['/etc/passwd', /absolute path/],
    ['a\0b', /NUL character/],
    ['a//b', /empty or `\.` path segment/],
    ['./a', /empty or `\.` path segment/],
    ['a/./b', /empty or `\.` path segment/],
    ['dir/', /empty or `\.` path segment/],
    ['', /empty or `\.` path segment/],
    [`dir/${'n'.repeat(256)}`, /name of 256 bytes; the file system allows 255/],
    [`${'é'.repeat(128)}`, /name of 256 bytes; the file system allows 255/],
  ])('refuses the key %j, naming it', (key, reason) => {
    const err = thrown(() => localPathFor(root, key, key), UnsafeKeyError)
    expect(err.code).toBe('SOAKER_UNSAFE_KEY')
    expect(err.message).toContain(`key ${JSON.stringify(key)}`)
    expect(err.message).toMatch(reason)
  })

  test('names the full key, not the part relative to the prefix', () => {
    const err = thrown(() => localPathFor(root, '../x', 'data/../x'), UnsafeKeyError)
    expect(err.message).toContain('key "data/../x"')
  })

  test.each([
    ['file.txt', ['file.txt']],
    ['a/b/c.bin', ['a', 'b', 'c.bin']],
    ['données/été/データ.csv', ['données', 'été', 'データ.csv']],
    ['with space/and%20escapes?x=1', ['with space', 'and%20escapes?x=1']],
    ['..hidden/...', ['..hidden', '...']],
    ['back\\slash', ['back\\slash']],
    [Array.from({ length: 40 }, (_, i) => `d${i}`).join('/'), Array.from({ length: 40 }, (_, i) => `d${i}`)],
    [`${'n'.repeat(255)}`, ['n'.repeat(255)]],
  ])('maps %j below the root', (key, segments) => {
    const path = localPathFor(root, key, key)
    expect(path).toBe(join(root, ...segments))
    expect(path.startsWith(root + sep)).toBe(true)
  })

  test('accepts a root given with a trailing separator', () => {
    expect(localPathFor(root + sep, 'a/b', 'a/b')).toBe(join(root, 'a', 'b'))
  })
})

describe('partialPathFor', () => {
  test('adds .soaker-partial to a short name', () => {
    expect(partialPathFor(join(root, 'a', 'file.bin'))).toBe(join(root, 'a', 'file.bin.soaker-partial'))
  })

  test('keeps the suffix when the name with it is exactly NAME_MAX bytes', () => {
    const name = 'x'.repeat(nameMax - '.soaker-partial'.length)
    expect(partialPathFor(join(root, name))).toBe(join(root, name + '.soaker-partial'))
  })

  test.each([
    ['x'.repeat(250)],
    ['x'.repeat(nameMax - '.soaker-partial'.length + 1)],
    ['é'.repeat(125)],
  ])('gives a name too long for the suffix a short hashed name in the same directory (%#)', (name) => {
    const path = join(root, 'deep', 'dir', name)
    const partial = partialPathFor(path)
    expect(dirname(partial)).toBe(dirname(path))
    expect(basename(partial)).toMatch(/^\.[0-9a-f]{20}\.soaker-partial$/)
    expect(Buffer.byteLength(basename(partial))).toBeLessThanOrEqual(nameMax)
    expect(partialPathFor(path)).toBe(partial)
  })

  test('gives different long names different hashed names', () => {
    const a = partialPathFor(join(root, 'a'.repeat(250)))
    const b = partialPathFor(join(root, 'a'.repeat(249) + 'b'))
    expect(a).not.toBe(b)
  })
})
