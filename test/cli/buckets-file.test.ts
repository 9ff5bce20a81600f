import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { readBucketsFile } from '../../src/cli/buckets-file.js'
import { UsageError } from '../../src/errors.js'
import { thrown } from '../support/thrown.js'

const dir = mkdtempSync(join(tmpdir(), 'soaker-buckets-'))
const file = (name: string, text: string): string => {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}

describe('readBucketsFile', () => {
  test('buckets and bucket/prefix lines, with or without s3://; comments, blank lines and CRLF ignored', () => {
    const p = file('ok.txt', '# header\r\nalpha\r\n\r\n  beta/photos/2024  # trailing comment\ns3://gamma/x/\n')
    expect(readBucketsFile(p).map((l) => l.uri)).toEqual(['s3://alpha', 's3://beta/photos/2024', 's3://gamma/x/'])
  })

  test.each([
    ['bad.txt', 'alpha\nno spaces allowed\n', /bad\.txt:2: expected a bucket or bucket\/prefix, got `no spaces allowed`/],
    ['short.txt', 'ab\n', /short\.txt:1: expected a bucket/],
    ['empty.txt', '# nothing here\n\n', /names no bucket/],
  ])('%s is refused, naming the file and line', (name, text, message) => {
    expect(thrown(() => readBucketsFile(file(name, text)), UsageError).message).toMatch(message)
  })

  test('a file that cannot be read is named', () => {
    expect(thrown(() => readBucketsFile(join(dir, 'missing.txt')), UsageError).message).toContain('Cannot read the buckets file')
  })
})
