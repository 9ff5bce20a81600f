import { appendFile, readFile } from 'node:fs/promises'
import { NotFoundError } from '../../errors.js'
import { localError } from './local-files.js'

/**
 * What the log of an upload in parts (`<partial>.parts`) says. Its first line is the layout
 * (`<size> <partSize>`); then, in the order things happened, a line per finished part
 * (`<partNumber> <bytes> <receipt>`, appended once the part's bytes are synced: its MD5, its CRC
 * as `<algorithm>:<hex>` (checksums/part-receipt.ts), or `unhashed` for a part taken without a digest) and a line per
 * checkpoint of a part still arriving (`~<partNumber> <bytes>`: that many bytes from the part's
 * start are synced). Every line ends with a newline: a last line without one was cut short by a
 * crash and says nothing.
 */
export interface UploadLog {
  size: number
  partSize: number
  /** Finished parts: part number to its size and receipt (its MD5 in hex, its CRC, or `unhashed`). */
  parts: Map<number, { size: number; receipt: string }>
  /** Checkpointed parts: part number to the largest byte count any of its lines gives. */
  progress: Map<number, number>
  /** The text ends with a line cut short: append a newline before anything else (sealLog). */
  torn: boolean
}

/** The receipt of a part written without a digest (a transfer that does not verify). */
export const unhashedPart = 'unhashed'
const partLine = /^(\d+) (\d+) ([0-9a-f]{32}|unhashed|crc32c?:[0-9a-f]{8}|crc64nvme:[0-9a-f]{16})$/
const progressLine = /^~(\d+) (\d+)$/

/** The layout line that starts a log. */
export function layoutEntry(size: number, partSize: number): string {
  return `${size} ${partSize}\n`
}

/** The line of a finished part. */
export function partEntry(partNumber: number, size: number, receipt: string): string {
  return `${partNumber} ${size} ${receipt}\n`
}

/** The line of a checkpoint: `bytes` of part `partNumber`, from its start, are durable. */
export function progressEntry(partNumber: number, bytes: number): string {
  return `~${partNumber} ${bytes}\n`
}

/** Reads a log's text; undefined when its layout line is not whole (create never returned). */
export function parseLog(text: string): UploadLog | undefined {
  const lines = text.split('\n')
  const torn = lines.pop() !== '' // the text after the last newline: empty unless a line was cut
  const layout = /^(\d+) (\d+)$/.exec(lines.shift() ?? '')
  if (layout === null) return undefined
  const parts = new Map<number, { size: number; receipt: string }>()
  const progress = new Map<number, number>()
  for (const line of lines) {
    const part = partLine.exec(line)
    if (part) parts.set(Number(part[1]), { size: Number(part[2]), receipt: part[3]! })
    const got = progressLine.exec(line)
    if (got) progress.set(Number(got[1]), Math.max(Number(got[2]), progress.get(Number(got[1])) ?? 0))
  }
  return { size: Number(layout[1]), partSize: Number(layout[2]), parts, progress, torn }
}

/**
 * The log at `path`. Rejects with NotFoundError when there is none or it holds no layout (the
 * upload was completed or aborted, or never created), with LocalWriteError when it cannot be read.
 */
export async function readLog(path: string, what: string): Promise<UploadLog> {
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new NotFoundError(`No upload ${what}: it was completed or aborted`)
    throw localError(err, path)
  })
  const log = parseLog(text)
  if (log === undefined) throw new NotFoundError(`No upload ${what}: its log \`${path}\` names no layout`)
  return log
}

/** Appends `entries` to the log at `path` and flushes them to disk before it resolves. */
export async function appendLog(path: string, entries: string): Promise<void> {
  try {
    await appendFile(path, entries, { flush: true })
  } catch (err) {
    throw localError(err, path)
  }
}

/**
 * Ends a line cut short by a crash, so that the next entry starts a line of its own instead of
 * completing the torn one into something that parses (`1` + `2 1024 <md5>` = part 12).
 */
export async function sealLog(path: string, log: UploadLog): Promise<void> {
  if (log.torn) await appendLog(path, '\n')
  log.torn = false
}
