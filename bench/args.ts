import { parseArgs } from 'node:util'

export const scenarioNames = ['small', 'big'] as const
export type ScenarioName = (typeof scenarioNames)[number]
/** Scenarios behind the WAN emulator (bench/wan/); `wan` names all of them. */
export const wanScenarioNames = ['s1', 's2', 's3', 's4'] as const
export type WanScenarioName = (typeof wanScenarioNames)[number]
/** Upload scenarios (bench/upload/): a local tree into a fresh bucket; `upload` names all of them. */
export const uploadScenarioNames = ['up-small', 'up-big', 'up-tree'] as const
export type UploadScenarioName = (typeof uploadScenarioNames)[number]
/** Copies between two buckets (bench/copy/): streamed across two endpoints, and server-side; `s3-to-s3` names all of them. */
export const copyScenarioNames = ['copy-small', 'copy-big', 'copy-small-ss', 'copy-big-ss'] as const
export type CopyScenarioName = (typeof copyScenarioNames)[number]

export interface BenchOptions {
  /** Loopback scenarios to run, in this order. @default ['small', 'big'] when no scenario is named */
  scenarios: ScenarioName[]
  /** Upload scenarios to run after them, in this order. @default [] */
  uploads: UploadScenarioName[]
  /** Copy scenarios to run after them, in this order. @default [] */
  copies: CopyScenarioName[]
  /** WAN scenarios to run after them, in this order. @default [] */
  wan: WanScenarioName[]
  /** The ceiling (bench/ceiling/): soaker against curl, rclone and aws cli on the small and big data. @default false */
  ceiling: boolean
  /** The chaos scenario (bench/chaos/): faults at fixed rates on a 25 MB/s link, last. @default false */
  chaos: boolean
  /** Runs of each tool per scenario. @default 3 (1 with --quick) */
  runs: number
  /** Objects in the `small` scenario. @default 2000 */
  smallObjects: number
  /** Size of the `big` scenario's one object, in MiB. @default 1024 */
  bigMiB: number
  /** Files in `up-small`. @default 20000 (500 with --quick) */
  upSmallFiles: number
  /** Size of `up-big`'s one file, in MiB. @default 1024 (64 with --quick) */
  upBigMiB: number
  /** Files in `up-tree`'s generated tree. @default 100000 (1000 with --quick) */
  upTreeFiles: number
  /** Shrink the WAN and upload scenarios' data for a smoke run. @default false */
  quick: boolean
  /** Fixed concurrencies S3 sweeps to find the best one. @default [16, 20, 24, 28, 32] */
  sweep: number[]
  /** A git ref whose build races beside the current one, as `baseline` (regressions). */
  baseline?: string
}

export const usage = `Usage: npm run bench -- [small] [big] [upload | up-small up-big up-tree] [s3-to-s3 | copy-small copy-big copy-small-ss copy-big-ss]
       [ceiling] [wan | s1 s2 s3 s4] [chaos] [--runs N] [--quick]
       [--small-objects N] [--big-mib N] [--up-small-files N] [--up-big-mib N] [--up-tree-files N] [--sweep N,N,...]

Races soaker, rclone and aws cli on the same data in the same run (interleaved runs) against a
local Ceph radosgw, prints a markdown table on stdout and writes every run to bench/results/.
With no scenario named, runs small and big.

  small               2,000 objects of 16 KiB under one prefix (objects/s)
  big                 one 1 GiB object uploaded in 8 MiB parts (MB/s)
  upload              up-small up-big up-tree: uploads of a local tree into a fresh bucket per run:
  up-small            20,000 files of 16 KiB (objects/s)
  up-big              one 1 GiB file (MB/s)
  up-tree             a 100,000-file tree from gen-samples, 5 levels deep (objects/s, peak RSS)
  s3-to-s3            copy-small copy-big copy-small-ss copy-big-ss: bucket to bucket (bench/copy/), the
                      small and big data (--small-objects, --big-mib) into a fresh bucket per run:
  copy-small          streamed across two endpoints (the second a TCP forwarder to the same server)
  copy-big            the same, one 1 GiB object
  copy-small-ss       within one endpoint: the store copies (soaker, rclone and aws cli)
  copy-big-ss         the same, one 1 GiB object
  ceiling             the small and big data (--small-objects, --big-mib) fetched by curl (16 in flight,
                      into files and into /dev/null), rclone (defaults and --transfers 16
                      --multi-thread-streams 16), aws cli and soaker (default, --verify false, and
                      --verify size where the build offers it), with client and radosgw CPU-s and
                      peak RSS, each tool ÷ rclone and ÷ curl into files (bench/ceiling/)
  wan                 s1 s2 s3 s4, through the WAN emulator (bench/wan/):
  s1                  throttled connections: 8 MB/s each, 160 MB/s link, 15 ms; 4 GiB of 32-64 MiB objects
  s2                  latency-bound small objects: 20 ms; 5,000 objects of 64 KiB
  s3                  a store that throttles: SlowDown beyond 24 in flight; soaker also at fixed concurrencies
  s4                  the cap: --max-speed 50 on an uncapped link; 1 GiB
  chaos               soaker and rclone on a 25 MB/s link through a proxy that resets, answers 503
                      SlowDown or stalls at fixed rates, against the fault-free run (bench/chaos/);
                      1,500 objects of 64 KiB and 4 of 40 MiB (200 and 1 with --quick)
  --runs N            runs of each tool per scenario (default 3; 1 with --quick)
  --quick             WAN scenarios with an eighth of the data or less, upload scenarios with
                      500 files, 64 MiB and 1,000 files, for a smoke run
  --sweep N,N,...     fixed concurrencies s3 runs soaker at (default 16,20,24,28,32)
  --baseline REF      also race soaker as built at git REF (e.g. a commit before a change), as
                      \`baseline\`, right after soaker in every round of the download, upload,
                      ceiling and WAN scenarios: its row's soaker ÷ tool ratio is the change's effect
  --small-objects N   objects in the small scenario and the ceiling (default 2000; smaller for a quick check)
  --big-mib N         size of the big object in MiB, also the ceiling's (default 1024; smaller for a quick check)
  --up-small-files N  files in up-small (default 20000; 500 with --quick)
  --up-big-mib N      size of up-big's file in MiB (default 1024; 64 with --quick)
  --up-tree-files N   files in up-tree (default 100000; 1000 with --quick)
  -h, --help          this text

       npm run bench -- listing [--keys N] [--runs N]
       npm run bench -- fleet [--objects N] [--tiny N] [--workers N] [--runs N]

  listing             soaker cp --dry-run against rclone lsf -R over N generated keys (default
                      1,000,000) from a synthetic S3 listing server, no Ceph (objects/s, peak RSS)
  fleet               soaker plan into SQLite and into PostgreSQL beside rclone lsf -R and rclone
                      copy --dry-run over N generated keys (default 1,000,000), then N tiny objects
                      (default 200,000) copied by one process, by workers sharing a PostgreSQL job
                      (default 4) and by rclone; no Ceph (objects/s, CPU-s, peak RSS per process)`

