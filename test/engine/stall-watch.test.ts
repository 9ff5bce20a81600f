import { PassThrough } from 'node:stream'
import { describe, expect, test } from 'vitest'
import { StalledError } from '../../src/errors.js'
import { watched } from '../../src/engine/stall-watch.js'

const never = (signal: AbortSignal): Promise<never> =>
  new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted by the signal')), { once: true }))

describe('watched(outer, seconds, what, attempt)', () => {
  test('an attempt that never answers is cancelled after the idle time and rejects with SOAKER_STALLED', async () => {
    let seen: AbortSignal | undefined
    const started = performance.now()
    const err = await watched(new AbortController().signal, 0.05, 'k (part 2/3)', (w) => { seen = w.signal; return never(w.signal) }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StalledError)
    expect((err as StalledError).code).toBe('SOAKER_STALLED')
    expect((err as Error).message).toBe('k (part 2/3): no bytes moved for 0.05s; the request was cancelled')
    expect(seen?.aborted).toBe(true)
    expect(performance.now() - started).toBeGreaterThanOrEqual(45)
  })

  test('bytes that keep moving keep the attempt alive past the idle time', async () => {
    // 30 touches 15 ms apart outlast an idle time of 250 ms; each gap is far shorter than it.
    const value = await watched(new AbortController().signal, 0.25, 'k', async (w) => {
      for (let i = 0; i < 30; i++) {
        await new Promise((r) => setTimeout(r, 15))
        w.touch()
      }
      return 'arrived'
    })
    expect(value).toBe('arrived')
  })

  test('a pause (a wait for the speed cap) is not idle time; touching again restarts the clock', async () => {
    const value = await watched(new AbortController().signal, 0.03, 'k', async (w) => {
      w.pause()
      await new Promise((r) => setTimeout(r, 120))
      w.touch()
      return 'arrived'
    })
    expect(value).toBe('arrived')
  })

  test('a guarded body is destroyed with the StalledError, so a reader waiting on it wakes', async () => {
    const body = new PassThrough()
    const err = await watched(new AbortController().signal, 0.05, 'k', async (w) => {
      w.guard(body)
      body.write(Buffer.from('half'))
      for await (const _ of body) w.touch()
      return 'never'
    }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StalledError)
    expect(body.destroyed).toBe(true)
  })

  test('an abort of the outer signal rejects as without the watch, not as a stall', async () => {
    const outer = new AbortController()
    const done = watched(outer.signal, 10, 'k', (w) => never(w.signal))
    outer.abort(new Error('SIGINT'))
    const err = await done.catch((e: unknown) => e)
    expect(err).not.toBeInstanceOf(StalledError)
    expect((err as Error).message).toBe('aborted by the signal')
  })
})
