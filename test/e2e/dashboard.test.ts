import { execFileSync, spawnSync } from 'node:child_process'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { putObject } from '../../scripts/support/seed.js'
import { bin, body, client, freshBucket, s3, soakerEnv, tempDir, treeOf, waitFor } from './helpers.js'

const MiB = 1024 * 1024
const tmuxMissing = spawnSync('tmux', ['-V']).status !== 0
// Objects of 1 to 4 MiB, 73 MiB in all: about 10 s through a link of 8 MB/s.
const sizes = Array.from({ length: 30 }, (_, i) => (1 + (i % 4)) * MiB)
const linkBytesPerSecond = 8e6

/**
 * A reverse proxy in front of the test server whose responses share one link of `bytesPerSecond`:
 * each chunk of a body waits until the link has carried the chunks before it.
 */
async function startPacedProxy(target: string, bytesPerSecond: number): Promise<{ url: string; stop(): Promise<void> }> {
  const upstream = new URL(target)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
  let linkFreeAt = 0
  const server = http.createServer((req, res) => {
    const out = http.request({
      host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent,
    }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      // 'end' can come while the last chunk still waits for the link: the response ends after it.
      let sent = Promise.resolve()
      up.on('data', (chunk: Buffer) => {
        const now = Date.now()
        linkFreeAt = Math.max(linkFreeAt, now) + (1000 * chunk.length) / bytesPerSecond
        up.pause()
        sent = new Promise((resolve) => setTimeout(() => { res.write(chunk); up.resume(); resolve() }, linkFreeAt - now))
      })
      up.on('end', () => { void sent.then(() => res.end()) })
    })
    out.on('error', () => res.destroy())
    res.on('close', () => out.destroy())
    req.pipe(out)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
      agent.destroy()
    }),
  }
}

