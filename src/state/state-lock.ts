import { randomBytes } from 'node:crypto'
import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { dirname } from 'node:path'
import { errorCode, errorMessage, LocationError, StateLockedError } from '../errors.js'

/** Who holds a state database, as its lock file says. */
export interface LockHolder {
  pid: number
  host: string
  /** When the holder took the lock, ISO 8601. */
  since: string
  /** The holder's start time in clock ticks since boot (Linux), so that a reused pid is not mistaken for it. */
  startTicks?: number
}

/** The lock file of a state database: beside it, so that it is found wherever the database is. */
export function lockPathFor(statePath: string): string {
  return `${statePath}.lock`
}

/** How many times a lock found stale is taken over before giving up (another run races for it). */
const takeoverAttempts = 3

/**
 * The one run that may write a job's state database. Taking it creates `<state>.lock` atomically
 * (a complete file hard-linked into place, so the lock never exists half-written) holding the
 * pid, host and start time; a second run refuses at once with StateLockedError (code
 * SOAKER_LOCKED) naming them. A lock whose process is gone from this host (kill -9, a power cut)
 * is stale and taken over with a note. Readers (`soaker status`, `--dry-run`) take no lock.
 *
 * Within one process the lock is counted: a run of many sources holds it across all of them while
 * each source's copy takes and closes it too.
 */
export class StateLock {
  private static readonly held = new Map<string, StateLock>()
  private refs = 1

  private constructor(readonly statePath: string, readonly lockPath: string, private readonly mine: LockHolder) {}

  /** Takes the lock of `statePath` or rejects with StateLockedError; `note` hears of a stale lock taken over. */
  static acquire(statePath: string, note: (message: string) => void = () => undefined): StateLock {
    const already = StateLock.held.get(statePath)
    if (already) {
      already.refs++
      return already
    }
    const lockPath = lockPathFor(statePath)
    const mine = thisProcess()
    try {
      mkdirSync(dirname(lockPath), { recursive: true })
    } catch (err) {
      throw cannotCreate(lockPath, err)
    }
    for (let attempt = 0; attempt <= takeoverAttempts; attempt++) {
      if (create(lockPath, mine)) {
        const lock = new StateLock(statePath, lockPath, mine)
        StateLock.held.set(statePath, lock)
        return lock
      }
      const holder = readHolder(lockPath)
      if (holder === 'gone') continue // released just now: try again
      if (holder === 'unreadable') {
        throw new StateLockedError(`The state database \`${statePath}\` is locked by \`${lockPath}\`, which cannot be read: ` +
          'if no soaker run is using this state, delete the lock file')
      }
      if (!isStale(holder)) throw lockedError(statePath, lockPath, holder)
      if (takeOver(lockPath, holder)) note(`took over the lock of \`${statePath}\` from pid ${holder.pid} on ${holder.host} (since ${holder.since}): that process is gone`)
    }
    throw new StateLockedError(`Could not take the lock \`${lockPath}\` of \`${statePath}\`: other runs keep taking it`)
  }

  /** Gives the lock up once every scope of this process that took it has closed it. */
  close(): void {
    if (--this.refs > 0) return
    StateLock.held.delete(this.statePath)
    release(this.lockPath, this.mine)
  }

  /** Removes every lock this process holds: for an exit that skips the usual cleanup (a second Ctrl-C). */
  static releaseAll(): void {
    for (const lock of StateLock.held.values()) {
      try {
        release(lock.lockPath, lock.mine)
      } catch {
        // exiting anyway: the next run finds the lock stale
      }
    }
    StateLock.held.clear()
  }
}

process.on('exit', () => StateLock.releaseAll())

function thisProcess(): LockHolder {
  return { pid: process.pid, host: hostname(), since: new Date().toISOString(), startTicks: startTicksOf(process.pid) }
}

/** Creates the lock file holding `holder`; false when it exists already. */
function create(lockPath: string, holder: LockHolder): boolean {
  const draft = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}`
  try {
    writeFileSync(draft, JSON.stringify(holder) + '\n')
  } catch (err) {
    throw cannotCreate(lockPath, err)
  }
  try {
    linkSync(draft, lockPath)
    return true
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false
    throw cannotCreate(lockPath, err)
  } finally {
    unlinkSync(draft)
  }
}

function cannotCreate(lockPath: string, err: unknown): LocationError {
  return new LocationError(`Cannot create the lock \`${lockPath}\` of the state database: ${errorMessage(err)}`, { cause: err })
}

function readHolder(path: string): LockHolder | 'gone' | 'unreadable' {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return 'gone'
    throw err
  }
  try {
    const h = JSON.parse(text) as Partial<LockHolder>
    if (typeof h.pid === 'number' && typeof h.host === 'string' && typeof h.since === 'string') return h as LockHolder
  } catch {
    // falls through
  }
  return 'unreadable'
}

const sameHolder = (a: LockHolder, b: LockHolder): boolean => a.pid === b.pid && a.host === b.host && a.since === b.since

/** A holder on this host whose process is gone, or whose pid now belongs to another process. */
export function isStale(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return false // another machine's process cannot be checked from here
  if (holder.pid === process.pid) return true // not held by this process (held locks are in the map): a previous owner of the pid
  if (!alive(holder.pid)) return true
  const ticks = startTicksOf(holder.pid)
  return holder.startTicks !== undefined && ticks !== undefined && ticks !== holder.startTicks
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return errorCode(err) === 'EPERM' // it exists, under another user
  }
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised name, which may hold spaces); undefined off Linux. */
function startTicksOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19])
    return Number.isFinite(ticks) ? ticks : undefined
  } catch {
    return undefined
  }
}

/**
 * Moves the stale lock aside and deletes it, unless what was moved is not the stale holder's
 * (another run took it over in between): then it goes back and the next attempt sees that run.
 */
function takeOver(lockPath: string, stale: LockHolder): boolean {
  const aside = `${lockPath}.stale.${process.pid}`
  try {
    renameSync(lockPath, aside)
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false
    throw err
  }
  const moved = readHolder(aside)
  if (typeof moved === 'object' && sameHolder(moved, stale)) {
    unlinkSync(aside)
    return true
  }
  try {
    linkSync(aside, lockPath)
  } catch {
    // a third run holds it now; the next attempt meets it
  }
  unlinkSync(aside)
  return false
}

/** Deletes the lock file if it is still this holder's. */
function release(lockPath: string, mine: LockHolder): void {
  const holder = readHolder(lockPath)
  if (typeof holder === 'object' && sameHolder(holder, mine)) unlinkSync(lockPath)
}

function lockedError(statePath: string, lockPath: string, holder: LockHolder): StateLockedError {
  const elsewhere = holder.host !== hostname()
    ? ` If that run is over (soaker cannot check a process on another host), delete \`${lockPath}\`.`
    : ''
  return new StateLockedError(`The state database \`${statePath}\` is in use by another soaker run: pid ${holder.pid} on ` +
    `${holder.host}, since ${holder.since} (lock \`${lockPath}\`). Wait for it to end or stop it; ` +
    `\`soaker status --state ${statePath}\` shows its progress.${elsewhere}`)
}
