import pg from 'pg'
import { parse, toClientConfig } from 'pg-connection-string'
import { AccessDeniedError, EndpointUnreachableError, errorCode, errorMessage, LocationError, UsageError } from '../errors.js'
import { isPostgresUrl, redact } from './postgres-url.js'
import { passfilePath, passwordFromFile } from './pg-passfile.js'

/** Where connections go, for messages: everything but the password. */
export interface Endpoint {
  host: string
  port: number
  database: string
  user: string
}

export interface Connection {
  /** For pg.Pool and pg.Client: URL, then PG* environment variables, then the password file. */
  config: pg.PoolConfig
  endpoint: Endpoint
  /** The password when one was given (URL or PGPASSWORD), to be kept out of every message. */
  secret: string | undefined
}

const expectedUrl = 'Expected a PostgreSQL URL like postgres://user@host:5432/database'

/** How long connecting may take before it fails. @default 10_000 */
export const defaultConnectTimeoutMs = 10_000
const defaultStatementTimeoutMs = 120_000

/**
 * The connection `url` describes. What it leaves out comes from the PG* environment variables
 * (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSSLMODE, ...) as libpq takes them; without a
 * password there, the password file is read when the server asks for one (`passfile` in the
 * URL, PGPASSFILE, or ~/.pgpass). Connecting gives up after `connectTimeoutMs`, and TCP
 * keepalives find a server that went away.
 */
export function connectionFor(url: string, o: { connectTimeoutMs?: number; warn: (message: string) => void }): Connection {
  if (!isPostgresUrl(url)) {
    throw new UsageError(`${expectedUrl}, got \`${redact(url)}\``)
  }
  let options: ReturnType<typeof parse>
  try {
    options = parse(url)
  } catch (err) {
    throw new UsageError(`${expectedUrl}, got \`${redact(url)}\`: ${errorMessage(err)}`)
  }
  const given = toClientConfig(options)
  const secret = (given.password as string | undefined) || process.env.PGPASSWORD || undefined
  // No statement of the store runs for long; one that does is cancelled by the server (unless the
  // URL says otherwise: ?statement_timeout=ms), and one whose answer never comes (a server or
  // network gone quiet) fails here a little later.
  const statementTimeoutMs = Number(given.statement_timeout ?? defaultStatementTimeoutMs)
  const config: pg.PoolConfig = {
    application_name: process.env.PGAPPNAME || 'soaker',
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + 30_000,
    ...given,
    connectionTimeoutMillis: o.connectTimeoutMs ?? defaultConnectTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    types: { getTypeParser: typeParser },
  }
  // pg resolves the PG* variables when a client is made: one made here, never connected, says where it would go.
  const probe = new pg.Client(config)
  const user = probe.user ?? ''
  const endpoint: Endpoint = { host: probe.host, port: probe.port, database: probe.database ?? user, user }
  if (secret === undefined) {
    const path = passfilePath(typeof options.passfile === 'string' ? options.passfile : undefined)
    // pg asks only when the server wants a password; undefined (no line matches) is no password, whatever the types say.
    config.password = (async () => passwordFromFile(path, endpoint, o.warn)) as () => Promise<string>
  }
  return { config, endpoint, secret }
}

/** bigint (int8) columns as numbers: sizes and times in milliseconds stay far below 2^53. */
function typeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
  if (oid === pg.types.builtins.INT8) return Number
  return (pg.types.getTypeParser as (oid: number, format?: string) => (value: string) => unknown)(oid, format)
}

/** Where the state lives, as messages name it: `postgres://user@host:port/database`. */
export function endpointUrl(e: Endpoint): string {
  const host = e.host.startsWith('/') ? `${e.host} (socket)` : e.host
  return `postgres://${e.user}@${host}:${e.port}/${e.database}`
}

/** SQLSTATE codes of a server that refused the user or the password. */
const refusedCodes = ['28P01', '28000'] // invalid_password, invalid_authorization_specification
/** Node's codes for a server that cannot be reached at all. */
const unreachableCodes = [
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET',
  'ENOENT', // a Unix socket that is not there
]

/**
 * A failure to open the state database as a LocationError naming where it was and what was
 * expected there; the password is never part of it, even were a server to repeat it.
 */
export function openError(err: unknown, c: Pick<Connection, 'endpoint' | 'secret'>): LocationError {
  if (err instanceof UsageError) return err
  const where = endpointUrl(c.endpoint)
  const scrub = (message: string): string => (c.secret ? message.replaceAll(c.secret, '***') : message)
  const reason = scrub(messageOf(err))
  const code = errorCode(err) ?? ''
  const cause = c.secret && messageOf(err).includes(c.secret) ? undefined : err
  if (unreachableCodes.includes(code) || /timeout|terminated unexpectedly/i.test(reason)) {
    return new EndpointUnreachableError(`Cannot reach the state database ${where}: ${reason}. Expected a PostgreSQL server ` +
      `listening at ${c.endpoint.host} port ${c.endpoint.port}`, { cause })
  }
  if (refusedCodes.includes(code) || /password must be a string|SASL/i.test(reason)) {
    return new AccessDeniedError(`The state database ${where} refused user \`${c.endpoint.user}\`: ${reason}. ` +
      'The password comes from the URL, PGPASSWORD, or a password file (PGPASSFILE, ~/.pgpass, mode 0600)', { cause })
  }
  if (code === '3D000') {
    return new LocationError(`The state database ${where} does not exist: ${reason}. Create it (createdb ` +
      `${c.endpoint.database}) or name another in the URL`, { cause })
  }
  if (code === '42501') {
    return new AccessDeniedError(`Cannot create soaker's tables in the state database ${where}: ${reason}. ` +
      `User \`${c.endpoint.user}\` needs CREATE on the database once, or an owner opens it first`, { cause })
  }
  return new LocationError(`Cannot open the state database ${where}: ${reason}`, { cause })
}

/** What went wrong, in words: an AggregateError (every address of a host refused) has them in its errors. */
function messageOf(err: unknown): string {
  if (err instanceof AggregateError && err.message === '') return err.errors.map(messageOf).join('; ')
  return errorMessage(err)
}
