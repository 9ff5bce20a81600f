import { closeSync, openSync, writeSync } from 'node:fs'
import { Command, Option } from 'commander'
import { check, checkDefaults, type CheckEntry, type CheckResult, type CheckVerdict } from '../engine/check.js'
import { createLogger } from '../engine/logger.js'
import { errorMessage, LocationError } from '../errors.js'
import { parseLocation } from '../location.js'
import { escapeControls } from '../providers/local/keys.js'
import { optionFlags, optionHelp, resolveCopyOptions } from './options.js'
import { givenStrings, parseInteger } from './values.js'

/** The cp options that mean something to a check: reaching the stores, retrying, reporting. */
const sharedOptions = ['endpointUrl', 'region', 'profile', 'sourceEndpointUrl', 'sourceRegion', 'sourceProfile', 'connectTimeout', 'timeout', 'retries', 'lowLevelRetries', 'retryDelay', 'logLevel', 'json', 'state'] as const

/** rclone check's report files: each lists the keys of one verdict, `--combined` all with a sign. */
const reportFiles = {
  combined: { flag: '--combined <file>', help: 'write every key with its verdict: = same, - only in the source, + only in the destination, * differs, ! unreadable' },
  missingOnDst: { flag: '--missing-on-dst <file>', help: 'write the keys only in the source' },
  missingOnSrc: { flag: '--missing-on-src <file>', help: 'write the keys only in the destination' },
  match: { flag: '--match <file>', help: 'write the keys that are the same on both sides' },
  differ: { flag: '--differ <file>', help: 'write the keys that differ' },
  error: { flag: '--error <file>', help: 'write the keys that could not be read or hashed' },
} as const

type ReportFile = keyof typeof reportFiles

const signs: Record<CheckVerdict, string> = { match: '=', 'missing-on-dst': '-', 'missing-on-src': '+', differ: '*', error: '!' }
const fileOf: Record<CheckVerdict, ReportFile> = {
  match: 'match', 'missing-on-dst': 'missingOnDst', 'missing-on-src': 'missingOnSrc', differ: 'differ', error: 'error',
}

const checkHelp = `
Examples:
  soaker check s3://bucket/photos ./photos          a download against its source
  soaker check ./tree s3://bucket/backup --combined report.txt
  soaker check s3://a/data gs://b/data --download   compare the bytes where no digest is common

Keys on both sides are compared by size, then by the strongest digest both know: two stores'
MD5 ETags (multipart ETags of the same part count), Azure's Content-MD5, the Hub's SHA-256 or
git blob id; a local file is hashed to whatever digest the store on the other side keeps.
Where no digest is common, the sizes decide, unless --download reads both sides. Verdicts are
kept in a state database (--state): a check run again compares only the pairs that changed.
Exit status: 0 when both trees are the same, 1 when anything is missing, differs or could not be
read, 2 bad usage, 130 interrupted.`

export function checkCommand(program: Command): Command {
  const cmd = program.command('check')
    .description('Compare two trees of any pair of local directories and stores (S3, Azure Blob, Google Cloud Storage, the Hugging Face Hub): what is missing on each side, what differs, what could not be read.')
    .argument('<source>', 'a local directory, or s3://bucket[/prefix], az://, gs://, hf://')
    .argument('<destination>', 'a local directory, or s3://bucket[/prefix], az://, gs://')
    .option('--download', `compare the bytes of objects with no digest common to both sides (default: ${checkDefaults.download})`)
    .option('--checkers <n>', `objects compared at once (default: ${checkDefaults.checkers})`)
    .exitOverride()
  for (const f of Object.values(reportFiles)) cmd.addOption(new Option(f.flag, f.help)) // attribute: the camel-cased flag, the key of reportFiles
  for (const key of sharedOptions) cmd.addOption(new Option(optionFlags(key), optionHelp(key)))
  cmd.addHelpText('after', checkHelp)
  cmd.action(async (src: string, dst: string, raw: Record<string, string | boolean | undefined>) => {
    process.exitCode = await runCheck(src, dst, raw)
  })
  return cmd
}

