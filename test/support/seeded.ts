/**
 * Random numbers and bytes from a seed (mulberry32), so that a test over random buffers and cuts
 * fails the same way when it is run again.
 */
export interface Seeded {
  /** A whole number in [0, below). */
  int(below: number): number
  bytes(length: number): Buffer
}

export function seeded(seed: number): Seeded {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
  return {
    int: (below) => Math.floor((next() / 2 ** 32) * below),
    bytes: (length) => {
      const out = Buffer.allocUnsafe(length)
      for (let i = 0; i < length; i += 4) {
        const word = next()
        for (let j = 0; j < 4 && i + j < length; j++) out[i + j] = (word >>> (8 * j)) & 0xff
      }
      return out
    },
  }
}
