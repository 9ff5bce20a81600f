import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { piecesOf } from '../../bench/ceiling/curl-config.js'
import { verifyPieces } from '../../bench/ceiling/verify-parts.js'

const body = randomBytes(1000)
const file = { path: 'blob.bin', size: body.length, md5: createHash('md5').update(body).digest('hex') }
const dirs: string[] = []
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })))

/** A destination holding `file` cut into 4 ranges, as curl writes it, after `spoil` had its way with the pieces. */
function piecesDir(spoil: (pieces: { path: string; data: Buffer }[]) => { path: string; data: Buffer }[] = (p) => p): string {
  const dir = mkdtempSync(join(tmpdir(), 'soaker-ceiling-pieces-'))
  dirs.push(dir)
  const pieces = piecesOf(file, 4).map((p) => ({ path: p.path, data: body.subarray(p.range!.start, p.range!.end + 1) }))
  for (const piece of spoil(pieces)) writeFileSync(join(dir, piece.path), piece.data)
  return dir
}

describe('verifyPieces', () => {
  test('every range in its own file, the right lengths, the object\'s MD5 in order: passes', async () => {
    expect(await verifyPieces(piecesDir(), [file], 4)).toBeUndefined()
  })

  test('a missing piece and a stray file are both named', async () => {
    const dir = piecesDir((pieces) => [...pieces.slice(1), { path: 'stray', data: Buffer.from('x') }])
    expect(await verifyPieces(dir, [file], 4)).toBe('2 problem(s): missing blob.bin.part-0; unexpected stray')
  })

  test('a short piece fails on its length', async () => {
    const dir = piecesDir((pieces) => pieces.map((p, i) => (i === 2 ? { ...p, data: p.data.subarray(1) } : p)))
    expect(await verifyPieces(dir, [file], 4)).toBe('1 problem(s): blob.bin.part-2 is not 250 bytes')
  })

  test('pieces of the right lengths in the wrong order fail on the MD5', async () => {
    const dir = piecesDir((pieces) => pieces.map((p, i) => ({ ...p, data: pieces[3 - i]!.data })))
    expect(await verifyPieces(dir, [file], 4)).toBe('1 problem(s): blob.bin differs from the source (MD5 of its pieces in order)')
  })
})
