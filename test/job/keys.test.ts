import { describe, expect, test } from 'vitest'
import { toKey } from '../../src/job/keys.js'

describe('toKey', () => {
  test.each([
    ['data', 'folder', 'data'],
    ['data/', 'folder', 'data'],
    ['./data/2024/', 'folder', 'data/2024'],
    ['/data', 'folder', 'data'],
    ['.', 'folder', ''],
    ['./', 'folder', ''],
    ['', 'folder', ''],
    ['.hidden', 'folder', '.hidden'],
    ['readme.txt', 'file', 'readme.txt'],
    ['./sub/file02.txt', 'file', 'sub/file02.txt'],
    ['..data/x', 'file', '..data/x'],
  ] as const)('%j as a %s is the key %j', (raw, mode, key) => {
    expect(toKey(raw, mode)).toEqual({ key })
  })

  test.each([
    ['../x', 'folder', 'expected a folder like data/2024 (or . for everything) without `..`, got `../x`'],
    ['a/../../x', 'file', 'expected an object key like dir/name.txt without `..`, got `a/../../x`'],
    ['', 'file', 'expected an object key like dir/name.txt, got an empty string'],
    ['.', 'file', 'expected an object key like dir/name.txt, got `.`'],
    ['dir/', 'file', 'expected an object key like dir/name.txt, got `dir/`'],
    ['a\0b', 'file', 'expected an object key like dir/name.txt, got a value with a NUL character'],
  ] as const)('%j as a %s is refused: %s', (raw, mode, problem) => {
    expect(toKey(raw, mode)).toEqual({ problem })
  })
})
