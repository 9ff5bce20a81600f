// `soaker cp az://container/prefix ./dir` end to end: the real CLI against Azurite (Microsoft's
// Azure Storage emulator, from npm), data written through the real @azure/storage-blob client. A
// fault proxy sits in front of Azurite for the corruption test.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { azuriteAccount } from '../../scripts/support/azurite.js'
import { azuriteForFile } from './azurite.js'
import { body, md5, readState, soaker, soakerEnv, startSoaker, tempDir, treeOf, waitFor } from './helpers.js'

const MiB = 1024 * 1024

const az = azuriteForFile('e2e')
const { freshContainer, azEnv, proxiedEnv } = az

describe('soaker cp az://container/prefix dir', () => {
  test('downloads every blob under the prefix byte for byte, big ones in ranged parts, and a second run fetches nothing', async () => {
    const container = await freshContainer()
    const files: Record<string, Buffer> = { 'a.txt': body(10), 'deep/b.bin': body(70_000), 'big.bin': body(20 * MiB + 3) }
    for (const [k, v] of Object.entries(files)) await container.getBlockBlobClient(`data/${k}`).uploadData(v)
    await container.getBlockBlobClient('other/not-me').uploadData(Buffer.from('no'))
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const r = await soaker(['cp', `az://${container.containerName}/data`, dest, '--state', state], azEnv())
    expect(r.stderr).not.toMatch(/WARN|ERROR/)
    expect(r.code).toBe(0)
    expect(await treeOf(dest)).toEqual(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, md5(v)])))
    // 20 MiB in 8 MiB ranges: three recorded parts.
    expect((await readState(state)).parts.get('data/big.bin')?.size).toBe(3)
    expect((await readState(state)).objects.map(({ key, status }) => ({ key, status }))).toEqual(
      Object.keys(files).sort().map((k) => ({ key: `data/${k}`, status: 'done' })))

    const again = await soaker(['cp', `az://${container.containerName}/data`, dest, '--state', state], azEnv())
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/0 copied.*3 skipped/)
  })

  test('after kill -9 in the middle of a big blob, the same command fetches only the parts it lacks', async () => {
    const container = await freshContainer()
    const data = body(40 * MiB)
    await container.getBlockBlobClient('huge.bin').uploadData(data)
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const args = ['cp', `az://${container.containerName}/huge.bin`, dest, '--state', state, '--part-size', '4MiB', '--concurrency', '1', '--max-concurrency', '1']
    const first = startSoaker([...args, '--max-speed', '8'], azEnv())
    await waitFor(async () => (await readState(state)).partCount >= 2, 60_000, 'two recorded parts')
    first.child.kill('SIGKILL')
    await first.done
    const before = (await readState(state)).partCount
    const second = await soaker([...args, '--json'], azEnv())
    expect(second.code).toBe(0)
    expect(second.stdout).toMatch(new RegExp(`resuming huge\\.bin: ${before} of 10 parts already here`))
    const summary = JSON.parse(second.stdout.trim().split('\n').at(-1)!) as { event: string; bytes_transferred: number; bytes_resumed: number }
    expect(summary.event).toBe('summary')
    expect(summary.bytes_resumed).toBe(before * 4 * MiB)
    expect(summary.bytes_transferred).toBe(data.length - before * 4 * MiB)
    expect(await treeOf(dest)).toEqual({ 'huge.bin': md5(data) })
  })

  test('bytes corrupted on the way fail the blob\'s Content-MD5: a small blob is fetched again at once, a big one on the next run', async () => {
    const container = await freshContainer()
    const files = { 'small.bin': body(100_000), 'big.bin': body(20 * MiB) }
    for (const [k, v] of Object.entries(files)) await container.getBlockBlobClient(k).uploadData(v)
    // Content-MD5 is what the check rests on; Azurite sets it on every upload (real Azure on
    // single-request uploads like these).
    expect(Buffer.from((await container.getBlobClient('big.bin').getProperties()).contentMD5!).toString('hex')).toBe(md5(files['big.bin']))
    // The first GET of each blob's bytes (a listing is a GET with a query; a stat is a HEAD).
    const seen = new Set<string>()
    az.proxy.setRule(({ method, path, query, nth }) => {
      if (method !== 'GET' || query !== '' || nth !== 1) return undefined
      seen.add(path)
      return 'corrupt'
    })
    const dest = tempDir()
    const state = join(tempDir(), 's.db')
    const from = az.proxy.requests.length
    try {
      const first = await soaker(['cp', `az://${container.containerName}`, dest, '--state', state], proxiedEnv())
      expect(first.code).toBe(1)
      expect(first.stdout).toMatch(/1 copied .*1 failed/)
      expect(first.stdout).toMatch(new RegExp(`big\\.bin: MD5 [0-9a-f]{32} does not match the store's Content-MD5 ${md5(files['big.bin'])}`))
    } finally {
      az.proxy.setRule(undefined)
    }
    const blob = (k: string): string => `/${azuriteAccount}/${container.containerName}/${k}`
    expect([...seen].sort()).toEqual([blob('big.bin'), blob('small.bin')])
    // The small blob was fetched twice in that run: the corrupt copy, then a good one.
    expect(az.proxy.requests.slice(from).filter((r) => r.method === 'GET' && r.path === blob('small.bin')).length).toBe(2)
    // Never a bad file at its final path; the parts stay in the partial file for the next run.
    expect(Object.keys(await treeOf(dest)).sort()).toEqual([expect.stringMatching(/^\.soaker\/partial\/[0-9a-f]{32}-big\.bin$/), 'small.bin'])
    expect(await treeOf(dest)).toMatchObject({ 'small.bin': md5(files['small.bin']) })
    const second = await soaker(['cp', `az://${container.containerName}`, dest, '--state', state], proxiedEnv())
    expect(second.code).toBe(0)
    expect(await treeOf(dest)).toEqual({ 'small.bin': md5(files['small.bin']), 'big.bin': md5(files['big.bin']) })
  })

  test('no connection string, or a container that does not exist: one clear error, nothing written', async () => {
    const dest = tempDir()
    const noCreds = await soaker(['cp', 'az://some-container/x', dest, '--state', join(dest, 's.db')], soakerEnv())
    expect(noCreds.code).toBe(1)
    expect(noCreds.stderr).toMatch(/No Azure credentials for az:\/\/some-container\/x: set AZURE_STORAGE_CONNECTION_STRING/)
    const missing = await soaker(['cp', 'az://no-such-container/x', dest, '--state', join(tempDir(), 's.db')], azEnv())
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/no-such-container/)
    expect(await treeOf(dest)).toEqual({})
  })
})

