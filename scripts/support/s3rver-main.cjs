// Starts s3rver (the quick, lax S3 server from npm) on loopback and prints its port as JSON.
// Run with `node --openssl-legacy-provider`: without it, truncated ListObjectsV2 pages fail on Node 20.
const S3rver = require('s3rver')
const dir = process.argv[2]
const server = new S3rver({ address: '127.0.0.1', port: Number(process.argv[3] ?? 0), directory: dir, silent: true })
server.run().then(
  ({ port }) => { process.stdout.write(JSON.stringify({ port }) + '\n') },
  (err) => { process.stderr.write(String(err) + '\n'); process.exit(1) },
)
process.on('SIGTERM', () => server.close().finally(() => process.exit(0)))