/** Parses the bench's arguments; throws an Error whose message names the bad input. */
export function parseBenchArgs(argv: string[]): BenchOptions | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      runs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      sweep: { type: 'string', default: '16,20,24,28,32' },
      'small-objects': { type: 'string', default: '2000' },
      'big-mib': { type: 'string', default: '1024' },
      'up-small-files': { type: 'string' },
      'up-big-mib': { type: 'string' },
      'up-tree-files': { type: 'string' },
      baseline: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) return 'help'
  const known: readonly string[] = [...scenarioNames, ...uploadScenarioNames, 'upload', ...copyScenarioNames, 's3-to-s3', 'ceiling', ...wanScenarioNames, 'wan', 'chaos']
  for (const name of positionals) {
    if (!known.includes(name)) throw new Error(`Expected a scenario name (${known.join(', ')}), got \`${name}\``)
  }
  // Named scenarios run in the canonical order, once each, whatever order they were given in.
  const inGroup = (group: string, names: readonly string[], name: string): boolean => positionals.includes(group) && names.includes(name)
  const named = (name: string): boolean =>
    positionals.includes(name) || inGroup('wan', wanScenarioNames, name) || inGroup('upload', uploadScenarioNames, name) ||
    inGroup('s3-to-s3', copyScenarioNames, name)
  const quick = (full: string, small: string): string => (values.quick ? small : full)
  return {
    scenarios: positionals.length === 0 ? [...scenarioNames] : scenarioNames.filter(named),
    uploads: uploadScenarioNames.filter(named),
    copies: copyScenarioNames.filter(named),
    wan: wanScenarioNames.filter(named),
    ceiling: positionals.includes('ceiling'),
    chaos: positionals.includes('chaos'),
    runs: positiveInteger('--runs', values.runs ?? (values.quick ? '1' : '3')),
    smallObjects: positiveInteger('--small-objects', values['small-objects']),
    bigMiB: positiveInteger('--big-mib', values['big-mib']),
    upSmallFiles: positiveInteger('--up-small-files', values['up-small-files'] ?? quick('20000', '500')),
    upBigMiB: positiveInteger('--up-big-mib', values['up-big-mib'] ?? quick('1024', '64')),
    upTreeFiles: positiveInteger('--up-tree-files', values['up-tree-files'] ?? quick('100000', '1000')),
    quick: values.quick,
    sweep: values.sweep.split(',').map((n) => positiveInteger('--sweep', n.trim())),
    ...(values.baseline !== undefined ? { baseline: values.baseline } : {}),
  }
}

function positiveInteger(flag: string, text: string): number {
  const value = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new Error(`Expected \`${flag}\` to be a positive integer, got \`${text}\``)
  }
  return value
}
