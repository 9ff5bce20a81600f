import { execFile } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface TestPostgres {
  /** `postgres://soaker:PASSWORD@127.0.0.1:PORT/postgres`: a superuser, by password over TCP. */
  url: string
  /** The server's first process (its own data/postmaster.pid), whose children are its backends. */
  pid: number
  stop(): Promise<void>
}

/** The superuser's password: every TCP connection asks for it (scram-sha-256), as a real server does. */
const password = 'soaker-test-password'

/** Debian puts each major version's server in /usr/lib/postgresql/N/bin; other systems put initdb on PATH. */
export function postgresBinDir(): string | undefined {
  const debian = '/usr/lib/postgresql'
  const versions = existsSync(debian) ? readdirSync(debian).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : []
  for (const v of versions) {
    if (existsSync(join(debian, v, 'bin', 'initdb'))) return join(debian, v, 'bin')
  }
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir !== '' && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir
  }
  return undefined
}

/**
 * A throwaway PostgreSQL server on a free loopback port, its data, socket and log in a fresh
 * temporary directory that `stop()` removes. initdb refuses to run as root, so as root the
 * server belongs to the `postgres` user (the directory is handed to it); otherwise it is ours.
 * fsync is off: the data is thrown away with the directory.
 */
export async function startTestPostgres(): Promise<TestPostgres> {
  const bin = postgresBinDir()
  if (bin === undefined) {
    throw new Error('PostgreSQL server binaries (initdb, pg_ctl) are not installed: the PostgreSQL state store is ' +
      'tested against a real server. On Debian: apt-get install postgresql (binaries in /usr/lib/postgresql/N/bin)')
  }
  const dir = await mkdtemp(join(tmpdir(), 'soaker-pg-'))
  const asRoot = process.getuid?.() === 0
  const as = async (command: string, args: string[]): Promise<void> => {
    const file = join(bin, command)
    try {
      if (asRoot) await run('runuser', ['-u', 'postgres', '--', file, ...args], { timeout: 60_000 })
      else await run(file, args, { timeout: 60_000 })
    } catch (err) {
      const e = err as Error & { stderr?: string }
      throw new Error(`${command} failed: ${(e.stderr ?? '').trim() || e.message}`, { cause: err })
    }
  }
  const data = join(dir, 'data')
  try {
    const pwfile = join(dir, 'password')
    await writeFile(pwfile, password + '\n', { mode: 0o600 })
    if (asRoot) {
      const { uid, gid } = await postgresUser()
      await chown(dir, uid, gid)
      await chown(pwfile, uid, gid)
    }
    await as('initdb', ['-D', data, '-U', 'soaker', '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`,
      '-E', 'UTF8', '--no-instructions'])
    const port = await startOnFreePort(async (p) => as('pg_ctl', ['-D', data, '-w', '-t', '60', '-l', join(dir, 'log'), '-o',
      `-p ${p} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200`, 'start']))
    return {
      url: `postgres://soaker:${password}@127.0.0.1:${port}/postgres`,
      pid: Number((await readFile(join(data, 'postmaster.pid'), 'utf8')).split('\n')[0]),
      stop: async () => {
        await as('pg_ctl', ['-D', data, '-w', '-m', 'immediate', 'stop']).catch(() => undefined)
        await rm(dir, { recursive: true, force: true })
      },
    }
  } catch (err) {
    if (existsSync(join(data, 'postmaster.pid'))) await as('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']).catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  try {
    const { stdout } = await run('id', ['-u', 'postgres'])
    const { stdout: group } = await run('id', ['-g', 'postgres'])
    return { uid: Number(stdout.trim()), gid: Number(group.trim()) }
  } catch (err) {
    throw new Error('Running as root, the test PostgreSQL server needs the `postgres` user (Debian\'s postgresql package makes it)', { cause: err })
  }
}

/** A port the system just gave out; another process may take it before the server binds, so a failed start is tried again. */
async function startOnFreePort(start: (port: number) => Promise<void>): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    try {
      await start(port)
      return port
    } catch (err) {
      if (attempt === 3) throw err
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}
