import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { StateLockedError } from '../../src/errors.js'
import { isStale, lockPathFor, StateLock, type LockHolder } from '../../src/state/state-lock.js'

let dir: string
let state: string

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'soaker-lock-'))
  state = join(dir, 'nested', 's.db')
})
afterEach(() => {
  StateLock.releaseAll()
  rmSync(dir, { recursive: true, force: true })
})

/** A pid that was a process a moment ago and is not any more. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout)
}

function writeLock(holder: Partial<LockHolder>): void {
  StateLock.acquire(state).close() // makes the directory
  writeFileSync(lockPathFor(state), JSON.stringify({ pid: 1, host: hostname(), since: '2024-01-01T00:00:00.000Z', ...holder }))
}

const holderOnDisk = (): LockHolder => JSON.parse(readFileSync(lockPathFor(state), 'utf8')) as LockHolder

describe('StateLock', () => {
  test('creates <state>.lock naming this process, its host and since when, and removes it on close', () => {
    const lock = StateLock.acquire(state)
    expect(holderOnDisk()).toMatchObject({ pid: process.pid, host: hostname(), since: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown })
    lock.close()
    expect(existsSync(lockPathFor(state))).toBe(false)
  })

  test('is counted within one process: the file goes when the last scope that took it closes it', () => {
    const outer = StateLock.acquire(state)
    const inner = StateLock.acquire(state)
    inner.close()
    expect(existsSync(lockPathFor(state))).toBe(true)
    outer.close()
    expect(existsSync(lockPathFor(state))).toBe(false)
  })

  test('refuses a lock held by a live process, naming the state, the pid, the host and the lock file', () => {
    writeLock({ pid: process.ppid, since: '2024-05-01T12:00:00.000Z' })
    let err: unknown
    try {
      StateLock.acquire(state)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(StateLockedError)
    expect((err as StateLockedError).code).toBe('SOAKER_LOCKED')
    const message = (err as Error).message
    for (const part of [state, `pid ${process.ppid}`, hostname(), '2024-05-01T12:00:00.000Z', lockPathFor(state)]) expect(message).toContain(part)
    expect(holderOnDisk().pid).toBe(process.ppid) // left alone
  })

  test('takes over a lock whose process is gone, with a note saying so', () => {
    const pid = deadPid()
    writeLock({ pid })
    const notes: string[] = []
    const lock = StateLock.acquire(state, (n) => notes.push(n))
    expect(holderOnDisk().pid).toBe(process.pid)
    expect(notes).toEqual([expect.stringContaining(`took over the lock of \`${state}\` from pid ${pid}`)])
    lock.close()
  })

  test('refuses a lock held on another host, saying to delete it if that run is over', () => {
    writeLock({ pid: 12345, host: 'some-other-host' })
    expect(() => StateLock.acquire(state)).toThrow(/pid 12345 on some-other-host.*delete `.*s\.db\.lock`/)
  })

  test('refuses a lock file it cannot read rather than guessing', () => {
    StateLock.acquire(state).close()
    writeFileSync(lockPathFor(state), 'not json')
    expect(() => StateLock.acquire(state)).toThrow(StateLockedError)
  })

  test('a live pid that started at another time than the holder is a reused pid: stale', () => {
    const here = hostname()
    expect(isStale({ pid: process.ppid, host: here, since: '', startTicks: -1 })).toBe(true)
    expect(isStale({ pid: process.ppid, host: here, since: '' })).toBe(false)
    expect(isStale({ pid: process.ppid, host: 'elsewhere', since: '' })).toBe(false)
  })

  test('close leaves a lock that another run has taken since alone', () => {
    const lock = StateLock.acquire(state)
    writeFileSync(lockPathFor(state), JSON.stringify({ pid: process.ppid, host: hostname(), since: 'later' }))
    lock.close()
    expect(holderOnDisk().since).toBe('later')
  })
})
