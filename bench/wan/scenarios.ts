import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { S3Client } from '@aws-sdk/client-s3'
import type { BenchOptions, WanScenarioName } from '../args.js'
import { seedManySmall, seedSized, type Dataset } from '../dataset.js'
import { tools, type Tool, type ToolName } from '../peers.js'
import type { WanOptions } from './wan-proxy.js'

const KiB = 1024
const MiB = 1024 * KiB
const GiB = 1024 * MiB

/** The network the proxy emulates: everything of `WanOptions` but the server behind it. */
export type Network = Omit<WanOptions, 'target'>

/** Extra flags, variables and files one variant adds to its tool's default command. */
export interface Tuning {
  args: string[]
  env?: Record<string, string>
}

/** One line of a scenario's table: a tool with its defaults, or soaker with flags. */
export interface Variant {
  /** Label in the report and the results: `soaker`, `soaker, fixed 24`, `rclone`, `aws`. */
  label: string
  tool: Tool
  /** `tuned`: soaker as a user runs it; `fixed`: soaker pinned at one concurrency; `peer`: rclone or aws. */
  role: 'tuned' | 'fixed' | 'peer'
  /** The concurrency a `fixed` variant is pinned at. */
  fixed?: number
  /** What the variant adds to the tool's command; `scratch` is the run's private directory. */
  tuning?: (scratch: string) => Promise<Tuning>
}

export interface WanScenario {
  name: WanScenarioName
  title: string
  /** What the data is, for the report. */
  data: string
  network: Network
  unit: 'MB/s' | 'objects/s'
  variants: Variant[]
  seed(client: S3Client, bucket: string): Promise<Dataset>
  throughput(dataset: Dataset, wallSeconds: number): number
}

/** Sizes of S1: whole MiB from 32 to 64, spread evenly, adding up to exactly `total`. */
export function mixedSizes(total: number, min = 32 * MiB, max = 64 * MiB): number[] {
  const sizes: number[] = []
  let left = total
  // A fixed stride through [min, max] instead of random sizes: every run of every tool, and every
  // bench invocation, sees the same objects.
  const steps = (max - min) / MiB + 1
  for (let i = 0; left >= max + min; i++) {
    const size = min + ((i * 13) % steps) * MiB
    sizes.push(size)
    left -= size
  }
  // What is left is in [min, max + min): one object, or two halves of at least min / 2 each.
  if (left > max) sizes.push(Math.floor(left / 2 / MiB) * MiB, left - Math.floor(left / 2 / MiB) * MiB)
  else if (left > 0) sizes.push(left)
  return sizes
}

const byName = (name: ToolName): Tool => tools.find((t) => t.name === name)!
const megabytes = (dataset: Dataset, wallSeconds: number): number => dataset.totalBytes / 1e6 / wallSeconds
const objects = (dataset: Dataset, wallSeconds: number): number => dataset.files.length / wallSeconds

/** soaker with no flags (and the --baseline build, if any), rclone and aws cli with their defaults. */
function defaults(): Variant[] {
  return [
    { label: 'soaker', tool: byName('soaker'), role: 'tuned' },
    ...baseline(),
    { label: 'rclone', tool: byName('rclone'), role: 'peer' },
    { label: 'aws', tool: byName('aws'), role: 'peer' },
  ]
}

/** The --baseline build with `args`, where the bench races one. */
function baseline(args: string[] = []): Variant[] {
  const tool = tools.find((t) => t.name === 'baseline')
  const label = ['baseline', ...args].join(' ')
  return tool ? [{ label, tool, role: 'peer', ...(args.length > 0 ? { tuning: async () => ({ args }) } : {}) }] : []
}

function fixedSoaker(n: number): Variant {
  return {
    label: `soaker, fixed ${n}`, tool: byName('soaker'), role: 'fixed', fixed: n,
    tuning: async () => ({ args: ['--concurrency', String(n), '--min-concurrency', String(n), '--max-concurrency', String(n)] }),
  }
}

/** S4's cap in bytes per second: soaker's `--max-speed 50` (MB/s, 10^6 bytes). */
export const capBytesPerSec = 50e6

