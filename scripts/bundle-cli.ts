/**
 * Bundles the CLI (dist/cli/main.js, as tsc emitted it, and the S3 client it reaches) into one
 * CommonJS file, dist/cli.cjs, which bin/soaker.js runs through dist/bundle-loader.cjs (the
 * loader, src/cli/bundle-loader.ts, as CommonJS: bin/soaker.js is CommonJS). `npm run build`
 * calls this after tsc.
 *
 * Why one file: a run started ~170 ESM and CommonJS files, and Node spent more time resolving,
 * reading and parsing them (and lexing the SDK's CommonJS for its named exports) than the copy
 * itself took. One file loads in one read, and, being one script, V8's compiled code for it can be
 * kept from run to run (src/cli/bundle-loader.ts), which Node 20 offers for no module format of its own.
 *
 * What stays outside, loaded from node_modules as before: better-sqlite3 and @node-rs/crc32
 * (native addons: a download verified by a store's CRC32C digests its bytes with the latter), and
 * the libraries only some commands load, when they run (Azure, GCS and the Hub's clients; yaml and
 * zod for job files). The library API (dist/index.js) is tsc's output, not this bundle.
 */
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

const external = ['better-sqlite3', '@node-rs/crc32', '@azure/storage-blob', '@google-cloud/storage', '@huggingface/hub', 'yaml', 'zod']

/** How the CLI and the data threads' script are bundled: `entry` (tsc's output) into `outfile`. */
async function bundle(entry: string, outfile: string): Promise<void> {
  await build({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external,
    // The SDK's ES module builds: esbuild drops what the CLI does not use from them (not from CommonJS).
    mainFields: ['module', 'main'],
    // Error classes name themselves after their class (errors.ts: new.target.name); a bundle may
    // rename a class whose name two modules use, and keepNames keeps `.name` as written.
    keepNames: true,
    // import() becomes require(): code compiled by vm.Script may not call import() on Node 20
    // without --experimental-vm-modules. Every external above has a CommonJS entry point.
    supported: { 'dynamic-import': false },
    logLevel: 'warning',
    // data-plane.ts finds its thread's script by __filename in a bundle, by import.meta.url elsewhere.
    logOverride: { 'empty-import-meta': 'silent' },
  })
}

await bundle('dist/cli/main.js', 'dist/cli.cjs')
// The data threads' script (src/data/data-worker.ts), beside the CLI's bundle: each thread loads
// the providers it reads from, nothing of the CLI.
await bundle('dist/data/data-worker.js', 'dist/data-worker.cjs')

await build({
  absWorkingDir: root,
  entryPoints: ['dist/cli/bundle-loader.js'],
  outfile: 'dist/bundle-loader.cjs',
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
})
