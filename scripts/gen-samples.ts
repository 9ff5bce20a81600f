/**
 * `npm run gen-samples -- --files N --depth D [--out DIR] [--seed S]`: writes a deterministic tree
 * of sample files for uploads (see scripts/support/sample-tree.ts for the shape), then prints what
 * it made. Exit status: 0 done, 1 the tree could not be written, 2 bad arguments.
 */
import { mkdir, readdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { writeSampleTree } from './support/sample-tree.js'

const usage = `Usage: npm run gen-samples -- --files N --depth D [--out DIR] [--seed S]

Writes N files over directories nested up to D levels deep into DIR: mostly small files (90% up
to 8 KiB), a long tail up to 4 MiB, three empty files and one empty directory (empty-dir). The
same N, D and S always give the same names, sizes and bytes.

  --files N    files to create, the empty ones included (at least 1)
  --depth D    deepest directory level below DIR (0: every file directly in DIR)
  --out DIR    where the tree goes; must be missing or empty (default: ./samples)
  --seed S     seed of the names, sizes and bytes (default: 1)
  -h, --help   this text`

interface GenSamplesOptions {
  files: number
  depth: number
  /** @default 'samples' */
  out: string
  /** @default 1 */
  seed: number
}

/** Parses the arguments; throws an Error whose message names the bad input. */
function parseGenSamplesArgs(argv: string[]): GenSamplesOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      files: { type: 'string' },
      depth: { type: 'string' },
      out: { type: 'string', default: 'samples' },
      seed: { type: 'string', default: '1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) return 'help'
  if (values.files === undefined) throw new Error('Expected `--files` to be given, got nothing')
  if (values.depth === undefined) throw new Error('Expected `--depth` to be given, got nothing')
  return {
    files: integer('--files', values.files, 1, 10_000_000),
    depth: integer('--depth', values.depth, 0, 100),
    out: values.out,
    seed: integer('--seed', values.seed, 0, 2 ** 32 - 1),
  }
}

function integer(flag: string, text: string, min: number, max: number): number {
  const value = Number(text)
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new Error(`Expected \`${flag}\` to be an integer from ${min} to ${max.toLocaleString('en-US')}, got \`${text}\``)
  }
  return value
}

async function main(argv: string[]): Promise<number> {
  let options: GenSamplesOptions | 'help'
  try {
    options = parseGenSamplesArgs(argv)
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${usage}`)
    return 2
  }
  if (options === 'help') {
    console.log(usage)
    return 0
  }
  const out = resolve(options.out)
  await mkdir(out, { recursive: true })
  const entries = await readdir(out)
  if (entries.length > 0) {
    console.error(`Expected \`--out\` to be a missing or empty directory, got \`${options.out}\` (it holds ${entries.length} entries)`)
    return 2
  }
  const started = performance.now()
  const tree = writeSampleTree({ ...options, out })
  const seconds = (performance.now() - started) / 1000
  const n = (value: number): string => value.toLocaleString('en-US')
  console.log(
    `made ${n(tree.files)} files (${n(tree.emptyFiles)} empty), ${n(tree.bytes)} bytes (${(tree.bytes / 2 ** 20).toFixed(1)} MiB), ` +
      `in ${n(tree.directories)} directories (${tree.emptyDirectories.length} empty), ${tree.depth} levels deep, ` +
      `under ${out} in ${seconds.toFixed(1)} s (seed ${options.seed})`,
  )
  return 0
}

process.exitCode = await main(process.argv.slice(2)).catch((err: Error) => {
  console.error(`gen-samples failed: ${err.message}`)
  return 1
})
