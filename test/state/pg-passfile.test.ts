import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { passfilePath, passwordFromFile, type PassfileTarget } from '../../src/state/pg-passfile.js'

const dir = mkdtempSync(join(tmpdir(), 'soaker-passfile-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let files = 0
/** A password file holding `lines`, with `mode`. */
function passfile(lines: string[], mode = 0o600): string {
  const path = join(dir, `pgpass-${files++}`)
  writeFileSync(path, lines.join('\n') + '\n')
  chmodSync(path, mode)
  return path
}

const target: PassfileTarget = { host: 'db.example', port: 5432, database: 'jobs', user: 'soaker' }

describe('passwordFromFile', () => {
  test.each([
    ['an exact line', ['db.example:5432:jobs:soaker:s3cret'], 's3cret'],
    ['wildcards in every field but the password', ['*:*:*:*:any'], 'any'],
    ['the first line that matches, comments and blank lines skipped', ['# comment', '', 'other:5432:jobs:soaker:no', 'db.example:*:jobs:*:yes', '*:*:*:*:later'], 'yes'],
    ['escaped colons and backslashes, the password ending at an unescaped colon', ['db.example:5432:jobs:soaker:a\\:b\\\\c:ignored'], 'a:b\\c'],
    ['no line for this port', ['db.example:5433:jobs:soaker:no'], undefined],
    ['no line for this user', ['db.example:5432:jobs:other:no'], undefined],
    ['a line with too few fields', ['db.example:5432:jobs'], undefined],
  ])('%s', async (_, lines, expected) => {
    expect(await passwordFromFile(passfile(lines), target, () => undefined)).toBe(expected)
  })

  test('localhost also matches a Unix socket', async () => {
    const path = passfile(['localhost:5432:jobs:soaker:local'])
    expect(await passwordFromFile(path, { ...target, host: '/var/run/postgresql' }, () => undefined)).toBe('local')
    expect(await passwordFromFile(path, target, () => undefined)).toBeUndefined()
  })

  test('a file any user may read is not read, and says why; one its group may read is (Kubernetes fsGroup)', async () => {
    const notes: string[] = []
    expect(await passwordFromFile(passfile(['*:*:*:*:x'], 0o644), target, (m) => notes.push(m))).toBeUndefined()
    expect(notes).toEqual([expect.stringMatching(/may be read by any user \(mode 644\): not read; make it 0600/)])
    expect(await passwordFromFile(passfile(['*:*:*:*:x'], 0o440), target, (m) => notes.push(m))).toBe('x')
    expect(notes).toHaveLength(1)
  })

  test('an absent file is no password and no note; a directory is a note', async () => {
    const notes: string[] = []
    expect(await passwordFromFile(join(dir, 'absent'), target, (m) => notes.push(m))).toBeUndefined()
    expect(notes).toEqual([])
    expect(await passwordFromFile(dir, target, (m) => notes.push(m))).toBeUndefined()
    expect(notes).toEqual([expect.stringMatching(/is not a plain file/)])
  })

  test('the file is passfile of the URL, else PGPASSFILE, else ~/.pgpass', () => {
    expect(passfilePath('/from/url', { PGPASSFILE: '/from/env', HOME: '/home/u' })).toBe('/from/url')
    expect(passfilePath(undefined, { PGPASSFILE: '/from/env', HOME: '/home/u' })).toBe('/from/env')
    expect(passfilePath(undefined, { HOME: '/home/u' })).toBe('/home/u/.pgpass')
  })
})