/** A tmux server of this test's own (never the user's), one 80×30 terminal per session. */
const socket = join(tempDir('tmux'), 'socket')
const tmux = (...args: string[]): string => execFileSync('tmux', ['-S', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' })
const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/** Starts `soaker …` in a new 80×30 terminal; the shell survives Ctrl-C, prints the exit status and stays. */
function startInTerminal(session: string, args: string[]): void {
  const env = Object.entries({ ...soakerEnv(), TERM: 'screen' }).map(([k, v]) => `${k}=${quote(v ?? '')}`).join(' ')
  const command = `trap : INT; env -i ${env} ${quote(process.execPath)} ${quote(bin)} ${args.map(quote).join(' ')}; echo "exit=$?"; sleep 120`
  tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '30', 'sh', '-c', command)
}

// -J joins wrapped lines, so that a line wider than the terminal shows as one; it also keeps
// erased cells as trailing spaces, which are not text.
const capture = (...args: string[]): string => tmux('capture-pane', '-p', '-J', ...args).split('\n').map((l) => l.trimEnd()).join('\n')
/** The visible screen. */
const screen = (session: string): string => capture('-t', session)
/** The screen and everything that scrolled off it. */
const everything = (session: string): string => capture('-S', '-', '-t', session)
const cursorVisible = (session: string): boolean => tmux('display-message', '-p', '-t', session, '#{cursor_flag}').trim() === '1'
const widest = (text: string): number => Math.max(...text.split('\n').map((l) => [...l].length))
const count = (text: string, what: RegExp): number => text.match(new RegExp(what, 'gm'))?.length ?? 0

// A transfer row: index, key, bar, percent, bytes done/total, speed.
const transferRow = /^ ?\d+ {2}t\/obj-\d{2}\.bin +\[[█░]+\] +\d+% +[\d.]+ [KM]?i?B\/[\d.]+ MiB +[\d.]+ MB\/s$/m
const title = /^soaker {2}s3:\/\/\S+ → \S+/

describe.skipIf(tmuxMissing)('soaker cp in a terminal (tmux; skipped when tmux is not installed)', () => {
  let bucket: string
  let proxy: Awaited<ReturnType<typeof startPacedProxy>>

  beforeAll(async () => {
    bucket = await freshBucket()
    await Promise.all(sizes.map((n, i) => putObject(client, bucket, `t/obj-${String(i).padStart(2, '0')}.bin`, body(n))))
    proxy = await startPacedProxy(s3.endpoint, linkBytesPerSecond)
  })
  afterAll(async () => {
    await proxy?.stop()
    spawnSync('tmux', ['-S', socket, 'kill-server'])
  })

  const cp = (dest: string): string[] => [
    'cp', `s3://${bucket}/t`, dest, '--endpoint-url', proxy.url, '--state', join(tempDir(), 's.db'),
    // Twelve in flight: more than the ten rows the table shows.
    '--concurrency', '12', '--min-concurrency', '12', '--max-concurrency', '12',
  ]

  test('soaker cp s3://b/t dir shows a live table mid-run and leaves the summary under a clean final frame', async () => {
    const session = 'run'
    const dest = tempDir()
    startInTerminal(session, cp(dest))
    try {
      // Two seconds in, the sparkline has samples.
      const ready = (text: string): boolean => transferRow.test(text) && /^Speed .*[▁▂▃▄▅▆▇█]{2}/m.test(text)
      await waitFor(() => ready(screen(session)), 20_000, 'a transfer row and a sparkline').catch((err: Error) => {
        throw new Error(`${err.message}; the screen:\n${screen(session)}`)
      })
      const mid = screen(session)
      expect(mid).toMatch(title)
      expect(mid).toMatch(/^Files +\d+\/30 \(\d+%\) +Bytes +[\d.]+ [KM]?i?B\/73\.0 MiB \(\d+%\)$/m)
      expect(mid).toMatch(/^Total +\[[█░]+\] +\d+% +[\d.]+s elapsed, ETA \d+s$/m)
      expect(mid).toMatch(/^Speed +[\d.]+ MB\/s +[▁▂▃▄▅▆▇█ ]+$/m)
      expect(mid).toMatch(/^Workers +\d+ in flight, target 12$/m)
      expect(mid).toMatch(/^Objects +\d+ completed, 0 failed, 0 retries, 0 skipped$/m)
      expect(mid).toMatch(/^ #  file +progress +bytes +speed$/m)
      expect(count(mid, transferRow)).toBeGreaterThanOrEqual(1)
      expect(count(mid, transferRow)).toBeLessThanOrEqual(10)
      expect(mid).toMatch(/^ {2}… and \d+ more$/m)
      expect(widest(mid)).toBeLessThanOrEqual(80)
      expect(cursorVisible(session)).toBe(false)
      // Redrawn in place: however many frames were drawn, the title is on the screen once.
      await new Promise((r) => setTimeout(r, 1000))
      expect(count(everything(session), title)).toBe(1)

      await waitFor(() => /^exit=\d+/m.test(screen(session)), 40_000, 'soaker to exit').catch((err: Error) => {
        throw new Error(`${err.message}; the screen:\n${screen(session)}`)
      })
      const end = everything(session)
      expect(end).toMatch(/^exit=0$/m)
      expect(end).toMatch(/^Done in [\d.]+s: 30 copied \(73\.0 MiB\), 0 skipped \(0 B\), 0 failed, 30 listed$/m)
      expect(end).toMatch(/^Transferred 73\.0 MiB at [\d.]+ MB\/s$/m)
      expect(end).toMatch(/^Files +30\/30 \(100%\)/m)
      expect(end).toMatch(/^Total +\[█+\] +100% +[\d.]+s elapsed, ETA 0s$/m)
      expect(end).toMatch(/^No transfers in flight$/m)
      expect(count(end, title)).toBe(1)
      expect(widest(end)).toBeLessThanOrEqual(80)
      expect(cursorVisible(session)).toBe(true)
      expect(Object.keys(await treeOf(dest))).toHaveLength(30)
    } finally {
      spawnSync('tmux', ['-S', socket, 'kill-session', '-t', session])
    }
  })

  test('Ctrl-C in the dashboard leaves a final frame with the warning, the summary, and the cursor back', async () => {
    const session = 'interrupt'
    startInTerminal(session, cp(tempDir()))
    try {
      await waitFor(() => transferRow.test(screen(session)), 20_000, 'a transfer row')
      tmux('send-keys', '-t', session, 'C-c')
      await waitFor(() => /^exit=\d+/m.test(screen(session)), 20_000, 'soaker to exit')
      const end = everything(session)
      expect(end).toMatch(/^exit=130$/m)
      expect(end).toMatch(/^\d\d:\d\d:\d\d WARN {2}SIGINT: stopping; finished parts are recorded/m)
      expect(end).toMatch(/^Interrupted in [\d.]+s: \d+ copied/m)
      expect(end).toMatch(/run the same command again to resume/)
      expect(count(end, title)).toBe(1)
      // The summary's last line holds the whole command to run again, which the terminal wraps;
      // the frame above it fits.
      expect(widest(end.slice(0, end.indexOf('Interrupted in')))).toBeLessThanOrEqual(80)
      expect(cursorVisible(session)).toBe(true)
    } finally {
      spawnSync('tmux', ['-S', socket, 'kill-session', '-t', session])
    }
  })
})
