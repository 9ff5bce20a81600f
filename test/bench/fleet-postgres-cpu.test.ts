import pg from 'pg'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { clockTicksPerSecond } from '../../bench/ceiling/server-cpu.js'
import { postgresTicks } from '../../bench/fleet/postgres-cpu.js'
import { startTestPostgres, type TestPostgres } from '../../scripts/support/postgres.js'

let server: TestPostgres
beforeAll(async () => { server = await startTestPostgres() }, 120_000)
afterAll(async () => { await server?.stop() })

test('counts the CPU of a connection\'s process, while it lives and once it has ended', async () => {
  const perSecond = await clockTicksPerSecond()
  const before = await postgresTicks(server.pid)
  const client = new pg.Client({ connectionString: server.url })
  await client.connect()
  // About half a second of the server's CPU, in the connection's own process.
  await client.query('SELECT count(*) FROM generate_series(1, 5000000)')
  const busy = (await postgresTicks(server.pid)) - before
  expect(busy / perSecond).toBeGreaterThan(0.1)
  await client.end()
  // Its process ends, and the server's first process waits for it: the time moves, it is not lost.
  const deadline = Date.now() + 15_000
  let after = await postgresTicks(server.pid)
  while (after - before < busy && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50))
    after = await postgresTicks(server.pid)
  }
  expect(after - before).toBeGreaterThanOrEqual(busy)
}, 60_000)
