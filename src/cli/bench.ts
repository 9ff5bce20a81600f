import { availableParallelism } from 'node:os'
import { Command, Option } from 'commander'
import { createLogger } from '../engine/logger.js'
import { UsageError } from '../errors.js'
import { transferOptions, type TransferOptions } from '../options.js'
import { s3Kind, type S3Location } from '../providers/s3/kind.js'
import { formatBytes } from '../units.js'
import { headerLine, jsonLine, textLine, type BenchRow } from './bench/bench-lines.js'
import { benchDefaults, benchSettings, type BenchSettings } from './bench/bench-settings.js'
import { benchPlane, syntheticUri } from './bench/plane-bench.js'
import { benchStore } from './bench/store-bench.js'
import { optionFlags, optionHelp, resolveCopyOptions } from './options.js'
import { givenStrings } from './values.js'

const MiB = 1024 * 1024

/** The cp options that mean something to a bench against a store: reaching it, and how much it says. */
const storeOptions = ['endpointUrl', 'region', 'profile', 'connectTimeout', 'logLevel'] as const

const benchHelp = `
Examples:
  soaker bench                                     the data plane alone: threads 0,1,2,… x concurrency 4,16,64
  soaker bench --seconds 10 --size 64MiB --data-threads-list 0,2,4 --concurrency-list 8,32
  soaker bench --verify false                      without the MD5 a verified download takes
  soaker bench s3://bucket/scratch --endpoint-url http://127.0.0.1:7480 --count 32
  soaker bench --json                              one JSON object per setting

Without a target, the data plane alone: fill jobs (a ranged read written at its position, MD5
in stream, as a verified download runs them) read synthetic objects from memory into /dev/null,
so the numbers are the CPU cost and ceiling of soaker's own byte path, without network or disk.
Each thread count's threads start, and run half a second, before any clock runs; each setting
then runs for about --seconds (objects under way finish). Default thread counts: 0, then 1, 2,
4, … up to the cores (${availableParallelism()} here).

With an s3:// target, a store's link without a disk: under <prefix>/soaker-bench-<random>/, for
each concurrency, --count objects of --size are uploaded (PUT, or multipart above --part-size;
Content-MD5 on each request), then read back through the data plane into /dev/null (MD5s
checked against those sent) with each thread count (default: what cp uses, one less than the
cores, 0 on two cores or fewer). Every key the bench wrote is deleted at the end, after a
failure or Ctrl-C too; nothing else is touched. A prefix that holds objects is refused unless
--force (the bench's keys are still new ones beside them).

Columns: objects/s; MB/s (10^6 bytes); CPU-s/GB: CPU seconds of the whole process (every
thread, user and system) per 10^9 bytes moved.
Exit status: 0 every setting ran, 1 something failed, 2 bad usage, 130 interrupted.`

/** `soaker bench [TARGET]`: what the data plane, or the link to a store, moves at each setting. */
export function benchCommand(program: Command): Command {
  const cmd = program.command('bench')
    .description('Measure what soaker moves, and what CPU it costs, at several thread counts and concurrencies: the data plane alone (synthetic objects into /dev/null), or the link to an S3 store (objects uploaded, downloaded to nothing, deleted).')
    .argument('[target]', 's3://bucket[/prefix] to measure the link to a store; none to measure the data plane alone')
    .option('--data-threads-list <list>', 'data thread counts to measure, comma-separated (default: 0,1,2,4,… up to the cores; with a target, what cp uses)')
    .option('--concurrency-list <list>', `requests in flight to measure, comma-separated (default: ${benchDefaults.concurrency.join(',')})`)
    .option('--size <size>', `bytes of each object (default: ${benchDefaults.size / MiB}MiB)`)
    .option('--part-size <size>', `objects larger than this move in ranges (parts) of this size (default: ${benchDefaults.partSize / MiB}MiB)`)
    .option('--count <n>', `objects in the set: cycled through by the data plane alone; written, read and deleted in a store (default: ${benchDefaults.count})`)
    .option('--seconds <seconds>', `data plane alone: how long each setting runs (default: ${benchDefaults.seconds})`)
    .option('--verify <bool>', 'take each range\'s MD5 as it streams and, in a store, send and check MD5s, as a verified copy does; false (or size): none (default: true)')
    .option('--json', 'one JSON object per setting on stdout')
    .option('--force', 'write under a prefix that holds objects already (only the bench\'s own keys are written and deleted)')
    .exitOverride()
  for (const key of storeOptions) cmd.addOption(new Option(optionFlags(key), optionHelp(key)))
  cmd.addHelpText('after', benchHelp)
  cmd.action(async (target: string | undefined, raw: Record<string, string | boolean | undefined>) => {
    process.exitCode = await runBench(target, raw)
  })
  return cmd
}

