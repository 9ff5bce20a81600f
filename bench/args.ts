import { parseArgs } from 'node:util'

export const scenarioNames = ['small', 'big'] as const
export type ScenarioName = (typeof scenarioNames)[number]

export interface BenchOptions {
  /** Scenarios to run, in this order. @default ['small', 'big'] */
  scenarios: ScenarioName[]
  /** Runs of each tool per scenario. @default 3 */
  runs: number
  /** Objects in the `small` scenario. @default 2000 */
  smallObjects: number
  /** Size of the `big` scenario's one object, in MiB. @default 1024 */
  bigMiB: number
}

export const usage = `Usage: npm run bench -- [small] [big] [--runs N] [--small-objects N] [--big-mib N]

Races soaker, rclone and aws cli on the same data in the same run (interleaved runs) against a
local Ceph radosgw, prints a markdown table on stdout and writes every run to bench/results/.

  small               2,000 objects of 16 KiB under one prefix (objects/s)
  big                 one 1 GiB object uploaded in 8 MiB parts (MB/s)
  --runs N            runs of each tool per scenario (default 3)
  --small-objects N   objects in the small scenario (default 2000; smaller for a quick check)
  --big-mib N         size of the big object in MiB (default 1024; smaller for a quick check)
  -h, --help          this text`

/** Parses the bench's arguments; throws an Error whose message names the bad input. */
export function parseBenchArgs(argv: string[]): BenchOptions | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      runs: { type: 'string', default: '3' },
      'small-objects': { type: 'string', default: '2000' },
      'big-mib': { type: 'string', default: '1024' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) return 'help'
  for (const name of positionals) {
    if (!(scenarioNames as readonly string[]).includes(name)) {
      throw new Error(`Expected a scenario name (${scenarioNames.join(', ')}), got \`${name}\``)
    }
  }
  // Named scenarios run in the canonical order, once each, whatever order they were given in.
  const scenarios = positionals.length === 0 ? [...scenarioNames] : scenarioNames.filter((n) => positionals.includes(n))
  return {
    scenarios,
    runs: positiveInteger('--runs', values.runs),
    smallObjects: positiveInteger('--small-objects', values['small-objects']),
    bigMiB: positiveInteger('--big-mib', values['big-mib']),
  }
}

function positiveInteger(flag: string, text: string): number {
  const value = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new Error(`Expected \`${flag}\` to be a positive integer, got \`${text}\``)
  }
  return value
}
