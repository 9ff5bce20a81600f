import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { format, inspect } from 'node:util'
import { describe, expect, test } from 'vitest'
import { readSecretFile, Secret } from '../../src/job/secrets.js'

const dir = mkdtempSync(join(tmpdir(), 'soaker-secrets-'))
const value = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'

describe('Secret', () => {
  test('reveal() returns the value', () => {
    expect(new Secret(value).reveal()).toBe(value)
  })

  test('prints as [secret] however it is printed, alone or inside an object', () => {
    const holder = { type: 's3', secretAccessKey: new Secret(value), nested: { list: [new Secret(value)] } }
    const printed = [
      String(holder.secretAccessKey),
      `${holder.secretAccessKey}`,
      JSON.stringify(holder),
      inspect(holder, { depth: 10, showHidden: true }),
      format('%s %o %O %j', holder.secretAccessKey, holder, holder, holder),
    ]
    for (const p of printed) {
      expect(p).not.toContain(value)
      expect(p).toContain('[secret]')
    }
  })

  test('has no enumerable field to copy the value out', () => {
    const s = new Secret(value)
    expect(Object.keys(s)).toEqual([])
    expect(Object.getOwnPropertyNames(s)).toEqual([])
    expect(JSON.stringify({ ...s })).toBe('{}')
    expect(JSON.stringify(structuredClone(s))).toBe('{}')
  })
})

describe('readSecretFile', () => {
  test('reads the value and trims the newline a Kubernetes secret file ends with', async () => {
    const p = join(dir, 'key')
    writeFileSync(p, `${value}\n`)
    expect(await readSecretFile(p)).toEqual({ value })
  })

  test('trims surrounding whitespace and CRLF, as the Kaiwo downloader strips it', async () => {
    const p = join(dir, 'crlf')
    writeFileSync(p, `  ${value}\r\n\r\n`)
    expect(await readSecretFile(p)).toEqual({ value })
  })

  test.each([
    ['a missing file', 'missing', 'expected a readable file, got `DIR/missing` (no such file, ENOENT)'],
    ['a directory', 'adir', 'expected a readable file, got `DIR/adir` (a directory, EISDIR)'],
    ['an empty file', 'empty', 'expected a file holding a value, got `DIR/empty`, which is empty'],
    ['a file of whitespace', 'blank', 'expected a file holding a value, got `DIR/blank`, which is empty'],
    ['a path through a file', 'blank/x', 'expected a readable file, got `DIR/blank/x` (a parent is not a directory, ENOTDIR)'],
  ])('%s is a problem naming the file', async (_, name, message) => {
    mkdirSync(join(dir, 'adir'), { recursive: true })
    writeFileSync(join(dir, 'empty'), '')
    writeFileSync(join(dir, 'blank'), ' \n\n')
    expect(await readSecretFile(join(dir, name))).toEqual({ problem: message.replace('DIR', dir) })
  })

  test.runIf(process.getuid?.() !== 0)('an unreadable file is a problem naming the file', async () => {
    const p = join(dir, 'locked')
    writeFileSync(p, value, { mode: 0o000 })
    expect(await readSecretFile(p)).toEqual({ problem: `expected a readable file, got \`${p}\` (permission denied, EACCES)` })
  })
})
