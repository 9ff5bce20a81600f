import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'

/** Azurite's one built-in account; its key is public, printed in Microsoft's documentation. */
export const azuriteAccount = 'devstoreaccount1'
export const azuriteKey = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

export interface TestAzurite {
  /** Blob endpoint including the account, e.g. `http://127.0.0.1:41589/devstoreaccount1`. */
  blobEndpoint: string
  /** For `BlobServiceClient.fromConnectionString`: the well-known account with an explicit BlobEndpoint. */
  connectionString: string
  stop(): Promise<void>
}

const require = createRequire(import.meta.url)

/** The blob service's entry point inside the azurite package (what `npx azurite-blob` runs). */
function azuriteBlobMain(): string {
  return join(dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js')
}

/**
 * Starts Azurite's blob service from node_modules on a port the system picks, with its data in a
 * fresh temporary directory that `stop()` removes. `--disableTelemetry` keeps it off the network;
 * `--loose` and `--skipApiVersionCheck` let a newer @azure/storage-blob talk to it.
 */
export async function startAzurite(options: { timeoutMs?: number } = {}): Promise<TestAzurite> {
  const dir = await mkdtemp(join(tmpdir(), 'soaker-azurite-'))
  const child = spawn(process.execPath, [
    azuriteBlobMain(), '--blobHost', '127.0.0.1', '--blobPort', '0', '-l', dir,
    '--silent', '--skipApiVersionCheck', '--disableTelemetry', '--loose',
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  const stderr: string[] = []
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()))

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await gone
    }
    await rm(dir, { recursive: true, force: true })
  }

  // With port 0 Azurite still prints the port it bound: "... successfully listens on http://127.0.0.1:41589".
  const timeoutMs = options.timeoutMs ?? 30_000
  let timer: NodeJS.Timeout | undefined
  const origin = await new Promise<string>((resolve, reject) => {
    // The reader stays attached, so stdout keeps draining and Azurite never blocks on a full pipe.
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /listens on (http:\/\/[^\s]+)/.exec(line)
      if (m) resolve(m[1]!.replace(/\/$/, ''))
    })
    child.once('error', reject)
    child.once('exit', (code, sig) => reject(new Error(`azurite-blob exited with ${code ?? sig} before listening: ${stderr.join('').trim()}`)))
    timer = setTimeout(() => reject(new Error(`azurite-blob did not listen within ${timeoutMs} ms: ${stderr.join('').trim()}`)), timeoutMs)
  }).catch(async (err: unknown) => {
    await stop()
    throw err
  }).finally(() => clearTimeout(timer))

  const blobEndpoint = `${origin}/${azuriteAccount}`
  await waitUntilAnswering(blobEndpoint, timeoutMs).catch(async (err: unknown) => {
    await stop()
    throw err
  })
  return {
    blobEndpoint,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${azuriteAccount};AccountKey=${azuriteKey};BlobEndpoint=${blobEndpoint};`,
    stop,
  }
}

/** Any HTTP answer (an unsigned request gets 4xx) means the service is up. */
async function waitUntilAnswering(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const r = await fetch(`${url}?comp=list`, { signal: AbortSignal.timeout(2_000) })
      await r.body?.cancel()
      return
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`Azurite at ${url} did not answer within ${timeoutMs} ms`, { cause: err })
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}
