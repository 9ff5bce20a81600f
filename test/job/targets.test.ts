import { describe, expect, test } from 'vitest'
import { resolveTarget, targetClashes, type PlacedTarget } from '../../src/job/targets.js'

const root = { dir: '/data', given: true }
const cwd = { dir: '/work', given: false }

describe('resolveTarget', () => {
  test.each([
    [root, 'local/data', 'folder', '/data/local/data'],
    [root, './local/../other/x.bin', 'file', '/data/other/x.bin'],
    [root, '.', 'folder', '/data'],
    [root, '', 'folder', '/data'],
    [root, '/data/abs/x', 'file', '/data/abs/x'],
    [cwd, 'out/x', 'file', '/work/out/x'],
    // Kaiwo: without download_root, an absolute target path is used as it is.
    [cwd, '/elsewhere/x', 'file', '/elsewhere/x'],
  ] as const)('%o %j (%s) lands at %s', (r, raw, mode, expected) => {
    expect(resolveTarget(r, raw, mode)).toEqual({ target: expected })
  })

  test.each([
    [root, '../x', 'file', 'expected a path inside download_root `/data`, got `../x`'],
    [root, 'a/../../x', 'folder', 'expected a path inside download_root `/data`, got `a/../../x`'],
    [root, '/etc/passwd', 'file', 'expected a path inside download_root `/data`, got `/etc/passwd`'],
    [root, '/datax/y', 'file', 'expected a path inside download_root `/data`, got `/datax/y`'],
    [root, '.', 'file', 'expected a file path inside download_root `/data`, got `.`, the root itself'],
    [cwd, '../x', 'folder', 'expected a path inside the working directory `/work` (the file has no download_root), got `../x`'],
    [root, 'a\0b', 'file', 'expected a path inside download_root `/data`, got a path with a NUL character'],
  ] as const)('%o %j (%s) is refused: %s', (r, raw, mode, problem) => {
    expect(resolveTarget(r, raw, mode)).toEqual({ problem })
  })
})

describe('targetClashes', () => {
  const at = (target: string, mode: 'file' | 'folder', n: number): PlacedTarget =>
    ({ target, mode, field: `i[${n}].target_path`, line: n * 10 + 1, itemField: `i[${n}]`, itemLine: n * 10 })

  test('distinct targets, and a folder inside another folder, do not clash', () => {
    expect(targetClashes([at('/d/a', 'folder', 0), at('/d/a/sub', 'folder', 1), at('/d/a/sub/x', 'file', 2), at('/d/b', 'file', 3)])).toEqual([])
  })

  test('two items writing one path clash on the later one, whatever their modes', () => {
    const later = at('/d/a', 'file', 2)
    expect(targetClashes([at('/d/a', 'folder', 0), at('/d/b', 'file', 1), later])).toEqual([
      { at: later, problem: 'expected a target no other item writes, got `/d/a`, which i[0] (line 0) writes too' },
    ])
  })

  test('a path inside another item\'s file clashes, whichever comes first', () => {
    const inner = at('/d/a/b/c', 'folder', 0)
    expect(targetClashes([inner, at('/d/a', 'file', 1)])).toEqual([
      { at: inner, problem: 'expected a target outside other items\' files, got `/d/a/b/c`, inside `/d/a`, the file of i[1] (line 10)' },
    ])
  })
})
