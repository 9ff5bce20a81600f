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
import { createCRC64 } from 'hash-wasm'
import { Crc64NvmeJs } from '../src/checksums/crc64nvme-js.js'
import { digester, type ChecksumAlgorithm } from '../src/checksums/digester.js'

interface Candidate {
  name: string
  /** Where it comes from: what a choice of it would add to soaker. */
  from: string
  /**
   * MB/s per core when a choice was made on it, or for soaker's digesters when they came (issue
   * 14: 64 MiB in 64 KiB chunks, median of 5 passes, Node 20.20.2 on the project's 2-core x64
   * machine), so that a run can be read against it. Runs on this shared machine vary by ~10%.
   */
  recorded: number
  /**
   * Hashes every chunk in order; returns the digest, so that nothing is optimised away. Undefined
   * when the package is not installed: soaker does not depend on every candidate it measured.
   */
  run: ((chunks: readonly Buffer[]) => string | Promise<string>) | undefined
}

/** A candidate soaker does not depend on, measured where it is installed by hand (npm install --no-save NAME). */
async function optional(name: string): Promise<any> {
  try {
    return await import(name)
  } catch {
    return undefined
  }
}

const awsCrt = await optional('aws-crt')

const hex32 = (crc: number): string => crc.toString(16).padStart(8, '0')

/** What soaker ships: src/checksums/digester.ts over the implementation picked for `algorithm`. */
function soakerDigester(name: string, algorithm: ChecksumAlgorithm, recorded: number): Candidate {
  return {
    name, from: `soaker's digester('${algorithm}')`, recorded,
    run: async (chunks) => { const d = await digester(algorithm); for (const c of chunks) d.update(c); return d.digest().toString('hex') },
  }
}

const candidates: Candidate[] = [
  {
    name: 'MD5', from: 'node:crypto (OpenSSL)', recorded: 756,
    run: (chunks) => { const h = createHash('md5'); for (const c of chunks) h.update(c); return h.digest('hex') },
  },
  {
    name: 'SHA-256', from: 'node:crypto (OpenSSL)', recorded: 1226,
    run: (chunks) => { const h = createHash('sha256'); for (const c of chunks) h.update(c); return h.digest('hex') },
  },
  {
    name: 'CRC32', from: 'node:zlib crc32 (zlib, native)', recorded: 2373,
    run: (chunks) => { let crc = 0; for (const c of chunks) crc = crc32(c, crc); return hex32(crc) },
  },
  {
    name: 'CRC32C', from: '@node-rs/crc32 (Rust, prebuilt in its npm package)', recorded: 7549,
    run: (chunks) => { let crc = 0; for (const c of chunks) crc = crc32c(c, crc); return hex32(crc) },
  },
  {
    name: 'CRC64NVME', from: '@aws-sdk/crc64-nvme (JavaScript, the SDK\'s own)', recorded: 441,
    run: async (chunks) => { const h = new Crc64Nvme(); for (const c of chunks) h.update(c); return Buffer.from(await h.digest()).toString('hex') },
  },
  {
    name: 'CRC64NVME', from: 'hash-wasm (WebAssembly in its npm package, CRC-64 with the NVMe polynomial)', recorded: 1430,
    run: async (chunks) => {
      const h = await createCRC64('9a6c9329ac4bc9b5')
      for (const c of chunks) h.update(c)
      return h.digest('hex')
    },
  },
  {
    name: 'CRC64NVME', from: 'aws-crt (AWS Common Runtime, native, prebuilt in its npm package)', recorded: 1546,
    run: awsCrt && ((chunks) => {
      let crc: DataView | undefined
      for (const c of chunks) crc = awsCrt.checksums.crc64nvme(c, crc)
      return Buffer.from(crc!.buffer, crc!.byteOffset, 8).toString('hex')
    }),
  },
  // soaker's JavaScript for where WebAssembly is off. Slicing-by-16 measured 882 MB/s against
  // slicing-by-8's 911 when the choice was made, and is gone.
  {
    name: 'CRC64NVME', from: 'soaker\'s JavaScript, slicing-by-8 (src/checksums/crc64nvme-js.ts)', recorded: 911,
    run: (chunks) => { const h = new Crc64NvmeJs(); for (const c of chunks) h.update(c); return h.digest().toString('hex') },
  },
  soakerDigester('MD5', 'md5', 708),
  soakerDigester('SHA-256', 'sha256', 1183),
  soakerDigester('CRC32', 'crc32', 2253),
  soakerDigester('CRC32C', 'crc32c', 7591),
  soakerDigester('CRC64NVME', 'crc64nvme', 1497),
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
  const rows: Array<{ name: string; from: string; recorded: number; mbPerSecond: number; cpuSecondsPerGB: number; passes: number[] }> = []
  const skipped: string[] = []
  const digests = new Map<string, string>()
  for (const c of candidates) {
    const run = c.run
    if (run === undefined) {
      skipped.push(`${c.name} from ${c.from}`)
      continue
    }
    await run(chunks.slice(0, 16)) // loaded and compiled before it is timed
    const seconds: number[] = []
    let digest = ''
    for (let i = 0; i < passes; i++) {
      const began = process.cpuUsage()
      digest = await run(chunks)
      const used = process.cpuUsage(began)
      seconds.push((used.user + used.system) / 1e6)
    }
    // Candidates for one digest are only comparable if they compute the same one.
    const first = digests.get(c.name)
    if (first === undefined) digests.set(c.name, digest)
    else if (first !== digest) throw new Error(`${c.name} from ${c.from} computed ${digest}, another ${first}`)
    const s = median(seconds)
    rows.push({ name: c.name, from: c.from, recorded: c.recorded, mbPerSecond: bytes / 1e6 / s, cpuSecondsPerGB: s / (bytes / 1e9), passes: seconds })
  }
  const md5 = rows.find((r) => r.name === 'MD5')!.mbPerSecond
  console.log(`${values.mib} MiB in ${values['chunk-kib']} KiB chunks, one thread, median CPU time of ${passes} passes (${process.version}, ${process.arch})\n`)
  console.log('| digest | implementation | MB/s per core | recorded | CPU-s per GB | ÷ MD5 |')
  console.log('|---|---|---:|---:|---:|---:|')
  for (const r of rows) {
    const recorded = r.recorded > 0 ? String(r.recorded) : '–'
    console.log(`| ${r.name} | ${r.from} | ${r.mbPerSecond.toFixed(0)} | ${recorded} | ${r.cpuSecondsPerGB.toFixed(3)} | ${(r.mbPerSecond / md5).toFixed(2)}× |`)
  }
  for (const s of skipped) console.log(`\nNot installed, not measured: ${s}`)
  const dir = join('bench', 'results')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `checksums-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, 'Z')}.json`)
  writeFileSync(file, JSON.stringify({ bytes, chunk, passes, node: process.version, rows }, null, 2))
  console.log(`\nEvery pass: ${file}`)
}

await main()
