import { parseArgs } from 'node:util'

export const scenarioNames = ['small', 'big'] as const
export type ScenarioName = (typeof scenarioNames)[number]
/** Scenarios behind the WAN emulator (bench/wan/); `wan` names all of them. */
export const wanScenarioNames = ['s1', 's2', 's3', 's4'] as const
export type WanScenarioName = (typeof wanScenarioNames)[number]

export interface BenchOptions {
  /** Loopback scenarios to run, in this order. @default ['small', 'big'] when no scenario is named */
  scenarios: ScenarioName[]
  /** WAN scenarios to run after them, in this order. @default [] */
  wan: WanScenarioName[]
  /** Runs of each tool per scenario. @default 3 (1 with --quick) */
  runs: number
  /** Objects in the `small` scenario. @default 2000 */
  smallObjects: number
  /** Size of the `big` scenario's one object, in MiB. @default 1024 */
  bigMiB: number
  /** Shrink the WAN scenarios' data for a smoke run. @default false */
  quick: boolean
  /** Fixed concurrencies S3 sweeps to find the best one. @default [16, 20, 24, 28, 32] */
  sweep: number[]
}

export const usage = `Usage: npm run bench -- [small] [big] [wan | s1 s2 s3 s4] [--runs N] [--quick] [--small-objects N] [--big-mib N] [--sweep N,N,...]

Races soaker, rclone and aws cli on the same data in the same run (interleaved runs) against a
local Ceph radosgw, prints a markdown table on stdout and writes every run to bench/results/.
With no scenario named, runs small and big.

  small               2,000 objects of 16 KiB under one prefix (objects/s)
  big                 one 1 GiB object uploaded in 8 MiB parts (MB/s)
  wan                 s1 s2 s3 s4, through the WAN emulator (bench/wan/):
  s1                  throttled connections: 8 MB/s each, 160 MB/s link, 15 ms; 4 GiB of 32-64 MiB objects
  s2                  latency-bound small objects: 20 ms; 5,000 objects of 64 KiB
  s3                  a store that throttles: SlowDown beyond 24 in flight; soaker also at fixed concurrencies
  s4                  the cap: --max-speed 50 on an uncapped link; 1 GiB
  --runs N            runs of each tool per scenario (default 3; 1 with --quick)
  --quick             WAN scenarios with an eighth of the data or less, for a smoke run
  --sweep N,N,...     fixed concurrencies s3 runs soaker at (default 16,20,24,28,32)
  --small-objects N   objects in the small scenario (default 2000; smaller for a quick check)
  --big-mib N         size of the big object in MiB (default 1024; smaller for a quick check)
  -h, --help          this text`

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
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) return 'help'
  const known: readonly string[] = [...scenarioNames, ...wanScenarioNames, 'wan']
  for (const name of positionals) {
    if (!known.includes(name)) throw new Error(`Expected a scenario name (${known.join(', ')}), got \`${name}\``)
  }
  // Named scenarios run in the canonical order, once each, whatever order they were given in.
  const named = (name: string): boolean => positionals.includes(name) || (positionals.includes('wan') && (wanScenarioNames as readonly string[]).includes(name))
  return {
    scenarios: positionals.length === 0 ? [...scenarioNames] : scenarioNames.filter(named),
    wan: wanScenarioNames.filter(named),
    runs: positiveInteger('--runs', values.runs ?? (values.quick ? '1' : '3')),
    smallObjects: positiveInteger('--small-objects', values['small-objects']),
    bigMiB: positiveInteger('--big-mib', values['big-mib']),
    quick: values.quick,
    sweep: values.sweep.split(',').map((n) => positiveInteger('--sweep', n.trim())),
  }
}

function positiveInteger(flag: string, text: string): number {
  const value = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new Error(`Expected \`${flag}\` to be a positive integer, got \`${text}\``)
  }
  return value
}