async function runCheck(src: string, dst: string, raw: Record<string, string | boolean | undefined>): Promise<number> {
  const given = givenStrings(raw, sharedOptions)
  const options = {
    ...resolveCopyOptions(given, process.env),
    download: raw.download === true,
    checkers: raw.checkers === undefined ? checkDefaults.checkers : parseInteger('--checkers', String(raw.checkers), 1),
  }
  const [source, destination] = [parseLocation(src), parseLocation(dst)]
  const log = createLogger(options.logLevel)
  const files = openReportFiles(raw)
  const abort = new AbortController()
  const onSignal = (sig: NodeJS.Signals): void => abort.abort(new Error(sig))
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    const onEntry = (e: CheckEntry): void => {
      files.write(e)
      if (options.json) process.stdout.write(`${JSON.stringify({ type: 'check', verdict: e.verdict, key: e.key, detail: e.detail, ...(e.code && { code: e.code }) })}\n`)
      else if (e.verdict !== 'match') process.stdout.write(`${textLine(e, source.uri, destination.uri)}\n`)
      else log.debug(`same: ${escapeControls(e.key)} (${e.detail})`)
    }
    const result = await check(source, destination, options, { log, signal: abort.signal, onEntry })
    process.stdout.write(options.json ? `${JSON.stringify(summaryJson(result))}\n` : `${summaryText(result, destination.uri)}\n`)
    return result.identical ? 0 : 1
  } catch (err) {
    if (abort.signal.aborted) {
      process.stderr.write('soaker: check interrupted\n')
      return 130
    }
    throw err
  } finally {
    files.close()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

function textLine(e: CheckEntry, src: string, dst: string): string {
  const key = escapeControls(e.key)
  switch (e.verdict) {
    case 'missing-on-dst': return `missing from ${dst}: ${key}`
    case 'missing-on-src': return `missing from ${src}: ${key}`
    case 'differ': return `differs: ${key}: ${e.detail}`
    case 'error': return `could not compare ${key}: ${e.detail} [${e.code ?? 'UNKNOWN'}]`
    case 'match': return `same: ${key}`
  }
}

function summaryText(r: CheckResult, dst: string): string {
  const c = r.counts
  const checked = c.match + c.differ + c['missing-on-dst'] + c['missing-on-src'] + c.error
  const bySize = r.sizeOnly > 0 ? ` (${r.sizeOnly} by size alone: no digest known to both sides; --download compares their bytes)` : ''
  const before = r.recorded > 0 ? `; ${r.recorded} pairs unchanged since an earlier check kept its verdict (${r.statePath})` : ''
  const verdict = r.identical ? 'the trees are the same' : `${checked - c.match} difference${checked - c.match === 1 ? '' : 's'} found`
  return `Checked ${checked} keys against ${dst}: ${c.match} same${bySize}, ${c.differ} differ, ${c['missing-on-dst']} missing from the destination, ` +
    `${c['missing-on-src']} missing from the source, ${c.error} could not be read${before}; ${verdict}`
}

function summaryJson(r: CheckResult): Record<string, unknown> {
  const c = r.counts
  return {
    type: 'check_summary', identical: r.identical, match: c.match, size_only: r.sizeOnly, recorded: r.recorded, differ: c.differ,
    missing_on_dst: c['missing-on-dst'], missing_on_src: c['missing-on-src'], errors: c.error,
  }
}

/** The report files asked for, opened (truncated) before the check starts, one key per line. */
function openReportFiles(raw: Record<string, unknown>): { write: (e: CheckEntry) => void; close: () => void } {
  const fds = new Map<ReportFile, number>()
  try {
    for (const key of Object.keys(reportFiles) as ReportFile[]) {
      const path = raw[key]
      if (typeof path !== 'string') continue
      try {
        fds.set(key, openSync(path, 'w'))
      } catch (err) {
        throw new LocationError(`Cannot write the report file \`${path}\` (${reportFiles[key].flag.split(' ')[0]}): ${errorMessage(err)}`, { cause: err })
      }
    }
  } catch (err) {
    for (const fd of fds.values()) closeSync(fd)
    throw err
  }
  return {
    write: (e) => {
      const combined = fds.get('combined')
      if (combined !== undefined) writeSync(combined, `${signs[e.verdict]} ${e.key}\n`)
      const own = fds.get(fileOf[e.verdict])
      if (own !== undefined) writeSync(own, `${e.key}\n`)
    },
    close: () => { for (const fd of fds.values()) closeSync(fd) },
  }
}