/** The same cap for each tool, in the units each one reads. */
function capped(): Variant[] {
  return [
    { label: 'soaker --max-speed 50', tool: byName('soaker'), role: 'tuned', tuning: async () => ({ args: ['--max-speed', '50'] }) },
    ...baseline(['--max-speed', '50']),
    // rclone's suffixes are binary (M = MiB); a B suffix means bytes.
    { label: 'rclone --bwlimit 50000000B', tool: byName('rclone'), role: 'peer', tuning: async () => ({ args: ['--bwlimit', `${capBytesPerSec}B`] }) },
    {
      // aws cli reads the cap only from its config file, in binary KB (1024 bytes): 48828 KB/s is 49,999,872 bytes/s.
      label: 'aws (s3.max_bandwidth 48828KB/s)', tool: byName('aws'), role: 'peer',
      tuning: async (scratch) => {
        const config = join(scratch, 'aws-config')
        await writeFile(config, `[default]\ns3 =\n    max_bandwidth = ${Math.floor(capBytesPerSec / 1024)}KB/s\n`)
        return { args: [], env: { AWS_CONFIG_FILE: config } }
      },
    },
  ]
}

/** The four WAN scenarios with the sizes `options` asks for (`quick` shrinks the data). */
export function wanScenarios(options: Pick<BenchOptions, 'quick' | 'sweep'>): Record<WanScenarioName, WanScenario> {
  const q = options.quick
  const s1Bytes = q ? 512 * MiB : 4 * GiB
  const s1Sizes = mixedSizes(s1Bytes)
  const s2Count = q ? 500 : 5000
  const s3Count = q ? 128 : 2048
  const s4Bytes = q ? 256 * MiB : 1 * GiB
  return {
    s1: {
      name: 's1',
      title: 'S1, throttled connections',
      data: `${fmtBytes(s1Bytes)} in ${s1Sizes.length} objects of 32-64 MiB (multipart, 8 MiB parts)`,
      network: { perConnectionBytesPerSec: 8e6, linkBytesPerSec: 160e6, latencyMs: 15 },
      unit: 'MB/s',
      variants: defaults(),
      seed: (client, bucket) => seedSized(client, bucket, 's1', s1Sizes, 8 * MiB),
      throughput: megabytes,
    },
    s2: {
      name: 's2',
      title: 'S2, latency-bound small objects',
      data: `${s2Count.toLocaleString('en-US')} objects of 64 KiB`,
      network: { latencyMs: 20 },
      unit: 'objects/s',
      variants: defaults(),
      seed: (client, bucket) => seedManySmall(client, bucket, 's2', s2Count, 64 * KiB),
      throughput: objects,
    },
    s3: {
      name: 's3',
      title: 'S3, a store that throttles',
      data: `${s3Count.toLocaleString('en-US')} objects of 1 MiB (${fmtBytes(s3Count * MiB)})`,
      // No link cap; each connection gets 4 MB/s, so throughput grows with concurrency up to the
      // store's limit and the best fixed concurrency is near it, not anywhere from 4 up.
      network: { perConnectionBytesPerSec: 4e6, latencyMs: 10, slowDownAbove: 24 },
      unit: 'MB/s',
      variants: [...defaults(), ...options.sweep.map(fixedSoaker)],
      seed: (client, bucket) => seedManySmall(client, bucket, 's3', s3Count, 1 * MiB),
      throughput: megabytes,
    },
    s4: {
      name: 's4',
      title: 'S4, the cap',
      data: `${fmtBytes(s4Bytes)} in ${s4Bytes / (64 * MiB)} objects of 64 MiB (multipart, 8 MiB parts)`,
      network: {},
      unit: 'MB/s',
      variants: capped(),
      seed: (client, bucket) => seedSized(client, bucket, 's4', Array.from({ length: s4Bytes / (64 * MiB) }, () => 64 * MiB), 8 * MiB),
      throughput: megabytes,
    },
  }
}

/** The network as a phrase for the report. */
export function describeNetwork(n: Network): string {
  const parts = [
    n.perConnectionBytesPerSec ? `${n.perConnectionBytesPerSec / 1e6} MB/s per connection` : 'no per-connection cap',
    n.linkBytesPerSec ? `${n.linkBytesPerSec / 1e6} MB/s link` : 'no link cap',
    n.latencyMs ? `${n.latencyMs} ms one-way latency` : 'no added latency',
  ]
  if (n.slowDownAbove !== undefined) parts.push(`503 SlowDown beyond ${n.slowDownAbove} requests in flight`)
  return parts.join(', ')
}

function fmtBytes(n: number): string {
  return n % GiB === 0 ? `${n / GiB} GiB` : `${n / MiB} MiB`
}
