import { createHash, randomBytes } from 'node:crypto'
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { writeSampleTree } from '../../scripts/support/sample-tree.js'
import type { BenchOptions, UploadScenarioName } from '../args.js'
import type { ExpectedFile } from '../dataset.js'

const KiB = 1024
const MiB = 1024 * KiB

/** A local tree every tool uploads, and what a complete upload of it looks like. */
export interface LocalDataset {
  /** The directory each tool is given; keys are paths relative to it. Empty for a copy between buckets. */
  dir: string
  files: ExpectedFile[]
  totalBytes: number
  /** Directories that hold nothing (`/`-separated, relative); a `dir/` marker for them is allowed, never required. */
  emptyDirectories: string[]
}

export interface UploadScenario {
  name: UploadScenarioName
  /** What the data is, for the report. */
  description: string
  unit: 'objects/s' | 'MB/s'
  /** Least soaker ÷ rclone throughput aimed for; printed next to the ratio, never enforced. null: none. */
  targetVsRclone: number | null
  /** Most peak RSS soaker aims for, in MiB; printed, never enforced. */
  rssTargetMiB: number
  /** Writes the scenario's files into the empty directory `dir`, once; every run uploads the same files. */
  prepare(dir: string): Promise<LocalDataset>
  throughput(dataset: LocalDataset, wallSeconds: number): number
}

const objects = (dataset: LocalDataset, wallSeconds: number): number => dataset.files.length / wallSeconds
// MB here is 10^6 bytes, as network rates are quoted.
const megabytes = (dataset: LocalDataset, wallSeconds: number): number => dataset.totalBytes / 1e6 / wallSeconds

/** The upload scenarios with the sizes `options` asks for (the defaults are the published ones). */
export function uploadScenarios(options: Pick<BenchOptions, 'upSmallFiles' | 'upBigMiB' | 'upTreeFiles'>): Record<UploadScenarioName, UploadScenario> {
  const n = (value: number): string => value.toLocaleString('en-US')
  return {
    'up-small': {
      name: 'up-small',
      description: `upload ${n(options.upSmallFiles)} files of 16 KiB`,
      unit: 'objects/s',
      targetVsRclone: 1.5,
      rssTargetMiB: 200,
      prepare: async (dir) => writeFlat(dir, options.upSmallFiles, 16 * KiB),
      throughput: objects,
    },
    'up-big': {
      name: 'up-big',
      description: `upload one ${options.upBigMiB % 1024 === 0 ? `${options.upBigMiB / 1024} GiB` : `${options.upBigMiB} MiB`} file`,
      unit: 'MB/s',
      targetVsRclone: 1.2,
      rssTargetMiB: 200,
      prepare: async (dir) => writeOneBig(dir, 'blob.bin', options.upBigMiB * MiB),
      throughput: megabytes,
    },
    'up-tree': {
      name: 'up-tree',
      description: `upload a ${n(options.upTreeFiles)}-file tree (gen-samples, depth 5, seed 1)`,
      unit: 'objects/s',
      // The scenario is about memory; throughput is reported, and rclone's pace is no target here.
      targetVsRclone: null,
      rssTargetMiB: 250,
      prepare: async (dir) => writeTree(dir, options.upTreeFiles),
      throughput: objects,
    },
  }
}

/** `count` files of `size` bytes directly in `dir`, each a slice of one random pool at its own offset. */
function writeFlat(dir: string, count: number, size: number): LocalDataset {
  const pool = randomBytes(4 * MiB)
  const width = String(count - 1).length
  const files: ExpectedFile[] = []
  for (let i = 0; i < count; i++) {
    const offset = (i * 4099) % (pool.length - size)
    const body = pool.subarray(offset, offset + size)
    const path = String(i).padStart(width, '0')
    writeFileSync(join(dir, path), body)
    files.push({ path, size, md5: md5(body) })
  }
  return { dir, files, totalBytes: count * size, emptyDirectories: [] }
}

/** One file of `size` random bytes, written 8 MiB at a time so that the bench never holds it whole. */
function writeOneBig(dir: string, name: string, size: number): LocalDataset {
  const hash = createHash('md5')
  const fd = openSync(join(dir, name), 'w')
  try {
    for (let written = 0; written < size;) {
      const chunk = randomBytes(Math.min(8 * MiB, size - written))
      hash.update(chunk)
      writeSync(fd, chunk)
      written += chunk.length
    }
  } finally {
    closeSync(fd)
  }
  return { dir, files: [{ path: name, size, md5: hash.digest('hex') }], totalBytes: size, emptyDirectories: [] }
}

function writeTree(dir: string, count: number): LocalDataset {
  const files: ExpectedFile[] = []
  const tree = writeSampleTree({
    files: count, depth: 5, out: dir, seed: 1,
    onFile: (path, body) => files.push({ path: path.split('\\').join('/'), size: body.length, md5: md5(body) }),
  })
  return { dir, files, totalBytes: tree.bytes, emptyDirectories: tree.emptyDirectories }
}

function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('hex')
}
