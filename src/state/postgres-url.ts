// What the CLI asks of a state location before it knows whether it needs PostgreSQL, apart from
// the client (postgres-connection.ts), which loads pg: a run on a SQLite file never does.

/** `postgres://` or `postgresql://`: where the state lives when it is not a file. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location)
}

/** `url` with its password, if it has one, written as `***`. */
export function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*):[^@/]*@/i, '$1:***@')
}

/** The PostgreSQL state store, loaded when a run asks for one: loading pg costs about 30 ms of every start. */
export async function loadPostgresStore(): Promise<typeof import('./postgres-store.js').PostgresStateStore> {
  return (await import('./postgres-store.js')).PostgresStateStore
}
