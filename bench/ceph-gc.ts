import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const cephStart = fileURLToPath(new URL('../scripts/test-servers/ceph-rgw-start.sh', import.meta.url))

let conf: Promise<string | undefined> | undefined

/**
 * The running cluster's ceph.conf, as the project's start script reports it (run again while the
 * cluster is up, the script only prints its variables); undefined when it cannot say.
 */
function cephConf(): Promise<string | undefined> {
  conf ??= run('bash', [cephStart], { env: { ...process.env, WITH_MGR: '0' }, timeout: 60_000 }).then(
    ({ stdout }) => /^CEPH_CONF=(.+)$/m.exec(stdout)?.[1],
    () => undefined,
  )
  return conf
}

/**
 * Gives Ceph back the space of deleted objects now. radosgw deletes the tail of an object larger
 * than 4 MiB lazily: its garbage collector frees it no sooner than 2 hours later (`rgw gc obj min
 * wait`). The bench's OSD keeps data in memory (memstore), so a bench that seeds and deletes GiBs
 * scenario after scenario would fill it, and a full OSD blocks every write, other users' too.
 * Never rejects: without radosgw-admin or a known ceph.conf, the collector runs on its own schedule.
 */
export async function collectGarbage(log: (line: string) => void): Promise<void> {
  const path = await cephConf()
  if (path === undefined) return log('could not find the ceph.conf: deleted objects free their space only when radosgw collects them (after 2 hours)')
  try {
    await run('radosgw-admin', ['-c', path, 'gc', 'process', '--include-all'], { timeout: 300_000 })
  } catch (err) {
    log(`radosgw-admin gc process failed: ${(err as Error).message}`)
  }
}
