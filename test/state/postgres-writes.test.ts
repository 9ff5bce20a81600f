import { describe, expect, test } from 'vitest'
import { segments, type ObjectWrite } from '../../src/state/postgres-writes.js'

const put = (key: string): ObjectWrite => ({ kind: 'put', key, size: 1, etag: null, lastModified: null, status: 'pending', reason: null, errorCode: null, at: 0 })
const status = (key: string): ObjectWrite => ({ kind: 'status', key, status: 'done', reason: null, errorCode: null, at: 0 })
const upload = (key: string, uploadId = 'u'): ObjectWrite => ({ kind: 'upload', key, uploadId, partSize: 8, keepParts: false })
const part = (key: string, index: number): ObjectWrite => ({ kind: 'part', key, index, md5: null })
const clear = (key: string): ObjectWrite => ({ kind: 'clearParts', key })

/** Each segment as its kind and the keys (key#index for parts) it writes. */
const shape = (writes: ObjectWrite[]): string[] =>
  segments(writes).map((s) => `${s.kind} ${[...s.rows.values()].map((w) => (w.kind === 'part' ? `${w.key}#${w.index}` : w.key)).join(',')}`)

describe('segments: one statement per segment, run in order', () => {
  test('the engine\'s pattern, object after object, is three statements whatever the number of objects', () => {
    const writes = Array.from({ length: 1000 }, (_, i) => `k${i}`).flatMap((k) => [upload(k), part(k, 0), part(k, 1), status(k)])
    expect(segments(writes).map((s) => [s.kind, s.rows.size])).toEqual([['upload', 1000], ['part', 2000], ['status', 1000]])
  })

  test.each([
    ['writes to different keys join the latest segment of their kind', [put('a'), status('a'), put('b'), status('b')],
      ['put a,b', 'status a,b']],
    ['a key written by another kind since starts a new segment', [put('a'), status('a'), put('a')],
      ['put a', 'status a', 'put a']],
    ['a later write of a kind the last alone counts for replaces the earlier one', [put('a'), put('b'), put('a')],
      ['put a,b']],
    ['parts of one key at different indexes share a segment; a clear between them splits it', [part('a', 0), part('a', 1), clear('a'), part('a', 2)],
      ['part a#0,a#1', 'clearParts a', 'part a#2']],
    ['a setUpload compares with the row as the one before it left it, so two to one key stay apart', [upload('a', 'u1'), upload('b'), upload('a', 'u2')],
      ['upload a,b', 'upload a']],
    ['a key joins a later segment of its kind, never an earlier one', [status('a'), put('a'), put('b'), status('b'), status('a')],
      ['status a', 'put a,b', 'status b,a']],
  ] as const)('%s', (_, writes, expected) => {
    expect(shape([...writes])).toEqual(expected)
  })
})
