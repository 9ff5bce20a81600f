import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join, sep } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { localPathFor, nameMax, partialDirOf, partialPathFor, quoteKey } from '../../src/providers/local/keys.js'
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
    ['a\nb', /control character/],
    ['dir/line\r', /control character/],
    ['\u001b[31mred', /control character/],
    ['tab\there', /control character/],
    ['bell\u0007', /control character/],
    ['del\u007f', /control character/],
    ['c1\u009bcsi', /control character/],
    ['.soaker', /reserved: `\.soaker\/` at the destination root/],
    ['.soaker/partial/0123-x', /reserved/],
  ])('refuses the key %j, naming it', (key, reason) => {
    const err = thrown(() => localPathFor(root, key, key), UnsafeKeyError)
    expect(err.code).toBe('SOAKER_UNSAFE_KEY')
    expect(err.message).toContain(`key ${quoteKey(key)}`)
    expect(err.message).toMatch(reason)
    expect(err.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/)
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
    ['x.soaker-partial', ['x.soaker-partial']],
    ['a/.soaker/b', ['a', '.soaker', 'b']],
    ['.soaker2', ['.soaker2']],
    ['tilde~and\u00a0nbsp', ['tilde~and\u00a0nbsp']],
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
  test('puts the partial file in .soaker/partial at the root, whatever folder the file is in', () => {
    for (const path of [join(root, 'file.bin'), join(root, 'a', 'b', 'file.bin')]) {
      const partial = partialPathFor(root, path)
      expect(dirname(partial)).toBe(join(root, '.soaker', 'partial'))
      expect(dirname(partial)).toBe(partialDirOf(root))
      expect(basename(partial)).toMatch(/^[0-9a-f]{32}-file\.bin$/)
    }
  })

  test('never names a path a key can have', () => {
    // `x.soaker-partial` is an ordinary key: x's partial file is elsewhere, and so is its own.
    const x = partialPathFor(root, join(root, 'x'))
    const other = partialPathFor(root, join(root, 'x.soaker-partial'))
    expect(x).not.toBe(join(root, 'x.soaker-partial'))
    expect(x).not.toBe(other)
    const rel = x.slice(root.length + 1)
    expect(() => localPathFor(root, rel, rel)).toThrow(/reserved/)
  })

  test('gives the same path the same partial file (a later run resumes it) and different paths different ones', () => {
    expect(partialPathFor(root, join(root, 'a', 'f'))).toBe(partialPathFor(root, join(root, 'a', 'f')))
    expect(partialPathFor(root, join(root, 'a', 'f'))).not.toBe(partialPathFor(root, join(root, 'b', 'f')))
    expect(partialPathFor(root, join(root, 'a'.repeat(250)))).not.toBe(partialPathFor(root, join(root, 'a'.repeat(249) + 'b')))
  })

  test.each([
    ['x'.repeat(255), 'x'.repeat(64)],
    ['é'.repeat(125), 'é'.repeat(32)],
    ['a' + '€'.repeat(80), 'a' + '€'.repeat(21)],
  ])('keeps at most 64 bytes of a long name, cut between characters (%#)', (name, kept) => {
    const partial = basename(partialPathFor(root, join(root, 'deep', name)))
    expect(partial).toBe(`${partial.slice(0, 32)}-${kept}`)
    expect(Buffer.byteLength(partial)).toBeLessThanOrEqual(nameMax)
  })
})

describe('quoteKey', () => {
  test.each([
    ['plain/key', '"plain/key"'],
    ['quote"and\\', '"quote\\"and\\\\"'],
    ['esc\u001b[0m', '"esc\\u001b[0m"'],
    ['del\u007f and csi\u009b', '"del\\u007f and csi\\u009b"'],
  ])('quotes %j with no raw control character', (key, quoted) => {
    expect(quoteKey(key)).toBe(quoted)
  })
})
