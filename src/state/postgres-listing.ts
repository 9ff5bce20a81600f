import pg from 'pg'

/** The advisory lock's first key ('soak' in ASCII); the second is the job's id. */
export const listingLockClass = 0x736f616b

/**
 * The right to list a job's source, held by one worker of a fleet at a time: a session-level
 * advisory lock (`pg_try_advisory_lock`) on a connection of its own, so that it lasts exactly as
 * long as that connection. When the worker dies its connection closes, the server drops the lock,
 * and another worker's `take` succeeds.
 */
export class ListingLock {
  private held: { client: pg.Client; backend: number } | undefined

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly jobId: number,
    private readonly lost: (reason: string) => void,
  ) {}

  /** Whether this worker holds the lock: false again once its connection is gone. */
  get holding(): boolean {
    return this.held !== undefined
  }

  /** The server process of the connection holding the lock, for statements that check it still does. */
  get backend(): number | undefined {
    return this.held?.backend
  }

  /** Takes the lock unless another worker holds it; true when this worker holds it now. */
  async take(): Promise<boolean> {
    if (this.held) return true
    const client = new pg.Client(this.config)
    client.on('error', (err) => this.gone(client, err.message))
    client.on('end', () => this.gone(client, 'its connection closed'))
    await client.connect()
    try {
      const { rows } = await client.query<{ got: boolean; backend: number }>(
        'SELECT pg_try_advisory_lock($1, $2) AS got, pg_backend_pid() AS backend', [listingLockClass, this.jobId])
      if (rows[0]!.got) {
        this.held = { client, backend: rows[0]!.backend }
        return true
      }
    } catch (err) {
      await client.end().catch(() => undefined)
      throw err
    }
    await this.end(client)
    return false
  }

  /**
   * Gives the lock up; nothing when not held. Its connection is closed after, and the server
   * drops the lock with the session, so the lock is given up even when the unlock itself fails.
   */
  async release(): Promise<void> {
    const held = this.held
    if (!held) return
    this.held = undefined
    await held.client.query('SELECT pg_advisory_unlock($1, $2)', [listingLockClass, this.jobId]).catch(() => undefined)
    await this.end(held.client)
  }

  private async end(client: pg.Client): Promise<void> {
    try {
      await client.end()
    } catch {
      // the connection is gone either way, and the lock with it
    }
  }

  /** A connection that closed without `release`: the lock went with it. */
  private gone(client: pg.Client, reason: string): void {
    if (this.held?.client !== client) return
    this.held = undefined
    this.lost(reason)
  }
}
