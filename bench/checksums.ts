// Checksum throughput per core: the digests a transfer could compute on its bytes as they stream
// (issue 14: every byte read once), each fed as a socket hands them over, in chunks of 64 KiB.
// One thread, the median of several passes over the same 64 MiB; MB = 10^6 bytes.
//
//   npm run bench:checksums [-- --mib N --passes N --chunk-kib N]

import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { crc32 } from 'node:zlib'
import { Crc64Nvme } from '@aws-sdk/crc64-nvme'
import { crc32c } from '@node-rs/crc32'

interface Candidate {
  name: string
  /** Where it comes from: what a choice of it would add to soaker. */
  from: string
  /** Hashes every chunk in order; returns the digest, so that nothing is optimised away. */
  run: (chunks: readonly Buffer[]) => string | number | Promise<string>
}

const candidates: Candidate[] = [
  {
    name: 'MD5', from: 'node:crypto (OpenSSL)',
    run: (chunks) => { const h = createHash('md5'); for (const c of chunks) h.update(c); return h.digest('hex') },
  },
  {
    name: 'SHA-256', from: 'node:crypto (OpenSSL)',
    run: (chunks) => { const h = createHash('sha256'); for (const c of chunks) h.update(c); return h.digest('hex') },
  },
  {
    name: 'CRC32', from: 'node:zlib crc32 (zlib, native)',
    run: (chunks) => { let crc = 0; for (const c of chunks) crc = crc32(c, crc); return crc },
  },
  {
    name: 'CRC32C', from: '@node-rs/crc32 (Rust, prebuilt in its npm package)',
    run: (chunks) => { let crc = 0; for (const c of chunks) crc = crc32c(c, crc); return crc },
  },
  {
    name: 'CRC64NVME', from: '@aws-sdk/crc64-nvme (JavaScript, the SDK\'s own)',
    run: async (chunks) => { const h = new Crc64Nvme(); for (const c of chunks) h.update(c); return Buffer.from(await h.digest()).toString('hex') },
  },
]

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { mib: { type: 'string', default: '64' }, passes: { type: 'string', default: '5' }, 'chunk-kib': { type: 'string', default: '64' } } })
  const bytes = Number(values.mib) * 1024 * 1024
  const passes = Number(values.passes)
  const chunk = Number(values['chunk-kib']) * 1024
  const data = randomBytes(bytes)
  const chunks: Buffer[] = []
  for (let at = 0; at < bytes; at += chunk) chunks.push(data.subarray(at, at + chunk))
  const rows: Array<{ name: string; from: string; mbPerSecond: number; cpuSecondsPerGB: number; passes: number[] }> = []
  for (const c of candidates) {
    await c.run(chunks.slice(0, 16)) // loaded and compiled before it is timed
    const seconds: number[] = []
    for (let i = 0; i < passes; i++) {
      const began = process.cpuUsage()
      await c.run(chunks)
      const used = process.cpuUsage(began)
      seconds.push((used.user + used.system) / 1e6)
    }
    const s = median(seconds)
    rows.push({ name: c.name, from: c.from, mbPerSecond: bytes / 1e6 / s, cpuSecondsPerGB: s / (bytes / 1e9), passes: seconds })
  }
  const md5 = rows.find((r) => r.name === 'MD5')!.mbPerSecond
  console.log(`${values.mib} MiB in ${values['chunk-kib']} KiB chunks, one thread, median CPU time of ${passes} passes (${process.version}, ${process.arch})\n`)
  console.log('| digest | implementation | MB/s per core | CPU-s per GB | ÷ MD5 |')
  console.log('|---|---|---:|---:|---:|')
  for (const r of rows) console.log(`| ${r.name} | ${r.from} | ${r.mbPerSecond.toFixed(0)} | ${r.cpuSecondsPerGB.toFixed(3)} | ${(r.mbPerSecond / md5).toFixed(2)}× |`)
  const dir = join('bench', 'results')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `checksums-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, 'Z')}.json`)
  writeFileSync(file, JSON.stringify({ bytes, chunk, passes, node: process.version, rows }, null, 2))
  console.log(`\nEvery pass: ${file}`)
}

await main()
