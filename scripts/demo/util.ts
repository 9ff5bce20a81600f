import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'

/** A check the demo makes failed; the message says what was expected and what happened. */
export class DemoFailure extends Error {}

/** Runs `fn` over `items` with at most `limit` calls in flight; rejects on the first failure. */
export async function forEachLimit<T>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const iterator = items[Symbol.iterator]()
  // Each lane pulls the next item when its previous one settles, so `limit` is never exceeded
  // and a slow item delays only its own lane.
  const lane = async (): Promise<void> => {
    for (let next = iterator.next(); !next.done; next = iterator.next()) await fn(next.value)
  }
  await Promise.all(Array.from({ length: limit }, lane))
}

/** MD5 of bytes held in memory, as lowercase hex. */
export function md5(body: Buffer): string {
  return createHash('md5').update(body).digest('hex')
}

/** MD5 of a file, streamed so that a 200 MiB file never sits in memory whole. */
export async function md5File(path: string): Promise<string> {
  const hash = createHash('md5')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** 1536 → "1.5 KiB": binary units, as soaker prints them. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return i === 0 ? `${n} B` : `${n.toFixed(n >= 100 ? 0 : 1)} ${units[i]}`
}

/** Seconds since `startMs`, e.g. "2.3s". */
export function since(startMs: number): string {
  return `${((performance.now() - startMs) / 1000).toFixed(1)}s`
}

/**
 * A small seeded PRNG (mulberry32): the sample tree has the same names and sizes on every run,
 * so two runs of the demo are comparable; only the bytes inside the files are random.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
