import { describe, expect, test } from 'vitest'
import { curlConfig, curlTransfers, piecesOf, splitRanges } from '../../bench/ceiling/curl-config.js'
import type { Source } from '../../bench/peers.js'

const MiB = 1024 * 1024
const source: Source = {
  endpoint: 'http://127.0.0.1:7480/', accessKeyId: 'key', secretAccessKey: 'se"cr\\et', region: 'us-east-1', bucket: 'b', prefix: 'big',
}

describe('splitRanges', () => {
  test.each([
    [1024 * MiB, 16, 16, { start: 15 * 64 * MiB, end: 1024 * MiB - 1 }],
    [10, 4, 4, { start: 9, end: 9 }],
    [10, 3, 3, { start: 8, end: 9 }],
    [3, 16, 3, { start: 2, end: 2 }],
  ])('%i bytes in %i ranges: %i ranges, the last %o', (size, count, length, last) => {
    const ranges = splitRanges(size, count)
    expect(ranges).toHaveLength(length)
    expect(ranges.at(-1)).toEqual(last)
    // The ranges cover every byte once, in order.
    expect(ranges.reduce((sum, r) => sum + r.end - r.start + 1, 0)).toBe(size)
    ranges.slice(1).forEach((r, i) => expect(r.start).toBe(ranges[i]!.end + 1))
  })

  test('an empty object has no ranges', () => {
    expect(splitRanges(0, 16)).toEqual([])
  })
})

describe('piecesOf', () => {
  test('a whole object is one piece at its own path; a ranged one is a file per range, numbered to sort', () => {
    expect(piecesOf({ path: '07', size: 100, md5: '' }, 1)).toEqual([{ path: '07', size: 100 }])
    const pieces = piecesOf({ path: 'blob.bin', size: 1000, md5: '' }, 16)
    expect(pieces.map((p) => p.path).slice(0, 2)).toEqual(['blob.bin.part-00', 'blob.bin.part-01'])
    expect(pieces.at(-1)).toEqual({ path: 'blob.bin.part-15', size: 55, range: { start: 945, end: 999 } })
  })

  test('an empty object is one piece even when ranges are asked for', () => {
    expect(piecesOf({ path: 'e', size: 0, md5: '' }, 16)).toEqual([{ path: 'e', size: 0 }])
  })
})

describe('curlTransfers', () => {
  const files = [{ path: 'a b+c', size: 10, md5: '' }]

  test('path-style URLs with every segment encoded, one output file per object under the destination', () => {
    expect(curlTransfers(source, files, '/d', 1)).toEqual([{ url: 'http://127.0.0.1:7480/b/big/a%20b%2Bc', output: '/d/a b+c' }])
  })

  test('into /dev/null, every range of the object', () => {
    const transfers = curlTransfers(source, files, null, 2)
    expect(transfers).toEqual([
      { url: 'http://127.0.0.1:7480/b/big/a%20b%2Bc', output: '/dev/null', range: { start: 0, end: 4 } },
      { url: 'http://127.0.0.1:7480/b/big/a%20b%2Bc', output: '/dev/null', range: { start: 5, end: 9 } },
    ])
  })
})

describe('curlConfig', () => {
  const config = curlConfig([
    { url: 'http://h/b/k1', output: '/d/k1', range: { start: 0, end: 9 } },
    { url: 'http://h/b/k2', output: '/d/"k2"' },
  ], source)
  const sections = config.trimEnd().split('\nnext\n')

  test('one section per request, each signed (next resets the options) and failing on an error answer', () => {
    expect(sections).toHaveLength(2)
    for (const section of sections) {
      expect(section.split('\n').slice(0, 5)).toEqual([
        'fail', 'aws-sigv4 = "aws:amz:us-east-1:s3"', 'user = "key:se\\"cr\\\\et"',
        'header = "x-amz-content-sha256: UNSIGNED-PAYLOAD"', expect.stringMatching(/^(range|url) = /),
      ])
    }
  })

  test('a range only where the request has one; values quoted with quotes and backslashes escaped', () => {
    expect(sections[0]).toContain('\nrange = "0-9"\nurl = "http://h/b/k1"\noutput = "/d/k1"')
    expect(sections[1]).not.toContain('range')
    expect(sections[1]).toContain('\noutput = "/d/\\"k2\\""')
  })
})
