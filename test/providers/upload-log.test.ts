import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { NotFoundError } from '../../src/errors.js'
import { layoutEntry, parseLog, partEntry, progressEntry, readLog, sealLog } from '../../src/providers/local/upload-log.js'

const md5a = '0cc175b9c0f1b6a831c399e269772661'
const md5b = '92eb5ffee6ae2fec3ad71c777531578f'

describe('upload log', () => {
  test.each([
    ['a layout alone', '2048 1024\n', { parts: [], progress: [], torn: false }],
    ['finished parts', `2048 1024\n2 1024 ${md5a}\n1 1024 ${md5b}\n`, { parts: [[2, md5a], [1, md5b]], progress: [], torn: false }],
    ['checkpoints: the largest count of each part', '3072 1024\n~2 100\n~3 50\n~2 700\n', { parts: [], progress: [[2, 700], [3, 50]], torn: false }],
    ['parts whose receipts are CRCs', `2048 1024\n1 1024 crc64nvme:ae8b14860a799888\n2 1024 crc32c:e3069283\n`,
      { parts: [[1, 'crc64nvme:ae8b14860a799888'], [2, 'crc32c:e3069283']], progress: [], torn: false }],
    ['a CRC receipt of the wrong size', `2048 1024\n1 1024 crc32c:ae8b14860a799888\n`, { parts: [], progress: [], torn: false }],
    ['a part line cut short', `2048 1024\n2 1024 ${md5a}\n1 1024 0cc1`, { parts: [[2, md5a]], progress: [], torn: true }],
    ['a checkpoint line cut short', '2048 1024\n~1 300\n~1 9', { parts: [], progress: [[1, 300]], torn: true }],
    ['a torn checkpoint completed by the next entry', `3072 1024\n~2 5~2 900\n~3 1${partEntry(1, 1024, md5a)}`, { parts: [], progress: [], torn: false }],
    ['an empty line (a torn line sealed twice)', '2048 1024\n\n~1 10\n', { parts: [], progress: [[1, 10]], torn: false }],
  ])('%s', (_name, text, expected) => {
    const log = parseLog(text)!
    expect(log.size).toBe(Number(text.split(' ')[0]))
    expect(log.partSize).toBe(1024)
    expect([...log.parts].map(([n, p]) => [n, p.receipt])).toEqual(expected.parts)
    expect([...log.progress]).toEqual(expected.progress)
    expect(log.torn).toBe(expected.torn)
  })

  test.each([['empty', ''], ['a layout cut short', '2048 10'], ['not a layout', 'x y\n']])('a log whose layout is %s names no upload', (_name, text) => {
    expect(parseLog(text)).toBeUndefined()
  })

  test('entries are the lines parseLog reads', () => {
    const log = parseLog(layoutEntry(10, 4) + partEntry(3, 2, md5a) + progressEntry(1, 3))!
    expect(log).toEqual({ size: 10, partSize: 4, parts: new Map([[3, { size: 2, receipt: md5a }]]), progress: new Map([[1, 3]]), torn: false })
  })

  test('sealLog ends a torn line, so that the next entry is a line of its own', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'soaker-log-')), 'x.parts')
    writeFileSync(path, `${layoutEntry(3072, 1024)}1`)
    const log = await readLog(path, 'x')
    await sealLog(path, log)
    appendFileSync(path, partEntry(2, 1024, md5a))
    expect([...(await readLog(path, 'x')).parts.keys()]).toEqual([2]) // not part 12
    await sealLog(path, await readLog(path, 'x')) // nothing torn: nothing appended
    expect(readFileSync(path, 'utf8')).toBe(`3072 1024\n1\n2 1024 ${md5a}\n`)
  })

  test('readLog of no log rejects with NotFoundError', async () => {
    await expect(readLog(join(tmpdir(), 'soaker-no-such-log.parts'), 'x')).rejects.toBeInstanceOf(NotFoundError)
  })
})
