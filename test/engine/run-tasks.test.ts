import { describe, expect, test } from 'vitest'
import { resolveCopyOptions } from '../../src/cli/options.js'
import { RunScope } from '../../src/engine/run-tasks.js'

describe('RunScope', () => {
  const options = resolveCopyOptions({ maxSpeed: '50' }, {})

  test("the user's abort and stop() both abort the run; stop() keeps the first error", () => {
    const user = new AbortController()
    const run = new RunScope(user.signal, options)
    expect(run.retry).toEqual({ retries: 3, lowLevelRetries: 10, baseDelay: 1, maxDelay: 30, timeout: 30 })
    expect(run.limiter).toBeDefined()
    user.abort(new Error('SIGINT'))
    expect(run.signal.aborted).toBe(true)
    const other = new RunScope(new AbortController().signal, options)
    other.stop(new Error('disk full'))
    other.stop(new Error('later'))
    expect(other.signal.aborted).toBe(true)
    expect((other.stoppedBy as Error).message).toBe('disk full')
  })

  test('close() closes what the run owns, newest first, and detaches from the user signal', async () => {
    const user = new AbortController()
    const run = new RunScope(user.signal, options)
    const closed: string[] = []
    run.own({ close: async () => { closed.push('hashes') } })
    run.own({ close: () => { closed.push('provider') } })
    run.own({ close: () => { closed.push('db') } })
    await run.close()
    expect(closed).toEqual(['db', 'provider', 'hashes'])
    user.abort()
    expect(run.signal.aborted).toBe(false)
  })
})