describe('soaker check az://container/prefix dir', () => {
  test('a local copy against its blobs: Content-MD5 where a blob has one (one HEAD each), a corruption found, exit 1', async () => {
    const container = await freshContainer()
    const files: Record<string, Buffer> = { 'a.txt': body(10), 'deep/b.bin': body(70_000) }
    // uploadData sends small blobs in one request, which Azure stores with a Content-MD5.
    for (const [k, v] of Object.entries(files)) await container.getBlockBlobClient(`data/${k}`).uploadData(v)
    const dest = tempDir()
    expect((await soaker(['cp', `az://${container.containerName}/data`, dest, '--state', join(tempDir(), 's.db')], azEnv())).code).toBe(0)
    const same = await soaker(['check', `az://${container.containerName}/data`, dest, '--json', '--state', join(tempDir(), 'c.db')], azEnv())
    expect(same.code).toBe(0)
    const entries = same.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(entries.filter((e) => e.type === 'check').map((e) => [e.key, e.verdict, e.detail]).sort()).toEqual([
      ['a.txt', 'match', 'MD5 matches'], ['deep/b.bin', 'match', 'MD5 matches'],
    ])
    const corrupt = Buffer.from(files['deep/b.bin']!)
    corrupt[9] = corrupt[9]! ^ 0x10
    writeFileSync(join(dest, 'deep', 'b.bin'), corrupt)
    const differ = await soaker(['check', `az://${container.containerName}/data`, dest, '--state', join(tempDir(), 'c.db')], azEnv())
    expect(differ.code).toBe(1)
    expect(differ.stdout).toMatch(/differs: deep\/b\.bin: MD5 differs: [0-9a-f]{32} and [0-9a-f]{32}/)
  })
})