/** The bench's target: an s3:// location, or a UsageError naming what was given. */
function benchTarget(raw: string): S3Location {
  if (!/^s3:/i.test(raw)) throw new UsageError(`Expected an s3://bucket[/prefix] target, or none to measure the data plane alone, got \`${raw}\``)
  return s3Kind.parse(raw)
}

async function runBench(rawTarget: string | undefined, raw: Record<string, string | boolean | undefined>): Promise<number> {
  const target = rawTarget === undefined ? undefined : benchTarget(rawTarget)
  const s = benchSettings(givenStrings(raw), target !== undefined)
  const reach = resolveCopyOptions(givenStrings(raw, storeOptions), process.env)
  const log = createLogger(reach.logLevel)
  const print = (line: string): void => { process.stdout.write(`${line}\n`) }
  const emit = (row: BenchRow): void => print(s.json ? jsonLine(row) : textLine(row))
  const abort = new AbortController()
  let prefix: string | undefined
  let interrupts = 0
  const onSignal = (sig: NodeJS.Signals): void => {
    if (++interrupts === 1) {
      log.warn(`${sig}: stopping${prefix ? `, then deleting the bench's objects under ${prefix}` : ''} (press Ctrl-C again to quit at once)`)
      abort.abort(new Error(sig))
      return
    }
    process.stderr.write(`Stopped at once.${prefix ? ` The bench's objects under ${prefix} may remain.` : ''}\n`)
    process.exit(130)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    if (target === undefined) {
      if (!s.json) print(`${planeLine(s)}\n${headerLine()}`)
      await benchPlane(s, emit, abort.signal, log)
    } else {
      const options = transferOptions({ ...pickReach(reach), maxConcurrency: Math.max(...s.concurrency) })
      await benchStore(target, options, s, emit, abort.signal, log, (uri) => {
        prefix = uri
        log.info(`the bench writes under ${uri}, and deletes what it wrote when it ends`)
        if (!s.json) print(`${storeLine(s, uri)}\n${headerLine()}`)
      })
    }
    return 0
  } catch (err) {
    if (abort.signal.aborted) {
      process.stderr.write('soaker: bench interrupted\n')
      return 130
    }
    throw err
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

function pickReach(o: TransferOptions): Partial<TransferOptions> {
  return { endpointUrl: o.endpointUrl, region: o.region, profile: o.profile, connectTimeout: o.connectTimeout }
}

function planeLine(s: BenchSettings): string {
  const ranges = s.size > s.partSize ? `in ranges of ${formatBytes(s.partSize)}` : 'one range each'
  return `Data plane alone: ${syntheticUri(s)} (${s.count} objects of ${formatBytes(s.size)}) ${ranges} into /dev/null, ` +
    `${s.verify ? 'MD5 in stream' : 'no MD5'}, about ${s.seconds}s per setting, ${availableParallelism()} cores`
}

function storeLine(s: BenchSettings, uri: string): string {
  return `${uri}: ${s.count} objects of ${formatBytes(s.size)} uploaded, then downloaded into /dev/null, at each setting; ` +
    `${s.size > s.partSize ? `parts of ${formatBytes(s.partSize)}` : 'one request each'}; ${s.verify ? 'MD5s sent and checked' : 'no MD5s'}`
}
