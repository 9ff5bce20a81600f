import { existsSync, linkSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { PartialFile } from '../../src/providers/local/partial-file.js'
import { LocalWriteError } from '../../src/errors.js'

let dir: string
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'soaker-partial-')) })
afterEach(() => rmSync(dir, { recursive: true, force: true }))

describe('PartialFile', () => {
  test('create, write, publish: the bytes arrive at the final path and the partial name is gone', async () => {
    const file = await PartialFile.create(join(dir, 'p'))
    file.writeAt(Buffer.from('hello'), 0)
    await file.publish(join(dir, 'final'), new Date('2024-01-02T03:04:05Z'))
    expect(readFileSync(join(dir, 'final'), 'utf8')).toBe('hello')
    expect(() => readFileSync(join(dir, 'p'))).toThrow(/ENOENT/)
  })

  test('create replaces a file left at the name, never writing into a hard link of another file', async () => {
    writeFileSync(join(dir, 'precious'), 'keep me')
    linkSync(join(dir, 'precious'), join(dir, 'p'))
    const file = await PartialFile.create(join(dir, 'p'))
    file.writeAt(Buffer.from('new'), 0)
    file.close()
    expect(readFileSync(join(dir, 'precious'), 'utf8')).toBe('keep me')
    expect(readFileSync(join(dir, 'p'), 'utf8')).toBe('new')
  })

  test('create replaces a symbolic link left at the name, never writing where it points', async () => {
    writeFileSync(join(dir, 'target'), 'keep me')
    symlinkSync(join(dir, 'target'), join(dir, 'p'))
    const file = await PartialFile.create(join(dir, 'p'))
    file.writeAt(Buffer.from('new'), 0)
    file.close()
    expect(readFileSync(join(dir, 'target'), 'utf8')).toBe('keep me')
  })

  test('reopen takes a regular file of the expected size, and not a link, a hard-linked file or another size', () => {
    writeFileSync(join(dir, 'p'), 'four')
    const ok = PartialFile.reopen(join(dir, 'p'), 4)
    expect(ok).toBeDefined()
    ok!.close()
    expect(PartialFile.reopen(join(dir, 'p'), 5)).toBeUndefined()
    symlinkSync(join(dir, 'p'), join(dir, 'link'))
    expect(PartialFile.reopen(join(dir, 'link'), 4)).toBeUndefined()
    linkSync(join(dir, 'p'), join(dir, 'hard'))
    expect(PartialFile.reopen(join(dir, 'p'), 4)).toBeUndefined()
    expect(PartialFile.reopen(join(dir, 'absent'), 4)).toBeUndefined()
  })

  test('publish refuses when the name no longer holds the file written, and publishes nothing', async () => {
    const file = await PartialFile.create(join(dir, 'p'))
    file.writeAt(Buffer.from('verified'), 0)
    renameSync(join(dir, 'p'), join(dir, 'moved'))
    writeFileSync(join(dir, 'p'), 'impostor')
    const err = await file.publish(join(dir, 'final'), undefined).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(LocalWriteError)
    expect((err as Error).message).toContain('is no longer the file soaker wrote')
    expect(() => readFileSync(join(dir, 'final'))).toThrow(/ENOENT/)
  })

  test('publish sets an mtime of 0 seconds (the epoch), not only later ones', async () => {
    const file = await PartialFile.create(join(dir, 'p'))
    await file.publish(join(dir, 'final'), 0)
    expect(statSync(join(dir, 'final')).mtimeMs).toBe(0)
  })

  test('reopen of the same file has the identity it was created with; another file at the name has another', async () => {
    const file = await PartialFile.create(join(dir, 'p'))
    file.setLength(4)
    file.close()
    const again = PartialFile.reopen(join(dir, 'p'), 4)!
    expect(again.identity).toBe(file.identity)
    again.close()
    renameSync(join(dir, 'p'), join(dir, 'moved'))
    writeFileSync(join(dir, 'p'), 'four')
    const other = PartialFile.reopen(join(dir, 'p'), 4)!
    expect(other.identity).not.toBe(file.identity)
    other.close()
  })

  test('discard removes the partial file, but not a file that replaced it at its name', async () => {
    const gone = await PartialFile.create(join(dir, 'p'))
    gone.writeAt(Buffer.from('half'), 0)
    await gone.discard()
    expect(existsSync(join(dir, 'p'))).toBe(false)
    const replaced = await PartialFile.create(join(dir, 'q'))
    renameSync(join(dir, 'q'), join(dir, 'moved'))
    writeFileSync(join(dir, 'q'), 'someone else')
    await replaced.discard()
    expect(readFileSync(join(dir, 'q'), 'utf8')).toBe('someone else')
    await replaced.discard() // again: nothing to do, no error
  })
})
