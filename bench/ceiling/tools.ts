/**
 * What the ceiling races, in the order of every round: curl (into files, then into /dev/null),
 * the peers with their defaults and rclone tuned, then soaker in its variants. rclone, aws cli,
 * soaker and the baseline run exactly as the other download scenarios run them (bench/peers.ts).
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Dataset } from '../dataset.js'
import type { Invocation, Source, Tool } from '../peers.js'
import { verifyDestination } from '../verify.js'
import { curlConfig, curlTransfers } from './curl-config.js'
import { verifyPieces } from './verify-parts.js'

export const ceilingToolNames = [
  'curl-files', 'curl-null', 'rclone', 'rclone-tuned', 'aws', 'soaker', 'baseline', 'soaker-verify-false', 'soaker-verify-size',
] as const
export type CeilingToolName = (typeof ceilingToolNames)[number]
export type CeilingDataName = 'small' | 'big'

/** Where one run reads from and writes to. */
export interface RunPlace {
  source: Source
  dataset: Dataset
  /** Requests curl splits each object into (1: whole objects). */
  rangesPerObject: number
  /** Empty before the run. */
  dest: string
  /** Empty and private to the run. */
  scratch: string
}

export interface CeilingTool {
  name: CeilingToolName
  /** How the report names it: the command's distinguishing flags. */
  label: string
  /** The data it runs on; `--verify size` is about large objects, so it skips the small ones. */
  data: readonly CeilingDataName[]
  /** Writes whatever the command reads (curl's config) into `place.scratch`, and returns the command. */
  prepare(place: RunPlace): Promise<Invocation>
  /**
   * What is missing or wrong in `place.dest` after a run, or undefined when it holds the dataset;
   * null when the tool writes nothing to check (into /dev/null).
   */
  check(place: RunPlace): Promise<string | undefined | null>
}

const bothData: readonly CeilingDataName[] = ['small', 'big']
export const curlBin = '/usr/bin/curl'
/** Requests curl keeps in flight; soaker starts at 16 as well. */
const curlParallel = 16

/** curl, `--parallel-max 16`, writing each object (or range) into a file of its own, or into /dev/null. */
function curl(name: 'curl-files' | 'curl-null'): CeilingTool {
  const toFiles = name === 'curl-files'
  return {
    name,
    label: toFiles ? 'curl → files' : 'curl → /dev/null',
    data: bothData,
    prepare: async ({ source, dataset, rangesPerObject, dest, scratch }) => {
      const config = join(scratch, 'curl.config')
      const transfers = curlTransfers(source, dataset.files, toFiles ? dest : null, rangesPerObject)
      // The config holds the secret key, so it is written for the owner alone.
      await writeFile(config, curlConfig(transfers, source), { mode: 0o600 })
      // In parallel mode curl 7.88 draws its progress meter even with --silent; errors still show without it.
      const argv = [curlBin, '--parallel', '--parallel-max', String(curlParallel), '--no-progress-meter', '-K', config]
      return { argv, env: {} }
    },
    check: async ({ dataset, rangesPerObject, dest }) => {
      if (!toFiles) return null
      return rangesPerObject > 1 ? verifyPieces(dest, dataset.files, rangesPerObject) : verifyDestination(dest, dataset.files)
    },
  }
}

/** A tool of bench/peers.ts as the downloads run it, with `extra` arguments appended. */
function peer(tool: Tool, name: CeilingToolName, label: string, extra: readonly string[] = [], data = bothData): CeilingTool {
  return {
    name,
    label,
    data,
    prepare: async ({ source, dest, scratch }) => {
      const invocation = tool.invocation(source, dest, scratch)
      return { argv: [...invocation.argv, ...extra], env: invocation.env }
    },
    check: ({ dataset, dest }) => verifyDestination(dest, dataset.files),
  }
}

/**
 * The ceiling's tools, in round order. `peers` are bench/peers.ts's tools (soaker, rclone, aws,
 * and the baseline when `--baseline` added it); soaker `--verify size` is raced, on the big
 * object only, when the build under test offers it.
 */
export function ceilingTools(peers: readonly Tool[], verifySizeOffered: boolean): CeilingTool[] {
  const find = (name: Tool['name']): Tool | undefined => peers.find((t) => t.name === name)
  const soaker = find('soaker')!
  const rclone = find('rclone')!
  const aws = find('aws')!
  const baseline = find('baseline')
  return [
    curl('curl-files'),
    curl('curl-null'),
    peer(rclone, 'rclone', 'rclone'),
    peer(rclone, 'rclone-tuned', 'rclone --transfers 16 --multi-thread-streams 16', ['--transfers', '16', '--multi-thread-streams', '16']),
    peer(aws, 'aws', 'aws'),
    peer(soaker, 'soaker', 'soaker'),
    ...(baseline === undefined ? [] : [peer(baseline, 'baseline', 'baseline')]),
    peer(soaker, 'soaker-verify-false', 'soaker --verify false', ['--verify', 'false']),
    ...(verifySizeOffered ? [peer(soaker, 'soaker-verify-size', 'soaker --verify size', ['--verify', 'size'], ['big'])] : []),
  ]
}
