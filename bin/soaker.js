#!/usr/bin/env node
// CommonJS (bin/package.json): an ES module as the entry point starts Node's ESM loader, ~4 ms of
// every run, and nothing a run loads needs it (the bundle is CommonJS, its import()s require()s).

// File writes, fsyncs and renames of many parallel transfers run on libuv's thread pool; its
// default of 4 threads would be the bottleneck. It must be set before the pool first starts.
process.env.UV_THREADPOOL_SIZE ??= '16'
// The lockfile pins an SDK release that supports Node 20; its notice about future releases is
// for soaker's developers, not for people running a copy.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
// A reader that goes away (`soaker cp --help | head`) ends the output, not the process with a stack.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => { if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw err })
}
// V8 lets a heap grow to up to 4 times what survived its last full collection before it collects
// again, and a copy of many small objects makes garbage fast enough to earn that: 200,000 tiny
// objects peaked at 250 MiB of RSS with 20 MiB alive. Growing by half instead kept the peak at
// 155 MiB for the same CPU (bench/README, issue 15). V8 reads this at every collection, so
// setting it here, before any work, covers listing, planning and every data thread. While a run
// moves large objects it lets V8 choose again (src/engine/heap-growth.ts).
require('node:v8').setFlagsFromString('--heap-growing-percent=50')
const { join } = require('node:path')
const { compileCachePath, loadBundle } = require('../dist/bundle-loader.cjs')

// The CLI as one bundle (scripts/bundle-cli.ts), its compiled code kept from run to run, for
// each command apart (the code a copy runs is not the code of --help); other arguments share one.
const commands = ['cp', 'plan', 'run', 'status', 'check', 'abort', 'bench']
const command = commands.includes(process.argv[2]) ? process.argv[2] : 'other'
const bundle = join(__dirname, '..', 'dist', 'cli.cjs')
const { main } = loadBundle(bundle, compileCachePath(bundle, command)).exports
main(process.argv.slice(2)).then((code) => { process.exitCode = code })
