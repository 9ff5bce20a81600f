import type { TestProject } from 'vitest/node'
import './provided.js'
import { startTestPostgres, type TestPostgres } from '../../scripts/support/postgres.js'

let server: TestPostgres | undefined

/**
 * Starts a throwaway PostgreSQL server once for the whole run (about a second), for the
 * PostgreSQL state store's tests; each test keeps to a job, or a database, of its own. Runs
 * before the temp dir setup: the server's directory is handed to the `postgres` user when the
 * tests run as root, and the run's own temp dir is not its to enter.
 */
export async function setup(project: TestProject): Promise<void> {
  server = await startTestPostgres()
  project.provide('postgres', { url: server.url })
}

export async function teardown(): Promise<void> {
  await server?.stop()
}
