/**
 * curl's side of the ceiling: the config file (`curl -K`) that fetches a dataset, one section per
 * request, so that 2,000 URLs never meet the argument-length limit.
 */
import { join } from 'node:path'
import type { ExpectedFile } from '../dataset.js'
import type { Source } from '../peers.js'

/** Bytes `start` to `end` of an object, both ends inclusive, as HTTP's Range header counts them. */
export interface ByteRange {
  start: number
  end: number
}

/** One request curl makes: the URL, the file it writes, and the bytes it asks for (all of them when absent). */
export interface CurlTransfer {
  url: string
  output: string
  range?: ByteRange
}

/**
 * `size` bytes cut into `count` ranges of equal length, rounded up, so the last one may be
 * shorter; fewer than `count` when there are fewer bytes than that, none for an empty object.
 */
export function splitRanges(size: number, count: number): ByteRange[] {
  const step = Math.ceil(size / count)
  const ranges: ByteRange[] = []
  for (let start = 0; start < size; start += step) ranges.push({ start, end: Math.min(start + step, size) - 1 })
  return ranges
}

/** Where curl writes range `index` of the object that belongs at `path`: `<path>.part-<index>`, zero-padded. */
function partPath(path: string, index: number, count: number): string {
  return `${path}.part-${String(index).padStart(String(count - 1).length, '0')}`
}

/** One file curl writes for an object: its path under the destination, its length, its range (none: the whole object). */
export interface Piece {
  path: string
  size: number
  range?: ByteRange
}

/**
 * The files curl writes for `file`: the whole object at its path, or, with `rangesPerObject`
 * above 1, one file per range (curl cannot write a range at its offset in a shared file).
 */
export function piecesOf(file: ExpectedFile, rangesPerObject: number): Piece[] {
  if (rangesPerObject <= 1 || file.size === 0) return [{ path: file.path, size: file.size }]
  const ranges = splitRanges(file.size, rangesPerObject)
  return ranges.map((range, i) => ({ path: partPath(file.path, i, ranges.length), size: range.end - range.start + 1, range }))
}

/**
 * The requests that fetch `files` (relative to `source`'s prefix) into `dest`, or into /dev/null
 * when `dest` is null, in the pieces piecesOf cuts them into.
 */
export function curlTransfers(source: Source, files: readonly ExpectedFile[], dest: string | null, rangesPerObject: number): CurlTransfer[] {
  return files.flatMap((file) => {
    const url = objectUrl(source, `${source.prefix}/${file.path}`)
    return piecesOf(file, rangesPerObject).map((piece) => ({
      url,
      output: dest === null ? '/dev/null' : join(dest, piece.path),
      ...(piece.range === undefined ? {} : { range: piece.range }),
    }))
  })
}

/** The path-style URL of `key` in `source`'s bucket, every path segment percent-encoded. */
function objectUrl(source: Source, key: string): string {
  const path = [source.bucket, ...key.split('/')].map(encodeURIComponent).join('/')
  return `${source.endpoint.replace(/\/+$/, '')}/${path}`
}

/**
 * The text of a curl config file making `transfers`. Each transfer is a section of its own,
 * separated by `next`, because a range belongs to one request; `next` also resets the other
 * options (signing, `fail`), so every section repeats them. `--parallel`, `--parallel-max` and
 * `--no-progress-meter` are global and stay on the command line.
 */
export function curlConfig(transfers: readonly CurlTransfer[], source: Pick<Source, 'accessKeyId' | 'secretAccessKey' | 'region'>): string {
  const perRequest = [
    // An error answer fails the run (exit status 22) rather than landing in the output file.
    'fail',
    `aws-sigv4 = ${quote(`aws:amz:${source.region}:s3`)}`,
    `user = ${quote(`${source.accessKeyId}:${source.secretAccessKey}`)}`,
    // curl 7.88 signs without a payload hash, and radosgw (like S3) then rejects the signature.
    `header = ${quote('x-amz-content-sha256: UNSIGNED-PAYLOAD')}`,
  ]
  const sections = transfers.map((t) => [
    ...perRequest,
    ...(t.range === undefined ? [] : [`range = ${quote(`${t.range.start}-${t.range.end}`)}`]),
    `url = ${quote(t.url)}`,
    `output = ${quote(t.output)}`,
  ].join('\n'))
  return `${sections.join('\nnext\n')}\n`
}

/** `text` as a double-quoted curl config value: backslashes and quotes escaped, no raw line breaks. */
function quote(text: string): string {
  return `"${text.replace(/[\\"]/g, '\\$&').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`
}
