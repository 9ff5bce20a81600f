import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { lstat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { DirectoryMaker } from '../../src/providers/local/local-files.js'
import { LocalWriteError, UnsafeKeyError } from '../../src/errors.js'

let base: string
let root: string
let outside: string
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'soaker-dirs-'))
  root = join(base, 'dest')
  outside = join(base, 'outside')
  mkdirSync(root)
  mkdirSync(outside)
})
afterEach(() => rmSync(base, { recursive: true, force: true }))

describe('DirectoryMaker', () => {
  test('makes nested folders below the root', async () => {
    const dirs = new DirectoryMaker(root)
    await dirs.ensure(join(root, 'a', 'b', 'c'))
    expect((await lstat(join(root, 'a', 'b', 'c'))).isDirectory()).toBe(true)
    await dirs.ensure(join(root, 'a', 'b', 'c')) // remembered: no error the second time
    await dirs.ensure(root)
  })

  test('makes the same folder for many tasks at once', async () => {
    const dirs = new DirectoryMaker(root)
    await Promise.all(Array.from({ length: 20 }, () => dirs.ensure(join(root, 'x', 'y'))))
    expect((await lstat(join(root, 'x', 'y'))).isDirectory()).toBe(true)
  })

  test.each([
    ['a link at the first level', 'link', ['link', 'sub']],
    ['a link deeper down', 'a/link', ['a', 'link', 'sub', 'deeper']],
    ['a link as the folder itself', 'a/link', ['a', 'link']],
  ])('refuses %s, and makes nothing outside the root', async (_name, linkAt, segments) => {
    mkdirSync(join(root, 'a'), { recursive: true })
    symlinkSync(outside, join(root, linkAt))
    const err = await new DirectoryMaker(root).ensure(join(root, ...segments)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnsafeKeyError)
    expect((err as UnsafeKeyError).message).toBe(`\`${join(root, linkAt)}\` is a symbolic link already in the destination; nothing is written through one`)
    expect(readdirSync(outside)).toEqual([])
  })

  test('refuses a dangling link, and makes nothing where it points', async () => {
    symlinkSync(join(outside, 'not-yet'), join(root, 'dangling'))
    await expect(new DirectoryMaker(root).ensure(join(root, 'dangling', 'x'))).rejects.toBeInstanceOf(UnsafeKeyError)
    expect(readdirSync(outside)).toEqual([])
  })

  test('accepts a root that is itself a link (the user chose it)', async () => {
    const linkedRoot = join(base, 'root-link')
    symlinkSync(root, linkedRoot)
    await new DirectoryMaker(linkedRoot).ensure(join(linkedRoot, 'a'))
    expect((await lstat(join(root, 'a'))).isDirectory()).toBe(true)
  })

  test('a file in the way is a LocalWriteError saying so', async () => {
    writeFileSync(join(root, 'f'), 'x')
    const err = await new DirectoryMaker(root).ensure(join(root, 'f', 'g')).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(LocalWriteError)
    expect((err as LocalWriteError).message).toMatch(/a file is in the way where a directory is needed/)
  })

  test('checkExisting refuses a link among the folders that exist, and makes nothing', () => {
    mkdirSync(join(root, 'a'))
    symlinkSync('../../outside', join(root, 'a', 'link'))
    const dirs = new DirectoryMaker(root)
    expect(() => dirs.checkExisting(join(root, 'a', 'link', 'b'))).toThrow(UnsafeKeyError)
    expect(dirs.checkExisting(join(root, 'a'))).toBe(true)
    expect(dirs.checkExisting(join(root, 'new', 'deeper'))).toBe(false)
    expect(readdirSync(root).sort()).toEqual(['a'])
    expect(readdirSync(outside)).toEqual([])
  })

  test('checkExisting leaves a file in the way to ensure(), which names it', () => {
    writeFileSync(join(root, 'f'), 'x')
    expect(new DirectoryMaker(root).checkExisting(join(root, 'f', 'g'))).toBe(false)
  })

  test('a folder that is not below the root is a programming error', async () => {
    expect(() => new DirectoryMaker(root).checkExisting(outside)).toThrow(/is not below/)
    await expect(new DirectoryMaker(root).ensure(outside)).rejects.toThrow(/is not below/)
  })
})
